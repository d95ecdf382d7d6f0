/**
 * How every Lambda function of Recording Vault is bundled: ONE description, used twice.
 *
 * - `ESBUILD_OPTIONS` is a plain esbuild options object: the benchmark calls
 *   `esbuild.build({ ...ESBUILD_OPTIONS, entryPoints: [entry], outfile })` with it to measure
 *   the bundle size and cold load of exactly what gets deployed.
 * - `NODEJS_FUNCTION_BUNDLING` is the same description as CDK `NodejsFunction` bundling options
 *   (local esbuild, no Docker).
 *
 * Choices:
 * - ESM output for Node 22: top-level await available, and esbuild tree-shakes ESM
 *   dependencies (AWS SDK v3, Powertools) better when `module` entry points are preferred.
 * - The banner gives ESM code a CommonJS `require`, for the few dependencies that still call
 *   `require()` on Node built-ins at run time (twilio's webhooks module among them).
 * - The AWS SDK is bundled (no externals): the version we test is the version we run, and a
 *   minified tree-shaken bundle loads faster than the runtime's full SDK from disk.
 * - Source maps without `sourcesContent`: readable stack traces (with
 *   `NODE_OPTIONS=--enable-source-maps`) at a fraction of the map size.
 */

import { type BundlingOptions, LogLevel, OutputFormat, SourceMapMode } from 'aws-cdk-lib/aws-lambda-nodejs';
import type { BuildOptions } from 'esbuild';

/** Node.js version the functions run on; keep in step with `Runtime.NODEJS_22_X`. */
export const BUNDLE_TARGET = 'node22';

/** Gives ESM bundles a `require` for CommonJS dependencies that require Node built-ins. */
export const ESM_REQUIRE_BANNER =
  "import { createRequire } from 'module';const require = createRequire(import.meta.url);";

/** Main fields in resolution order: ESM builds first. */
export const MAIN_FIELDS: readonly string[] = ['module', 'main'];

/**
 * Plain esbuild options (without entry point and output), as `NodejsFunction` passes them to
 * esbuild. Add `entryPoints` and `outfile` (an `.mjs` file, as Lambda loads it) to build.
 */
export const ESBUILD_OPTIONS = {
  bundle: true,
  platform: 'node',
  target: BUNDLE_TARGET,
  format: 'esm',
  mainFields: [...MAIN_FIELDS],
  banner: { js: ESM_REQUIRE_BANNER },
  minify: true,
  sourcemap: true,
  sourcesContent: false,
  external: [],
  logLevel: 'warning',
} as const satisfies BuildOptions;

/** The same bundling for CDK `NodejsFunction` (esbuild run locally by `cdk synth`). */
export const NODEJS_FUNCTION_BUNDLING: BundlingOptions = {
  format: OutputFormat.ESM,
  target: ESBUILD_OPTIONS.target,
  mainFields: [...MAIN_FIELDS],
  banner: ESBUILD_OPTIONS.banner.js,
  minify: ESBUILD_OPTIONS.minify,
  sourceMap: ESBUILD_OPTIONS.sourcemap,
  sourceMapMode: SourceMapMode.DEFAULT,
  sourcesContent: ESBUILD_OPTIONS.sourcesContent,
  // Bundle everything, the AWS SDK included.
  externalModules: [],
  bundleAwsSDK: true,
  logLevel: LogLevel.WARNING,
};
