#!/usr/bin/env node
/**
 * `npm run export -- --from <ISO date> --to <ISO date> --out <dir>|s3://bucket/prefix [--stage <name>]`:
 * every stored recording of the range with its `<RecordingSid>.json`, every hash checked, a
 * manifest with its own SHA-256 (lib/ops/export.ts). Progress on stderr; the last line, on stdout,
 * is the summary. Ctrl-C (SIGINT) or SIGTERM abandons the recording being copied, enters the run
 * as `interrupted` and exits 130 (SIGINT) or 143 (SIGTERM); a second signal exits at once. The
 * same command resumes.
 */
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

import { Command } from 'commander';
import { LEDGER_DAY_INDEX } from '../lib/local/config';
import { parseInstant } from '../lib/ops/backfill';
import { CliError, EXIT, runCli, usageErrorsAs } from '../lib/ops/cli';
import { commandAudit } from '../lib/ops/command-audit';
import { exportProgress, exportRecordings, exportSummary, openExportTarget, parseDestination } from '../lib/ops/export';
import { resolveTarget } from '../lib/ops/target';

interface Options {
  readonly from: Date;
  readonly to: Date;
  readonly out: string;
  readonly stage?: string;
}

/** 128 + the signal's number, as a shell reports a process the signal ended. */
const SIGNAL_EXIT = { SIGINT: 130, SIGTERM: 143 } as const;

const program = new Command()
  .name('npm run export --')
  .description(
    'Copy every stored recording that started in [from, to), with a <RecordingSid>.json beside it, checking every SHA-256, and write a manifest. Run it again to resume.',
  )
  .requiredOption('--from <date>', 'first start time, inclusive (ISO date or date-time, UTC)', parseInstant)
  .requiredOption('--to <date>', 'end of the range, exclusive (ISO date or date-time, UTC)', parseInstant)
  .requiredOption('--out <dir|s3://bucket/prefix>', 'a directory, or an S3 location your credentials can write')
  .option('--stage <name>', 'a deployed stage (CloudFormation outputs, your AWS credentials); default: the local stack')
  .allowExcessArguments(false)
  .showSuggestionAfterError(false)
  .configureOutput(usageErrorsAs('export'));

runCli('export', async () => {
  const options = program.parse().opts<Options>();
  if (options.from.getTime() >= options.to.getTime()) throw new CliError('--from must be before --to');
  const out = parseDestination(options.out);
  const interrupt = new AbortController();
  for (const name of Object.keys(SIGNAL_EXIT) as (keyof typeof SIGNAL_EXIT)[]) {
    process.on(name, () => {
      if (interrupt.signal.aborted) process.exit(SIGNAL_EXIT[name]);
      interrupt.abort(name);
    });
  }
  const target = await resolveTarget({ stage: options.stage });
  try {
    const sink = await openExportTarget(out, { s3: target.s3, vaultBucketName: target.bucketName });
    const audit = await commandAudit(target, { command: 'export', stage: options.stage });
    process.stderr.write(
      `export: ${target.name}, recordings started from ${options.from.toISOString()} to ${options.to.toISOString()}\n`,
    );
    const result = await exportRecordings(
      { from: options.from, to: options.to, out: sink },
      {
        ddb: target.ddb,
        s3: target.s3,
        ledgerTableName: target.ledgerTableName,
        ledgerDayIndexName: LEDGER_DAY_INDEX,
        ledgerIndexShards: target.ledgerIndexShards,
        name: target.name,
      },
      audit,
      { signal: interrupt.signal, progress: exportProgress(process.stderr.isTTY === true) },
    );
    if (!result.finished) {
      throw new CliError(
        `interrupted (${exportSummary(result)
          .replace(/^export: /, '')
          .replace(' recordings:', ' recordings in the range:')}); run it again to resume`,
        SIGNAL_EXIT[interrupt.signal.reason as keyof typeof SIGNAL_EXIT] ?? SIGNAL_EXIT.SIGINT,
      );
    }
    process.stdout.write(`${exportSummary(result)}\n`);
    return result.failed > 0 ? EXIT.failed : EXIT.ok;
  } finally {
    target.close();
  }
});
