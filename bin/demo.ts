#!/usr/bin/env node
/**
 * `npm run demo`: the local stack driven by a simulated Twilio, no account needed (lib/local/demo.ts).
 * Ctrl-C stops it and exits 0.
 */
process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
process.umask(0o077);
// The handlers' JSON logs would bury the demo's story; warnings and errors still show.
process.env.POWERTOOLS_LOG_LEVEL ??= 'WARN';

import { LocalConfigError } from '../lib/local/config';
import { type Demo, runDemo } from '../lib/local/demo';
import { PortBusyError } from '../lib/local/ports';

async function main(): Promise<void> {
  let demo: Demo | undefined;
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) process.exit(0);
    stopping = true;
    process.stdout.write(`${signal}: stopping\n`);
    void (demo?.stop() ?? Promise.resolve()).finally(() => process.exit(0));
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  try {
    demo = await runDemo({ env: process.env, print: (line) => process.stdout.write(`${line}\n`) });
  } catch (error) {
    const known = error instanceof LocalConfigError || error instanceof PortBusyError;
    process.stderr.write(
      `demo: ${known ? (error as Error).message : `could not run: ${error instanceof Error ? error.message : String(error)}`}\n`,
    );
    await demo?.stop().catch(() => undefined);
    process.exit(1);
  }
  if (stopping) await demo.stop();
}

void main();
