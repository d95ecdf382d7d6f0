import { RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';

/** GSI of the ledger by day of the recording's start: partition `day` (YYYY-MM-DD, UTC), sort `startedAt`. */
export const LEDGER_BY_DAY_INDEX = 'byDay';

export interface RecordingsLedgerProps {
  readonly removalPolicy: RemovalPolicy;
  /** A customer-managed key (stage `encryption: "kms"`); unset: AWS-managed encryption. */
  readonly encryptionKey?: kms.IKey;
}

/**
 * The vault's ledger, the `recordings` table: one item per RecordingSid, the source of truth of
 * every copy (claim, status, key, size, SHA-256, erasure). On-demand, point-in-time recovery,
 * deletion protection and retention where the stage retains data.
 */
export class RecordingsLedger extends Construct {
  readonly table: dynamodb.Table;
  readonly dayIndexName = LEDGER_BY_DAY_INDEX;

  constructor(scope: Construct, id: string, props: RecordingsLedgerProps) {
    super(scope, id);
    this.table = new dynamodb.Table(this, 'Table', {
      partitionKey: { name: 'recordingSid', type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      ...(props.encryptionKey
        ? { encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED, encryptionKey: props.encryptionKey }
        : { encryption: dynamodb.TableEncryption.AWS_MANAGED }),
      deletionProtection: props.removalPolicy === RemovalPolicy.RETAIN,
      removalPolicy: props.removalPolicy,
    });
    this.table.addGlobalSecondaryIndex({
      indexName: LEDGER_BY_DAY_INDEX,
      partitionKey: { name: 'day', type: dynamodb.AttributeType.STRING },
      sortKey: { name: 'startedAt', type: dynamodb.AttributeType.STRING },
      projectionType: dynamodb.ProjectionType.ALL,
    });
  }

  /** ARN of the day index (for Query permissions without an index wildcard). */
  dayIndexArn(): string {
    return `${this.table.tableArn}/index/${LEDGER_BY_DAY_INDEX}`;
  }
}
