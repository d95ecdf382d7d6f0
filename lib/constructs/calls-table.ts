import type { RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import { vaultTableStorage } from './vault-table';

/** GSI to find a call by Twilio's CallSid (the recording callback only knows that). */
export const CALLS_BY_TWILIO_SID_INDEX = 'byTwilioCallSid';

export interface CallsTableProps {
  readonly removalPolicy: RemovalPolicy;
  /** Encrypt with this customer-managed key. @default - the AWS-managed key (aws/dynamodb) */
  readonly encryptionKey?: kms.IKey;
}

/**
 * The `calls` table (CloudFormation names it; the functions get the name from their
 * environment): partition key `callId`, GSI `byTwilioCallSid`, on-demand, point-in-time
 * recovery, KMS encryption (the stage's customer-managed key, or the AWS-managed one).
 * Deletion protection when the stage retains data.
 */
export class CallsTable extends Construct {
  readonly table: dynamodb.Table;
  readonly callSidIndexName = CALLS_BY_TWILIO_SID_INDEX;

  constructor(scope: Construct, id: string, props: CallsTableProps) {
    super(scope, id);
    this.table = new dynamodb.Table(this, 'Table', {
      partitionKey: { name: 'callId', type: dynamodb.AttributeType.STRING },
      ...vaultTableStorage(props),
    });
    this.table.addGlobalSecondaryIndex({
      indexName: CALLS_BY_TWILIO_SID_INDEX,
      partitionKey: { name: 'twilioCallSid', type: dynamodb.AttributeType.STRING },
      projectionType: dynamodb.ProjectionType.ALL,
    });
  }

  /** ARN of the CallSid index (for Query permissions without an index wildcard). */
  callSidIndexArn(): string {
    return `${this.table.tableArn}/index/${CALLS_BY_TWILIO_SID_INDEX}`;
  }
}
