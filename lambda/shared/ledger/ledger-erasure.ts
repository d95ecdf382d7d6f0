import { type DynamoDBDocumentClient, GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { conditionalUpdate, isConditionFailed } from '../runtime/dynamo-conditions';
import { DEFAULT_INDEX_SHARDS, dayShardKey, openStatusKey, shardOf } from './index-shards';
import { dayOf, type LedgerIndexOptions, type LedgerItem } from './ledger';

/**
 * The ledger's erasure writes (DELETE /calls/{callId}/recordings/{recordingSid}): `erasing`, which
 * stops every copy, then `erased`, then the note that `Recording Erased` went out. Conditional like
 * every ledger write, so that a repeated or concurrent DELETE resumes instead of undoing.
 */

/** Ledger attributes an erasure adds. */
export interface ErasureFields {
  readonly erasedEventAt?: string;
  /** Until when (epoch ms) the erasure's event is being sent by the request that erased it. */
  readonly announcingErasureUntil?: number;
}

/**
 * How long the request that erased a recording owns its `Recording Erased`/`Expired` before a
 * repeat may send it instead: longer than the erasure route's and the sweep's erasure step.
 */
export const ERASURE_ANNOUNCE_LEASE_MS = 60_000;

/**
 * The end of an erasure: `won` for the one request whose write turned the ledger final (it alone
 * announces and is audited as having erased it); a request that lost the race gets the item as
 * the winner left it.
 */
export interface ErasureFinish {
  readonly won: boolean;
  readonly item: LedgerItem & ErasureFields;
}

/**
 * What the call item knows of a recording, for a ledger item the erasure must create. Without
 * `callId` (a recording erased by its SID that has no call) only a ledger item without a call
 * is marked.
 */
export interface ErasureSeed {
  readonly callId?: string | undefined;
  readonly callSid?: string | undefined;
  readonly startedAt?: string | undefined;
  readonly key?: string | undefined;
  readonly bucket?: string | undefined;
}

export class LedgerErasure {
  private readonly indexShards: number;

  constructor(
    private readonly db: DynamoDBDocumentClient,
    readonly tableName: string,
    options: LedgerIndexOptions = {},
  ) {
    this.indexShards = options.indexShards ?? DEFAULT_INDEX_SHARDS;
  }

  /**
   * Marks the recording `erasing`, which no copy, callback, redrive or reconciliation gets past
   * (`claim` refuses it). Allowed from stored, failed, absent, erasing (an erasure cut short) and
   * from a claim whose lease ran out; never over a live copy, a `Recording Stored` being sent or
   * an erased recording, never for another call. Without a ledger item (a call entry older than the ledger) the item is created
   * from `seed`. Returns the item, or undefined when the condition did not hold (read it again).
   */
  async markErasing(
    recordingSid: string,
    seed: ErasureSeed,
    now: Date,
  ): Promise<(LedgerItem & ErasureFields) | undefined> {
    const shard = shardOf(recordingSid, this.indexShards);
    const onCall = seed.callId !== undefined;
    // In the open-status index until erased: an erasure cut short is found with status=erasing.
    const sets = ['#status = :erasing', 'openStatus = :open', 'updatedAt = :now'];
    const values: Record<string, unknown> = {
      ':erasing': 'erasing',
      ':stored': 'stored',
      ':failed': 'failed',
      ':absent': 'absent',
      ':transferring': 'transferring',
      ':now': now.toISOString(),
      ':nowMs': now.getTime(),
      ':open': openStatusKey('erasing', shard),
    };
    if (onCall) {
      sets.push('callId = if_not_exists(callId, :callId)', 'callSid = if_not_exists(callSid, :callSid)');
      values[':callId'] = seed.callId;
      values[':callSid'] = seed.callSid ?? 'unknown';
    }
    if (seed.startedAt !== undefined) {
      sets.push(
        'startedAt = if_not_exists(startedAt, :startedAt)',
        '#day = if_not_exists(#day, :day)',
        'dayShard = if_not_exists(dayShard, :dayShard)',
      );
      values[':startedAt'] = seed.startedAt;
      values[':day'] = dayOf(seed.startedAt);
      values[':dayShard'] = dayShardKey(dayOf(seed.startedAt), shard);
    }
    if (seed.key !== undefined) {
      sets.push('#key = if_not_exists(#key, :key)');
      values[':key'] = seed.key;
    }
    if (seed.bucket !== undefined) {
      sets.push('#bucket = if_not_exists(#bucket, :bucket)');
      values[':bucket'] = seed.bucket;
    }
    try {
      const result = await this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { recordingSid },
          UpdateExpression: `SET ${sets.join(', ')} REMOVE claimId, leaseExpiresAt`,
          ConditionExpression:
            `${onCall ? 'attribute_not_exists(recordingSid) OR ' : 'attribute_exists(recordingSid) AND '}(` +
            // A legal hold (ledger-hold.ts) stops every erasure here, whatever was read before.
            'attribute_not_exists(#hold) AND ' +
            (onCall
              ? '(callId = :callId OR (attribute_not_exists(callId) AND callSid = :callSid)) AND ('
              : 'attribute_not_exists(callId) AND (') +
            '#status IN (:stored, :failed, :absent, :erasing) OR ' +
            '(#status = :transferring AND (attribute_not_exists(leaseExpiresAt) OR leaseExpiresAt < :nowMs))) AND ' +
            // Never while `Recording Stored` is being sent: it would follow `Recording Erased`.
            '(attribute_not_exists(announcingUntil) OR announcingUntil < :nowMs))',
          ExpressionAttributeNames: {
            '#status': 'status',
            '#hold': 'hold',
            ...(seed.startedAt !== undefined ? { '#day': 'day' } : {}),
            ...(seed.key !== undefined ? { '#key': 'key' } : {}),
            ...(seed.bucket !== undefined ? { '#bucket': 'bucket' } : {}),
          },
          ExpressionAttributeValues: values,
          ReturnValues: 'ALL_NEW',
        }),
      );
      return result.Attributes as LedgerItem & ErasureFields;
    } catch (error) {
      if (isConditionFailed(error)) return undefined;
      throw error;
    }
  }

  /**
   * `erasing` → `erased`, with who and when. Exactly one of concurrent erasures wins; the others
   * (and a repeat) get the item as it is, erased or expired, with `won: false`; undefined when the
   * ledger is in any other state.
   */
  async markErased(
    recordingSid: string,
    erasure: { readonly erasedAt: string; readonly erasedBy: string },
    now: Date,
  ): Promise<ErasureFinish | undefined> {
    return this.finish(
      recordingSid,
      'erased',
      'SET #status = :final, erasedAt = :erasedAt, erasedBy = :erasedBy',
      {
        ':erasedAt': erasure.erasedAt,
        ':erasedBy': erasure.erasedBy,
      },
      now,
    );
  }

  /**
   * `erasing` → `expired` (the retention sweep erased it), with `expiredAt`; one winner as markErased.
   */
  async markExpired(recordingSid: string, expiredAt: string, now: Date): Promise<ErasureFinish | undefined> {
    return this.finish(
      recordingSid,
      'expired',
      'SET #status = :final, expiredAt = :expiredAt',
      { ':expiredAt': expiredAt },
      now,
    );
  }

  /**
   * `erasing` → `final`; the item leaves the `byHold` and `byOpenStatus` indexes. Conditional on
   * `erasing`, so concurrent erasures (which all got past markErasing) have one winner, who owns
   * the event for a while (announcingErasureUntil).
   */
  private async finish(
    recordingSid: string,
    final: 'erased' | 'expired',
    set: string,
    values: Record<string, unknown>,
    now: Date,
  ): Promise<ErasureFinish | undefined> {
    try {
      const result = await this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { recordingSid },
          UpdateExpression: `${set}, updatedAt = :now, announcingErasureUntil = :until REMOVE holdState, openStatus`,
          ConditionExpression: '#status = :erasing',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: {
            ':final': final,
            ':erasing': 'erasing',
            ':now': now.toISOString(),
            ':until': now.getTime() + ERASURE_ANNOUNCE_LEASE_MS,
            ...values,
          },
          ReturnValues: 'ALL_NEW',
        }),
      );
      return { won: true, item: result.Attributes as LedgerItem & ErasureFields };
    } catch (error) {
      if (!isConditionFailed(error)) throw error;
    }
    const read = await this.db.send(
      new GetCommand({ TableName: this.tableName, Key: { recordingSid }, ConsistentRead: true }),
    );
    const item = read.Item as (LedgerItem & ErasureFields) | undefined;
    // Erased or expired by the concurrent request that won: this one erased nothing.
    return item?.status === 'erased' || item?.status === 'expired' ? { won: false, item } : undefined;
  }

  /**
   * The event of an erased recording that never went out (its request was cut short), taken over
   * by a repeat: true only when no event was sent and no request is sending it now.
   */
  async claimErasedAnnouncement(recordingSid: string, now: Date): Promise<boolean> {
    try {
      await this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { recordingSid },
          UpdateExpression: 'SET announcingErasureUntil = :until',
          ConditionExpression:
            '#status IN (:erased, :expired) AND attribute_not_exists(erasedEventAt) AND ' +
            '(attribute_not_exists(announcingErasureUntil) OR announcingErasureUntil < :nowMs)',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: {
            ':erased': 'erased',
            ':expired': 'expired',
            ':nowMs': now.getTime(),
            ':until': now.getTime() + ERASURE_ANNOUNCE_LEASE_MS,
          },
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailed(error)) return false;
      throw error;
    }
  }

  /** The event could not be sent: the next repeat may send it at once. */
  async releaseErasedAnnouncement(recordingSid: string): Promise<void> {
    await this.db.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: { recordingSid },
        UpdateExpression: 'REMOVE announcingErasureUntil',
        ConditionExpression: 'attribute_exists(recordingSid)',
      }),
    );
  }

  /** Remembers that `Recording Erased` (or `Recording Expired`) went out, so that a repeat does not announce it again. */
  async markErasedEventSent(recordingSid: string, now: Date): Promise<void> {
    await conditionalUpdate(this.db, this.tableName, {
      Key: { recordingSid },
      UpdateExpression: 'SET erasedEventAt = :now REMOVE announcingErasureUntil',
      ConditionExpression: '#status IN (:erased, :expired)',
      ExpressionAttributeNames: { '#status': 'status' },
      ExpressionAttributeValues: { ':now': now.toISOString(), ':erased': 'erased', ':expired': 'expired' },
    });
  }
}
