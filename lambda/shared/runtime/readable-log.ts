import { AsyncLocalStorage } from 'node:async_hooks';
import { Logger, type LogItem, LogLevelThreshold } from '@aws-lambda-powertools/logger';
import type { ConstructorOptions } from '@aws-lambda-powertools/logger/types';

/**
 * Logs for a person at a terminal (`LOG_FORMAT=pretty`, which the local stack sets): one line
 * per record, e.g. `12:00:01 INFO  transfer  Stored recording  recordingSid=RE… callSid=CA…`.
 * On AWS the handlers keep Powertools' JSON.
 *
 * Powertools prints whatever its formatter returns through JSON.stringify (Logger#printLog); the
 * documented way to print something else is a Logger subclass overriding printLog, which this is.
 */

/** Powertools' own keys, which say nothing a reader of a local terminal needs. */
const QUIET_KEYS = new Set([
  'level',
  'message',
  'timestamp',
  'service',
  'cold_start',
  'function',
  'function_arn',
  'function_memory_size',
  'function_name',
  'function_request_id',
  'sampling_rate',
  'xray_trace_id',
]);

const LEVEL_NAMES: Array<[number, string]> = [
  [LogLevelThreshold.CRITICAL, 'CRIT'],
  [LogLevelThreshold.ERROR, 'ERROR'],
  [LogLevelThreshold.WARN, 'WARN'],
  [LogLevelThreshold.INFO, 'INFO'],
  [LogLevelThreshold.DEBUG, 'DEBUG'],
  [LogLevelThreshold.TRACE, 'TRACE'],
];

function levelName(level: number): string {
  return LEVEL_NAMES.find(([threshold]) => level >= threshold)?.[1] ?? 'LOG';
}

/** `key=value`, quoting values with spaces or quotes; an error as `Name: message`. */
function formatValue(value: unknown): string {
  if (typeof value === 'string') return /^[^\s"=]+$/.test(value) ? value : JSON.stringify(value);
  if (value !== null && typeof value === 'object' && 'message' in value) {
    const { name, message } = value as { name?: unknown; message?: unknown };
    return JSON.stringify(`${typeof name === 'string' ? `${name}: ` : ''}${String(message)}`);
  }
  if (value === undefined) return 'undefined';
  return typeof value === 'object' ? JSON.stringify(value) : String(value);
}

const pad = (n: number) => String(n).padStart(2, '0');

/** One line: local time, level, function (without the `recording-` prefix), message, the other keys. */
export function formatReadableLine(level: number, attributes: Record<string, unknown>): string {
  const at = new Date(String(attributes.timestamp ?? Date.now()));
  const time = Number.isNaN(at.getTime())
    ? '--:--:--'
    : `${pad(at.getHours())}:${pad(at.getMinutes())}:${pad(at.getSeconds())}`;
  const source = String(attributes.function ?? attributes.service ?? '').replace(/^recording-/, '');
  const keys = Object.entries(attributes)
    .filter(([key, value]) => !QUIET_KEYS.has(key) && value !== undefined)
    .map(([key, value]) => `${key}=${formatValue(value)}`)
    .join(' ');
  const line = `${time} ${levelName(level).padEnd(5)} ${source.padEnd(9)} ${String(attributes.message ?? '')}`;
  return (keys ? `${line}  ${keys}` : line).replace(/[\r\n]+/g, ' ');
}

const silenced = new AsyncLocalStorage<true>();

/** Runs `work` with every ReadableLogger quiet for it and what it awaits (the local stack's own probes). */
export function withoutLogs<T>(work: () => T): T {
  return silenced.run(true, work);
}

export class ReadableLogger extends Logger {
  protected override printLog(logLevel: number, log: LogItem): void {
    if (silenced.getStore()) return;
    log.prepareForPrint();
    const line = formatReadableLine(logLevel, log.getAttributes() as Record<string, unknown>);
    (logLevel >= LogLevelThreshold.WARN ? process.stderr : process.stdout).write(`${line}\n`);
  }

  protected override createLogger(options?: ConstructorOptions): Logger {
    return new ReadableLogger(options);
  }
}
