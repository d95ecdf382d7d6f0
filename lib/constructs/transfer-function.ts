import { Duration, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import { EventSourceMapping } from 'aws-cdk-lib/aws-lambda';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import type { Construct } from 'constructs';
import { ENV } from '../../lambda/shared/config/env-names';
import type { RecordingFormat, TransferConfig } from '../config';
import type { CallsTable } from './calls-table';
import type { RecordingStorage } from './recording-storage';
import type { RecordingsLedger } from './recordings-ledger';
import type { TransferQueue } from './transfer-queue';
import type { TwilioSecret } from './twilio-secret';
import type { VaultEvents } from './vault-events';
import { type FunctionLogProps, VaultFunction } from './vault-function';

export interface TransferFunctionProps extends FunctionLogProps {
  readonly entry: string;
  readonly twilioAccountSid: string;
  /** Subaccounts accepted besides the parent (their tokens are in the same secret). */
  readonly twilioSubaccountSids?: readonly string[];
  readonly twilioApiBaseUrl: string;
  readonly twilioSecret: TwilioSecret;
  readonly recordingFormat: RecordingFormat;
  readonly deleteFromTwilioAfterCopy: boolean;
  readonly transfer: TransferConfig;
  readonly storage: RecordingStorage;
  readonly calls: CallsTable;
  readonly ledger: RecordingsLedger;
  readonly events: VaultEvents;
  readonly transferQueue: TransferQueue;
  /** The stage's customer-managed key, when the data is encrypted with one. */
  readonly encryptionKey?: kms.IKey;
}

/**
 * The transfer worker, fed by the transfer queue: streams a recording from Twilio into S3, enters
 * it in the ledger and projects it onto its call item. It may write (never delete) objects under
 * `recordings/`, read and conditionally update the ledger, read and write call items, consume the
 * transfer queue, send to its dead-letter queue, publish to the stage's bus and read the secret.
 */
export class TransferFunction extends VaultFunction {
  constructor(scope: Construct, id: string, props: TransferFunctionProps) {
    const { transfer } = props;
    super(scope, id, {
      ...props,
      description: 'Recording Vault transfer: streams a recording from Twilio to S3 and updates the call',
      timeout: Duration.seconds(transfer.timeoutSeconds),
      memorySize: transfer.memoryMb,
      environment: {
        [ENV.twilioAccountSid]: props.twilioAccountSid,
        ...(props.twilioSubaccountSids?.length
          ? { [ENV.twilioSubaccountSids]: props.twilioSubaccountSids.join(',') }
          : {}),
        [ENV.twilioSecretArn]: props.twilioSecret.secretId,
        [ENV.recordingsBucket]: props.storage.bucket.bucketName,
        [ENV.callsTable]: props.calls.table.tableName,
        [ENV.callsByTwilioSidIndex]: props.calls.callSidIndexName,
        [ENV.ledgerTable]: props.ledger.table.tableName,
        [ENV.ledgerIndexShards]: String(props.ledger.indexShards),
        [ENV.eventBusName]: props.events.bus.eventBusName,
        [ENV.twilioApiBaseUrl]: props.twilioApiBaseUrl,
        [ENV.recordingFormat]: props.recordingFormat,
        [ENV.deleteFromTwilioAfterCopy]: String(props.deleteFromTwilioAfterCopy),
        [ENV.transferQueueUrl]: props.transferQueue.queue.queueUrl,
        [ENV.deadLetterQueueUrl]: props.transferQueue.deadLetterQueue.queueUrl,
        [ENV.transferMaxAttempts]: String(transfer.maxAttempts),
        [ENV.transferRetryBaseSeconds]: String(transfer.retryBaseSeconds),
        // The lease is the function timeout; the copy renews it while it runs.
        [ENV.transferLeaseSeconds]: String(transfer.timeoutSeconds),
      },
    });

    props.twilioSecret.secret.grantRead(this.function);
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'WriteRecordings',
        // GetObject for the HEAD that verifies a copy; the tagging actions for the `sha256` tag of a
        // multipart recording (set on the version just uploaded, read back to verify it).
        actions: [
          's3:PutObject',
          's3:AbortMultipartUpload',
          's3:GetObject',
          's3:PutObjectTagging',
          's3:PutObjectVersionTagging',
          's3:GetObjectTagging',
        ],
        resources: [props.storage.recordingObjectsArn()],
      }),
    );
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'ReadWriteCalls',
        actions: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:Query'],
        resources: [props.calls.table.tableArn, props.calls.callSidIndexArn()],
      }),
    );
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'ReadWriteLedger',
        actions: ['dynamodb:GetItem', 'dynamodb:UpdateItem'],
        resources: [props.ledger.table.tableArn],
      }),
    );
    // HEAD of a missing object answers 403 instead of 404 without s3:ListBucket, and the
    // transfer must tell "not there (yet)" from "refused". Listing reveals keys only, not audio.
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'TellMissingRecordings',
        actions: ['s3:ListBucket'],
        resources: [props.storage.bucket.bucketArn],
      }),
    );
    props.events.bus.grantPutEventsTo(this.function);
    props.transferQueue.queue.grantConsumeMessages(this.function);
    // A job that will not succeed (permanent error, last attempt) is moved to the DLQ by the
    // function itself, with the reason; the queue's redrive is the backstop for crashes.
    props.transferQueue.deadLetterQueue.grantSendMessages(this.function);
    // The hand-written statements carry no KMS rights: objects, items and events under the key.
    props.encryptionKey?.grant(this.function, 'kms:Decrypt', 'kms:DescribeKey', 'kms:Encrypt', 'kms:GenerateDataKey');
    props.storage.acknowledgeRecordingsPrefix(
      this.role,
      'Object access is limited to the recordings/ prefix of the recordings bucket; object keys are per call and recording.',
    );

    // batchSize 5: each job streams one recording (up to hours of audio) through a bounded
    // multipart buffer; five at a time fit the memory and the timeout, and a function timeout
    // sends at most five jobs back to the queue. Failures are reported per message.
    this.function.addEventSource(
      new SqsEventSource(props.transferQueue.queue, {
        batchSize: 5,
        maxBatchingWindow: Duration.seconds(1),
        reportBatchItemFailures: true,
        maxConcurrency: transfer.maxConcurrency,
      }),
    );
    const mapping = this.function.node.children.find((c) => c instanceof EventSourceMapping);
    if (!mapping) throw new Error('the transfer event source mapping was not created');
    Validations.of(mapping).acknowledge({
      id: 'Serverless-LambdaEventSourceMappingDestination',
      reason:
        "An SQS event source cannot have an on-failure destination; failed jobs go to the transfer queue's dead-letter queue (redrive policy), which an alarm watches.",
    });
  }
}
