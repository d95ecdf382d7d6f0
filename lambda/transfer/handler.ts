import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import type { S3Client } from '@aws-sdk/client-s3';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { CallsRepository } from '../shared/calls/calls';
import type { TransferConfig } from '../shared/config/function-config';
import { type SqsClientSource, sqsTransferQueue } from '../shared/job/transfer-queue';
import { type EventPublisher, eventBridgePublisher } from '../shared/ledger/events';
import { LateDays } from '../shared/ledger/late-days';
import { RecordingLedger } from '../shared/ledger/ledger';
import { createObservability, type Observability } from '../shared/runtime/observability';
import { RecordingStore } from '../shared/storage/recording-store';
import type { AccountTokenSource } from '../shared/twilio/accounts';
import type { TwilioApi } from '../shared/twilio/rest-api';
import { twilioForRuntime } from '../shared/twilio/runtime-twilio';
import type { TokenSource } from '../shared/twilio/signature';
import { createTransferRecordHandler } from './transfer-records';

export interface TransferRuntime {
  readonly config: Omit<TransferConfig, 'secretId'>;
  /** The parent account's tokens. */
  readonly tokens: TokenSource;
  /** Each listed subaccount's tokens (required when `config.subaccountSids` lists any). */
  readonly subaccountTokens?: AccountTokenSource;
  readonly s3: S3Client;
  readonly ddb: DynamoDBDocumentClient;
  /** A client, or a function that makes one on first use (see lazySqsClient). */
  readonly sqs: SqsClientSource;
  /** One Twilio for every account (tests); default: each account's own, at `config.twilioApiBaseUrl`. */
  readonly twilio?: TwilioApi;
  /** Default: the stage's EventBridge bus (the local stack passes a file). */
  readonly events?: EventPublisher;
  /** Plausibility floor for the media's size (tests with tiny fake audio lower it). */
  readonly minBytesPerSecond?: number;
  readonly obs?: Observability;
}

/** SQS → recording-transfer. Records are handled in parallel; failures are reported per record. */
export function createTransferHandler(runtime: TransferRuntime) {
  const { config } = runtime;
  const obs = runtime.obs ?? createObservability('recording-transfer');
  const twilioFor = twilioForRuntime(runtime);
  const handleRecord = createTransferRecordHandler({
    twilio: twilioFor(config.accountSid),
    twilioFor,
    store: new RecordingStore(runtime.s3, config.bucketName),
    ledger: new RecordingLedger(runtime.ddb, config.ledgerTableName, { indexShards: config.ledgerIndexShards }),
    lateDays: new LateDays(runtime.ddb, config.ledgerTableName),
    calls: new CallsRepository(runtime.ddb, config.tableName, config.callSidIndexName),
    events: runtime.events ?? eventBridgePublisher(config.eventBusName),
    queue: sqsTransferQueue(runtime.sqs, config.transferQueueUrl, config.deadLetterQueueUrl),
    format: config.recordingFormat,
    deleteFromTwilioAfterCopy: config.deleteFromTwilioAfterCopy,
    leaseSeconds: config.leaseSeconds,
    ...(runtime.minBytesPerSecond !== undefined ? { minBytesPerSecond: runtime.minBytesPerSecond } : {}),
    maxAttempts: config.maxAttempts,
    retryBaseSeconds: config.retryBaseSeconds,
    obs,
  });
  return async (event: SQSEvent, context?: Context): Promise<SQSBatchResponse> => {
    if (context) obs.addContext(context);
    // One processor per invocation: it holds the batch's state, and the local stack (or a test) may
    // run several batches through the same handler at once; a shared one mixes their failures up.
    const processor = new BatchProcessor(EventType.SQS);
    try {
      return await processPartialResponse(event, handleRecord, processor, {
        context: context as Context,
        // A batch where every record failed must still report per record, not throw.
        throwOnFullBatchFailure: false,
      });
    } finally {
      obs.flush();
    }
  };
}
