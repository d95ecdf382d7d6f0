import { type DynamoDBDocumentClient, QueryCommand } from '@aws-sdk/lib-dynamodb';
import {
  DAY_SHARD_INDEX,
  DEFAULT_INDEX_SHARDS,
  HELD_PARTITION,
  HOLD_INDEX,
  OPEN_STATUS_INDEX,
  type OpenStatus,
  partitionsOf,
} from './index-shards';
import type { LedgerItem, LedgerStatus } from './ledger';

/**
 * The ledger's indexes, read for GET /recordings: one DynamoDB page of one index partition at a
 * time (a shard of a day in `byDayShard`, a shard of an open status in `byOpenStatus`, the held
 * recordings in `byHold`), projected
 * to what the listing shows. Reads only; merging the shards, paging across days, the order of ties
 * and the cursor are `lambda/recordings-read/listing.ts`'s.
 */

/**
 * What GET /recordings reads of a ledger item (and nothing else: no key, no claim, no notes). The
 * indexes project exactly these (lib/constructs/recordings-ledger.ts, lib/local/resources.ts).
 */
export const LISTED_ATTRIBUTES = [
  'recordingSid',
  'callId',
  'callSid',
  'conferenceSid',
  'accountSid',
  'status',
  'startedAt',
  'durationSeconds',
  'channels',
  'source',
  'sizeBytes',
  'sha256',
  'contentType',
  'storedAt',
  'erasedAt',
  'expiredAt',
  'encryption',
  'hold',
] as const;

/** What the indexes project besides their keys and the table's (recordingSid, startedAt, the partition). */
export const INDEX_PROJECTED_ATTRIBUTES: readonly string[] = LISTED_ATTRIBUTES.filter(
  (name) => name !== 'recordingSid' && name !== 'startedAt',
);

export type ListedLedgerItem = Pick<LedgerItem, 'recordingSid' | 'callSid' | 'status' | 'startedAt'> &
  Partial<
    Pick<
      LedgerItem,
      | 'callId'
      | 'conferenceSid'
      | 'accountSid'
      | 'durationSeconds'
      | 'channels'
      | 'source'
      | 'sizeBytes'
      | 'sha256'
      | 'contentType'
      | 'storedAt'
      | 'erasedAt'
      | 'expiredAt'
      | 'encryption'
      | 'hold'
    >
  >;

export type LedgerIndex = 'day' | 'open' | 'hold';

/** Each index's partition key. */
const PARTITION_KEY: Readonly<Record<LedgerIndex, string>> = { day: 'dayShard', open: 'openStatus', hold: 'holdState' };

/** One page of one partition of an index. */
export interface PartitionQuery {
  /**
   * `day`: a shard of a day in `byDayShard`; `open`: a shard of an open status in `byOpenStatus`;
   * `hold`: the held recordings in `byHold`.
   */
  readonly index: LedgerIndex;
  /** `2024-07-22#3`, `failed#3` (from `partitionsOf`), `held`. */
  readonly partition: string;
  /** Lowest `startedAt`, inclusive. */
  readonly from: string;
  /** Highest `startedAt`, inclusive. */
  readonly through: string;
  /** Only recordings with this status (filtered after reading: `limit` counts the others too). */
  readonly status?: LedgerStatus | undefined;
  /** Items DynamoDB evaluates (before the status filter) in this page. */
  readonly limit: number;
  readonly exclusiveStartKey?: Record<string, unknown> | undefined;
}

export interface PartitionPage {
  readonly items: ListedLedgerItem[];
  /** Set when the partition has more: where this page stopped reading. */
  readonly lastEvaluatedKey: (Record<string, unknown> & { readonly startedAt?: string }) | undefined;
}

export interface LedgerIndexNames {
  /** The GSI by `dayShard` and `startedAt` (`byDayShard`). */
  readonly dayIndexName?: string;
  /** The sparse GSI by `openStatus` and `startedAt` (`byOpenStatus`). */
  readonly openStatusIndexName?: string;
  /** The sparse GSI by `holdState` and `startedAt` (`byHold`). */
  readonly holdIndexName?: string;
  /** The stage's `ledger.indexShards`. */
  readonly indexShards?: number;
}

export class LedgerDayIndex {
  readonly dayIndexName: string;
  readonly openStatusIndexName: string;
  readonly holdIndexName: string;
  readonly indexShards: number;

  constructor(
    private readonly db: DynamoDBDocumentClient,
    readonly tableName: string,
    names: LedgerIndexNames = {},
  ) {
    this.dayIndexName = names.dayIndexName ?? DAY_SHARD_INDEX;
    this.openStatusIndexName = names.openStatusIndexName ?? OPEN_STATUS_INDEX;
    this.holdIndexName = names.holdIndexName ?? HOLD_INDEX;
    this.indexShards = names.indexShards ?? DEFAULT_INDEX_SHARDS;
  }

  /** The partitions holding the recordings of `day`. */
  dayPartitions(day: string): string[] {
    return partitionsOf(day, this.indexShards);
  }

  /** The partitions holding the recordings in `status`. */
  openPartitions(status: OpenStatus): string[] {
    return partitionsOf(status, this.indexShards);
  }

  /** The partitions holding the recordings on legal hold (one). */
  holdPartitions(): string[] {
    return [HELD_PARTITION];
  }

  /**
   * One DynamoDB page of one partition: its recordings whose `startedAt` lies in [`from`,
   * `through`] (both inclusive, ISO strings), oldest first, optionally only those with `status`.
   * Recordings that share a `startedAt` come in no defined order; the caller orders them.
   * `lastEvaluatedKey` (with its `startedAt`) says how far the partition was read, filtered items included.
   */
  async queryPartition(query: PartitionQuery): Promise<PartitionPage> {
    const key = PARTITION_KEY[query.index];
    const indexName = { day: this.dayIndexName, open: this.openStatusIndexName, hold: this.holdIndexName }[query.index];
    const result = await this.db.send(
      new QueryCommand({
        TableName: this.tableName,
        IndexName: indexName,
        KeyConditionExpression: '#partition = :partition AND startedAt BETWEEN :from AND :through',
        ...(query.status !== undefined ? { FilterExpression: '#status = :status' } : {}),
        ProjectionExpression: LISTED_ATTRIBUTES.map((name) => `#p_${name}`).join(', '),
        ExpressionAttributeNames: {
          '#partition': key,
          ...(query.status !== undefined ? { '#status': 'status' } : {}),
          ...Object.fromEntries(LISTED_ATTRIBUTES.map((name) => [`#p_${name}`, name])),
        },
        ExpressionAttributeValues: {
          ':partition': query.partition,
          ':from': query.from,
          ':through': query.through,
          ...(query.status !== undefined ? { ':status': query.status } : {}),
        },
        Limit: query.limit,
        ...(query.exclusiveStartKey ? { ExclusiveStartKey: query.exclusiveStartKey } : {}),
      }),
    );
    return {
      items: (result.Items ?? []) as ListedLedgerItem[],
      lastEvaluatedKey: result.LastEvaluatedKey as PartitionPage['lastEvaluatedKey'],
    };
  }
}
