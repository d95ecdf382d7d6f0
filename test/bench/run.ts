/**
 * `npm run bench`: runs every test/bench/*.bench.ts in turn, each in its own Node process (so
 * one bench's heap never shows in another's RSS figures), prints a summary table, and writes all
 * figures to bench-results/latest.json (git-ignored) for the README.
 *
 *   npm run bench                    all of them
 *   npm run bench -- cold-start      only those whose file name contains one of the arguments
 *
 * Benchmarks print; they assert nothing about time. The exit code is non-zero only when a
 * benchmark could not run.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { type BenchResult, environment, type Figure, fmt } from './lib/report';

const ROOT = resolve(__dirname, '..', '..');
const BENCH_DIR = __dirname;
/** The issue's numbering; anything else runs after, alphabetically. */
const ORDER = ['webhook', 'transfer-memory', 'transfer-throughput', 'cold-start'];

function benchFiles(filters: readonly string[]): string[] {
  const rank = (name: string) => {
    const i = ORDER.indexOf(name.replace(/\.bench\.ts$/, ''));
    return i < 0 ? ORDER.length : i;
  };
  return readdirSync(BENCH_DIR)
    .filter((f) => f.endsWith('.bench.ts'))
    .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
    .sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
}

function runOne(file: string, resultFile: string): Promise<{ code: number | null; ms: number }> {
  const started = Date.now();
  return new Promise((done) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(BENCH_DIR, file)], {
      cwd: ROOT,
      stdio: 'inherit',
      env: {
        ...process.env,
        BENCH_RESULT_FILE: resultFile,
        AWS_SDK_JS_SUPPRESS_MAINTENANCE_MODE_MESSAGE: '1',
        NODE_NO_WARNINGS: '1',
      },
    });
    child.on('exit', (code) => done({ code, ms: Date.now() - started }));
  });
}

function gitCommit(): string | undefined {
  const git = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' });
  return git.status === 0 ? git.stdout.trim() : undefined;
}

function row(cells: readonly string[], widths: readonly number[]): string {
  return cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ');
}

function printSummary(figures: readonly Figure[]): void {
  const header = ['bench', 'figure', 'median', 'min–max', 'baseline median', 'ratio', 'target', ''];
  const rows = figures.map((f) => [
    f.bench,
    f.name,
    `${fmt(f.value.median)} ${f.unit}`,
    `${fmt(f.value.min)}–${fmt(f.value.max)}`,
    f.baseline ? `${fmt(f.baseline.median)} ${f.unit}` : '',
    f.ratio === undefined ? '' : `${fmt(f.ratio, 2)}×`,
    f.target ?? '',
    f.met === undefined ? '' : f.met ? 'met' : 'MISSED',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  console.log(`\n${row(header, widths)}`);
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const r of rows) console.log(row(r, widths));
}

async function main(): Promise<void> {
  const files = benchFiles(process.argv.slice(2));
  if (files.length === 0) {
    console.error('No benchmark matches', process.argv.slice(2).join(' '));
    process.exit(2);
  }
  const tmp = mkdtempSync(join(tmpdir(), 'rv-bench-results-'));
  const started = Date.now();
  const results: BenchResult[] = [];
  const failures: string[] = [];
  try {
    for (const file of files) {
      const resultFile = join(tmp, `${file}.json`);
      const { code, ms } = await runOne(file, resultFile);
      if (code !== 0 || !existsSync(resultFile)) {
        failures.push(`${file} (exit ${code}, ${fmt(ms / 1000, 1)} s)`);
        continue;
      }
      results.push(JSON.parse(readFileSync(resultFile, 'utf8')) as BenchResult);
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  const totalMs = Date.now() - started;

  const figures = results.flatMap((r) => r.figures);
  printSummary(figures);
  for (const r of results) if (r.skipped) console.log(`\n${r.bench}: skipped part: ${r.skipped}`);
  const missed = figures.filter((f) => f.met === false);
  console.log(
    `\n${figures.filter((f) => f.met === true).length} targets met, ${missed.length} missed${
      missed.length ? ` (${missed.map((f) => `${f.bench}: ${f.name}`).join('; ')})` : ''
    }; total ${fmt(totalMs / 1000, 0)} s`,
  );

  const outDir = join(ROOT, 'bench-results');
  mkdirSync(outDir, { recursive: true });
  const out = join(outDir, 'latest.json');
  writeFileSync(
    out,
    `${JSON.stringify(
      {
        generatedAt: new Date().toISOString(),
        commit: gitCommit(),
        totalDurationMs: totalMs,
        environment: environment(),
        failures,
        results,
      },
      null,
      2,
    )}\n`,
  );
  console.log(`results written to ${out}`);
  if (failures.length > 0) {
    console.error(`\nbenchmarks that could not run: ${failures.join(', ')}`);
    process.exit(1);
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
