import type { RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import { INDEX_PROJECTED_ATTRIBUTES } from '../../lambda/shared/ledger/day-index';
import { DAY_SHARD_INDEX, HOLD_INDEX, OPEN_STATUS_INDEX } from '../../lambda/shared/ledger/index-shards';
import { vaultTableStorage } from './vault-table';

/** GSI of the ledger by day shard (`YYYY-MM-DD#n`, UTC day of the start), sorted by `startedAt`. */
export const LEDGER_BY_DAY_INDEX = DAY_SHARD_INDEX;
/** Sparse GSI of the recordings in an open status (`transferring#n`, `erasing#n`, `failed#n`), sorted by `startedAt`. */
export const LEDGER_BY_OPEN_STATUS_INDEX = OPEN_STATUS_INDEX;
/** Sparse GSI of the recordings with a hold record (`held`, `released`), sorted by `startedAt`. */
export const LEDGER_BY_HOLD_INDEX = HOLD_INDEX;

export interface RecordingsLedgerProps {
  readonly removalPolicy: RemovalPolicy;
  /** A customer-managed key (stage `encryption: "kms"`); unset: AWS-managed encryption. */
  readonly encryptionKey?: kms.IKey;
  /** The stage's `ledger.indexShards`: partitions per day and per open status (lambda/shared/ledger/index-shards.ts). */
  readonly indexShards: number;
}

/**
 * The vault's ledger, the `recordings` table: one item per RecordingSid, the source of truth of
 * every copy (claim, status, key, size, SHA-256, erasure). On-demand, point-in-time recovery,
 * deletion protection and retention where the stage retains data.
 *
 * Its day and open-status indexes are sharded so that no partition key takes more than its share
 * of a day's writes; the hold index is small and sparse. All three project only what GET
 * /recordings shows: a lease renewal, a note or an event mark writes none of them.
 */
export class RecordingsLedger extends Construct {
  readonly table: dynamodb.Table;
  readonly dayIndexName = LEDGER_BY_DAY_INDEX;
  readonly openStatusIndexName = LEDGER_BY_OPEN_STATUS_INDEX;
  readonly holdIndexName = LEDGER_BY_HOLD_INDEX;
  readonly indexShards: number;

  constructor(scope: Construct, id: string, props: RecordingsLedgerProps) {
    super(scope, id);
    this.indexShards = props.indexShards;
    this.table = new dynamodb.Table(this, 'Table', {
      partitionKey: { name: 'recordingSid', type: dynamodb.AttributeType.STRING },
      ...vaultTableStorage(props),
    });
    const indexes = [
      [LEDGER_BY_DAY_INDEX, 'dayShard'],
      [LEDGER_BY_OPEN_STATUS_INDEX, 'openStatus'],
      [LEDGER_BY_HOLD_INDEX, 'holdState'],
    ] as const;
    for (const [indexName, partitionKey] of indexes) {
      this.table.addGlobalSecondaryIndex({
        indexName,
        partitionKey: { name: partitionKey, type: dynamodb.AttributeType.STRING },
        sortKey: { name: 'startedAt', type: dynamodb.AttributeType.STRING },
        projectionType: dynamodb.ProjectionType.INCLUDE,
        nonKeyAttributes: [...INDEX_PROJECTED_ATTRIBUTES],
      });
    }
  }

  /** ARN of the day index (for Query permissions without an index wildcard). */
  dayIndexArn(): string {
    return `${this.table.tableArn}/index/${LEDGER_BY_DAY_INDEX}`;
  }

  /** ARN of the open-status index. */
  openStatusIndexArn(): string {
    return `${this.table.tableArn}/index/${LEDGER_BY_OPEN_STATUS_INDEX}`;
  }

  /** ARN of the hold index. */
  holdIndexArn(): string {
    return `${this.table.tableArn}/index/${LEDGER_BY_HOLD_INDEX}`;
  }
}
