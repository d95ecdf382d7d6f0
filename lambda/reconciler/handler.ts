import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Context } from 'aws-lambda';
import type { ReconcilerConfig } from '../shared/config/function-config';
import { type ReconcileCounts, type ReconcileResult, reconcile } from '../shared/job/reconcile';
import { type SqsClientSource, sqsTransferQueue } from '../shared/job/transfer-queue';
import { RecordingLedger } from '../shared/ledger/ledger';
import { describeError } from '../shared/runtime/errors';
import { createObservability, type Observability } from '../shared/runtime/observability';
import { createTwilioRecordingList, type RecordingListSource } from '../shared/twilio/recording-list';
import { createTwilioApi, type TwilioApi, TwilioApiError } from '../shared/twilio/rest-api';
import type { TokenSource } from '../shared/twilio/signature';
import { ReconcileCheckpoint, reconcileWindow } from './checkpoint';
import { mergePending, recheckPending } from './pending';

export interface ReconcilerRuntime {
  readonly config: Omit<ReconcilerConfig, 'secretId'>;
  readonly tokens: TokenSource;
  readonly ddb: DynamoDBDocumentClient;
  readonly sqs: SqsClientSource;
  /** Default: Twilio's recording list at `config.twilioApiBaseUrl`. */
  readonly list?: RecordingListSource;
  /** Default: Twilio's recording resource at `config.twilioApiBaseUrl` (pending long recordings). */
  readonly twilio?: Pick<TwilioApi, 'getRecordingDetails'>;
  readonly obs?: Observability;
  readonly now?: () => Date;
  /** Ends a running reconcile early (the local stack stopping). */
  readonly signal?: AbortSignal;
  /** Kept back from the invocation's remaining time, to stop between pages and report. @default 20000 */
  readonly safetyMarginMs?: number;
  /** The time budget when there is no Lambda context. @default 15 minutes */
  readonly defaultBudgetMs?: number;
}

export interface ReconcilerRun {
  readonly window?: { readonly from: string; readonly to: string };
  readonly result?: ReconcileResult;
  readonly checkpointAdvanced: boolean;
}

/**
 * EventBridge schedule → recording-reconciler. Lists what Twilio created since the last finished
 * run (minus the lookback) up to a few minutes ago, and queues a job (origin `reconciler`) for
 * each completed recording the ledger lacks. The checkpoint moves only when a run got through
 * its whole window; a run cut short by its time budget leaves it, and the next run starts over.
 */
export function createReconcilerHandler(runtime: ReconcilerRuntime) {
  const { config } = runtime;
  const obs = runtime.obs ?? createObservability('recording-reconciler');
  const now = runtime.now ?? (() => new Date());
  const ledger = new RecordingLedger(runtime.ddb, config.ledgerTableName);
  const checkpoint = new ReconcileCheckpoint(runtime.ddb, config.ledgerTableName);
  const queue = sqsTransferQueue(runtime.sqs, config.transferQueueUrl);
  const list =
    runtime.list ??
    createTwilioRecordingList({
      baseUrl: config.twilioApiBaseUrl,
      accountSid: config.accountSid,
      tokens: runtime.tokens,
      onRetry: (retry) => obs.logger.warn('Twilio refused or failed a list request; backing off', { ...retry }),
    });
  const twilio =
    runtime.twilio ??
    createTwilioApi({ baseUrl: config.twilioApiBaseUrl, accountSid: config.accountSid, tokens: runtime.tokens });
  const settings = { lookbackMs: config.lookbackSeconds * 1000, settleMs: config.settleSeconds * 1000 };
  const marginMs = runtime.safetyMarginMs ?? 20_000;

  return async (_event?: unknown, context?: Context): Promise<ReconcilerRun> => {
    if (context) obs.addContext(context);
    let counts: ReconcileCounts | undefined;
    try {
      if (runtime.signal?.aborted) return { checkpointAdvanced: false };
      const last = await checkpoint.get();
      const window = reconcileWindow(now(), last, settings);
      if (!window) {
        obs.logger.info('Nothing to reconcile yet', { checkpoint: last?.toISOString() });
        return { checkpointAdvanced: false };
      }
      const span = { from: window.from.toISOString(), to: window.to.toISOString() };
      const budgetMs = (context?.getRemainingTimeInMillis() ?? runtime.defaultBudgetMs ?? 15 * 60_000) - marginMs;
      if (budgetMs <= 0) {
        obs.logger.warn('No time left to reconcile; the next run will', span);
        return { window: span, checkpointAdvanced: false };
      }
      const deadline = AbortSignal.timeout(budgetMs);
      obs.logger.info('Reconciling Twilio recordings with the ledger', { ...span, checkpoint: last?.toISOString() });

      // Long recordings an earlier run saw in progress, past the reach of this run's listing.
      const pending = await checkpoint.getPending();
      const rechecked = pending.length
        ? await recheckPending(pending, {
            details: (sid) =>
              twilio
                .getRecordingDetails(sid)
                .catch((error: unknown) =>
                  error instanceof TwilioApiError && error.status === 404 ? undefined : Promise.reject(error),
                ),
            statuses: (sids) => ledger.statuses(sids),
            enqueue: (job) => queue.enqueue(job),
            accountSid: config.accountSid,
            obs,
            now,
          })
        : { stillPending: [], queued: 0 };

      const result = await reconcile(
        {
          list,
          statuses: (sids) => ledger.statuses(sids),
          enqueue: (job) => queue.enqueue(job),
          accountSid: config.accountSid,
          obs,
          now,
        },
        {
          window,
          origin: 'reconciler',
          signal: runtime.signal ? AbortSignal.any([runtime.signal, deadline]) : deadline,
          onProgress: (progress) => {
            counts = progress;
          },
        },
      );
      counts = result;
      const summary = {
        ...span,
        ...countsOf(result),
        pages: result.pages,
        pendingRechecked: pending.length,
        pendingQueued: rechecked.queued,
      };
      if (!result.finished) {
        obs.metric('ReconcileIncomplete');
        obs.logger.warn('Reconcile stopped before the end of its window; the checkpoint stays where it was', summary);
        return { window: span, result, checkpointAdvanced: false };
      }
      // In progress and created before the next run's window: only a look at the recording itself
      // will see it complete.
      const nextFrom = window.to.getTime() - settings.lookbackMs;
      const leaving = result.notFinal
        .filter((r) => r.dateCreated !== undefined && Date.parse(r.dateCreated) < nextFrom)
        .map((r) => r.sid);
      const advanced = await checkpoint.advance(window, result, now(), mergePending(rechecked.stillPending, leaving));
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
  };
}

function countsOf(counts: ReconcileCounts): ReconcileCounts {
  const { listed, alreadyStored, queued, skipped, invalid } = counts;
  return { listed, alreadyStored, queued, skipped, invalid };
}
