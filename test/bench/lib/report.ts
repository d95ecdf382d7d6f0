/**
 * What every benchmark reports: figures printed next to their baselines, and the same figures as
 * JSON for `bench-results/latest.json` (collected by run.ts). Benchmarks never assert on time.
 */
import { writeFileSync } from 'node:fs';
import * as os from 'node:os';

export interface Stats {
  readonly n: number;
  readonly min: number;
  readonly median: number;
  readonly max: number;
}

/** One measured figure and the baseline it is compared with. */
export interface Figure {
  /** Which bench item ("webhook", "transfer-memory", …). */
  readonly bench: string;
  /** What was measured, e.g. "p99 at concurrency 25" or "recording-webhook load". */
  readonly name: string;
  readonly unit: string;
  readonly value: Stats;
  readonly baselineName?: string;
  readonly baseline?: Stats;
  /** value.median / baseline.median, when a baseline exists. */
  readonly ratio?: number;
  /** The target in words, e.g. "< 100 MiB" or "≤ 2× baseline". */
  readonly target?: string;
  /** Whether the median meets the target; undefined when there is no target for this figure. */
  readonly met?: boolean;
  readonly notes?: string;
}

export interface BenchResult {
  readonly bench: string;
  readonly title: string;
  readonly startedAt: string;
  readonly durationMs: number;
  readonly environment: Readonly<Record<string, unknown>>;
  readonly figures: readonly Figure[];
  readonly details?: unknown;
  readonly skipped?: string;
}

export function stats(values: readonly number[]): Stats {
  if (values.length === 0) return { n: 0, min: Number.NaN, median: Number.NaN, max: Number.NaN };
  const sorted = [...values].sort((a, b) => a - b);
  return {
    n: sorted.length,
    min: sorted[0] as number,
    median: quantile(sorted, 0.5),
    max: sorted[sorted.length - 1] as number,
  };
}

/** Linear-interpolated quantile of an ascending array. */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  const a = sorted[lo] as number;
  const b = sorted[hi] as number;
  return a + (b - a) * (pos - lo);
}

export function percentile(values: readonly number[], q: number): number {
  return quantile(
    [...values].sort((a, b) => a - b),
    q,
  );
}

export function fmt(value: number, digits?: number): string {
  if (!Number.isFinite(value)) return String(value);
  const d = digits ?? (Math.abs(value) >= 100 ? 0 : Math.abs(value) >= 10 ? 1 : 2);
  return value.toFixed(d);
}

export function fmtStats(s: Stats, unit: string): string {
  return `${fmt(s.median)} ${unit} (min ${fmt(s.min)} / med ${fmt(s.median)} / max ${fmt(s.max)}, n=${s.n})`;
}

export const MiB = 1024 * 1024;

/**
 * Builds a figure, computing the ratio against the baseline's median (skipped with
 * `ratio: false` where a ratio means nothing, e.g. against an empty module's ~1 ms).
 */
export function figure(input: Omit<Figure, 'ratio'> & { readonly ratio?: false }): Figure {
  const { ratio: wanted, ...rest } = input;
  const ratio =
    wanted !== false && rest.baseline && rest.baseline.median !== 0
      ? rest.value.median / rest.baseline.median
      : undefined;
  return { ...rest, ...(ratio === undefined ? {} : { ratio }) };
}

/** Prints a figure on one line: the figure, then its baseline, then the ratio and the target. */
export function printFigure(f: Figure): void {
  const parts = [`  ${f.name}: ${fmtStats(f.value, f.unit)}`];
  if (f.baseline) parts.push(`\n      baseline ${f.baselineName ?? ''}: ${fmtStats(f.baseline, f.unit)}`);
  const tail: string[] = [];
  if (f.ratio !== undefined) tail.push(`ratio ${fmt(f.ratio, 2)}×`);
  if (f.target) tail.push(`target ${f.target}: ${f.met === undefined ? '—' : f.met ? 'MET' : 'MISSED'}`);
  if (f.notes) tail.push(f.notes);
  if (tail.length > 0) parts.push(`\n      ${tail.join('; ')}`);
  console.log(parts.join(''));
}

export function environment(): Record<string, unknown> {
  return {
    node: process.version,
    platform: `${os.platform()} ${os.release()}`,
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model,
    memoryMiB: Math.round(os.totalmem() / MiB),
  };
}

/** Writes the result where run.ts asked (BENCH_RESULT_FILE), or nowhere when run directly. */
export function writeResult(result: BenchResult): void {
  const file = process.env.BENCH_RESULT_FILE;
  if (file) writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
}

/** Runs a bench's main function, timing it and writing its result; exits non-zero on error. */
export function runBench(
  bench: string,
  title: string,
  main: () => Promise<{ figures: Figure[]; details?: unknown; skipped?: string }>,
): void {
  const started = Date.now();
  console.log(`\n== ${title} ==`);
  main()
    .then(({ figures, details, skipped }) => {
      const durationMs = Date.now() - started;
      console.log(`  (${bench}: ${fmt(durationMs / 1000, 1)} s)`);
      writeResult({
        bench,
        title,
        startedAt: new Date(started).toISOString(),
        durationMs,
        environment: environment(),
        figures,
        ...(details === undefined ? {} : { details }),
        ...(skipped === undefined ? {} : { skipped }),
      });
      process.exit(0);
    })
    .catch((error: unknown) => {
      console.error(`${bench} failed:`, error);
      process.exit(1);
    });
}
