import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Context } from 'aws-lambda';
import { reconcilerCheckpointKey } from '../shared/config/env-names';
import type { ReconcilerConfig } from '../shared/config/function-config';
import { type SqsClientSource, sqsTransferQueue } from '../shared/job/transfer-queue';
import { RecordingLedger } from '../shared/ledger/ledger';
import { createObservability, type Observability } from '../shared/runtime/observability';
import { type AccountTokenSource, twilioAccounts } from '../shared/twilio/accounts';
import { createTwilioRecordingList, type RecordingListSource } from '../shared/twilio/recording-list';
import { type TwilioApi, twilioApiPerAccount } from '../shared/twilio/rest-api';
import type { TokenSource } from '../shared/twilio/signature';
import { ReconcileCheckpoint } from './checkpoint';
import { type ReconcileRunDeps, type ReconcilerRun, runReconciliation } from './reconcile-run';

export type { ReconcilerRun } from './reconcile-run';

export interface ReconcilerRuntime {
  readonly config: Omit<ReconcilerConfig, 'secretId'>;
  /** The parent account's tokens. */
  readonly tokens: TokenSource;
  /** Each listed subaccount's tokens (required when `config.subaccountSids` lists any). */
  readonly subaccountTokens?: AccountTokenSource;
  readonly ddb: DynamoDBDocumentClient;
  readonly sqs: SqsClientSource;
  /** Default: each account's recording list at `config.twilioApiBaseUrl`. Tests: one list, or one per account. */
  readonly list?: RecordingListSource | ((accountSid: string) => RecordingListSource);
  /** Default: each account's recording resource at `config.twilioApiBaseUrl` (pending long recordings). */
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

/** What a run did: the parent account's run, and with subaccounts listed, each account's. */
export type ReconcilerRunReport = ReconcilerRun & {
  readonly accounts?: readonly (ReconcilerRun & { readonly accountSid: string })[];
};

/**
 * Every account of the stage, one after the other, each with its own listing and checkpoint
 * (lambda/shared/config/env-names.ts: the parent keeps the key it always had). One account's
 * failure does not stop the others; the run still fails afterwards, so its alarm fires.
 */
export function createReconcilerHandler(runtime: ReconcilerRuntime) {
  const { config } = runtime;
  const obs = runtime.obs ?? createObservability('recording-reconciler');
  const accounts = twilioAccounts({
    parentSid: config.accountSid,
    parentTokens: runtime.tokens,
    subaccountSids: config.subaccountSids ?? [],
    ...(runtime.subaccountTokens ? { subaccountTokens: runtime.subaccountTokens } : {}),
  });
  const twilioFor = twilioApiPerAccount({ baseUrl: config.twilioApiBaseUrl, accounts });
  const ledger = new RecordingLedger(runtime.ddb, config.ledgerTableName);
  const queue = sqsTransferQueue(runtime.sqs, config.transferQueueUrl);
  const now = runtime.now ?? (() => new Date());
  const several = accounts.sids.length > 1;
  const runs: ReconcileRunDeps[] = accounts.sids.map((accountSid) => {
    const accountObs = several ? obs.withKeys({ accountSid }) : obs;
    const list =
      typeof runtime.list === 'function'
        ? runtime.list(accountSid)
        : (runtime.list ??
          createTwilioRecordingList({
            baseUrl: config.twilioApiBaseUrl,
            accountSid,
            tokens: accounts.tokens(accountSid),
            onRetry: (retry) =>
              accountObs.logger.warn('Twilio refused or failed a list request; backing off', { ...retry }),
          }));
    return {
      accountSid,
      ledger,
      checkpoint: new ReconcileCheckpoint(
        runtime.ddb,
        config.ledgerTableName,
        reconcilerCheckpointKey(accountSid, accounts.parentSid),
      ),
      queue,
      list,
      twilio: runtime.twilio ?? twilioFor(accountSid),
      settings: { lookbackMs: config.lookbackSeconds * 1000, settleMs: config.settleSeconds * 1000 },
      obs: accountObs,
      now,
    };
  });
  const marginMs = runtime.safetyMarginMs ?? 20_000;

  return async (_event?: unknown, context?: Context): Promise<ReconcilerRunReport> => {
    if (context) obs.addContext(context);
    const started = Date.now();
    const budgetMs = (context?.getRemainingTimeInMillis() ?? runtime.defaultBudgetMs ?? 15 * 60_000) - marginMs;
    const reports: (ReconcilerRun & { readonly accountSid: string })[] = [];
    let failure: unknown;
    for (const deps of runs) {
      try {
        const run = await runReconciliation(deps, {
          budgetMs: budgetMs - (Date.now() - started),
          ...(runtime.signal ? { signal: runtime.signal } : {}),
        });
        reports.push({ accountSid: deps.accountSid, ...run });
      } catch (error) {
        // Logged by the run; the other accounts are still reconciled.
        failure ??= error;
        reports.push({ accountSid: deps.accountSid, checkpointAdvanced: false });
      }
    }
    if (failure !== undefined) throw failure;
    const { accountSid: _parent, ...parent } = reports[0] as ReconcilerRun & { readonly accountSid: string };
    return several ? { ...parent, accounts: reports } : parent;
  };
}
