import { type ReconcileCounts, type ReconcileResult, reconcile } from '../shared/job/reconcile';
import type { TransferQueue } from '../shared/job/transfer-queue';
import type { RecordingLedger } from '../shared/ledger/ledger';
import { describeError } from '../shared/runtime/errors';
import type { Observability } from '../shared/runtime/observability';
import type { RecordingListSource } from '../shared/twilio/recording-list';
import { type TwilioApi, TwilioApiError } from '../shared/twilio/rest-api';
import { type ReconcileCheckpoint, type ReconcileWindowSettings, reconcileWindow, windowChunks } from './checkpoint';
import { mergePending, recheckPending } from './pending';

/** What one reconcile run works with, built once per container by the handler. */
export interface ReconcileRunDeps {
  readonly accountSid: string;
  readonly ledger: Pick<RecordingLedger, 'statuses'>;
  readonly checkpoint: ReconcileCheckpoint;
  readonly queue: TransferQueue;
  readonly list: RecordingListSource;
  readonly twilio: Pick<TwilioApi, 'getRecordingDetails'>;
  readonly settings: ReconcileWindowSettings;
  readonly obs: Observability;
  readonly now: () => Date;
}

export interface ReconcileRunOptions {
  /** Milliseconds this run may take before it stops between pages. */
  readonly budgetMs: number;
  /** Ends a running reconcile early (the local stack stopping). */
  readonly signal?: AbortSignal;
  /** Twilio list pages this run may read; it stops at the end of the chunk that reaches it. Unlimited if absent. */
  readonly maxPages?: number;
}

export interface ReconcilerRun {
  readonly window?: { readonly from: string; readonly to: string };
  readonly result?: ReconcileResult;
  readonly checkpointAdvanced: boolean;
}

/**
 * One scheduled run: lists what Twilio created since the last finished run (minus the lookback)
 * up to a few minutes ago, and queues a job (origin `reconciler`) for each completed recording
 * the ledger lacks. The window is taken in chunks, oldest first, and the checkpoint moves to the end
 * of each chunk finished; a run cut short by its budget (time, pages) stops there, and the next run
 * resumes from the checkpoint (minus the lookback).
 */
export async function runReconciliation(deps: ReconcileRunDeps, options: ReconcileRunOptions): Promise<ReconcilerRun> {
  const { obs, checkpoint, settings, now } = deps;
  let counts: ReconcileCounts | undefined;
  try {
    if (options.signal?.aborted) return { checkpointAdvanced: false };
    const last = await checkpoint.get();
    const window = reconcileWindow(now(), last, settings);
    if (!window) {
      obs.logger.info('Nothing to reconcile yet', { checkpoint: last?.toISOString() });
      return { checkpointAdvanced: false };
    }
    const span = { from: window.from.toISOString(), to: window.to.toISOString() };
    if (options.budgetMs <= 0) {
      obs.logger.warn('No time left to reconcile; the next run will', span);
      return { window: span, checkpointAdvanced: false };
    }
    const deadline = AbortSignal.timeout(options.budgetMs);
    obs.logger.info('Reconciling Twilio recordings with the ledger', { ...span, checkpoint: last?.toISOString() });
    const statuses = (sids: readonly string[]) => deps.ledger.statuses(sids);
    const enqueue = (job: Parameters<TransferQueue['enqueue']>[0]) => deps.queue.enqueue(job);

    // Long recordings an earlier run saw in progress, past the reach of this run's listing.
    const pending = await checkpoint.getPending();
    const rechecked = pending.length
      ? await recheckPending(pending, {
          details: (sid) =>
            deps.twilio
              .getRecordingDetails(sid)
              .catch((error: unknown) =>
                error instanceof TwilioApiError && error.status === 404 ? undefined : Promise.reject(error),
              ),
          statuses,
          enqueue,
          accountSid: deps.accountSid,
          obs,
          now,
        })
      : { stillPending: [], queued: 0 };

    // Oldest chunk first; the checkpoint follows each finished chunk, so a run cut short by its
    // budget keeps what it finished and the next one resumes there.
    const signal = options.signal ? AbortSignal.any([options.signal, deadline]) : deadline;
    let stillPending = rechecked.stillPending;
    let pagesBefore = 0;
    let advanced = false;
    let chunksDone = 0;
    const done: ReconcileResult[] = [];
    const chunks = windowChunks(window, settings.chunkMs);
    for (const chunk of chunks) {
      if (signal.aborted || (options.maxPages !== undefined && pagesBefore >= options.maxPages)) break;
      const chunkResult = await reconcile(
        { list: deps.list, statuses, enqueue, accountSid: deps.accountSid, obs, now },
        {
          window: chunk,
          origin: 'reconciler',
          signal,
          onProgress: (progress) => {
            counts = sum([...done, progress]);
          },
        },
      );
      done.push(chunkResult);
      counts = sum(done);
      pagesBefore += chunkResult.pages;
      if (!chunkResult.finished) break;
      // In progress and created before the next run's window: only a look at the recording itself
      // will see it complete.
      const nextFrom = chunk.to.getTime() - settings.lookbackMs;
      const leaving = chunkResult.notFinal
        .filter((r) => r.dateCreated !== undefined && Date.parse(r.dateCreated) < nextFrom)
        .map((r) => r.sid);
      stillPending = mergePending(stillPending, leaving);
      advanced = (await checkpoint.advance(chunk, chunkResult, now(), stillPending)) || advanced;
      chunksDone++;
    }
    const result: ReconcileResult = {
      ...sum(done),
      pages: pagesBefore,
      notFinal: done.flatMap((r) => r.notFinal),
      dryRun: false,
      finished: chunksDone === chunks.length,
    };
    counts = result;
    const summary = {
      ...span,
      ...countsOf(result),
      pages: result.pages,
      chunks: chunks.length,
      chunksDone,
      pendingRechecked: pending.length,
      pendingQueued: rechecked.queued,
    };
    if (!result.finished) {
      obs.metric('ReconcileIncomplete');
      obs.logger.warn('Reconcile stopped before the end of its window; the next run resumes from the checkpoint', {
        ...summary,
        checkpointAdvanced: advanced,
      });
      return { window: span, result, checkpointAdvanced: advanced };
    }
    obs.logger.info('Reconciled', { ...summary, checkpointAdvanced: advanced });
    return { window: span, result, checkpointAdvanced: advanced };
  } catch (error) {
    obs.logger.error('Reconcile failed; the checkpoint stays where it was', {
      error: describeError(error),
      ...(counts ? countsOf(counts) : {}),
    });
    throw error;
  } finally {
    // Every run reports what it listed, a failed one too: a flat line means a stalled reconciler.
    obs.metric('ReconcileListed', counts?.listed ?? 0);
    obs.flush();
  }
}

function sum(parts: readonly ReconcileCounts[]): ReconcileCounts {
  const total = { listed: 0, alreadyStored: 0, queued: 0, skipped: 0, invalid: 0 };
  for (const part of parts) {
    total.listed += part.listed;
    total.alreadyStored += part.alreadyStored;
    total.queued += part.queued;
    total.skipped += part.skipped;
    total.invalid += part.invalid;
  }
  return total;
}

function countsOf(counts: ReconcileCounts): ReconcileCounts {
  const { listed, alreadyStored, queued, skipped, invalid } = counts;
  return { listed, alreadyStored, queued, skipped, invalid };
}
