import { type CfnElement, Duration, type RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type { Function as LambdaFunction } from 'aws-cdk-lib/aws-lambda';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { ENV } from '../../lambda/shared/config/env-names';
import type { CallsTable } from './calls-table';
import { RECORDINGS_PREFIX, type RecordingStorage } from './recording-storage';
import type { RecordingsLedger } from './recordings-ledger';
import type { VaultEvents } from './vault-events';
import { type FunctionNetwork, type PowertoolsLogLevel, VaultFunction } from './vault-function';

export interface ErasureFunctionProps {
  /** The handler's entry file (lambda/erasure/index.ts). */
  readonly entry: string;
  readonly twilioAccountSid: string;
  /** Subaccounts accepted besides the parent (their tokens are in the same secret). */
  readonly twilioSubaccountSids?: readonly string[];
  readonly twilioApiBaseUrl: string;
  readonly twilioSecret: secretsmanager.ISecret;
  /** What the function is told to read (the secret's ARN, or the name of an imported one). */
  readonly twilioSecretId: string;
  readonly storage: RecordingStorage;
  readonly calls: CallsTable;
  readonly ledger: RecordingsLedger;
  readonly events: VaultEvents;
  /** The stage's customer-managed key, when the data is encrypted with one. */
  readonly encryptionKey?: kms.IKey;
  readonly logRetention: logs.RetentionDays;
  readonly logRemovalPolicy: RemovalPolicy;
  readonly logLevel?: PowertoolsLogLevel;
  readonly logEncryptionKey?: kms.IKey;
  readonly network?: FunctionNetwork;
}

/**
 * The erasure function (DELETE /calls/{callId}/recordings/{recordingSid}) and exactly what it may
 * do: read and conditionally update the ledger item and the call item; list the versions of
 * recording objects and delete them (with their delete markers) after reading their Object Lock
 * retention and legal hold; read the Twilio secret (to delete at Twilio); publish to the stage's bus. No Put,
 * Query or Delete on any table, no object reads, no bypass of governance retention.
 */
/**
 * What erasing a recording takes beyond its ledger item, for every function that erases (the
 * erasure routes, the retention sweep): the call entry; every version under recordings/, after
 * reading its legal hold and retention. Never a bypass of governance retention.
 */
export function grantRecordingErasure(
  role: iam.IRole,
  props: { readonly calls: CallsTable; readonly storage: RecordingStorage },
): void {
  role.addToPrincipalPolicy(
    new iam.PolicyStatement({
      sid: 'EraseCallEntry',
      actions: ['dynamodb:GetItem', 'dynamodb:UpdateItem'],
      resources: [props.calls.table.tableArn],
    }),
  );
  role.addToPrincipalPolicy(
    new iam.PolicyStatement({
      sid: 'ListRecordingVersions',
      actions: ['s3:ListBucketVersions'],
      resources: [props.storage.bucket.bucketArn],
      conditions: { StringLike: { 's3:prefix': [`${RECORDINGS_PREFIX}*`] } },
    }),
  );
  role.addToPrincipalPolicy(
    new iam.PolicyStatement({
      sid: 'EraseRecordingVersions',
      actions: ['s3:DeleteObject', 's3:DeleteObjectVersion', 's3:GetObjectLegalHold', 's3:GetObjectRetention'],
      resources: [props.storage.recordingObjectsArn()],
    }),
  );
}

export class ErasureFunction extends Construct {
  readonly function: LambdaFunction;
  readonly role: iam.Role;
  readonly logGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: ErasureFunctionProps) {
    super(scope, id);
    const fn = new VaultFunction(this, 'Function', {
      entry: props.entry,
      description: 'Recording Vault erasure: removes a recording from S3, Twilio, the ledger and its call',
      // Many versions, Twilio and four conditional writes; well inside API Gateway's 30 s.
      timeout: Duration.seconds(25),
      memorySize: 256,
      logRetention: props.logRetention,
      logRemovalPolicy: props.logRemovalPolicy,
      ...(props.logLevel ? { logLevel: props.logLevel } : {}),
      logEncryptionKey: props.logEncryptionKey,
      network: props.network,
      environment: {
        [ENV.twilioAccountSid]: props.twilioAccountSid,
        ...(props.twilioSubaccountSids?.length
          ? { [ENV.twilioSubaccountSids]: props.twilioSubaccountSids.join(',') }
          : {}),
        [ENV.twilioSecretArn]: props.twilioSecretId,
        [ENV.twilioApiBaseUrl]: props.twilioApiBaseUrl,
        [ENV.recordingsBucket]: props.storage.bucket.bucketName,
        [ENV.callsTable]: props.calls.table.tableName,
        [ENV.ledgerTable]: props.ledger.table.tableName,
        [ENV.ledgerIndexShards]: String(props.ledger.indexShards),
        [ENV.eventBusName]: props.events.bus.eventBusName,
      },
    });
    this.function = fn.function;
    this.role = fn.role;
    this.logGroup = fn.logGroup;

    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'EraseLedgerEntry',
        actions: ['dynamodb:GetItem', 'dynamodb:UpdateItem'],
        resources: [props.ledger.table.tableArn],
      }),
    );
    grantRecordingErasure(this.role, props);
    props.twilioSecret.grantRead(this.function);
    props.events.bus.grantPutEventsTo(this.function);
    // Items it rewrites and events it publishes under the stage's key.
    props.encryptionKey?.grant(this.function, 'kms:Decrypt', 'kms:DescribeKey', 'kms:Encrypt', 'kms:GenerateDataKey');

    const policy = this.role.node.tryFindChild('DefaultPolicy');
    if (policy) {
      const bucketId = Stack.of(this).getLogicalId(props.storage.bucket.node.defaultChild as CfnElement);
      Validations.of(policy).acknowledge({
        id: `AwsSolutions-IAM5[Resource::<${bucketId}.Arn>/recordings/*]`,
        reason:
          'Deletion is limited to the recordings/ prefix of the recordings bucket: the key of the recording to erase is known only at run time (per call and recording).',
      });
    }
  }
}
