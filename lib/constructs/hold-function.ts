import { Duration } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type { Construct } from 'constructs';
import { ENV } from '../../lambda/shared/config/env-names';
import { RECORDINGS_PREFIX, type RecordingStorage } from './recording-storage';
import type { RecordingsLedger } from './recordings-ledger';
import type { VaultEvents } from './vault-events';
import { type FunctionLogProps, VaultFunction } from './vault-function';

export interface HoldFunctionProps extends FunctionLogProps {
  /** The handler's entry file (lambda/hold/index.ts). */
  readonly entry: string;
  readonly storage: RecordingStorage;
  readonly ledger: RecordingsLedger;
  readonly events: VaultEvents;
  /** The stage's customer-managed key, when the data is encrypted with one. */
  readonly encryptionKey?: kms.IKey;
}

/**
 * The legal-hold function (PUT / DELETE /recordings/{recordingSid}/hold) and exactly what it may
 * do: read and conditionally update ledger items; where the bucket has Object Lock, list the
 * versions of recording objects and set or clear their legal hold; publish to the stage's bus.
 * No object reads or deletes, no retention changes, no governance bypass, no other table.
 */
export class HoldFunction extends VaultFunction {
  constructor(scope: Construct, id: string, props: HoldFunctionProps) {
    const objectLock = props.storage.objectLock !== undefined;
    super(scope, id, {
      ...props,
      description: 'Recording Vault legal hold: holds and releases a recording in the ledger and S3 Object Lock',
      timeout: Duration.seconds(20),
      memorySize: 256,
      environment: {
        [ENV.recordingsBucket]: props.storage.bucket.bucketName,
        [ENV.ledgerTable]: props.ledger.table.tableName,
        [ENV.eventBusName]: props.events.bus.eventBusName,
        [ENV.objectLockEnabled]: String(objectLock),
      },
    });
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'HoldLedgerEntry',
        actions: ['dynamodb:GetItem', 'dynamodb:UpdateItem'],
        resources: [props.ledger.table.tableArn],
      }),
    );
    if (objectLock) {
      this.role.addToPrincipalPolicy(
        new iam.PolicyStatement({
          sid: 'ListRecordingVersions',
          actions: ['s3:ListBucketVersions'],
          resources: [props.storage.bucket.bucketArn],
          conditions: { StringLike: { 's3:prefix': [`${RECORDINGS_PREFIX}*`] } },
        }),
      );
      this.role.addToPrincipalPolicy(
        new iam.PolicyStatement({
          sid: 'HoldRecordingVersions',
          // Read before a release clears it: the audit entry says how many holds were actually on.
          actions: ['s3:GetObjectLegalHold', 's3:PutObjectLegalHold'],
          resources: [props.storage.recordingObjectsArn()],
        }),
      );
      props.storage.acknowledgeRecordingsPrefix(
        this.role,
        'Legal holds are set on the recordings/ prefix only: the key of the recording to hold is known only at run time.',
      );
    }
    props.events.bus.grantPutEventsTo(this.function);
    // Ledger items it rewrites and events it publishes under the stage's key.
    props.encryptionKey?.grant(this.function, 'kms:Decrypt', 'kms:DescribeKey', 'kms:Encrypt', 'kms:GenerateDataKey');
  }
}
