import * as path from 'node:path';
import { CfnOutput, Duration, RemovalPolicy, Stack, type StackProps, Tags } from 'aws-cdk-lib';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type { Construct } from 'constructs';
import { ENV } from '../lambda/shared/config/env-names';
import { withConnectionOverrides } from '../lambda/shared/twilio/connection-overrides';
import type { StageConfig } from './config';
import { ALARM_PERIOD, AlarmTopic } from './constructs/alarm-topic';
import { AuditReadFunction } from './constructs/audit-read-function';
import { AuditTable } from './constructs/audit-table';
import { CallsTable } from './constructs/calls-table';
import { ConsoleFunction } from './constructs/console-function';
import { ErasureFunction } from './constructs/erasure-function';
import { HoldFunction } from './constructs/hold-function';
import { ReconcilerFunction } from './constructs/reconciler-function';
import { RecordingStorage } from './constructs/recording-storage';
import { RecordingsLedger } from './constructs/recordings-ledger';
import { RecordingsReadFunction } from './constructs/recordings-read-function';
import { RetentionFunction } from './constructs/retention-function';
import { TransferFunction } from './constructs/transfer-function';
import { TransferQueue } from './constructs/transfer-queue';
import { twilioSecret } from './constructs/twilio-secret';
import { addVaultOperations, type VaultOperations } from './constructs/vault-alarms';
import { VaultApi, WEBHOOK_PATH } from './constructs/vault-api';
import { VaultEvents } from './constructs/vault-events';
import { VaultKey } from './constructs/vault-key';
import { VaultNetwork } from './constructs/vault-network';
import { WebhookFunction } from './constructs/webhook-function';

export const PROJECT_TAG = 'recording-vault';

/** Handler entry files, relative to the repository root. */
const LAMBDA_ROOT = path.join(__dirname, '..', 'lambda');
export const LAMBDA_ENTRIES = {
  webhook: path.join(LAMBDA_ROOT, 'webhook', 'index.ts'),
  transfer: path.join(LAMBDA_ROOT, 'transfer', 'index.ts'),
  recordingsRead: path.join(LAMBDA_ROOT, 'recordings-read', 'index.ts'),
  erasure: path.join(LAMBDA_ROOT, 'erasure', 'index.ts'),
  hold: path.join(LAMBDA_ROOT, 'hold', 'index.ts'),
  retention: path.join(LAMBDA_ROOT, 'retention', 'index.ts'),
  reconciler: path.join(LAMBDA_ROOT, 'reconciler', 'index.ts'),
  console: path.join(LAMBDA_ROOT, 'console', 'index.ts'),
  auditRead: path.join(LAMBDA_ROOT, 'audit-read', 'index.ts'),
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
  /** The access audit trail: functions append to it (PutItem) or read it (Query), never change it. */
  readonly audit: AuditTable;
  readonly events: VaultEvents;
  readonly transferQueue: TransferQueue;
  readonly twilioSecret: secretsmanager.ISecret;
  readonly webhook: WebhookFunction;
  readonly transfer: TransferFunction;
  readonly recordingsRead: RecordingsReadFunction;
  readonly erasure: ErasureFunction;
  /** PUT / DELETE /recordings/{recordingSid}/hold. */
  readonly hold: HoldFunction;
  /** The retention sweep (stage `retention`); unset: recordings are kept until erased. */
  readonly retention?: RetentionFunction;
  readonly reconciler: ReconcilerFunction;
  readonly console: ConsoleFunction;
  readonly auditRead: AuditReadFunction;
  /** The stage's dashboard and the alarms that page the on-call engineer. */
  readonly operations: VaultOperations;
  readonly api: VaultApi;
  readonly alarms: AlarmTopic;
  /** The stage's customer-managed key (`encryption: "kms"`); unset with SSE-S3 and AWS-managed keys. */
  readonly vaultKey?: VaultKey;
  /** The functions' private subnets and endpoints (stage option `vpc`); unset: no VPC. */
  readonly network?: VaultNetwork;

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
    this.ledger = new RecordingsLedger(this, 'Ledger', {
      removalPolicy,
      encryptionKey,
      indexShards: config.ledger.indexShards,
    });
    this.audit = new AuditTable(this, 'Audit', { removalPolicy, encryptionKey });
    this.events = new VaultEvents(this, 'Events', { stage: config.name, encryptionKey });
    this.transferQueue = new TransferQueue(this, 'Transfer', {
      consumerTimeout: transferTimeout,
      maxReceiveCount: config.transfer.maxAttempts,
      removalPolicy,
      encryptionKey,
      queueName: `recording-vault-${config.name}-transfer`,
    });

    // ---- Twilio auth token(s) ---------------------------------------------------------
    const secret = twilioSecret(this, 'TwilioSecret', {
      stage: config.name,
      removalPolicy,
      ...(config.twilioSecretName !== undefined ? { secretName: config.twilioSecretName } : {}),
    });
    this.twilioSecret = secret.secret;

    // ---- network: with `vpc`, the functions run in private subnets ------------------------
    this.network =
      config.vpc !== undefined
        ? new VaultNetwork(this, 'Network', {
            config: config.vpc,
            logRetention,
            removalPolicy,
            logEncryptionKey: encryptionKey,
          })
        : undefined;

    // ---- functions, each with exactly its permissions ------------------------------------
    const logs = {
      logRetention,
      logRemovalPolicy: removalPolicy,
      logLevel: config.logLevel,
      logEncryptionKey: encryptionKey,
      network: this.network,
    } as const;
    this.webhook = new WebhookFunction(this, 'Webhook', {
      ...logs,
      entry: entries.webhook,
      twilioAccountSid: config.twilioAccountSid,
      twilioSubaccountSids: config.twilioSubaccountSids,
      twilioSecret: secret,
      transferQueue: this.transferQueue,
      ...(config.publicWebhookBaseUrl !== undefined ? { publicBaseUrl: config.publicWebhookBaseUrl } : {}),
      ...(config.webhookConnectionOverrides !== undefined
        ? { connectionOverrides: config.webhookConnectionOverrides }
        : {}),
    });
    this.transfer = new TransferFunction(this, 'TransferWorker', {
      ...logs,
      entry: entries.transfer,
      twilioAccountSid: config.twilioAccountSid,
      twilioSubaccountSids: config.twilioSubaccountSids,
      twilioApiBaseUrl: config.twilioApiBaseUrl,
      twilioSecret: secret,
      recordingFormat: config.recordingFormat,
      deleteFromTwilioAfterCopy: config.deleteFromTwilioAfterCopy,
      transfer: config.transfer,
      storage: this.storage,
      calls: this.calls,
      ledger: this.ledger,
      events: this.events,
      transferQueue: this.transferQueue,
      encryptionKey,
    });
    this.recordingsRead = new RecordingsReadFunction(this, 'RecordingsRead', {
      ...logs,
      entry: entries.recordingsRead,
      playbackUrlTtlSeconds: config.playbackUrlTtlSeconds,
      storage: this.storage,
      calls: this.calls,
      ledger: this.ledger,
      encryptionKey,
    });
    this.erasure = new ErasureFunction(this, 'Erasure', {
      ...logs,
      entry: entries.erasure,
      twilioAccountSid: config.twilioAccountSid,
      twilioSubaccountSids: config.twilioSubaccountSids,
      twilioApiBaseUrl: config.twilioApiBaseUrl,
      twilioSecret: this.twilioSecret,
      twilioSecretId: secret.secretId,
      storage: this.storage,
      calls: this.calls,
      ledger: this.ledger,
      events: this.events,
      encryptionKey,
    });
    this.hold = new HoldFunction(this, 'Hold', {
      ...logs,
      entry: entries.hold,
      storage: this.storage,
      ledger: this.ledger,
      events: this.events,
      encryptionKey,
    });
    this.auditRead = new AuditReadFunction(this, 'AuditRead', {
      ...logs,
      entry: entries.auditRead,
      audit: this.audit,
      encryptionKey,
    });
    // Every URL issued, listing page, erasure, hold and release is entered in the audit trail, append-only
    // (and every expiry: the retention function is granted the same below).
    for (const fn of [this.recordingsRead, this.erasure, this.hold]) {
      fn.function.addEnvironment(ENV.auditTable, this.audit.table.tableName);
      this.audit.grantAppend(fn.role, encryptionKey);
    }
    this.retention =
      config.retention !== undefined
        ? new RetentionFunction(this, 'Retention', {
            ...logs,
            entry: entries.retention,
            twilioAccountSid: config.twilioAccountSid,
            twilioSubaccountSids: config.twilioSubaccountSids,
            twilioApiBaseUrl: config.twilioApiBaseUrl,
            twilioSecret: secret,
            retention: config.retention,
            storage: this.storage,
            calls: this.calls,
            ledger: this.ledger,
            events: this.events,
            audit: this.audit,
            encryptionKey,
          })
        : undefined;
    this.reconciler = new ReconcilerFunction(this, 'Reconciler', {
      ...logs,
      entry: entries.reconciler,
      twilioAccountSid: config.twilioAccountSid,
      twilioSubaccountSids: config.twilioSubaccountSids,
      twilioApiBaseUrl: config.twilioApiBaseUrl,
      twilioSecret: secret,
      reconcile: config.reconcile,
      ledger: this.ledger,
      transferQueue: this.transferQueue,
      encryptionKey,
    });

    // ---- API -------------------------------------------------------------------------
    this.api = new VaultApi(this, 'Api', {
      webhookFunction: this.webhook.function,
      recordingsReadFunction: this.recordingsRead.function,
      playbackAuth: config.playbackAuth,
      throttle: config.apiThrottle,
      accessLogRetention: logRetention,
      removalPolicy,
      accessLogEncryptionKey: encryptionKey,
    });
    this.console = new ConsoleFunction(this, 'Console', {
      ...logs,
      entry: entries.console,
      playbackAuth: config.playbackAuth,
      storage: this.storage,
    });
    this.api.addConsoleRoutes(this.console.function);
    this.api.addErasureRoute(this.erasure.function);
    this.api.addHoldRoutes(this.hold.function);
    this.api.addAuditRoute(this.auditRead.function);

    // ---- alarms ----------------------------------------------------------------------
    this.alarms = new AlarmTopic(this, 'Alarms', {
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
      { description: 'The HTTP API answered 5xx (webhook, playback, listing or erasure).' },
    );

    // Dashboard, and the alarms an on-call engineer is paged by (after the ones above, which it keeps).
    this.operations = addVaultOperations(this, {
      config,
      alarms: this.alarms,
      functions: {
        'recording-webhook': this.webhook.function,
        'recording-transfer': this.transfer.function,
        'recordings-read': this.recordingsRead.function,
        'recording-erasure': this.erasure.function,
        'recording-hold': this.hold.function,
        ...(this.retention ? { 'recording-retention': this.retention.function } : {}),
        'recording-reconciler': this.reconciler.function,
      },
      transferQueue: this.transferQueue.queue,
      deadLetterQueue: this.transferQueue.deadLetterQueue,
      api: this.api.api,
    });

    // ---- outputs ---------------------------------------------------------------------
    // With the stage's connection-override fragment: the URL to give Twilio as it is.
    const webhookUrl = withConnectionOverrides(
      config.publicWebhookBaseUrl !== undefined
        ? `${config.publicWebhookBaseUrl}${WEBHOOK_PATH}`
        : `${this.api.url}${WEBHOOK_PATH}`,
      config.webhookConnectionOverrides,
    );
    new CfnOutput(this, 'ApiUrl', { value: this.api.url, description: 'HTTP API base URL' });
    new CfnOutput(this, 'WebhookUrl', {
      value: webhookUrl,
      description: 'Twilio recordingStatusCallback URL (the signature is checked against it)',
    });
    new CfnOutput(this, 'RecordingsBucketName', { value: this.storage.bucket.bucketName });
    new CfnOutput(this, 'CallsTableName', { value: this.calls.table.tableName });
    new CfnOutput(this, 'LedgerTableName', { value: this.ledger.table.tableName });
    // Ops commands read the ledger's indexes with the stage's shard count (lib/ops/target.ts).
    new CfnOutput(this, 'LedgerIndexShards', { value: String(config.ledger.indexShards) });
    new CfnOutput(this, 'AuditTableName', { value: this.audit.table.tableName });
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
