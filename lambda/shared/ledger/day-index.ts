import { type DynamoDBDocumentClient, QueryCommand } from '@aws-sdk/lib-dynamodb';
import type { LedgerItem, LedgerStatus } from './ledger';

/**
 * The ledger's `byDay` index, read for GET /recordings: one DynamoDB page of one day's recordings
 * at a time, projected to what the listing shows. Reads only; the paging across days, the order of
 * ties and the cursor are `recording-listing.ts`'s.
 */

/** What GET /recordings reads of a ledger item (and nothing else: no key, no claim, no notes). */
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
  'encryption',
] as const;

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
      | 'encryption'
    >
  >;

export interface DayQuery {
  /** `YYYY-MM-DD`: the index partition. */
  readonly day: string;
  /** Lowest `startedAt`, inclusive. */
  readonly from: string;
  /** Highest `startedAt`, inclusive. */
  readonly through: string;
  readonly status?: LedgerStatus | undefined;
  /** Items DynamoDB evaluates (before the status filter) in this page. */
  readonly limit: number;
  readonly exclusiveStartKey?: Record<string, unknown> | undefined;
}

export interface DayPage {
  readonly items: ListedLedgerItem[];
  /** Set when the day has more: where this page stopped reading. */
  readonly lastEvaluatedKey: (Record<string, unknown> & { readonly startedAt?: string }) | undefined;
}

export class LedgerDayIndex {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    readonly tableName: string,
    /** The ledger's GSI partitioned by `day`, sorted by `startedAt` (`byDay` in the stack). */
    readonly indexName: string,
  ) {}

  /**
   * One DynamoDB page of the `byDay` index: the recordings of `day` whose `startedAt` lies in
   * [`from`, `through`] (both inclusive, ISO strings), oldest first, optionally only those with
   * `status`. Recordings that share a `startedAt` come in no defined order; the caller orders them.
   * `lastEvaluatedKey` (with its `startedAt`) says how far the index was read, filtered items included.
   */
  async queryDay(query: DayQuery): Promise<DayPage> {
    const result = await this.db.send(
      new QueryCommand({
        TableName: this.tableName,
        IndexName: this.indexName,
        KeyConditionExpression: '#day = :day AND startedAt BETWEEN :from AND :through',
        ...(query.status !== undefined ? { FilterExpression: '#status = :status' } : {}),
        ProjectionExpression: LISTED_ATTRIBUTES.map((name) => `#p_${name}`).join(', '),
        ExpressionAttributeNames: {
          '#day': 'day',
          ...(query.status !== undefined ? { '#status': 'status' } : {}),
          ...Object.fromEntries(LISTED_ATTRIBUTES.map((name) => [`#p_${name}`, name])),
        },
        ExpressionAttributeValues: {
          ':day': query.day,
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
      lastEvaluatedKey: result.LastEvaluatedKey as DayPage['lastEvaluatedKey'],
    };
  }
}
