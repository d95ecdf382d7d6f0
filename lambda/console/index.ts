import { type ConsoleAssets, createConsoleHandler } from './handler';
import { consoleSettingsFromEnv } from './settings';

/** Embedded at bundling time by the construct (esbuild `define`, from lib/console-bundle.ts). */
declare const __CONSOLE_ASSETS__: ConsoleAssets;

export const handler = createConsoleHandler({
  assets: __CONSOLE_ASSETS__,
  settings: consoleSettingsFromEnv(process.env),
});
