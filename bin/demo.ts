#!/usr/bin/env node
/**
 * `npm run demo`: the local stack driven by a simulated Twilio, no account needed (lib/local/demo.ts).
 * Ctrl-C stops it and exits 0.
 */
// First: the local defaults (readable logs, owner-only files…) before any handler module loads.
import '../lib/local/process-defaults';

// The handlers' logs would bury the demo's story; warnings and errors still show.
process.env.POWERTOOLS_LOG_LEVEL ??= 'WARN';

import { LocalConfigError } from '../lib/local/config';
import { type Demo, runDemo } from '../lib/local/demo';
import { PortBusyError } from '../lib/local/ports';
import { onStopSignals } from '../lib/local/stop-signals';

async function main(): Promise<void> {
  let demo: Demo | undefined;
  const stop = (signal: string) => {
    process.stdout.write(`${signal}: stopping\n`);
    void (demo?.stop() ?? Promise.resolve()).finally(() => process.exit(0));
  };
  const signals = onStopSignals(stop, () => process.exit(0));
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
  if (signals.requested) await demo.stop();
}

void main();
