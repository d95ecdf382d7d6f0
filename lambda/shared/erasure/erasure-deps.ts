import type { S3Client } from '@aws-sdk/client-s3';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { CallsRepository } from '../calls/calls';
import { CallsErasure } from '../calls/calls-erasure';
import type { ErasureConfig } from '../config/function-config';
import { type EventPublisher, eventBridgePublisher } from '../ledger/events';
import { RecordingLedger } from '../ledger/ledger';
import { LedgerErasure } from '../ledger/ledger-erasure';
import type { Observability } from '../runtime/observability';
import { RecordingStore } from '../storage/recording-store';
import { type TwilioRuntime, twilioForRuntime } from '../twilio/runtime-twilio';
import type { ErasureDeps } from './recording-erasure';

/** What the erasure path needs of a function's runtime (the erasure route's and the retention sweep's). */
export interface ErasureDepsRuntime extends TwilioRuntime {
  readonly config: Omit<ErasureConfig, 'secretId'>;
  readonly s3: S3Client;
  readonly ddb: DynamoDBDocumentClient;
  /** Default: the stage's EventBridge bus (the local stack passes a file). */
  readonly events?: EventPublisher;
  readonly now?: () => Date;
}

/**
 * The erasure path's dependencies, built once per container: the same for `DELETE` and for the
 * retention sweep, so that both write the ledger's index keys in the stage's shards.
 */
export function erasureDeps(runtime: ErasureDepsRuntime, obs: Observability): ErasureDeps {
  const { config } = runtime;
  const shards = { indexShards: config.ledgerIndexShards };
  const twilioFor = twilioForRuntime(runtime);
  return {
    calls: new CallsRepository(runtime.ddb, config.tableName, ''),
    callsErasure: new CallsErasure(runtime.ddb, config.tableName),
    ledger: new RecordingLedger(runtime.ddb, config.ledgerTableName, shards),
    ledgerErasure: new LedgerErasure(runtime.ddb, config.ledgerTableName, shards),
    store: new RecordingStore(runtime.s3, config.bucketName),
    twilio: twilioFor(config.accountSid),
    twilioFor,
    events: runtime.events ?? eventBridgePublisher(config.eventBusName),
    obs,
    ...(runtime.now ? { now: runtime.now } : {}),
  };
}
