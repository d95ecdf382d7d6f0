import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { Context } from 'aws-lambda';
import { ReadableLogger } from './readable-log';

/**
 * Structured logs (Powertools Logger, JSON, RecordingSid/CallSid as keys) and EMF metrics.
 * Never log tokens, signatures, Authorization headers, presigned URLs or full phone numbers.
 */
export type LogExtra = Record<string, unknown>;

export interface LogWriter {
  debug(message: string, extra?: LogExtra): void;
  info(message: string, extra?: LogExtra): void;
  warn(message: string, extra?: LogExtra): void;
  error(message: string, extra?: LogExtra): void;
}

export interface Observability {
  readonly logger: LogWriter;
  /**
   * The same logs and metrics with `keys` on every log line. Cheap (no new Powertools Logger
   * per request) and safe when requests or records run concurrently, unlike appendKeys.
   */
  withKeys(keys: LogExtra): Observability;
  /** Adds the Lambda request id, function name and cold-start flag to the log lines. */
  addContext(context: Context): void;
  metric(name: string, value?: number, unit?: 'Count' | 'Bytes' | 'Milliseconds'): void;
  /** Flushes metrics; call at the end of every invocation. */
  flush(): void;
}

export const SERVICE_NAME = 'recording-vault';
export const METRICS_NAMESPACE = 'RecordingVault';

/** `LOG_FORMAT=pretty` (the local stack): one readable line per record instead of JSON. */
const READABLE_LOGS = process.env.LOG_FORMAT === 'pretty';

export function createObservability(functionName: string): Observability {
  const loggerOptions = { serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? SERVICE_NAME };
  const root = READABLE_LOGS ? new ReadableLogger(loggerOptions) : new Logger(loggerOptions);
  root.appendPersistentKeys({ function: functionName });
  const metrics = new Metrics({
    namespace: process.env.POWERTOOLS_METRICS_NAMESPACE ?? METRICS_NAMESPACE,
    serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? SERVICE_NAME,
    defaultDimensions: { function: functionName },
  });
  let pending = 0;

  const scoped = (keys: LogExtra): Observability => {
    const write =
      (level: keyof LogWriter) =>
      (message: string, extra?: LogExtra): void =>
        root[level](message, { ...keys, ...extra });
    return {
      logger: { debug: write('debug'), info: write('info'), warn: write('warn'), error: write('error') },
      withKeys: (more) => scoped({ ...keys, ...more }),
      addContext: (context) => root.addContext(context),
      metric(name, value = 1, unit = 'Count') {
        metrics.addMetric(name, MetricUnit[unit], value);
        pending++;
      },
      flush() {
        // Publishing nothing would only log a warning on every quiet invocation.
        if (pending === 0) return;
        pending = 0;
        metrics.publishStoredMetrics();
      },
    };
  };
  return scoped({});
}
