import * as path from 'node:path';
import {
  type CfnElement,
  CfnOutput,
  Duration,
  RemovalPolicy,
  Stack,
  type StackProps,
  Tags,
  Validations,
} from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { EventSourceMapping } from 'aws-cdk-lib/aws-lambda';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type { Construct } from 'constructs';
import type { StageConfig } from './config';
import { CallsTable } from './constructs/calls-table';
import { ErasureFunction } from './constructs/erasure-function';
import { ALARM_PERIOD, OperationsAlarms } from './constructs/operations-alarms';
import { RecordingStorage } from './constructs/recording-storage';
import { RecordingsLedger } from './constructs/recordings-ledger';
import { TransferQueue } from './constructs/transfer-queue';
import { VaultApi, WEBHOOK_PATH } from './constructs/vault-api';
import { VaultEvents } from './constructs/vault-events';
import { VaultFunction } from './constructs/vault-function';
import { VaultKey } from './constructs/vault-key';

export const PROJECT_TAG = 'recording-vault';

/** Handler entry files, relative to the repository root. */
const LAMBDA_ROOT = path.join(__dirname, '..', 'lambda');
export const LAMBDA_ENTRIES = {
  webhook: path.join(LAMBDA_ROOT, 'recording-webhook', 'index.ts'),
  transfer: path.join(LAMBDA_ROOT, 'recording-transfer', 'index.ts'),
  playback: path.join(LAMBDA_ROOT, 'playback-url', 'index.ts'),
  erasure: path.join(LAMBDA_ROOT, 'recording-erasure', 'index.ts'),
} as const;

export type LambdaEntries = { readonly [K in keyof typeof LAMBDA_ENTRIES]: string };

export interface RecordingVaultStackProps extends StackProps {
  readonly config: StageConfig;
  /** Handler entry files. @default LAMBDA_ENTRIES (lambda/<function>/index.ts) */
  readonly lambdaEntries?: Partial<LambdaEntries>;
}

/** One Recording Vault deployment (one stage). */
export class RecordingVaultStack extends Stack {
  readonly config: StageConfig;
  readonly storage: RecordingStorage;
  readonly calls: CallsTable;
  readonly ledger: RecordingsLedger;
  readonly events: VaultEvents;
  readonly transferQueue: TransferQueue;
  readonly twilioSecret: secretsmanager.ISecret;
  readonly webhook: VaultFunction;
  readonly transfer: VaultFunction;
  readonly playback: VaultFunction;
  readonly erasure: ErasureFunction;
  readonly api: VaultApi;
  readonly alarms: OperationsAlarms;
  /** The stage's customer-managed key (`encryption: "kms"`); unset with SSE-S3 and AWS-managed keys. */
  readonly vaultKey?: VaultKey;

  constructor(scope: Construct, id: string, props: RecordingVaultStackProps) {
    super(scope, id, {
      description: `Recording Vault (${props.config.name}): Twilio call recordings into S3, presigned playback`,
      ...props,
    });
    const config = props.config;
    this.config = config;
    const entries: LambdaEntries = { ...LAMBDA_ENTRIES, ...props.lambdaEntries };
    Tags.of(this).add('project', PROJECT_TAG);
    Tags.of(this).add('stage', config.name);

    const removalPolicy = config.removalPolicy === 'retain' ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;
    const logRetention = config.logRetentionDays;
    const transferTimeout = Duration.seconds(config.transfer.timeoutSeconds);

    // ---- encryption: with `encryption: "kms"` one customer-managed key for all data --------
    this.vaultKey =
      config.encryption === 'kms' ? new VaultKey(this, 'Key', { stage: config.name, removalPolicy }) : undefined;
    const encryptionKey = this.vaultKey?.key;

    // ---- data -------------------------------------------------------------------------
    this.storage = new RecordingStorage(this, 'Storage', {
      versioned: config.bucketVersioning,
      lifecycle: config.lifecycle,
      removalPolicy,
      accessLogExpireDays: Math.max(config.logRetentionDays, 30),
      encryptionKey,
      objectLock: config.objectLock,
    });
    this.calls = new CallsTable(this, 'Calls', { removalPolicy, encryptionKey });
    this.ledger = new RecordingsLedger(this, 'Ledger', { removalPolicy, encryptionKey });
    this.events = new VaultEvents(this, 'Events', { stage: config.name, encryptionKey });
    this.transferQueue = new TransferQueue(this, 'Transfer', {
      consumerTimeout: transferTimeout,
      maxReceiveCount: config.transfer.maxAttempts,
      removalPolicy,
      encryptionKey,
    });

    // ---- Twilio auth token(s) --------------------------------------------------------
    // JSON {"authToken":"…","authTokenSecondary":"…"}, set by an operator with
    // `aws secretsmanager put-secret-value`. A created secret starts with a generated
    // non-JSON value, which the functions treat as "not set": the webhook answers 500 and logs
    // how to set it, and the 5xx alarm fires, until an operator stores the token.
    let secretId: string;
    if (config.twilioSecretName !== undefined) {
      this.twilioSecret = secretsmanager.Secret.fromSecretNameV2(this, 'TwilioSecret', config.twilioSecretName);
      secretId = config.twilioSecretName;
    } else {
      const secret = new secretsmanager.Secret(this, 'TwilioSecret', {
        description: `Twilio auth token(s) of Recording Vault (${config.name}): JSON {"authToken":"…","authTokenSecondary":"…"}. Set with aws secretsmanager put-secret-value.`,
        removalPolicy,
      });
      Validations.of(secret).acknowledge({
        id: 'AwsSolutions-SMG4',
        reason:
          'The value is a Twilio auth token: it is rotated in the Twilio console, then stored here (the functions accept authTokenSecondary during the change). Secrets Manager cannot rotate it.',
      });
      this.twilioSecret = secret;
      secretId = secret.secretArn;
    }

    // ---- functions -------------------------------------------------------------------
    const common = { logRetention, logRemovalPolicy: removalPolicy, logLevel: config.logLevel } as const;

    this.webhook = new VaultFunction(this, 'Webhook', {
      ...common,
      entry: entries.webhook,
      description: 'Recording Vault webhook: verifies the Twilio recording callback and queues the transfer',
      timeout: Duration.seconds(10),
      memorySize: 256,
      environment: {
        TWILIO_ACCOUNT_SID: config.twilioAccountSid,
        TWILIO_SECRET_ARN: secretId,
        TRANSFER_QUEUE_URL: this.transferQueue.queue.queueUrl,
        ...(config.publicWebhookBaseUrl !== undefined ? { PUBLIC_BASE_URL: config.publicWebhookBaseUrl } : {}),
      },
    });

    this.transfer = new VaultFunction(this, 'TransferWorker', {
      ...common,
      entry: entries.transfer,
      description: 'Recording Vault transfer: streams a recording from Twilio to S3 and updates the call',
      timeout: transferTimeout,
      memorySize: config.transfer.memoryMb,
      environment: {
        TWILIO_ACCOUNT_SID: config.twilioAccountSid,
        TWILIO_SECRET_ARN: secretId,
        RECORDINGS_BUCKET: this.storage.bucket.bucketName,
        CALLS_TABLE: this.calls.table.tableName,
        CALLS_BY_TWILIO_SID_INDEX: this.calls.callSidIndexName,
        LEDGER_TABLE: this.ledger.table.tableName,
        EVENT_BUS_NAME: this.events.bus.eventBusName,
        TWILIO_API_BASE_URL: config.twilioApiBaseUrl,
        RECORDING_FORMAT: config.recordingFormat,
        DELETE_FROM_TWILIO_AFTER_COPY: String(config.deleteFromTwilioAfterCopy),
        TRANSFER_QUEUE_URL: this.transferQueue.queue.queueUrl,
        DEAD_LETTER_QUEUE_URL: this.transferQueue.deadLetterQueue.queueUrl,
        TRANSFER_MAX_ATTEMPTS: String(config.transfer.maxAttempts),
        TRANSFER_RETRY_BASE_SECONDS: String(config.transfer.retryBaseSeconds),
        TRANSFER_LEASE_SECONDS: String(config.transfer.timeoutSeconds),
      },
    });

    this.playback = new VaultFunction(this, 'Playback', {
      ...common,
      entry: entries.playback,
      description: 'Recording Vault playback: presigned GET URL for a stored recording',
      timeout: Duration.seconds(10),
      memorySize: 256,
      environment: {
        RECORDINGS_BUCKET: this.storage.bucket.bucketName,
        CALLS_TABLE: this.calls.table.tableName,
        PLAYBACK_URL_TTL_SECONDS: String(config.playbackUrlTtlSeconds),
      },
    });

    // ---- permissions (least privilege) -----------------------------------------------
    // webhook: send jobs, read the token. Nothing else.
    this.transferQueue.queue.grantSendMessages(this.webhook.function);
    this.twilioSecret.grantRead(this.webhook.function);

    // transfer: read the token; write recordings (multipart) and HEAD/GET them; update calls;
    // consume the queue (incl. ChangeMessageVisibility for per-message backoff).
    this.twilioSecret.grantRead(this.transfer.function);
    this.transfer.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'WriteRecordings',
        actions: ['s3:PutObject', 's3:AbortMultipartUpload', 's3:GetObject'],
        resources: [this.storage.recordingObjectsArn()],
      }),
    );
    this.transfer.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'ReadWriteCalls',
        actions: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:Query'],
        resources: [this.calls.table.tableArn, this.calls.callSidIndexArn()],
      }),
    );
    this.transfer.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'ReadWriteLedger',
        actions: ['dynamodb:GetItem', 'dynamodb:UpdateItem'],
        resources: [this.ledger.table.tableArn],
      }),
    );
    this.events.bus.grantPutEventsTo(this.transfer.function);
    this.transferQueue.queue.grantConsumeMessages(this.transfer.function);
    // A job that will not succeed (permanent error, last attempt) is moved to the DLQ by the
    // function itself, with the reason; the queue's redrive is the backstop for crashes.
    this.transferQueue.deadLetterQueue.grantSendMessages(this.transfer.function);

    // HEAD of a missing object answers 403 instead of 404 without s3:ListBucket, and both
    // functions must tell "not there (yet)" from "refused". Listing reveals keys only, not audio.
    for (const fn of [this.transfer, this.playback]) {
      fn.role.addToPrincipalPolicy(
        new iam.PolicyStatement({
          sid: 'TellMissingRecordings',
          actions: ['s3:ListBucket'],
          resources: [this.storage.bucket.bucketArn],
        }),
      );
    }

    // playback: read calls; GET recordings (presigned URLs are signed with this role).
    this.playback.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'ReadCalls',
        actions: ['dynamodb:GetItem'],
        resources: [this.calls.table.tableArn],
      }),
    );
    this.playback.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'ReadRecordings',
        actions: ['s3:GetObject'],
        resources: [this.storage.recordingObjectsArn()],
      }),
    );
    // The hand-written S3 and DynamoDB statements above carry no KMS rights (the queue and
    // secret grants add their own). Transfer: multipart uploads (GenerateDataKey, Decrypt) and
    // call item writes; playback: GETs it presigns and call item reads (DynamoDB: DescribeKey too).
    if (encryptionKey !== undefined) {
      encryptionKey.grant(
        this.transfer.function,
        'kms:Decrypt',
        'kms:DescribeKey',
        'kms:Encrypt',
        'kms:GenerateDataKey',
      );
      encryptionKey.grant(this.playback.function, 'kms:Decrypt', 'kms:DescribeKey');
    }
    for (const fn of [this.transfer, this.playback]) {
      const policy = fn.role.node.tryFindChild('DefaultPolicy');
      if (policy) {
        Validations.of(policy).acknowledge({
          id: `AwsSolutions-IAM5[Resource::<${this.getLogicalId(this.storage.bucket.node.defaultChild as CfnElement)}.Arn>/recordings/*]`,
          reason:
            'Object access is limited to the recordings/ prefix of the recordings bucket; object keys are per call and recording.',
        });
      }
    }

    // batchSize 5: each job streams one recording (up to hours of audio) through a bounded
    // multipart buffer; five at a time fit the memory and the timeout, and a function timeout
    // sends at most five jobs back to the queue. Failures are reported per message.
    const transferSource = new SqsEventSource(this.transferQueue.queue, {
      batchSize: 5,
      maxBatchingWindow: Duration.seconds(1),
      reportBatchItemFailures: true,
      maxConcurrency: config.transfer.maxConcurrency,
    });
    this.transfer.function.addEventSource(transferSource);
    const mapping = this.transfer.function.node.children.find((c) => c instanceof EventSourceMapping);
    if (!mapping) throw new Error('the transfer event source mapping was not created');
    Validations.of(mapping).acknowledge({
      id: 'Serverless-LambdaEventSourceMappingDestination',
      reason:
        "An SQS event source cannot have an on-failure destination; failed jobs go to the transfer queue's dead-letter queue (redrive policy), which an alarm watches.",
    });

    // ---- API -------------------------------------------------------------------------
    this.api = new VaultApi(this, 'Api', {
      webhookFunction: this.webhook.function,
      playbackFunction: this.playback.function,
      playbackAuth: config.playbackAuth,
      throttle: config.apiThrottle,
      accessLogRetention: logRetention,
      removalPolicy,
    });

    // ---- recordings API: GET /recordings and DELETE …/recordings/{recordingSid} ---------
    // The listing is served by the playback function, which may only Query the ledger's day
    // index (no write, no delete anywhere). Erasure is a function of its own with exactly its
    // permissions (lib/constructs/erasure-function.ts).
    this.playback.function.addEnvironment('LEDGER_TABLE', this.ledger.table.tableName);
    this.playback.function.addEnvironment('LEDGER_DAY_INDEX', this.ledger.dayIndexName);
    this.playback.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'ListLedgerByDay',
        actions: ['dynamodb:Query'],
        resources: [this.ledger.dayIndexArn()],
      }),
    );
    this.erasure = new ErasureFunction(this, 'Erasure', {
      ...common,
      entry: entries.erasure,
      twilioAccountSid: config.twilioAccountSid,
      twilioApiBaseUrl: config.twilioApiBaseUrl,
      twilioSecret: this.twilioSecret,
      twilioSecretId: secretId,
      storage: this.storage,
      calls: this.calls,
      ledger: this.ledger,
      events: this.events,
    });
    this.api.addErasureRoute(this.erasure.function);

    // ---- alarms ----------------------------------------------------------------------
    this.alarms = new OperationsAlarms(this, 'Alarms', {
      removalPolicy,
      encryptionKey,
      ...(config.alarmEmail !== undefined ? { alarmEmail: config.alarmEmail } : {}),
    });
    this.alarms.addThresholdAlarm(
      'TransferDeadLetters',
      this.transferQueue.deadLetterQueue.metricApproximateNumberOfMessagesVisible({
        period: Duration.minutes(1),
        statistic: 'Maximum',
      }),
      {
        description:
          'A recording transfer failed every attempt and is in the dead-letter queue. Fix the cause, then redrive the DLQ.',
      },
    );
    this.alarms.addThresholdAlarm(
      'TransferErrors',
      this.transfer.function.metricErrors({ period: ALARM_PERIOD, statistic: 'Sum' }),
      { description: 'The transfer function failed (crash or timeout); its batch is retried.' },
    );
    this.alarms.addThresholdAlarm(
      'WebhookErrors',
      this.webhook.function.metricErrors({ period: ALARM_PERIOD, statistic: 'Sum' }),
      { description: 'The Twilio webhook function failed: Twilio does not retry, recordings may be missing.' },
    );
    this.alarms.addThresholdAlarm(
      'Api5xx',
      this.api.api.metricServerError({ period: ALARM_PERIOD, statistic: 'Sum' }),
      { description: 'The HTTP API answered 5xx (webhook or playback).' },
    );

    // ---- outputs ---------------------------------------------------------------------
    const webhookUrl =
      config.publicWebhookBaseUrl !== undefined
        ? `${config.publicWebhookBaseUrl}${WEBHOOK_PATH}`
        : `${this.api.url}${WEBHOOK_PATH}`;
    new CfnOutput(this, 'ApiUrl', { value: this.api.url, description: 'HTTP API base URL' });
    new CfnOutput(this, 'WebhookUrl', {
      value: webhookUrl,
      description: 'Twilio recordingStatusCallback URL (the signature is checked against it)',
    });
    new CfnOutput(this, 'RecordingsBucketName', { value: this.storage.bucket.bucketName });
    new CfnOutput(this, 'CallsTableName', { value: this.calls.table.tableName });
    new CfnOutput(this, 'LedgerTableName', { value: this.ledger.table.tableName });
    new CfnOutput(this, 'EventBusName', { value: this.events.bus.eventBusName });
    new CfnOutput(this, 'TwilioSecretArn', {
      value: this.twilioSecret.secretArn,
      description:
        'Set the value: aws secretsmanager put-secret-value --secret-id <this> --secret-string \'{"authToken":"…"}\'',
    });
    new CfnOutput(this, 'TwilioSecretName', { value: this.twilioSecret.secretName });
    new CfnOutput(this, 'TransferQueueUrl', { value: this.transferQueue.queue.queueUrl });
    new CfnOutput(this, 'TransferDeadLetterQueueUrl', { value: this.transferQueue.deadLetterQueue.queueUrl });
    new CfnOutput(this, 'AlarmTopicArn', { value: this.alarms.topic.topicArn });
  }
}
