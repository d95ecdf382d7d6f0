/**
 * The console's static assets, built from console/: index.html and console.css as they are, and
 * console/src/main.ts bundled by esbuild into one browser script (IIFE, ES2020, minified). Built at
 * start-up by the local stack and at synth by the console function's construct (embedded in its
 * Lambda bundle), so both serve the same page.
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { buildSync } from 'esbuild';
import type { ConsoleAssets } from '../lambda/console/handler';

export const CONSOLE_DIR = resolve(__dirname, '..', 'console');

export function buildConsoleAssets(dir = CONSOLE_DIR): ConsoleAssets {
  const result = buildSync({
    entryPoints: [join(dir, 'src', 'main.ts')],
    tsconfig: join(dir, 'tsconfig.json'),
    bundle: true,
    write: false,
    platform: 'browser',
    format: 'iife',
    target: ['es2020'],
    minify: true,
    legalComments: 'none',
    logLevel: 'silent',
  });
  const script = result.outputFiles[0];
  if (!script) throw new Error('esbuild produced no console bundle');
  return {
    html: readFileSync(join(dir, 'index.html'), 'utf8'),
    js: script.text,
    css: readFileSync(join(dir, 'console.css'), 'utf8'),
  };
}
