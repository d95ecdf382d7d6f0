import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';

/**
 * Structured logs (Powertools Logger, JSON, RecordingSid/CallSid as keys) and EMF metrics.
 * Never log tokens, signatures, Authorization headers, presigned URLs or full phone numbers.
 */
export interface Observability {
  readonly logger: Logger;
  metric(name: string, value?: number, unit?: 'Count' | 'Bytes' | 'Milliseconds'): void;
  /** Flushes metrics; call at the end of every invocation. */
  flush(): void;
}

export const SERVICE_NAME = 'recording-vault';
export const METRICS_NAMESPACE = 'RecordingVault';

export function createObservability(functionName: string): Observability {
  const logger = new Logger({ serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? SERVICE_NAME });
  logger.appendPersistentKeys({ function: functionName });
  const metrics = new Metrics({
    namespace: process.env.POWERTOOLS_METRICS_NAMESPACE ?? METRICS_NAMESPACE,
    serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? SERVICE_NAME,
    defaultDimensions: { function: functionName },
  });
  let pending = 0;
  return {
    logger,
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
}

/** The keys every log line about a recording carries. */
export function recordingKeys(job: { recordingSid?: string; callSid?: string }): Record<string, string> {
  const keys: Record<string, string> = {};
  if (job.recordingSid) keys.recordingSid = job.recordingSid;
  if (job.callSid) keys.callSid = job.callSid;
  return keys;
}
