/** Parent side of the transfer benchmarks: starts the servers child and runs measured workers. */
import { type ChildProcess, fork } from 'node:child_process';
import { join } from 'node:path';
import type { RunResult, TransferRun, WorkerTask } from './transfer-common';

/** Runs TypeScript children through tsx, the same way `npm run bench` runs this file. */
const TS_EXEC_ARGV = ['--import', 'tsx'];

export interface TransferServers {
  readonly s3Port: number;
  readonly twilioPort: number;
  readonly s3Directory: string;
  stop(): Promise<void>;
}

function stopChild(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) {
      resolve();
      return;
    }
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

export function startServers(): Promise<TransferServers> {
  const child = fork(join(__dirname, 'transfer-servers.ts'), [], {
    execArgv: TS_EXEC_ARGV,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`transfer servers exited early (${code})`)));
    child.once('message', (message: { s3Port: number; twilioPort: number; s3Directory: string }) => {
      child.removeAllListeners('exit');
      resolve({ ...message, stop: () => stopChild(child) });
    });
  });
}

/** Runs `runs` in one fresh worker process (after a warm-up) and returns its measurements. */
export function runWorker(
  servers: TransferServers,
  runs: readonly TransferRun[],
  warmupBytes = 1024 * 1024,
): Promise<RunResult[]> {
  const child = fork(join(__dirname, 'transfer-worker.ts'), [], {
    execArgv: [...TS_EXEC_ARGV, '--expose-gc'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    env: { ...process.env, AWS_SDK_JS_SUPPRESS_MAINTENANCE_MODE_MESSAGE: '1', NODE_NO_WARNINGS: '1' },
  });
  const task: WorkerTask = { s3Port: servers.s3Port, twilioPort: servers.twilioPort, warmupBytes, runs };
  return new Promise((resolve, reject) => {
    let settled = false;
    child.once('error', reject);
    child.once('message', (message: { results?: RunResult[]; error?: string }) => {
      settled = true;
      if (message.results) resolve(message.results);
      else reject(new Error(`transfer worker failed: ${message.error ?? 'unknown error'}`));
    });
    child.once('exit', (code) => {
      if (!settled) reject(new Error(`transfer worker exited (${code}) without a result`));
    });
    child.send(task);
  });
}
