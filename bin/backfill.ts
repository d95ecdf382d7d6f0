#!/usr/bin/env node
/**
 * `npm run backfill -- --from <ISO date> --to <ISO date> [--stage <name>] [--dry-run]`: what the
 * scheduled reconciler does, for a past range of recording creation times (origin `backfill`).
 * Progress goes to stderr (a bar on a terminal, plain lines otherwise); the last line, on stdout,
 * is `backfill: listed N, already stored M, queued K, skipped S`. Any failure: one line on stderr
 * and a non-zero exit.
 */
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

import { SingleBar } from 'cli-progress';
import { Command, InvalidArgumentError } from 'commander';
import { type ReconcileProgress, type ReconcileResult, reconcile } from '../lambda/shared/job/reconcile';
import { sqsTransferQueue } from '../lambda/shared/job/transfer-queue';
import { RecordingLedger } from '../lambda/shared/ledger/ledger';
import type { Observability } from '../lambda/shared/runtime/observability';
import { createTwilioRecordingList, type ListWindow } from '../lambda/shared/twilio/recording-list';
import type { TokenSource } from '../lambda/shared/twilio/signature';
import { CliError, EXIT, runCli, usageErrorsAs } from '../lib/ops/cli';
import { resolveTarget, stageTokens, type TwilioAccount, twilioAccount, type VaultTarget } from '../lib/ops/target';

const DATE_TIME = /^(\d{4}-\d{2}-\d{2})(?:(T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,3})?)?)(Z|[+-]\d{2}:\d{2})?)?$/;

/** An ISO-8601 date (midnight UTC) or date-time (UTC unless it names an offset); 2024-02-30 is refused. */
function parseInstant(value: string): Date {
  const match = DATE_TIME.exec(value.trim());
  const [, date, time, zone] = match ?? [];
  const parsed = date ? Date.parse(`${date}${time ?? 'T00:00'}${zone ?? 'Z'}`) : Number.NaN;
  // Date.parse rolls 2024-02-30 over into March: the calendar day must survive the round trip.
  const real = !Number.isNaN(parsed) && new Date(Date.parse(`${date}T00:00Z`)).toISOString().startsWith(date ?? '-');
  if (!real) {
    throw new InvalidArgumentError('expected an ISO date (2024-07-01) or date-time (2024-07-01T12:00:00Z), UTC');
  }
  return new Date(parsed);
}

interface Arguments {
  readonly from: Date;
  readonly to: Date;
  readonly stage?: string;
  readonly dryRun?: boolean;
}

/** Exit code of a run stopped by Ctrl-C (128 + SIGINT). */
const INTERRUPTED = 130;

function parseArguments(): Arguments {
  const program = new Command()
    .name('npm run backfill --')
    .description('Queue a transfer for every completed Twilio recording created in [from, to) that the vault lacks.')
    .requiredOption('--from <date>', 'first creation time, inclusive (ISO date or date-time, UTC)', parseInstant)
    .requiredOption('--to <date>', 'end of the range, exclusive (ISO date or date-time, UTC)', parseInstant)
    .option(
      '--stage <name>',
      'a deployed stage (CloudFormation outputs, your AWS credentials); default: the local stack',
    )
    .option('--dry-run', 'list and check only; queue nothing')
    .allowExcessArguments(false)
    .showSuggestionAfterError(false)
    .configureOutput(usageErrorsAs('backfill'))
    .parse();
  const options = program.opts<Arguments>();
  if (options.from.getTime() >= options.to.getTime()) throw new CliError('--from must be before --to');
  return options;
}

/** Progress on stderr: a bar on a terminal, otherwise a plain line every few seconds. */
interface Progress {
  update(progress: ReconcileProgress): void;
  note(line: string): void;
  stop(): void;
}

function progressReporter(window: ListWindow, tty: boolean): Progress {
  const started = Date.now();
  const span = window.to.getTime() - window.from.getTime();
  const done = (p: ReconcileProgress) => (window.to.getTime() - p.position.getTime()) / span;
  const rate = (p: ReconcileProgress) => Math.round(p.listed / Math.max(0.001, (Date.now() - started) / 1000));
  if (tty) {
    const bar = new SingleBar({
      format:
        'backfill {bar} {percentage}% | listed {listed} | already stored {alreadyStored} | queued {queued} | skipped {skipped} | {rate}/s | {eta_formatted} left{note}',
      stream: process.stderr,
      hideCursor: true,
      etaBuffer: 50,
    });
    bar.start(1000, 0, { listed: 0, alreadyStored: 0, queued: 0, skipped: 0, rate: 0, note: '' });
    return {
      update: (p) => bar.update(Math.round(done(p) * 1000), { ...p, rate: rate(p), note: '' }),
      // A line printed under a live bar would break it: the note rides on the bar until the next page.
      note: (line) => bar.update({ note: ` | ${line.replace(/^backfill: /, '')}` }),
      stop: () => bar.stop(),
    };
  }
  let lastLine = 0;
  return {
    update(p) {
      if (Date.now() - lastLine < 2000) return;
      lastLine = Date.now();
      const fraction = done(p);
      const left = fraction > 0 ? ((Date.now() - started) / 1000) * ((1 - fraction) / fraction) : Number.NaN;
      process.stderr.write(
        `backfill: ${Math.floor(fraction * 100)}% (back to ${p.position.toISOString()}), listed ${p.listed}, ` +
          `already stored ${p.alreadyStored}, queued ${p.queued}, skipped ${p.skipped}, ${rate(p)}/s` +
          `${Number.isFinite(left) ? `, about ${duration(left)} left` : ''}\n`,
      );
    },
    note: (line) => process.stderr.write(`${line}\n`),
    stop: () => undefined,
  };
}

function duration(seconds: number): string {
  if (seconds < 90) return `${Math.ceil(seconds)} s`;
  if (seconds < 90 * 60) return `${Math.round(seconds / 60)} min`;
  return `${(seconds / 3600).toFixed(1)} h`;
}

/** Logs stay out of the way of the progress; warnings (unusable records) are counted in the summary. */
const quiet: Pick<Observability, 'logger' | 'metric'> = {
  logger: { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined },
  metric: () => undefined,
};

/** The vault and the Twilio account to reconcile: offline checks first, then AWS. */
interface Connected {
  readonly target: VaultTarget;
  readonly twilio: TwilioAccount & { readonly tokens: TokenSource };
}

async function connect(stage: string | undefined): Promise<Connected> {
  const account = twilioAccount({ stage });
  const target = await resolveTarget({ stage });
  try {
    return { target, twilio: { ...account, tokens: account.tokens ?? (await stageTokens(target)) } };
  } catch (error) {
    target.close();
    throw error;
  }
}

async function run(args: Arguments, { target, twilio }: Connected, signal: AbortSignal): Promise<ReconcileResult> {
  const window = { from: args.from, to: new Date(Math.min(args.to.getTime(), Date.now())) };
  const progress = progressReporter(window, process.stderr.isTTY === true);
  const ledger = new RecordingLedger(target.ddb, target.ledgerTableName);
  const queue = sqsTransferQueue(target.sqs, target.transferQueueUrl);
  try {
    return await reconcile(
      {
        list: createTwilioRecordingList({
          baseUrl: twilio.twilioApiBaseUrl,
          accountSid: twilio.accountSid,
          tokens: twilio.tokens,
          onRetry: ({ reason: why, delayMs }) =>
            progress.note(
              `backfill: Twilio ${why.replace(/^twilio-/, 'answered ')}; trying again in ${duration(delayMs / 1000)}`,
            ),
        }),
        statuses: (sids) => ledger.statuses(sids),
        enqueue: (job) => queue.enqueue(job),
        accountSid: twilio.accountSid,
        obs: quiet,
      },
      { window, origin: 'backfill', dryRun: args.dryRun === true, signal, onProgress: (p) => progress.update(p) },
    );
  } finally {
    progress.stop();
  }
}

function summary(counts: ReconcileResult): string {
  return `listed ${counts.listed}, already stored ${counts.alreadyStored}, queued ${counts.queued}, skipped ${counts.skipped}`;
}

runCli('backfill', async () => {
  const args = parseArguments();
  const interrupt = new AbortController();
  process.on('SIGINT', () => {
    if (interrupt.signal.aborted) process.exit(INTERRUPTED);
    interrupt.abort(new Error('interrupted'));
  });

  const connected = await connect(args.stage);
  try {
    process.stderr.write(
      `backfill: ${connected.target.name}, recordings created from ${args.from.toISOString()} to ${args.to.toISOString()}${args.dryRun ? ' (dry run)' : ''}\n`,
    );
    const result = await run(args, connected, interrupt.signal);
    if (!result.finished) {
      throw new CliError(`interrupted after ${summary(result)}; run it again to finish`, INTERRUPTED);
    }
    if (result.invalid > 0) {
      process.stderr.write(
        `backfill: ${result.invalid} completed recordings were not queued: malformed SIDs or another account's\n`,
      );
    }
    if (result.dryRun) process.stdout.write('backfill: dry run, nothing queued; "queued" is what a run would queue\n');
    process.stdout.write(`backfill: ${summary(result)}\n`);
    return EXIT.ok;
  } finally {
    connected.target.close();
  }
});
