/**
 * How every Lambda function of Recording Vault is bundled: ONE description, used twice.
 *
 * - `ESBUILD_OPTIONS` is a plain esbuild options object, and `esbuildOptionsFor(entry, outdir)`
 *   adds the entry point and output directory to it. The construct (`VaultFunction`, through
 *   CDK local bundling) and the cold-start benchmark both build with exactly that, so the
 *   benchmark measures what gets deployed.
 *
 * Choices:
 * - ESM output for Node 22: top-level await available, and esbuild tree-shakes ESM
 *   dependencies (AWS SDK v3, Powertools) better when `module` entry points are preferred.
 * - Code splitting: the entry is `index.mjs` (handler `index.handler`), and every module that
 *   is only reached through a dynamic `import()` (the webhook's SQS and Secrets Manager
 *   clients, the SDK's own lazily loaded credential providers) goes into chunk files next to
 *   it. Node reads and compiles a chunk only when it is first imported, so a cold start pays
 *   for the code it runs, not for the whole bundle. `NodejsFunction` cannot do this (it
 *   builds to one `outfile`), hence the construct's own local bundling.
 * - The banner gives ESM code a CommonJS `require`, for the few dependencies that still call
 *   `require()` on Node built-ins at run time (twilio's webhooks module among them). esbuild
 *   writes a banner at the top of every output file, chunks included, so `require` exists in
 *   whichever chunk ends up holding esbuild's `__require` helper.
 * - The AWS SDK is bundled (no externals): the version we test is the version we run, and a
 *   minified tree-shaken bundle loads faster than the runtime's full SDK from disk.
 * - Source maps without `sourcesContent`: readable stack traces (with
 *   `NODE_OPTIONS=--enable-source-maps`) at a fraction of the map size.
 */

import type { BuildOptions } from 'esbuild';

/** Node.js version the functions run on; keep in step with `Runtime.NODEJS_22_X`. */
export const BUNDLE_TARGET = 'node22';

/** Gives ESM bundles a `require` for CommonJS dependencies that require Node built-ins. */
export const ESM_REQUIRE_BANNER =
  "import { createRequire } from 'module';const require = createRequire(import.meta.url);";

/** Main fields in resolution order: ESM builds first. */
export const MAIN_FIELDS: readonly string[] = ['module', 'main'];

/** Name of the entry output (`index.mjs`); the Lambda handler is `${BUNDLE_ENTRY_NAME}.handler`. */
export const BUNDLE_ENTRY_NAME = 'index';

/** Extension of every output file: Lambda's Node.js runtime loads `.mjs` as ESM. */
export const BUNDLE_EXTENSION = '.mjs';

/**
 * Plain esbuild options without entry point and output directory; add them with
 * `esbuildOptionsFor`. Splitting needs `format: 'esm'` and an `outdir` (not an `outfile`).
 */
export const ESBUILD_OPTIONS = {
  bundle: true,
  platform: 'node',
  target: BUNDLE_TARGET,
  format: 'esm',
  splitting: true,
  outExtension: { '.js': BUNDLE_EXTENSION },
  chunkNames: '[name]-[hash]',
  mainFields: [...MAIN_FIELDS],
  banner: { js: ESM_REQUIRE_BANNER },
  minify: true,
  sourcemap: true,
  sourcesContent: false,
  external: [],
  logLevel: 'warning',
} as const satisfies BuildOptions;

/**
 * The complete build of one function: `entry` (its TypeScript handler file) becomes
 * `<outdir>/index.mjs`, with its chunks and source maps alongside. `absWorkingDir` is the
 * project root, against which esbuild resolves packages and writes metafile paths.
 */
export function esbuildOptionsFor(entry: string, outdir: string, absWorkingDir: string) {
  return {
    ...ESBUILD_OPTIONS,
    absWorkingDir,
    entryPoints: { [BUNDLE_ENTRY_NAME]: entry },
    outdir,
  } as const satisfies BuildOptions;
}
