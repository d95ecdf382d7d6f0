import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Context } from 'aws-lambda';
import type { ReconcilerConfig } from '../shared/config/function-config';
import { type SqsClientSource, sqsTransferQueue } from '../shared/job/transfer-queue';
import { RecordingLedger } from '../shared/ledger/ledger';
import { createObservability, type Observability } from '../shared/runtime/observability';
import { createTwilioRecordingList, type RecordingListSource } from '../shared/twilio/recording-list';
import { createTwilioApi, type TwilioApi } from '../shared/twilio/rest-api';
import type { TokenSource } from '../shared/twilio/signature';
import { ReconcileCheckpoint } from './checkpoint';
import { type ReconcileRunDeps, type ReconcilerRun, runReconciliation } from './reconcile-run';

export type { ReconcilerRun } from './reconcile-run';

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

export function createReconcilerHandler(runtime: ReconcilerRuntime) {
  const { config } = runtime;
  const obs = runtime.obs ?? createObservability('recording-reconciler');
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
  const deps: ReconcileRunDeps = {
    accountSid: config.accountSid,
    ledger: new RecordingLedger(runtime.ddb, config.ledgerTableName),
    checkpoint: new ReconcileCheckpoint(runtime.ddb, config.ledgerTableName),
    queue: sqsTransferQueue(runtime.sqs, config.transferQueueUrl),
    list,
    twilio,
    settings: { lookbackMs: config.lookbackSeconds * 1000, settleMs: config.settleSeconds * 1000 },
    obs,
    now: runtime.now ?? (() => new Date()),
  };
  const marginMs = runtime.safetyMarginMs ?? 20_000;

  return async (_event?: unknown, context?: Context): Promise<ReconcilerRun> => {
    if (context) obs.addContext(context);
    const budgetMs = (context?.getRemainingTimeInMillis() ?? runtime.defaultBudgetMs ?? 15 * 60_000) - marginMs;
    return runReconciliation(deps, { budgetMs, ...(runtime.signal ? { signal: runtime.signal } : {}) });
  };
}
