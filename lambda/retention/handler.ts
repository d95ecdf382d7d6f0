import type { S3Client } from '@aws-sdk/client-s3';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Context } from 'aws-lambda';
import { CallsRepository } from '../shared/calls/calls';
import { CallsErasure } from '../shared/calls/calls-erasure';
import type { RetentionConfig } from '../shared/config/function-config';
import { LedgerDayIndex } from '../shared/ledger/day-index';
import { type EventPublisher, eventBridgePublisher } from '../shared/ledger/events';
import { RecordingLedger } from '../shared/ledger/ledger';
import { LedgerErasure } from '../shared/ledger/ledger-erasure';
import { createObservability, type Observability } from '../shared/runtime/observability';
import { RecordingStore } from '../shared/storage/recording-store';
import { type AccountTokenSource, twilioAccounts } from '../shared/twilio/accounts';
import { type TwilioApi, type TwilioApiFor, twilioApiPerAccount } from '../shared/twilio/rest-api';
import type { TokenSource } from '../shared/twilio/signature';
import { RetentionCheckpointStore } from './checkpoint';
import { dayCandidates, expireRecording } from './expire-recording';
import { runRetentionSweep, type SweepReport } from './sweep-run';

export interface RetentionRuntime {
  readonly config: Omit<RetentionConfig, 'secretId'>;
  readonly tokens: TokenSource;
  readonly subaccountTokens?: AccountTokenSource;
  readonly s3: S3Client;
  readonly ddb: DynamoDBDocumentClient;
  /** Tests: one Twilio for every account. */
  readonly twilio?: TwilioApi;
  /** Default: the stage's EventBridge bus (the local stack passes a file). */
  readonly events?: EventPublisher;
  readonly obs?: Observability;
  readonly now?: () => Date;
  /** Where a first run starts (tests); default: 2008-01-01, before any Twilio recording. */
  readonly earliestDay?: string;
}

/** A run that could not expire some recordings fails (after saving its progress), so its alarm fires. */
export class RetentionRunError extends Error {
  constructor(readonly report: SweepReport) {
    super(`The retention sweep could not expire ${report.failed} recording(s); the next run tries them again`);
    this.name = 'RetentionRunError';
  }
}

/** The scheduled retention sweep (lambda/retention/sweep-run.ts). */
export function createRetentionHandler(runtime: RetentionRuntime) {
  const { config } = runtime;
  const obs = runtime.obs ?? createObservability('recording-retention');
  const twilioFor: TwilioApiFor = runtime.twilio
    ? () => runtime.twilio as TwilioApi
    : twilioApiPerAccount({
        baseUrl: config.twilioApiBaseUrl,
        accounts: twilioAccounts({
          parentSid: config.accountSid,
          parentTokens: runtime.tokens,
          subaccountSids: config.subaccountSids ?? [],
          ...(runtime.subaccountTokens ? { subaccountTokens: runtime.subaccountTokens } : {}),
        }),
      });
  const ledger = new RecordingLedger(runtime.ddb, config.ledgerTableName);
  const erasure = {
    calls: new CallsRepository(runtime.ddb, config.tableName, ''),
    callsErasure: new CallsErasure(runtime.ddb, config.tableName),
    ledger,
    ledgerErasure: new LedgerErasure(runtime.ddb, config.ledgerTableName),
    store: new RecordingStore(runtime.s3, config.bucketName),
    twilio: twilioFor(config.accountSid),
    twilioFor,
    events: runtime.events ?? eventBridgePublisher(config.eventBusName),
    obs,
    ...(runtime.now ? { now: runtime.now } : {}),
  };
  const index = new LedgerDayIndex(runtime.ddb, config.ledgerTableName, {
    dayIndexName: config.ledgerDayIndexName,
    indexShards: config.ledgerIndexShards,
  });
  const checkpoint = new RetentionCheckpointStore(runtime.ddb, config.ledgerTableName);
  return async (_event?: unknown, context?: Context): Promise<SweepReport> => {
    if (context) obs.addContext(context);
    try {
      const report = await runRetentionSweep(
        {
          retentionDays: config.retentionDays,
          maxRecordings: config.maxRecordingsPerRun,
          maxDays: config.maxDaysPerRun,
          ...(runtime.earliestDay ? { earliestDay: runtime.earliestDay } : {}),
        },
        {
          candidates: (day, through) => dayCandidates(index, day, through),
          expire: (recordingSid) => expireRecording(recordingSid, erasure),
          checkpoint: {
            read: () => checkpoint.read(),
            write: (cp) => checkpoint.write(cp, (runtime.now ?? (() => new Date()))()),
          },
          obs,
          ...(runtime.now ? { now: runtime.now } : {}),
        },
      );
      await checkpoint.recordRun(report, (runtime.now ?? (() => new Date()))());
      if (report.failed > 0) throw new RetentionRunError(report);
      return report;
    } finally {
      obs.flush();
    }
  };
}
