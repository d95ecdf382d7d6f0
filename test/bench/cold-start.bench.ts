/**
 * 4. Cold start: builds every deployed function exactly as it ships (lib/bundling.ts), then times
 * how long a fresh Node process takes to import each bundle's entry (`index.mjs`; chunks that are
 * only imported dynamically are not read at start), against the same loader importing an empty
 * module. Sizes: all output files, the entry alone, and the entry with its static imports. Also checks what the webhook bundle contains: no S3 or DynamoDB client and
 * nothing of twilio beyond signature validation.
 */
import { spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import { build, type Metafile } from 'esbuild';
import { BUNDLE_ENTRY_NAME, BUNDLE_EXTENSION, esbuildOptionsFor } from '../../lib/bundling';
import { buildConsoleAssets } from '../../lib/console-bundle';
import { type Figure, figure, fmt, MiB, printFigure, runBench, stats } from './lib/report';

const ROOT = resolve(__dirname, '..', '..');
const REPETITIONS = Number(process.env.BENCH_COLD_START_RUNS ?? 21);

/**
 * Per-function load-time targets (ms, median import time in a fresh process), keyed by the
 * function's folder under lambda/: the ones docs/benchmarks.md states, no looser.
 */
const TARGET_MS: Readonly<Record<string, number>> = { webhook: 20, transfer: 60 };
const DEFAULT_TARGET_MS = 120;

/** The function whose bundle must hold no S3/DynamoDB client and only twilio's signature module. */
const WEBHOOK = 'webhook';

/** Values substituted at bundling time, as the function's construct passes them (bundleDefines). */
const DEFINES: Readonly<Record<string, () => Record<string, string>>> = {
  console: () => ({ __CONSOLE_ASSETS__: JSON.stringify(buildConsoleAssets()) }),
};

/** Packages the webhook must not bundle: it only verifies, parses and enqueues. */
const WEBHOOK_FORBIDDEN = [
  /node_modules\/@aws-sdk\/client-s3\//,
  /node_modules\/@aws-sdk\/lib-storage\//,
  /node_modules\/@aws-sdk\/client-dynamodb\//,
  /node_modules\/@aws-sdk\/lib-dynamodb\//,
  /node_modules\/@aws-sdk\/s3-request-presigner\//,
  // Of twilio, only the signature module.
  /node_modules\/twilio\/(?!lib\/webhooks\/webhooks\.js$)/,
];

/** Environment each function needs to initialise (config is read at module load). */
const FUNCTION_ENV: Record<string, string> = {
  AWS_REGION: 'us-east-1',
  AWS_ACCESS_KEY_ID: 'bench',
  AWS_SECRET_ACCESS_KEY: 'bench',
  TWILIO_ACCOUNT_SID: `AC${'0'.repeat(32)}`,
  TWILIO_SECRET_ARN: 'arn:aws:secretsmanager:us-east-1:000000000000:secret:twilio',
  TRANSFER_QUEUE_URL: 'https://sqs.us-east-1.amazonaws.com/000000000000/recording-transfer',
  RECORDINGS_BUCKET: 'recordings',
  CALLS_TABLE: 'calls',
  POWERTOOLS_LOG_LEVEL: 'WARN',
};

/** Wall time of the import (the figure), and its CPU time, which other load on the machine disturbs less. */
const LOADER = `
const c0 = process.cpuUsage();
const t0 = performance.now();
await import(process.argv[2]);
const t1 = performance.now();
const cpu = process.cpuUsage(c0);
process.stdout.write(JSON.stringify({ importMs: t1 - t0, cpuMs: (cpu.user + cpu.system) / 1000, readyMs: t1 }));
`;

interface Bundle {
  readonly name: string;
  /** The entry file, `index.mjs`, which Lambda (and the loader here) imports. */
  readonly file: string;
  /** JavaScript output files: the entry and its chunks. */
  readonly files: number;
  /** All JavaScript output files (entry and chunks), without source maps. */
  readonly bytes: number;
  /** Sum of the files' gzip sizes. */
  readonly gzipBytes: number;
  /** The entry file alone. */
  readonly entryBytes: number;
  /** The entry and the chunks it imports statically: what a cold start reads and compiles. */
  readonly eagerBytes: number;
  readonly eagerFiles: number;
  readonly mapBytes: number;
  /** Bundled packages across all output files. */
  readonly packages: { name: string; bytes: number }[];
  /** Bundled packages in the files loaded at start (entry and its static imports). */
  readonly eagerPackages: { name: string; bytes: number }[];
  readonly forbidden: string[];
}

function packageOf(input: string): string {
  const at = input.lastIndexOf('node_modules/');
  if (at < 0) return input.startsWith('lambda/') ? 'lambda (own code)' : input;
  const rest = input.slice(at + 'node_modules/'.length).split('/');
  return rest[0]?.startsWith('@') ? `${rest[0]}/${rest[1]}` : (rest[0] ?? input);
}

type Output = Metafile['outputs'][string];

function summarisePackages(outputs: readonly Output[]): { name: string; bytes: number }[] {
  const byPackage = new Map<string, number>();
  for (const output of outputs) {
    for (const [input, { bytesInOutput }] of Object.entries(output.inputs)) {
      const name = packageOf(input);
      byPackage.set(name, (byPackage.get(name) ?? 0) + bytesInOutput);
    }
  }
  return [...byPackage.entries()].map(([name, bytes]) => ({ name, bytes })).sort((a, b) => b.bytes - a.bytes);
}

/** The entry output and every output it reaches through static imports (not `import()`). */
function eagerOutputs(outputs: Readonly<Record<string, Output>>, entry: string): string[] {
  const seen = new Set<string>();
  const visit = (path: string) => {
    if (seen.has(path) || !outputs[path]) return;
    seen.add(path);
    for (const i of outputs[path].imports) if (i.kind === 'import-statement' && !i.external) visit(i.path);
  };
  visit(entry);
  return [...seen];
}

/** Builds like the deployed function (lib/bundling.ts, code splitting into a directory). */
async function buildFunction(name: string, outDir: string): Promise<Bundle> {
  const outdir = join(outDir, name);
  const result = await build({
    ...esbuildOptionsFor(join(ROOT, 'lambda', name, 'index.ts'), outdir, ROOT),
    ...(DEFINES[name] ? { define: DEFINES[name]() } : {}),
    metafile: true,
    logLevel: 'error',
  });
  const outputs = result.metafile.outputs;
  const js = Object.keys(outputs).filter((path) => !path.endsWith('.map'));
  // The entry is index.mjs; chunks reached by `import()` have an entryPoint in the metafile too.
  const file = join(outdir, `${BUNDLE_ENTRY_NAME}${BUNDLE_EXTENSION}`);
  const entry = js.find((path) => resolve(ROOT, path) === file);
  if (!entry) throw new Error(`${name}: no ${file} among ${js.length} output files`);
  const sizes = js.map((path) => {
    const code = readFileSync(resolve(ROOT, path));
    return { path, bytes: code.length, gzipBytes: gzipSync(code).length };
  });
  const eager = eagerOutputs(outputs, entry);
  const inputs = Object.keys(result.metafile.inputs);
  const forbidden = name === WEBHOOK ? inputs.filter((i) => WEBHOOK_FORBIDDEN.some((re) => re.test(i))) : [];
  const sum = (values: readonly number[]) => values.reduce((a, b) => a + b, 0);
  return {
    name,
    file,
    files: js.length,
    bytes: sum(sizes.map((s) => s.bytes)),
    gzipBytes: sum(sizes.map((s) => s.gzipBytes)),
    entryBytes: sizes.find((s) => s.path === entry)?.bytes ?? 0,
    eagerBytes: sum(sizes.filter((s) => eager.includes(s.path)).map((s) => s.bytes)),
    eagerFiles: eager.length,
    mapBytes: sum(
      Object.keys(outputs)
        .filter((path) => path.endsWith('.map'))
        .map((path) => statSync(resolve(ROOT, path)).size),
    ),
    packages: summarisePackages(js.map((path) => outputs[path] as Output)),
    eagerPackages: summarisePackages(eager.map((path) => outputs[path] as Output)),
    forbidden,
  };
}

interface LoadSample {
  readonly importMs: number;
  readonly cpuMs: number;
  readonly readyMs: number;
  readonly wallMs: number;
}

function loadOnce(loader: string, file: string, env: Readonly<Record<string, string>>): LoadSample {
  const started = process.hrtime.bigint();
  const child = spawnSync(process.execPath, [loader, file], {
    env: { PATH: process.env.PATH ?? '', ...env },
    encoding: 'utf8',
  });
  const wallMs = Number(process.hrtime.bigint() - started) / 1e6;
  if (child.status !== 0) {
    throw new LoadError(`loading ${file} failed: …${child.stderr.slice(-1500)}`, child.stderr);
  }
  const parsed = JSON.parse(child.stdout) as Omit<LoadSample, 'wallMs'>;
  return { ...parsed, wallMs };
}

class LoadError extends Error {
  constructor(
    message: string,
    readonly stderr: string,
  ) {
    super(message);
  }
}

/** A plausible value for a configuration variable the function requires, from its name. */
function placeholder(name: string): string {
  if (name.endsWith('_URL')) return `https://sqs.us-east-1.amazonaws.com/000000000000/${name.toLowerCase()}`;
  if (name.endsWith('_ARN')) return `arn:aws:sns:us-east-1:000000000000:${name.toLowerCase()}`;
  return name.toLowerCase().replace(/_/g, '-');
}

/**
 * The environment a function needs to initialise: FUNCTION_ENV, plus a placeholder for every
 * variable its ConfigError names as required (the functions' configuration grows; the bench follows).
 */
function environmentFor(loader: string, file: string): Record<string, string> {
  const env: Record<string, string> = { ...FUNCTION_ENV };
  for (let attempt = 0; attempt < 10; attempt++) {
    try {
      loadOnce(loader, file, env);
      return env;
    } catch (error) {
      const missing =
        error instanceof LoadError
          ? [...error.stderr.matchAll(/\b([A-Z][A-Z0-9_]+) is required/g)].map((m) => m[1])
          : [];
      const added = missing.filter((name): name is string => name !== undefined && !(name in env));
      if (added.length === 0) throw error;
      for (const name of added) env[name] = placeholder(name);
    }
  }
  return env;
}

runBench('cold-start', '4. Cold start: bundle size and load time in a fresh Node process', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'rv-bench-cold-'));
  try {
    const names = readdirSync(join(ROOT, 'lambda'))
      .filter((d) => existsSync(join(ROOT, 'lambda', d, 'index.ts')))
      .sort();
    const bundles: Bundle[] = [];
    for (const name of names) bundles.push(await buildFunction(name, dir));

    const loader = join(dir, 'load.mjs');
    writeFileSync(loader, LOADER);
    mkdirSync(join(dir, 'empty'), { recursive: true });
    const empty = join(dir, 'empty', 'index.mjs');
    writeFileSync(empty, 'export {};\n');

    // Work out each function's environment (this also warms the page cache and Node's start-up),
    // then interleave the runs so drift on the machine hits every target alike.
    const envs = new Map<string, Record<string, string>>([[empty, { ...FUNCTION_ENV }]]);
    for (const b of bundles) envs.set(b.file, environmentFor(loader, b.file));
    const samples = new Map<string, Record<keyof LoadSample, number[]>>();
    const targets = [{ name: 'empty', file: empty }, ...bundles];
    for (const t of targets) samples.set(t.name, { importMs: [], cpuMs: [], readyMs: [], wallMs: [] });
    for (let i = 0; i < REPETITIONS; i++) {
      for (const t of targets) {
        const s = samples.get(t.name);
        const run = loadOnce(loader, t.file, envs.get(t.file) ?? FUNCTION_ENV);
        s?.importMs.push(run.importMs);
        s?.cpuMs.push(run.cpuMs);
        s?.readyMs.push(run.readyMs);
        s?.wallMs.push(run.wallMs);
      }
    }

    const base = samples.get('empty');
    if (!base) throw new Error('no baseline samples');
    const figures: Figure[] = [];
    console.log(`  ${REPETITIONS} fresh processes per bundle, interleaved; Node ${process.version}`);
    for (const b of bundles) {
      const s = samples.get(b.name);
      if (!s) continue;
      const limit = TARGET_MS[b.name] ?? DEFAULT_TARGET_MS;
      const load = stats(s.importMs);
      const kib = (bytes: number) => `${fmt(bytes / 1024, 0)} KiB`;
      const parts = (packages: readonly { name: string; bytes: number }[]) =>
        packages
          .slice(0, 6)
          .map((p) => `${p.name} ${kib(p.bytes)}`)
          .join(', ');
      console.log(
        `\n  ${b.name}: ${kib(b.bytes)} minified in ${b.files} files (${kib(b.gzipBytes)} gzip, maps ${kib(
          b.mapBytes,
        )}); entry ${BUNDLE_ENTRY_NAME}${BUNDLE_EXTENSION} ${kib(b.entryBytes)}; loaded at start ${kib(
          b.eagerBytes,
        )} in ${b.eagerFiles} files`,
      );
      console.log(`      largest parts: ${parts(b.packages)}`);
      console.log(`      loaded at start: ${parts(b.eagerPackages)}`);
      if (b.name === WEBHOOK) {
        console.log(
          b.forbidden.length === 0
            ? '      contains no S3/DynamoDB client and no twilio module but lib/webhooks/webhooks.js: OK'
            : `      CONTAINS FORBIDDEN MODULES: ${b.forbidden.slice(0, 8).join(', ')}${b.forbidden.length > 8 ? ' …' : ''}`,
        );
      }
      const f = figure({
        bench: 'cold-start',
        name: `${b.name} import`,
        unit: 'ms',
        value: load,
        baselineName: 'empty module',
        baseline: stats(base.importMs),
        ratio: false,
        target: `< ${limit} ms`,
        met: load.median < limit,
        notes: `+${fmt(load.median - stats(base.importMs).median)} ms over empty; import CPU time ${fmt(
          stats(s.cpuMs).median,
        )} ms vs ${fmt(stats(base.cpuMs).median)} ms empty; bundle ${fmt(b.bytes / MiB, 2)} MiB in ${b.files} files, ${fmt(
          b.eagerBytes / MiB,
          2,
        )} MiB loaded at start; process start→ready ${fmt(stats(s.readyMs).median)} ms vs ${fmt(
          stats(base.readyMs).median,
        )} ms empty; spawn→exit ${fmt(stats(s.wallMs).median)} ms vs ${fmt(stats(base.wallMs).median)} ms`,
      });
      printFigure(f);
      figures.push(f);
      figures.push(
        figure({
          bench: 'cold-start',
          name: `${b.name} bundle size`,
          unit: 'KiB',
          value: stats([b.bytes / 1024]),
          notes: `all ${b.files} output files (entry and chunks, no maps); gzip ${fmt(b.gzipBytes / 1024, 0)} KiB; entry file ${fmt(
            b.entryBytes / 1024,
            0,
          )} KiB; entry and its static imports ${fmt(b.eagerBytes / 1024, 0)} KiB${
            b.name === WEBHOOK
              ? b.forbidden.length === 0
                ? '; no S3/DynamoDB client, twilio signature module only'
                : `; forbidden modules: ${b.forbidden.length}`
              : ''
          }`,
        }),
      );
      figures.push(
        figure({
          bench: 'cold-start',
          name: `${b.name} entry file size`,
          unit: 'KiB',
          value: stats([b.entryBytes / 1024]),
          notes: `${BUNDLE_ENTRY_NAME}${BUNDLE_EXTENSION} alone; with the chunks it imports statically ${fmt(
            b.eagerBytes / 1024,
            0,
          )} KiB in ${b.eagerFiles} files`,
        }),
      );
    }
    return {
      figures,
      details: {
        repetitions: REPETITIONS,
        bundles: bundles.map(({ file: _file, ...b }) => ({
          ...b,
          packages: b.packages.slice(0, 15),
          eagerPackages: b.eagerPackages.slice(0, 15),
        })),
      },
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
