import { randomUUID } from 'node:crypto';
import type { LedgerStatus } from '../ledger/ledger';
import type { Observability } from '../runtime/observability';
import { encryptionJobFields } from '../twilio/encryption-details';
import type { ListWindow, RecordingListSource, TwilioRecordingEntry } from '../twilio/recording-list';
import { SID } from '../twilio/sids';
import { type JobOrigin, parseDuration, parseStartTime, type RecordingJob } from './recording-job';

/**
 * Reconciliation: Twilio's recording list against the ledger. For a window of creation times,
 * every `completed` recording the ledger does not know gets a transfer job; a recording the
 * ledger knows in any state (stored, transferring, failed, erased…) is left to it. Shared by
 * the scheduled reconciler and `npm run backfill`; everything it touches is injected.
 */

export type ReconcileOrigin = Exclude<JobOrigin, 'callback'>;

export interface ReconcileCounts {
  /** Recordings created in the window, each counted once. */
  readonly listed: number;
  /** `completed` at Twilio and known to the ledger (in whatever state): not queued. */
  readonly alreadyStored: number;
  /** Jobs queued (in a dry run: that would have been). */
  readonly queued: number;
  /** Not `completed` at Twilio (in progress, absent, deleted…): nothing to copy. */
  readonly skipped: number;
  /** `completed` but unusable as a job (malformed SIDs, another account): logged, not queued. */
  readonly invalid: number;
}

export interface ReconcileProgress extends ReconcileCounts {
  readonly window: ListWindow;
  readonly pages: number;
  /** Everything created in [position, window.to) is done. */
  readonly position: Date;
}

/** Twilio's recording statuses that may still become `completed`. */
export const NOT_FINAL_STATUSES: readonly string[] = ['in-progress', 'paused', 'stopped', 'processing'];

export interface ReconcileResult extends ReconcileCounts {
  readonly pages: number;
  /** Listed recordings not final at Twilio yet (in progress…), with their creation time. */
  readonly notFinal: readonly { readonly sid: string; readonly dateCreated: string | undefined }[];
  readonly dryRun: boolean;
  /** False when the signal stopped the run before the list was exhausted. */
  readonly finished: boolean;
}

export interface ReconcileDeps {
  readonly list: RecordingListSource;
  /** The ledger's status of each SID it knows (RecordingLedger.statuses): one BatchGetItem per 100. */
  readonly statuses: (recordingSids: readonly string[]) => Promise<ReadonlyMap<string, LedgerStatus>>;
  readonly enqueue: (job: RecordingJob) => Promise<void>;
  /** The account whose recordings these are; a record of another one is never queued. */
  readonly accountSid: string;
  readonly obs: Pick<Observability, 'logger' | 'metric'>;
  readonly now?: () => Date;
  readonly newJobId?: () => string;
}

export interface ReconcileOptions {
  readonly window: ListWindow;
  readonly origin: ReconcileOrigin;
  readonly dryRun?: boolean;
  /** Stops the run between pages (a time budget, Ctrl-C); what was queued stays queued. */
  readonly signal?: AbortSignal;
  readonly onProgress?: (progress: ReconcileProgress) => void;
}

/** BatchGetItem's limit: one ledger request per this many recordings. */
export const LEDGER_BATCH_SIZE = 100;
const LEDGER_CONCURRENCY = 4;
const ENQUEUE_CONCURRENCY = 10;

export async function reconcile(deps: ReconcileDeps, options: ReconcileOptions): Promise<ReconcileResult> {
  const now = deps.now ?? (() => new Date());
  const newJobId = deps.newJobId ?? randomUUID;
  const { obs, accountSid } = deps;
  const { window, origin, signal } = options;
  const dryRun = options.dryRun ?? false;
  const counts = { listed: 0, alreadyStored: 0, queued: 0, skipped: 0, invalid: 0 };
  let pages = 0;
  let finished = false;
  const notFinal: { sid: string; dateCreated: string | undefined }[] = [];

  async function checkPage(recordings: readonly TwilioRecordingEntry[]): Promise<void> {
    counts.listed += recordings.length;
    const candidates: TwilioRecordingEntry[] = [];
    for (const recording of recordings) {
      if (recording.status !== 'completed') {
        counts.skipped++;
        if (NOT_FINAL_STATUSES.includes(recording.status ?? '') && SID.RecordingSid.test(recording.sid)) {
          notFinal.push({ sid: recording.sid, dateCreated: recording.dateCreated });
        }
      } else if (!usable(recording, accountSid)) {
        counts.invalid++;
        obs.logger.warn('Twilio listed a recording that cannot be queued', {
          recordingSid: recording.sid.slice(0, 64),
          callSid: recording.callSid?.slice(0, 64),
          conferenceSid: recording.conferenceSid?.slice(0, 64),
        });
      } else {
        candidates.push(recording);
      }
    }

    const known = new Set<string>();
    await forEachLimited(chunk(candidates, LEDGER_BATCH_SIZE), LEDGER_CONCURRENCY, async (batch) => {
      const statuses = await deps.statuses(batch.map((r) => r.sid));
      for (const sid of statuses.keys()) known.add(sid);
    });
    const missing = candidates.filter((r) => !known.has(r.sid));
    counts.alreadyStored += candidates.length - missing.length;
    if (dryRun) {
      counts.queued += missing.length;
      return;
    }
    await forEachLimited(missing, ENQUEUE_CONCURRENCY, async (recording) => {
      const job = toJob(recording, { accountSid, origin, jobId: newJobId(), now: now() });
      await deps.enqueue(job);
      counts.queued++;
      obs.metric('MissedCallback');
      obs.logger.info('Queued a recording the ledger did not have', {
        recordingSid: job.recordingSid,
        callSid: job.callSid,
        conferenceSid: job.conferenceSid,
        origin,
        dateCreated: recording.dateCreated,
      });
    });
  }

  // The listing stops with this run, whatever ends it: no page is fetched for nobody.
  const listing = new AbortController();
  const stop = () => listing.abort(signal?.reason);
  signal?.addEventListener('abort', stop, { once: true });
  try {
    const pagesOf = deps.list.list(window, { signal: listing.signal })[Symbol.asyncIterator]();
    let next = pagesOf.next();
    for (;;) {
      const page = await next;
      if (page.done) {
        finished = true;
        break;
      }
      if (signal?.aborted) break;
      // The next page is fetched while this one is checked and queued.
      next = pagesOf.next();
      next.catch(() => undefined);
      await checkPage(page.value.recordings);
      pages++;
      options.onProgress?.({ ...counts, window, pages, position: page.value.position });
    }
  } catch (error) {
    if (!signal?.aborted) throw error;
  } finally {
    signal?.removeEventListener('abort', stop);
    listing.abort();
  }
  return { ...counts, pages, dryRun, finished, notFinal };
}

function usable(recording: TwilioRecordingEntry, accountSid: string): boolean {
  return (
    SID.RecordingSid.test(recording.sid) &&
    hasJobSids(recording) &&
    (recording.accountSid === undefined || recording.accountSid === accountSid)
  );
}

/**
 * A job can be made of this entry: a well-formed CallSid, or none (`call_sid: null`, a conference
 * recording) and a well-formed ConferenceSid. A malformed one of either is never queued.
 */
export function hasJobSids(recording: {
  readonly callSid?: string | undefined;
  readonly conferenceSid?: string | undefined;
}): boolean {
  const { callSid, conferenceSid } = recording;
  if (callSid !== undefined && !SID.CallSid.test(callSid)) return false;
  if (conferenceSid !== undefined && !SID.ConferenceSid.test(conferenceSid)) return false;
  return callSid !== undefined || conferenceSid !== undefined;
}

/** The transfer job for a recording found in the list, as the webhook would have queued it from the callback. */
export function toJob(
  recording: TwilioRecordingEntry,
  context: {
    readonly accountSid: string;
    readonly origin: ReconcileOrigin;
    readonly jobId: string;
    readonly now: Date;
  },
): RecordingJob {
  const receivedAt = context.now.toISOString();
  return {
    version: 1,
    jobId: context.jobId,
    accountSid: context.accountSid,
    callSid: recording.callSid,
    conferenceSid: recording.conferenceSid,
    recordingSid: recording.sid,
    status: 'completed',
    durationSeconds: parseDuration(recording.duration),
    channels: recording.channels === 1 || recording.channels === 2 ? recording.channels : undefined,
    startedAt: parseStartTime(recording.startTime) ?? recording.dateCreated ?? receivedAt,
    source: recording.source,
    ...(recording.encryption ? encryptionJobFields(recording.encryption) : {}),
    receivedAt,
    origin: context.origin,
  };
}

function chunk<T>(items: readonly T[], size: number): T[][] {
  const chunks: T[][] = [];
  for (let start = 0; start < items.length; start += size) chunks.push(items.slice(start, start + size));
  return chunks;
}

/** Runs `fn` over `items`, at most `limit` at once; after a failure nothing new starts, and the first error is thrown. */
async function forEachLimited<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failed = false;
  const worker = async () => {
    while (!failed && next < items.length) {
      const item = items[next++] as T;
      try {
        await fn(item);
      } catch (error) {
        failed = true;
        throw error;
      }
    }
  };
  const results = await Promise.allSettled(Array.from({ length: Math.min(limit, items.length) }, worker));
  const rejected = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (rejected) throw rejected.reason;
}
