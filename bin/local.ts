#!/usr/bin/env node
/**
 * `npm start`: the whole Recording Vault on this machine, on embedded emulators (or on the
 * endpoints AWS_ENDPOINT_URL_DYNAMODB / _S3 / _SQS name). See lib/local/stack.ts and the README.
 */
// First: the local defaults (readable logs, owner-only files…) before any handler module loads.
import '../lib/local/process-defaults';
import { LocalConfigError } from '../lib/local/config';
import { PortBusyError } from '../lib/local/ports';
import { type LocalStack, startLocalStack } from '../lib/local/stack';
import { onStopSignals } from '../lib/local/stop-signals';

function fail(message: string): never {
  process.stderr.write(`${message}\n`);
  process.exit(1);
}

async function main(): Promise<void> {
  let stack: LocalStack | undefined;
  const shutdown = (signal: string) => {
    process.stdout.write(`${signal}: stopping\n`);
    void (stack?.stop() ?? Promise.resolve()).then(
      () => process.exit(0),
      (error: unknown) => {
        process.stderr.write(`Stopped with an error: ${error instanceof Error ? error.message : String(error)}\n`);
        process.exit(0);
      },
    );
  };
  const signals = onStopSignals(shutdown, (signal) => {
    process.stderr.write(`${signal} again: exiting now; queued jobs are kept for the next start\n`);
    process.exit(0);
  });

  if (Number(process.versions.node.split('.')[0]) < 22) {
    process.stdout.write(
      `Note: Node ${process.versions.node} here; the Lambdas run Node 22, which AWS SDK releases after January 2027 require.\n`,
    );
  }
  try {
    stack = await startLocalStack({ print: (line) => process.stdout.write(`${line}\n`) });
  } catch (error) {
    if (error instanceof LocalConfigError) fail(error.message);
    if (error instanceof PortBusyError) fail(error.message);
    fail(`Could not start the local stack: ${error instanceof Error ? error.message : String(error)}`);
  }
  if (signals.requested) await stack.stop();
}

void main();
