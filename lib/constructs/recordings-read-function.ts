import { Duration } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type { Construct } from 'constructs';
import { ENV } from '../../lambda/shared/config/env-names';
import type { CallsTable } from './calls-table';
import type { RecordingStorage } from './recording-storage';
import type { RecordingsLedger } from './recordings-ledger';
import { type FunctionLogProps, VaultFunction } from './vault-function';

export interface RecordingsReadFunctionProps extends FunctionLogProps {
  readonly entry: string;
  readonly playbackUrlTtlSeconds: number;
  readonly storage: RecordingStorage;
  readonly calls: CallsTable;
  readonly ledger: RecordingsLedger;
  readonly encryptionKey?: kms.IKey;
}

/**
 * The read side of the recordings API: GET /calls/{callId}/recording(s) and
 * GET /recordings/{recordingSid} (presigned playback URLs) and GET /recordings (the ledger by
 * day). It reads call items (which recordings a call names), ledger items (the key of each, the
 * only keys it presigns), queries the ledger's day index and GETs objects (presigned URLs are
 * signed with this role); it can write or delete nothing.
 */
export class RecordingsReadFunction extends VaultFunction {
  constructor(scope: Construct, id: string, props: RecordingsReadFunctionProps) {
    super(scope, id, {
      ...props,
      description: 'Recording Vault recordings API (read): presigned playback URLs and the ledger listing',
      timeout: Duration.seconds(10),
      memorySize: 256,
      environment: {
        [ENV.recordingsBucket]: props.storage.bucket.bucketName,
        [ENV.callsTable]: props.calls.table.tableName,
        [ENV.playbackUrlTtlSeconds]: String(props.playbackUrlTtlSeconds),
        [ENV.ledgerTable]: props.ledger.table.tableName,
        [ENV.ledgerDayIndex]: props.ledger.dayIndexName,
        [ENV.ledgerOpenStatusIndex]: props.ledger.openStatusIndexName,
        [ENV.ledgerHoldIndex]: props.ledger.holdIndexName,
        [ENV.ledgerIndexShards]: String(props.ledger.indexShards),
      },
    });
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'TellMissingRecordings',
        actions: ['s3:ListBucket'],
        resources: [props.storage.bucket.bucketArn],
      }),
    );
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'ReadCalls',
        actions: ['dynamodb:GetItem'],
        resources: [props.calls.table.tableArn],
      }),
    );
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'ReadRecordings',
        actions: ['s3:GetObject'],
        resources: [props.storage.recordingObjectsArn()],
      }),
    );
    // Every key it presigns comes from the ledger item of the recording, read by its RecordingSid.
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'ReadLedgerItems',
        actions: ['dynamodb:GetItem', 'dynamodb:BatchGetItem'],
        resources: [props.ledger.table.tableArn],
      }),
    );
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'ListLedgerByDay',
        actions: ['dynamodb:Query'],
        resources: [props.ledger.dayIndexArn(), props.ledger.openStatusIndexArn(), props.ledger.holdIndexArn()],
      }),
    );
    props.encryptionKey?.grant(this.function, 'kms:Decrypt', 'kms:DescribeKey');
    props.storage.acknowledgeRecordingsPrefix(
      this.role,
      'Object access is limited to the recordings/ prefix of the recordings bucket; object keys are per call and recording.',
    );
  }
}
