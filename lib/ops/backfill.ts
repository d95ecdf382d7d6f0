/**
 * Backfill: what the scheduled reconciler does, for a past range of recording creation times
 * (origin `backfill`), with progress on stderr (a bar on a terminal, plain lines otherwise).
 * `bin/backfill.ts` parses the command line and calls `runBackfill`.
 */
import { SingleBar } from 'cli-progress';
import { InvalidArgumentError } from 'commander';
import { type ReconcileProgress, type ReconcileResult, reconcile } from '../../lambda/shared/job/reconcile';
import { sqsTransferQueue } from '../../lambda/shared/job/transfer-queue';
import { RecordingLedger } from '../../lambda/shared/ledger/ledger';
import { parseIsoInstant } from '../../lambda/shared/runtime/iso-instant';
import type { Observability } from '../../lambda/shared/runtime/observability';
import { createTwilioRecordingList, type ListWindow } from '../../lambda/shared/twilio/recording-list';
import type { TokenSource } from '../../lambda/shared/twilio/signature';
import { CliError } from './cli';
import {
  resolveTarget,
  stageSubaccountTokens,
  stageTokens,
  type TwilioAccount,
  twilioAccount,
  type VaultTarget,
} from './target';

/** An ISO-8601 date (midnight UTC) or date-time (UTC unless it names an offset), read as GET /recordings reads one. */
export function parseInstant(value: string): Date {
  const date = parseIsoInstant(value.trim());
  if (!date) {
    throw new InvalidArgumentError('expected an ISO date (2024-07-01) or date-time (2024-07-01T12:00:00Z), UTC');
  }
  return date;
}

export interface BackfillArguments {
  readonly from: Date;
  readonly to: Date;
  readonly stage?: string;
  readonly dryRun?: boolean;
  /** One account of the target only (the parent or a listed subaccount); default: every one. */
  readonly account?: string;
}

/** Exit code of a run stopped by Ctrl-C (128 + SIGINT). */
export const INTERRUPTED = 130;

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

/** One Twilio account to list, with its own token(s). */
export interface ListedAccount {
  readonly accountSid: string;
  readonly tokens: TokenSource;
}

/** The vault and the Twilio accounts to reconcile (the parent first): offline checks first, then AWS. */
interface Connected {
  readonly target: VaultTarget;
  readonly twilio: Pick<TwilioAccount, 'twilioApiBaseUrl'> & { readonly accounts: readonly ListedAccount[] };
}

export async function connect(stage: string | undefined, only?: string): Promise<Connected> {
  const account = twilioAccount({ stage });
  const sids = [account.accountSid, ...account.subaccounts.map((sub) => sub.accountSid)];
  if (only !== undefined && !sids.includes(only)) {
    throw new CliError(`--account ${only.slice(0, 40)} is not one of the target's accounts (${sids.join(', ')})`);
  }
  const wanted = (sid: string) => only === undefined || only === sid;
  const target = await resolveTarget({ stage });
  try {
    const parent = wanted(account.accountSid) ? [account.accountSid] : [];
    const subaccounts = account.subaccounts.filter((sub) => wanted(sub.accountSid));
    // A stage's tokens are in its secret, the local stack's in its variables.
    const fromSecret = await stageSubaccountTokens(
      target,
      subaccounts.filter((sub) => !sub.tokens).map((sub) => sub.accountSid),
    );
    const accounts: ListedAccount[] = [
      ...(parent.length > 0
        ? [{ accountSid: account.accountSid, tokens: account.tokens ?? (await stageTokens(target)) }]
        : []),
      ...subaccounts.map((sub) => ({
        accountSid: sub.accountSid,
        tokens: sub.tokens ?? (fromSecret.get(sub.accountSid) as TokenSource),
      })),
    ];
    return { target, twilio: { twilioApiBaseUrl: account.twilioApiBaseUrl, accounts } };
  } catch (error) {
    target.close();
    throw error;
  }
}

/** Each account in turn, under its own path and token; the counts added up. Stops at the first one cut short. */
export async function backfillRange(
  args: BackfillArguments,
  { target, twilio }: Connected,
  signal: AbortSignal,
): Promise<ReconcileResult> {
  const several = twilio.accounts.length > 1;
  let total: ReconcileResult | undefined;
  for (const account of twilio.accounts) {
    const result = await backfillAccount(args, target, twilio.twilioApiBaseUrl, account, signal);
    if (several) process.stderr.write(`backfill: ${account.accountSid}: ${summary(result)}\n`);
    total = total ? addUp(total, result) : result;
    if (!result.finished) break;
  }
  return total ?? emptyResult(args.dryRun === true);
}

function addUp(a: ReconcileResult, b: ReconcileResult): ReconcileResult {
  return {
    listed: a.listed + b.listed,
    alreadyStored: a.alreadyStored + b.alreadyStored,
    queued: a.queued + b.queued,
    skipped: a.skipped + b.skipped,
    invalid: a.invalid + b.invalid,
    pages: a.pages + b.pages,
    dryRun: a.dryRun,
    finished: a.finished && b.finished,
    notFinal: [...a.notFinal, ...b.notFinal],
  };
}

function emptyResult(dryRun: boolean): ReconcileResult {
  return {
    listed: 0,
    alreadyStored: 0,
    queued: 0,
    skipped: 0,
    invalid: 0,
    pages: 0,
    dryRun,
    finished: true,
    notFinal: [],
  };
}

async function backfillAccount(
  args: BackfillArguments,
  target: VaultTarget,
  twilioApiBaseUrl: string,
  twilio: ListedAccount,
  signal: AbortSignal,
): Promise<ReconcileResult> {
  const window = { from: args.from, to: new Date(Math.min(args.to.getTime(), Date.now())) };
  const progress = progressReporter(window, process.stderr.isTTY === true);
  const ledger = new RecordingLedger(target.ddb, target.ledgerTableName);
  const queue = sqsTransferQueue(target.sqs, target.transferQueueUrl);
  try {
    return await reconcile(
      {
        list: createTwilioRecordingList({
          baseUrl: twilioApiBaseUrl,
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

export function summary(counts: ReconcileResult): string {
  return `listed ${counts.listed}, already stored ${counts.alreadyStored}, queued ${counts.queued}, skipped ${counts.skipped}`;
}

/** The whole command after its arguments: connect, reconcile the range, print the summary line. */
export async function runBackfill(args: BackfillArguments, signal: AbortSignal): Promise<void> {
  const connected = await connect(args.stage, args.account);
  try {
    process.stderr.write(
      `backfill: ${connected.target.name}, recordings created from ${args.from.toISOString()} to ${args.to.toISOString()}${args.dryRun ? ' (dry run)' : ''}` +
        `${connected.twilio.accounts.length > 1 ? `, accounts ${connected.twilio.accounts.map((a) => a.accountSid).join(', ')}` : ''}\n`,
    );
    const result = await backfillRange(args, connected, signal);
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
  } finally {
    connected.target.close();
  }
}
