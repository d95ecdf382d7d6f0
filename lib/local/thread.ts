/**
 * The local stack's worker threads: parts of the stack that run on an event loop of their own
 * (./emulator-thread.ts, ./transfer-thread.ts), so that the stack uses more than one core and the
 * gateway answers webhooks without waiting behind them. A thread dies with its process: a
 * `kill -9` leaves no orphan behind, as with everything on the main thread.
 *
 * Protocol: the thread answers `{ id: 0, ok, value | error }` once started, then each request
 * `{ id, op, arg }` with `{ id, ok, value | error }`; it may also send `{ event }` at any time.
 */
import { readlinkSync } from 'node:fs';
import { setPriority } from 'node:os';
import { join } from 'node:path';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { PortBusyError } from './ports';

/** An error as it crosses the thread boundary (a PortBusyError keeps its port and what). */
interface SerializedError {
  readonly name: string;
  readonly message: string;
  readonly port?: number;
  readonly what?: string;
}

type Request = { readonly id: number; readonly op: string; readonly arg?: unknown };
type Answer =
  | { readonly id: number; readonly ok: true; readonly value?: unknown }
  | { readonly id: number; readonly ok: false; readonly error: SerializedError }
  | { readonly event: unknown };

function serializeError(error: unknown): SerializedError {
  if (!(error instanceof Error)) return { name: 'Error', message: String(error) };
  const { port, what } = error as { port?: unknown; what?: unknown };
  return {
    name: error.name,
    message: error.message,
    ...(typeof port === 'number' ? { port } : {}),
    ...(typeof what === 'string' ? { what } : {}),
  };
}

function deserializeError(error: SerializedError): Error {
  if (error.name === 'PortBusyError' && error.port !== undefined && error.what !== undefined) {
    return new PortBusyError(error.port, error.what);
  }
  const rebuilt = new Error(error.message);
  rebuilt.name = error.name;
  return rebuilt;
}

/* ---------------------------------------------------------------------------------------------
 * The host's side
 * ------------------------------------------------------------------------------------------- */

export interface StackThread<T> {
  /** What the thread's start function returned. */
  readonly value: T;
  call<R = unknown>(op: string, arg?: unknown): Promise<R>;
  /** Calls `op` (waiting up to `timeoutMs`), then ends the thread. */
  stop(op: string, arg?: unknown, timeoutMs?: number): Promise<void>;
}

export interface StackThreadOptions {
  /** The thread died after start. */
  readonly onCrash: (error: Error) => void;
  /** What the thread sends besides answers. */
  readonly onEvent?: (event: unknown) => void;
  /**
   * CPU priority (nice, 0 to 19) of the thread, on Linux: the gateway's thread keeps the default,
   * work that nobody waits on (transfers) yields to it when the cores are busy.
   */
  readonly nice?: number;
}

/**
 * Under tsx (`npm start`, `node --import tsx`) a worker thread does not inherit the loader's
 * TypeScript support: the thread registers tsx's CommonJS hooks before it loads its module.
 */
const BOOTSTRAP = [
  "const { workerData } = require('node:worker_threads');",
  'if (workerData.tsx) require(workerData.tsx).register();',
  'require(workerData.file);',
].join('\n');

/** Node's flags without tsx's own (the thread registers what it needs itself). */
function threadExecArgv(): string[] {
  const argv: string[] = [];
  const given = process.execArgv;
  for (let i = 0; i < given.length; i++) {
    const flag = given[i] ?? '';
    const value = given[i + 1] ?? '';
    if ((flag === '--import' || flag === '--require' || flag === '-r') && /(^|[\\/])tsx([\\/]|$)/.test(value)) {
      i++;
      continue;
    }
    argv.push(flag);
  }
  return argv;
}

/** Starts `./<module>` of this directory in a worker thread and waits until it has started. */
export function startThread<T>(module: string, data: unknown, options: StackThreadOptions): Promise<StackThread<T>> {
  const ts = __filename.endsWith('.ts');
  const worker = new Worker(BOOTSTRAP, {
    eval: true,
    execArgv: threadExecArgv(),
    workerData: {
      file: join(__dirname, `${module}${ts ? '.ts' : '.js'}`),
      tsx: ts ? require.resolve('tsx/cjs/api') : undefined,
      nice: options.nice ?? 0,
      data,
    },
  });
  const pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
  let nextId = 1;
  let started = false;
  let stopping = false;
  let exited = false;
  const exit = new Promise<void>((resolve) => worker.once('exit', () => resolve()));

  const call = <R>(op: string, arg?: unknown): Promise<R> => {
    if (exited) return Promise.reject(new Error(`The ${module} thread has ended`));
    const id = nextId++;
    return new Promise<R>((resolve, reject) => {
      pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      worker.postMessage({ id, op, arg } satisfies Request);
    });
  };

  return new Promise<StackThread<T>>((resolveStart, rejectStart) => {
    const crashed = (error: Error) => {
      for (const { reject } of pending.values()) reject(error);
      pending.clear();
      if (!started) rejectStart(error);
      else if (!stopping) options.onCrash(error);
    };
    worker.on('error', (error) => crashed(error instanceof Error ? error : new Error(String(error))));
    worker.on('exit', (code) => {
      exited = true;
      crashed(new Error(`The ${module} thread ended (exit code ${code})`));
    });
    worker.on('message', (message: Answer) => {
      if ('event' in message) {
        options.onEvent?.(message.event);
        return;
      }
      if (message.id === 0) {
        if (started) return;
        if (!message.ok) {
          rejectStart(deserializeError(message.error));
          void worker.terminate();
          return;
        }
        started = true;
        resolveStart({
          value: message.value as T,
          call,
          async stop(op, arg, timeoutMs = 15_000) {
            if (stopping) return;
            stopping = true;
            let timer: NodeJS.Timeout | undefined;
            try {
              await Promise.race([
                call(op, arg).catch(() => undefined),
                new Promise((resolve) => {
                  timer = setTimeout(resolve, timeoutMs);
                }),
              ]);
            } finally {
              if (timer) clearTimeout(timer);
            }
            if (!exited) await worker.terminate();
            await exit;
          },
        });
        return;
      }
      const waiter = pending.get(message.id);
      if (!waiter) return;
      pending.delete(message.id);
      if (message.ok) waiter.resolve(message.value);
      else waiter.reject(deserializeError(message.error));
    });
  });
}

/* ---------------------------------------------------------------------------------------------
 * The thread's side
 * ------------------------------------------------------------------------------------------- */

export interface ThreadService<T> {
  readonly value: T;
  /** Request handlers; the one named by `closeAfter` ends the thread once it has answered. */
  readonly ops: Record<string, (arg: unknown) => unknown>;
  readonly closeAfter?: string;
}

/** True in the thread that `startThread` started for this module file. */
export function isThreadEntry(filename: string): boolean {
  return !isMainThread && (workerData as { file?: string } | null)?.file === filename;
}

/** Lowers this thread's CPU priority (Linux: nice is per thread); elsewhere a no-op. */
function niceThisThread(nice: number): void {
  if (nice <= 0) return;
  try {
    // `/proc/thread-self` -> `<pid>/task/<tid>`
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    if (Number.isInteger(tid) && tid > 0) setPriority(tid, nice);
  } catch {
    // not Linux: the thread keeps the process's priority
  }
}

/** The body of a stack thread: `start` gets the host's data and `emit` (events to the host). */
export function serveThread<T>(
  start: (data: unknown, emit: (event: unknown) => void) => Promise<ThreadService<T>>,
): void {
  const port = parentPort;
  if (!port) throw new Error('serveThread runs in a worker thread only');
  const { data, nice } = workerData as { data: unknown; nice: number };
  niceThisThread(nice);
  const send = (message: Answer) => port.postMessage(message);
  const emit = (event: unknown) => send({ event });
  start(data, emit).then(
    (service) => {
      port.on('message', (request: Request) => {
        const handler = service.ops[request.op];
        void (async () => {
          try {
            if (!handler) throw new Error(`Unknown operation ${request.op}`);
            send({ id: request.id, ok: true, value: await handler(request.arg) });
            if (request.op === service.closeAfter) port.close();
          } catch (error) {
            send({ id: request.id, ok: false, error: serializeError(error) });
          }
        })();
      });
      send({ id: 0, ok: true, value: service.value });
    },
    (error: unknown) => {
      send({ id: 0, ok: false, error: serializeError(error) });
      port.close();
    },
  );
}
