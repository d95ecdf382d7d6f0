import {
  BatchGetCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  UpdateCommand,
  type UpdateCommandInput,
} from '@aws-sdk/lib-dynamodb';
import type { JobOrigin } from '../job/recording-job';
import { conditionalUpdate, isConditionFailed } from '../runtime/dynamo-conditions';
import type { EncryptionDetails } from '../twilio/encryption-details';
import { DEFAULT_INDEX_SHARDS, dayShardKey, openStatusKey, shardOf } from './index-shards';

export type { JobOrigin };

/**
 * The vault's ledger: the `recordings` table, one item per RecordingSid, the source of truth for
 * each recording. The call item, the events and the listings are projections of it. Every write
 * is conditional, so that a duplicate, a late or an out-of-order job can never undo a state.
 *
 * This module holds the ledger's item and statuses and the copy lifecycle the transfer writes
 * (claim, lease, stored, failed, notes). Its indexes are read by `day-index.ts`; its erasure
 * writes are `ledger-erasure.ts`.
 */

export const LEDGER_STATUSES = ['transferring', 'stored', 'failed', 'absent', 'erasing', 'erased', 'expired'] as const;
export type LedgerStatus = (typeof LEDGER_STATUSES)[number];

export interface LedgerItem {
  readonly recordingSid: string;
  /** The app's call item this recording is projected onto; absent for a recording without a CallSid. */
  readonly callId?: string;
  /** Absent only for a conference recording Twilio reported without a CallSid. */
  readonly callSid?: string;
  /** The conference recorded (`CF…`), for a conference recording. */
  readonly conferenceSid?: string;
  readonly accountSid?: string;
  readonly status: LedgerStatus;
  readonly origin?: JobOrigin;
  readonly bucket?: string;
  readonly key?: string;
  readonly contentType?: string;
  readonly sizeBytes?: number;
  readonly sha256?: string;
  readonly durationSeconds?: number;
  readonly channels?: number;
  readonly source?: string;
  /** Voice Recording Encryption: what decrypts the stored ciphertext (with the private key). */
  readonly encryption?: EncryptionDetails;
  readonly startedAt: string;
  /** `YYYY-MM-DD` of `startedAt` (UTC). */
  readonly day: string;
  /** `day#n`: the partition of the `byDayShard` index (index-shards.ts). */
  readonly dayShard?: string;
  /** `status#n` while `transferring`, `erasing` or `failed`, else absent: the sparse `byOpenStatus` index. */
  readonly openStatus?: string;
  readonly storedAt?: string;
  readonly errorCode?: string;
  readonly error?: string;
  readonly deletedAtTwilioAt?: string;
  readonly storedEventAt?: string;
  /** While `Recording Stored` is being sent (epoch ms): no erasure begins before then (see `beginStoredEvent`). */
  readonly announcingUntil?: number;
  readonly erasedAt?: string;
  readonly erasedBy?: string;
  /** Erased by the retention sweep (status `expired`): when. */
  readonly expiredAt?: string;
  /** A legal hold (ledger-hold.ts): while set, nothing erases the recording. */
  readonly hold?: LegalHold;
  /** When `Recording Held` went out for the current hold (its `at`); unset until then, removed on release. */
  readonly heldEventAt?: string;
  /** A release whose `Recording Released` could not be published: the next DELETE …/hold sends it. */
  readonly releaseToAnnounce?: LegalHold;
  /**
   * Keys the sparse `byHold` index: `held` while on hold (GET /recordings?hold=true reads those);
   * `released` once released, until the recording is erased or expired. Unset otherwise.
   */
  readonly holdState?: HoldState;
  readonly notes?: string[];
  readonly updatedAt: string;
  /** While `transferring`: who holds the claim and until when (epoch ms). */
  readonly claimId?: string;
  readonly leaseExpiresAt?: number;
}

/** Who put a recording on hold, when and why. */
export interface LegalHold {
  /** The caller (callerOf: IAM principal ARN, JWT `sub`, or the local principal). */
  readonly by: string;
  readonly at: string;
  readonly reason: string;
}

export const HOLD_STATES = ['held', 'released'] as const;
export type HoldState = (typeof HOLD_STATES)[number];

/** What a job knows of its recording when it claims it. */
export interface RecordingFacts {
  readonly recordingSid: string;
  /** Set with `callSid`: a recording without a CallSid has no call item. */
  readonly callId?: string | undefined;
  readonly callSid?: string | undefined;
  readonly conferenceSid?: string | undefined;
  readonly accountSid: string;
  readonly startedAt: string;
  readonly durationSeconds?: number | undefined;
  readonly channels?: number | undefined;
  readonly source?: string | undefined;
  readonly encryption?: EncryptionDetails | undefined;
  readonly origin: JobOrigin;
}

export type ClaimOutcome =
  | { readonly result: 'claimed'; readonly item: LedgerItem }
  | { readonly result: 'stored'; readonly item: LedgerItem }
  | { readonly result: 'erased'; readonly item: LedgerItem }
  | { readonly result: 'busy'; readonly item: LedgerItem | undefined }
  /** The ledger holds this RecordingSid under another CallSid: one recording, one copy. */
  | { readonly result: 'other-call'; readonly item: LedgerItem };

export interface StoredCopy {
  readonly bucket: string;
  readonly key: string;
  readonly contentType: string;
  readonly sizeBytes: number;
  readonly sha256: string;
}

export interface TwilioFailure {
  readonly status: 'failed' | 'absent';
  readonly errorCode?: string | undefined;
  readonly error: string;
}

/** A status that no later job may replace by copying again. */
const FINAL_STATUSES: readonly LedgerStatus[] = ['stored', 'erasing', 'erased', 'expired'];

/**
 * How long sending `Recording Stored` may hold off an erasure. Far longer than a PutEvents call
 * with its retries; a sender that died lets go when it runs out.
 */
export const ANNOUNCE_HOLD_SECONDS = 60;

/** BatchGetItem takes at most 100 keys. */
const BATCH_GET_LIMIT = 100;

export function dayOf(isoTime: string): string {
  return isoTime.slice(0, 10);
}

export interface LedgerIndexOptions {
  /** The stage's `ledger.indexShards`: partitions per day (and per open status) of the ledger's indexes. */
  readonly indexShards?: number;
}

export class RecordingLedger {
  private readonly indexShards: number;

  constructor(
    private readonly db: DynamoDBDocumentClient,
    readonly tableName: string,
    options: LedgerIndexOptions = {},
  ) {
    this.indexShards = options.indexShards ?? DEFAULT_INDEX_SHARDS;
  }

  /** The partition of the day index a recording goes to. */
  private dayShard(recordingSid: string, startedAt: string): string {
    return dayShardKey(dayOf(startedAt), shardOf(recordingSid, this.indexShards));
  }

  /** The partition of the open-status index a recording goes to while in `status`. */
  private openStatus(recordingSid: string, status: 'transferring' | 'failed'): string {
    return openStatusKey(status, shardOf(recordingSid, this.indexShards));
  }

  async get(recordingSid: string): Promise<LedgerItem | undefined> {
    const result = await this.db.send(
      new GetCommand({ TableName: this.tableName, Key: { recordingSid }, ConsistentRead: true }),
    );
    return result.Item as LedgerItem | undefined;
  }

  /**
   * The status of each of `recordingSids` the ledger knows (absent from the map: unknown), in
   * batches of 100 keys, retrying what DynamoDB leaves unprocessed.
   */
  async statuses(recordingSids: readonly string[]): Promise<Map<string, LedgerStatus>> {
    const found = new Map<string, LedgerStatus>();
    const projection = {
      ProjectionExpression: 'recordingSid, #status',
      ExpressionAttributeNames: { '#status': 'status' },
    };
    for (const item of await this.batchGet(recordingSids, projection)) found.set(item.recordingSid, item.status);
    return found;
  }

  /**
   * The whole ledger item of each of `recordingSids` the ledger knows (absent from the map:
   * unknown), batched like `statuses`: what the read and erasure routes take keys from.
   */
  async items(recordingSids: readonly string[]): Promise<Map<string, LedgerItem>> {
    const found = new Map<string, LedgerItem>();
    for (const item of await this.batchGet(recordingSids)) found.set(item.recordingSid, item);
    return found;
  }

  private async batchGet(
    recordingSids: readonly string[],
    projection:
      | { ProjectionExpression: string; ExpressionAttributeNames: Record<string, string> }
      | undefined = undefined,
  ): Promise<LedgerItem[]> {
    const found: LedgerItem[] = [];
    const unique = [...new Set(recordingSids)];
    for (let start = 0; start < unique.length; start += BATCH_GET_LIMIT) {
      let keys: Record<string, unknown>[] = unique
        .slice(start, start + BATCH_GET_LIMIT)
        .map((recordingSid) => ({ recordingSid }));
      for (let round = 0; keys.length > 0; round++) {
        if (round > 0) await new Promise((resolve) => setTimeout(resolve, Math.min(1000, 50 * 2 ** round)));
        if (round > 8) throw new Error('DynamoDB left keys unprocessed after 8 retries');
        const result = await this.db.send(
          new BatchGetCommand({ RequestItems: { [this.tableName]: { Keys: keys, ...projection } } }),
        );
        found.push(...((result.Responses?.[this.tableName] ?? []) as LedgerItem[]));
        keys = (result.UnprocessedKeys?.[this.tableName]?.Keys ?? []) as Record<string, unknown>[];
      }
    }
    return found;
  }

  /**
   * Takes the right to copy one recording: one copy per RecordingSid at a time, whichever job
   * asks. A stored or erased recording is never claimed again; a claim whose lease ran out is
   * taken over; a failed or absent one may be copied (a redrive). The first claim fixes the
   * recording's call, start time (and so its S3 key) for good: a job naming a CallSid for a
   * recording first entered without one (a conference recording) claims it as it stands.
   */
  async claim(facts: RecordingFacts, claimId: string, leaseSeconds: number, now: Date): Promise<ClaimOutcome> {
    const nowIso = now.toISOString();
    const sids = sidAttributes(facts);
    try {
      const result = await this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { recordingSid: facts.recordingSid },
          UpdateExpression: [
            'SET #status = :transferring, claimId = :claimId, leaseExpiresAt = :lease, updatedAt = :now',
            ...sids.sets,
            'accountSid = if_not_exists(accountSid, :accountSid), origin = if_not_exists(origin, :origin)',
            'startedAt = if_not_exists(startedAt, :startedAt), #day = if_not_exists(#day, :day)',
            'dayShard = if_not_exists(dayShard, :dayShard), openStatus = :open',
            ...(facts.durationSeconds !== undefined ? ['durationSeconds = :duration'] : []),
            ...(facts.channels !== undefined ? ['channels = :channels'] : []),
            ...(facts.source !== undefined ? ['#source = :source'] : []),
            ...(facts.encryption !== undefined ? ['encryption = :encryption'] : []),
          ].join(', '),
          ConditionExpression:
            `${facts.callSid !== undefined ? '(attribute_not_exists(recordingSid) OR callSid = :callSid) AND ' : ''}(` +
            'attribute_not_exists(#status) OR #status = :failed OR #status = :absent OR ' +
            '(#status = :transferring AND (claimId = :claimId OR leaseExpiresAt < :nowMs)))',
          ExpressionAttributeNames: {
            '#status': 'status',
            '#day': 'day',
            ...(facts.source !== undefined ? { '#source': 'source' } : {}),
          },
          ExpressionAttributeValues: {
            ':transferring': 'transferring',
            ':failed': 'failed',
            ':absent': 'absent',
            ':claimId': claimId,
            ':lease': now.getTime() + leaseSeconds * 1000,
            ':nowMs': now.getTime(),
            ':now': nowIso,
            ...sids.values,
            ':accountSid': facts.accountSid,
            ':origin': facts.origin,
            ':startedAt': facts.startedAt,
            ':day': dayOf(facts.startedAt),
            ':dayShard': this.dayShard(facts.recordingSid, facts.startedAt),
            ':open': this.openStatus(facts.recordingSid, 'transferring'),
            ...(facts.durationSeconds !== undefined ? { ':duration': facts.durationSeconds } : {}),
            ...(facts.channels !== undefined ? { ':channels': facts.channels } : {}),
            ...(facts.source !== undefined ? { ':source': facts.source } : {}),
            ...(facts.encryption !== undefined ? { ':encryption': { ...facts.encryption } } : {}),
          },
          ReturnValues: 'ALL_NEW',
        }),
      );
      return { result: 'claimed', item: result.Attributes as LedgerItem };
    } catch (error) {
      if (!isConditionFailed(error)) throw error;
    }
    const item = await this.get(facts.recordingSid);
    if (!item) return { result: 'busy', item };
    if (item.status === 'stored') return { result: 'stored', item };
    if (item.status === 'erased' || item.status === 'erasing' || item.status === 'expired') {
      return { result: 'erased', item };
    }
    if (facts.callSid !== undefined && item.callSid === undefined) {
      // First entered without a CallSid: its key and projection stay as that claim fixed them.
      return this.claim({ ...facts, callSid: undefined, callId: undefined }, claimId, leaseSeconds, now);
    }
    if (facts.callSid !== undefined && item.callSid !== facts.callSid) {
      await this.addNote(
        facts.recordingSid,
        `${nowIso} a job named CallSid ${facts.callSid} for this recording of ${item.callSid}; nothing copied`,
        now,
      );
      return { result: 'other-call', item };
    }
    return { result: 'busy', item };
  }

  /** Extends a live claim; false when the claim is no longer this job's (taken over, stored, erased). */
  async renewLease(recordingSid: string, claimId: string, leaseSeconds: number, now: Date): Promise<boolean> {
    return this.updateIf({
      Key: { recordingSid },
      UpdateExpression: 'SET leaseExpiresAt = :lease',
      ConditionExpression: '#status = :transferring AND claimId = :claimId',
      ExpressionAttributeNames: { '#status': 'status' },
      ExpressionAttributeValues: {
        ':lease': now.getTime() + leaseSeconds * 1000,
        ':transferring': 'transferring',
        ':claimId': claimId,
      },
    });
  }

  /**
   * An attempt failed and waits for its retry: its lease ends now, so that nothing (an erasure, a
   * duplicate job) waits for a copy that is not running. The claim stays the job's: its retry takes
   * it back by `claimId`. False when the claim is no longer this job's.
   */
  async releaseLease(recordingSid: string, claimId: string, now: Date): Promise<boolean> {
    return this.updateIf({
      Key: { recordingSid },
      UpdateExpression: 'SET leaseExpiresAt = :released',
      ConditionExpression: '#status = :transferring AND claimId = :claimId',
      ExpressionAttributeNames: { '#status': 'status' },
      // Lapsed (strictly before now): `claim` and `markErasing` take over a lease below their now.
      ExpressionAttributeValues: {
        ':released': now.getTime() - 1,
        ':transferring': 'transferring',
        ':claimId': claimId,
      },
    });
  }

  /**
   * Records a verified copy. Only the job holding the claim may; a repeat of the same write
   * (a retry after a lost answer) finds the same copy stored and succeeds. Anything else means
   * the claim was lost and returns undefined.
   */
  async markStored(
    recordingSid: string,
    claimId: string,
    copy: StoredCopy,
    now: Date,
  ): Promise<LedgerItem | undefined> {
    try {
      const result = await this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { recordingSid },
          UpdateExpression:
            'SET #status = :stored, #bucket = :bucket, #key = :key, contentType = :contentType, sizeBytes = :size, ' +
            'sha256 = :sha256, storedAt = :now, updatedAt = :now REMOVE claimId, leaseExpiresAt, errorCode, #error, openStatus',
          ConditionExpression: '#status = :transferring AND claimId = :claimId',
          ExpressionAttributeNames: { '#status': 'status', '#bucket': 'bucket', '#key': 'key', '#error': 'error' },
          ExpressionAttributeValues: {
            ':stored': 'stored',
            ':transferring': 'transferring',
            ':claimId': claimId,
            ':bucket': copy.bucket,
            ':key': copy.key,
            ':contentType': copy.contentType,
            ':size': copy.sizeBytes,
            ':sha256': copy.sha256,
            ':now': now.toISOString(),
          },
          ReturnValues: 'ALL_NEW',
        }),
      );
      return result.Attributes as LedgerItem;
    } catch (error) {
      if (!isConditionFailed(error)) throw error;
    }
    const item = await this.get(recordingSid);
    return item?.status === 'stored' && item.key === copy.key && item.sha256 === copy.sha256 ? item : undefined;
  }

  /**
   * Twilio reported the recording `absent` or `failed`. Entered only where nothing better is
   * known: never over a live or dead claim, a stored copy or an erasure; those get a note.
   * Returns whether the ledger now says so (false for a repeat or a note).
   */
  async recordTwilioFailure(
    facts: Omit<RecordingFacts, 'origin'>,
    failure: TwilioFailure,
    now: Date,
  ): Promise<{ recorded: boolean; item: LedgerItem | undefined }> {
    const nowIso = now.toISOString();
    const sids = sidAttributes(facts);
    try {
      const result = await this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { recordingSid: facts.recordingSid },
          UpdateExpression:
            'SET #status = :status, errorCode = :errorCode, #error = :error, updatedAt = :now, ' +
            sids.sets.map((set) => `${set}, `).join('') +
            'accountSid = if_not_exists(accountSid, :accountSid), origin = if_not_exists(origin, :origin), ' +
            'startedAt = if_not_exists(startedAt, :startedAt), #day = if_not_exists(#day, :day), ' +
            'dayShard = if_not_exists(dayShard, :dayShard)' +
            (failure.status === 'failed' ? ', openStatus = :open' : '') +
            (facts.durationSeconds !== undefined ? ', durationSeconds = :duration' : '') +
            (facts.channels !== undefined ? ', channels = :channels' : '') +
            // `absent` is final: out of the open-status index.
            (failure.status === 'failed' ? '' : ' REMOVE openStatus'),
          ConditionExpression:
            'attribute_not_exists(recordingSid) OR (#status <> :status AND (#status = :failed OR #status = :absent))',
          ExpressionAttributeNames: { '#status': 'status', '#error': 'error', '#day': 'day' },
          ExpressionAttributeValues: {
            ':status': failure.status,
            ':failed': 'failed',
            ':absent': 'absent',
            ':errorCode': failure.errorCode ?? 'none',
            ':error': failure.error,
            ':now': nowIso,
            ...sids.values,
            ':accountSid': facts.accountSid,
            ':origin': 'callback',
            ':startedAt': facts.startedAt,
            ':day': dayOf(facts.startedAt),
            ':dayShard': this.dayShard(facts.recordingSid, facts.startedAt),
            ...(failure.status === 'failed' ? { ':open': this.openStatus(facts.recordingSid, 'failed') } : {}),
            ...(facts.durationSeconds !== undefined ? { ':duration': facts.durationSeconds } : {}),
            ...(facts.channels !== undefined ? { ':channels': facts.channels } : {}),
          },
          ReturnValues: 'ALL_NEW',
        }),
      );
      return { recorded: true, item: result.Attributes as LedgerItem };
    } catch (error) {
      if (!isConditionFailed(error)) throw error;
    }
    const item = await this.get(facts.recordingSid);
    if (item && item.status !== failure.status) {
      await this.addNote(
        facts.recordingSid,
        `${nowIso} Twilio reported ${failure.status}${failure.errorCode ? ` (${failure.errorCode})` : ''} while the ledger said ${item.status}; kept ${item.status}`,
        now,
      );
    }
    return { recorded: false, item };
  }

  /**
   * A job gave up (permanent error or its last attempt). Only the job's own claim, or a recording
   * never claimed, turns `failed`: a copy stored or erased meanwhile stays so.
   */
  async markFailed(
    recordingSid: string,
    claimId: string | undefined,
    failure: { readonly errorCode: string; readonly error: string },
    now: Date,
  ): Promise<LedgerItem | undefined> {
    try {
      const result = await this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { recordingSid },
          UpdateExpression:
            'SET #status = :failed, errorCode = :errorCode, #error = :error, updatedAt = :now, openStatus = :open ' +
            'REMOVE claimId, leaseExpiresAt',
          ConditionExpression:
            'attribute_exists(recordingSid) AND (#status = :failed OR (#status = :transferring AND claimId = :claimId))',
          ExpressionAttributeNames: { '#status': 'status', '#error': 'error' },
          ExpressionAttributeValues: {
            ':failed': 'failed',
            ':transferring': 'transferring',
            ':claimId': claimId ?? '-',
            ':errorCode': failure.errorCode,
            ':error': failure.error,
            ':now': now.toISOString(),
            ':open': this.openStatus(recordingSid, 'failed'),
          },
          ReturnValues: 'ALL_NEW',
        }),
      );
      return result.Attributes as LedgerItem;
    } catch (error) {
      if (isConditionFailed(error)) return undefined;
      throw error;
    }
  }

  async markDeletedAtTwilio(recordingSid: string, now: Date): Promise<void> {
    await this.db.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: { recordingSid },
        UpdateExpression: 'SET deletedAtTwilioAt = :now, updatedAt = :now',
        ConditionExpression: 'attribute_exists(recordingSid)',
        ExpressionAttributeValues: { ':now': now.toISOString() },
      }),
    );
  }

  /**
   * Takes the right to send `Recording Stored`: only while the recording is stored and the event
   * has not gone out, and only one sender at a time. Until `markStoredEventSent` or
   * `endStoredEvent` (or ANNOUNCE_HOLD_SECONDS) no erasure begins, so the event can never follow
   * `Recording Erased`. False: not to be sent (erasure begun, already sent, or being sent).
   */
  async beginStoredEvent(recordingSid: string, now: Date): Promise<boolean> {
    return this.updateIf({
      Key: { recordingSid },
      UpdateExpression: 'SET announcingUntil = :until',
      ConditionExpression:
        '#status = :stored AND attribute_not_exists(storedEventAt) AND ' +
        '(attribute_not_exists(announcingUntil) OR announcingUntil < :nowMs)',
      ExpressionAttributeNames: { '#status': 'status' },
      ExpressionAttributeValues: {
        ':stored': 'stored',
        ':until': now.getTime() + ANNOUNCE_HOLD_SECONDS * 1000,
        ':nowMs': now.getTime(),
      },
    });
  }

  /** `Recording Stored` could not be sent: an erasure may begin; a later job sends it. */
  async endStoredEvent(recordingSid: string): Promise<void> {
    await this.updateIf({
      Key: { recordingSid },
      UpdateExpression: 'REMOVE announcingUntil',
      ConditionExpression: 'attribute_exists(recordingSid)',
    });
  }

  /** Remembers that `Recording Stored` went out, so a healing redelivery does not announce it again. */
  async markStoredEventSent(recordingSid: string, now: Date): Promise<void> {
    await this.updateIf({
      Key: { recordingSid },
      UpdateExpression: 'SET storedEventAt = :now REMOVE announcingUntil',
      ConditionExpression: '#status = :stored',
      ExpressionAttributeNames: { '#status': 'status' },
      ExpressionAttributeValues: { ':now': now.toISOString(), ':stored': 'stored' },
    });
  }

  /** Appends a line to the recording's `notes` (at most 50 kept in effect: older ones stay, newer are dropped). */
  async addNote(recordingSid: string, note: string, now: Date): Promise<void> {
    await this.updateIf({
      Key: { recordingSid },
      UpdateExpression: 'SET notes = list_append(if_not_exists(notes, :none), :note), updatedAt = :now',
      ConditionExpression: 'attribute_exists(recordingSid) AND (attribute_not_exists(notes) OR size(notes) < :max)',
      ExpressionAttributeValues: { ':none': [], ':note': [note.slice(0, 500)], ':now': now.toISOString(), ':max': 50 },
    });
  }

  /** A conditional update of the ledger: false when its condition did not hold. */
  private updateIf(input: Omit<UpdateCommandInput, 'TableName'>): Promise<boolean> {
    return conditionalUpdate(this.db, this.tableName, input);
  }
}

/**
 * The SIDs a job knows, each written only where the ledger has none yet: a CallSid with its call
 * id, a ConferenceSid. A job that knows no CallSid leaves the ledger's untouched.
 */
function sidAttributes(facts: Pick<RecordingFacts, 'callSid' | 'callId' | 'conferenceSid'>): {
  sets: string[];
  values: Record<string, string>;
} {
  const sets: string[] = [];
  const values: Record<string, string> = {};
  if (facts.callSid !== undefined) {
    sets.push('callSid = if_not_exists(callSid, :callSid)', 'callId = if_not_exists(callId, :callId)');
    values[':callSid'] = facts.callSid;
    values[':callId'] = facts.callId ?? facts.callSid;
  }
  if (facts.conferenceSid !== undefined) {
    sets.push('conferenceSid = if_not_exists(conferenceSid, :conferenceSid)');
    values[':conferenceSid'] = facts.conferenceSid;
  }
  return { sets, values };
}

export function isFinal(status: LedgerStatus | undefined): boolean {
  return status !== undefined && FINAL_STATUSES.includes(status);
}
