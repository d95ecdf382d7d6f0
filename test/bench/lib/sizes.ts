/** Recording sizes the transfer benchmarks use; BENCH_SIZES_MIB=10,100 trims a quick run. */
export { MiB } from './report';

export const DEFAULT_SIZES_MIB = [10, 100, 400, 1024] as const;

export function benchSizesMiB(): number[] {
  const raw = process.env.BENCH_SIZES_MIB;
  if (!raw) return [...DEFAULT_SIZES_MIB];
  return raw
    .split(',')
    .map((s) => Number(s.trim()))
    .filter((n) => Number.isFinite(n) && n > 0);
}
