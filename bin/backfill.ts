#!/usr/bin/env node
/**
 * `npm run backfill -- --from <ISO date> --to <ISO date> [--stage <name>] [--account <AccountSid>] [--dry-run]`:
 * what the scheduled reconciler does, for a past range, in each of the target's accounts (lib/ops/backfill.ts). Progress on stderr; the last
 * line, on stdout, is `backfill: listed N, already stored M, queued K, skipped S`. Any failure:
 * one line on stderr and a non-zero exit.
 */
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

import { Command } from 'commander';
import { type BackfillArguments, INTERRUPTED, parseInstant, runBackfill } from '../lib/ops/backfill';
import { CliError, EXIT, runCli, usageErrorsAs } from '../lib/ops/cli';

function parseArguments(): BackfillArguments {
  const program = new Command()
    .name('npm run backfill --')
    .description('Queue a transfer for every completed Twilio recording created in [from, to) that the vault lacks.')
    .requiredOption('--from <date>', 'first creation time, inclusive (ISO date or date-time, UTC)', parseInstant)
    .requiredOption('--to <date>', 'end of the range, exclusive (ISO date or date-time, UTC)', parseInstant)
    .option(
      '--stage <name>',
      'a deployed stage (CloudFormation outputs, your AWS credentials); default: the local stack',
    )
    .option('--account <AccountSid>', "one of the target's accounts only (default: the parent and every subaccount)")
    .option('--dry-run', 'list and check only; queue nothing')
    .allowExcessArguments(false)
    .showSuggestionAfterError(false)
    .configureOutput(usageErrorsAs('backfill'))
    .parse();
  const options = program.opts<BackfillArguments>();
  if (options.from.getTime() >= options.to.getTime()) throw new CliError('--from must be before --to');
  return options;
}

runCli('backfill', async () => {
  const args = parseArguments();
  const interrupt = new AbortController();
  process.on('SIGINT', () => {
    if (interrupt.signal.aborted) process.exit(INTERRUPTED);
    interrupt.abort(new Error('interrupted'));
  });
  await runBackfill(args, interrupt.signal);
  return EXIT.ok;
});
