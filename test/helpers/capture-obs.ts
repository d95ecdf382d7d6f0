/**
 * An Observability that keeps what the code under test logs and counts, for assertions on
 * metrics and on what log lines say (and never say: tokens).
 */
import type { LogExtra, Observability } from '../../lambda/shared/runtime/observability';

export interface CapturedLog {
  readonly level: 'debug' | 'info' | 'warn' | 'error';
  readonly message: string;
  readonly extra: LogExtra | undefined;
}

export interface CapturedObs {
  readonly obs: Observability;
  readonly logs: CapturedLog[];
  readonly metrics: Array<{ readonly name: string; readonly value: number }>;
  /** The sum of a metric's values, as CloudWatch's Sum would show it. */
  sum(name: string): number;
  /** Every log line as JSON text (search it for what must never appear). */
  text(): string;
}

export function captureObs(): CapturedObs {
  const logs: CapturedLog[] = [];
  const metrics: Array<{ name: string; value: number }> = [];
  const write = (level: CapturedLog['level']) => (message: string, extra?: LogExtra) =>
    void logs.push({ level, message, extra });
  const obs: Observability = {
    logger: { debug: write('debug'), info: write('info'), warn: write('warn'), error: write('error') },
    withKeys: () => obs,
    addContext: () => undefined,
    metric: (name, value = 1) => void metrics.push({ name, value }),
    flush: () => undefined,
  };
  return {
    obs,
    logs,
    metrics,
    sum: (name) => metrics.filter((m) => m.name === name).reduce((total, m) => total + m.value, 0),
    text: () => JSON.stringify(logs),
  };
}
