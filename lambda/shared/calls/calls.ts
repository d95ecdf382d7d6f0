import {
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
  type UpdateCommandInput,
} from '@aws-sdk/lib-dynamodb';
import { conditionalUpdate, isConditionFailed } from '../runtime/dynamo-conditions';
import type { EncryptionDetails } from '../twilio/encryption-details';

/**
 * The `calls` table. Items are the app's own; the pipeline writes only these attributes:
 * `recordings` (map by RecordingSid), the latest recording's `recordingKey`,
 * `recordingDurationSeconds`, `recordingStatus`, `notes` and `updatedAt`.
 * Every write is conditional or idempotent: a callback delivered twice leaves the same item.
 *
 * This module holds the call item and what the copies write on it; the erasure of a recording
 * from its call is `calls-erasure.ts`.
 */

export type RecordingEntryStatus = 'stored' | 'failed' | 'absent' | 'transferring' | 'erased';

export interface RecordingEntry {
  readonly status: RecordingEntryStatus;
  readonly bucket?: string;
  readonly key?: string;
  readonly contentType?: string;
  readonly sizeBytes?: number;
  /** Lowercase hex SHA-256 of the stored object's bytes, taken while they streamed. */
  readonly sha256?: string;
  readonly durationSeconds?: number;
  readonly channels?: number;
  readonly source?: string;
  /** Voice Recording Encryption: the stored object is ciphertext; these details decrypt it. */
  readonly encryption?: EncryptionDetails;
  readonly startedAt?: string;
  readonly storedAt?: string;
  readonly errorCode?: string;
  readonly error?: string;
  readonly erasedAt?: string;
}

export interface CallItem {
  readonly callId: string;
  readonly twilioCallSid?: string;
  readonly recordings?: Record<string, RecordingEntry>;
  readonly recordingKey?: string;
  readonly recordingDurationSeconds?: number;
  readonly recordingStatus?: string;
  readonly notes?: string[];
  readonly updatedAt?: string;
  readonly [attribute: string]: unknown;
}

export interface FailureDetails {
  readonly status: 'failed' | 'absent';
  readonly errorCode?: string | undefined;
  readonly error: string;
  readonly durationSeconds?: number | undefined;
  readonly channels?: number | undefined;
  readonly source?: string | undefined;
  readonly startedAt: string;
}

export const RECORDING_CALLBACK_ORIGIN = 'recording-callback';

/** What Twilio's call resource tells of a call the vault created an item for. */
export interface CallFacts {
  readonly from?: string | undefined;
  readonly to?: string | undefined;
  readonly direction?: string | undefined;
  readonly callStartedAt?: string | undefined;
}

export class CallsRepository {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    readonly tableName: string,
    readonly callSidIndexName: string,
  ) {}

  async getCall(callId: string): Promise<CallItem | undefined> {
    const result = await this.db.send(
      new GetCommand({ TableName: this.tableName, Key: { callId }, ConsistentRead: true }),
    );
    return result.Item as CallItem | undefined;
  }

  async findCallByTwilioSid(callSid: string): Promise<CallItem | undefined> {
    const result = await this.db.send(
      new QueryCommand({
        TableName: this.tableName,
        IndexName: this.callSidIndexName,
        KeyConditionExpression: 'twilioCallSid = :sid',
        ExpressionAttributeValues: { ':sid': callSid },
        Limit: 2,
      }),
    );
    return result.Items?.[0] as CallItem | undefined;
  }

  /**
   * The call item for `callSid`, found through the GSI. A CallSid that matches no item gets
   * an item of its own (`callId` = CallSid) so that the recording is kept and playable.
   */
  async resolveCall(callSid: string, now: Date): Promise<{ callId: string; created: boolean }> {
    const found = await this.findCallByTwilioSid(callSid);
    if (found) {
      if (!found.recordings) await this.ensureRecordingsMap(found.callId, now);
      return { callId: found.callId, created: false };
    }
    try {
      await this.db.send(
        new PutCommand({
          TableName: this.tableName,
          Item: {
            callId: callSid,
            twilioCallSid: callSid,
            origin: RECORDING_CALLBACK_ORIGIN,
            recordings: {},
            createdAt: now.toISOString(),
            updatedAt: now.toISOString(),
          },
          ConditionExpression: 'attribute_not_exists(callId)',
        }),
      );
      return { callId: callSid, created: true };
    } catch (error) {
      if (!isConditionFailed(error)) throw error;
      // Created meanwhile by a concurrent delivery of the same call.
      await this.ensureRecordingsMap(callSid, now);
      return { callId: callSid, created: false };
    }
  }

  private async ensureRecordingsMap(callId: string, now: Date): Promise<void> {
    await this.db.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: { callId },
        UpdateExpression: 'SET recordings = if_not_exists(recordings, :empty), updatedAt = :now',
        ConditionExpression: 'attribute_exists(callId)',
        ExpressionAttributeValues: { ':empty': {}, ':now': now.toISOString() },
      }),
    );
  }

  /**
   * Fills in what Twilio's call resource says of a call the vault had to create (`from` and `to`
   * in E.164, `direction`, `callStartedAt`), never overwriting what is there.
   */
  async addCallDetails(callId: string, details: CallFacts, now: Date): Promise<void> {
    const fields = Object.entries(details).filter(([, value]) => value !== undefined);
    if (fields.length === 0) return;
    const names: Record<string, string> = {};
    const values: Record<string, unknown> = { ':now': now.toISOString() };
    const sets = fields.map(([name, value], i) => {
      names[`#f${i}`] = name;
      values[`:f${i}`] = value;
      return `#f${i} = if_not_exists(#f${i}, :f${i})`;
    });
    await this.updateIf({
      Key: { callId },
      UpdateExpression: `SET ${sets.join(', ')}, updatedAt = :now`,
      ConditionExpression: 'attribute_exists(callId)',
      ExpressionAttributeNames: names,
      ExpressionAttributeValues: values,
    });
  }

  /** Shows a copy in progress on the call item; never over a stored or erased entry. */
  async markTransferring(callId: string, recordingSid: string, startedAt: string, now: Date): Promise<void> {
    await this.updateIf({
      Key: { callId },
      UpdateExpression: 'SET recordings.#sid = :entry, updatedAt = :now',
      ConditionExpression:
        'attribute_exists(callId) AND (attribute_not_exists(recordings.#sid) OR ' +
        '(recordings.#sid.#status <> :stored AND recordings.#sid.#status <> :erased))',
      ExpressionAttributeNames: { '#sid': recordingSid, '#status': 'status' },
      ExpressionAttributeValues: {
        ':entry': { status: 'transferring', startedAt },
        ':stored': 'stored',
        ':erased': 'erased',
        ':now': now.toISOString(),
      },
    });
  }

  /**
   * Records a stored recording and, if it is the call's latest, the single-recording fields, in
   * one write so that readers never see the entry without the fields (an older recording
   * stored late falls back to writing its entry alone).
   */
  async markStored(callId: string, recordingSid: string, entry: RecordingEntry, now: Date): Promise<void> {
    const latest = latestFields(recordingSid, entry, now);
    const storedAsLatest = await this.updateIf({
      Key: { callId },
      UpdateExpression: `SET recordings.#sid = :entry, ${latest.sets.join(', ')}${latest.remove}`,
      ConditionExpression: `attribute_exists(callId) AND ${NOT_ERASED} AND ${LATEST_CONDITION}`,
      ExpressionAttributeNames: { '#sid': recordingSid, '#status': 'status' },
      ExpressionAttributeValues: { ':entry': withoutUndefined(entry), ':erased': 'erased', ...latest.values },
    });
    if (storedAsLatest) return;
    await this.updateIf({
      Key: { callId },
      UpdateExpression: 'SET recordings.#sid = :entry, updatedAt = :now',
      ConditionExpression: `attribute_exists(callId) AND ${NOT_ERASED}`,
      ExpressionAttributeNames: { '#sid': recordingSid, '#status': 'status' },
      ExpressionAttributeValues: { ':entry': withoutUndefined(entry), ':erased': 'erased', ':now': now.toISOString() },
    });
  }

  /**
   * Records a recording that failed or was absent, with a line in `notes`. A repeated failure
   * report for the same recording changes nothing; a stored recording is never marked failed.
   */
  async markFailed(callId: string, recordingSid: string, failure: FailureDetails, now: Date): Promise<boolean> {
    const entry: RecordingEntry = withoutUndefined({
      status: failure.status,
      errorCode: failure.errorCode,
      error: failure.error,
      durationSeconds: failure.durationSeconds,
      channels: failure.channels,
      source: failure.source,
      startedAt: failure.startedAt,
    });
    const note = `${now.toISOString()} recording ${recordingSid} ${failure.status}${
      failure.errorCode ? ` (${failure.errorCode})` : ''
    }: ${failure.error}`;
    const recorded = await this.updateIf({
      Key: { callId },
      UpdateExpression:
        'SET recordings.#sid = :entry, updatedAt = :now, notes = list_append(if_not_exists(notes, :none), :note)',
      ConditionExpression:
        'attribute_exists(callId) AND (attribute_not_exists(recordings.#sid) OR ' +
        '(recordings.#sid.#status <> :stored AND recordings.#sid.#status <> :erased AND ' +
        'recordings.#sid.#status <> :failureStatus))',
      ExpressionAttributeNames: { '#sid': recordingSid, '#status': 'status' },
      ExpressionAttributeValues: {
        ':entry': entry,
        ':now': now.toISOString(),
        ':none': [],
        ':note': [note],
        ':stored': 'stored',
        ':erased': 'erased',
        ':failureStatus': failure.status,
      },
    });
    if (!recorded) return false;
    // The single-recording fields follow the recording that started last; a later one may already hold them.
    // Only while the entry still says so: a copy stored meanwhile (a redrive) keeps its fields.
    const latest = latestFields(recordingSid, entry, now);
    await this.updateIf({
      Key: { callId },
      UpdateExpression: `SET ${latest.sets.join(', ')}${latest.remove}`,
      ConditionExpression: `attribute_exists(callId) AND recordings.#sid.#status = :failureStatus AND ${LATEST_CONDITION}`,
      ExpressionAttributeNames: { '#sid': recordingSid, '#status': 'status' },
      ExpressionAttributeValues: { ...latest.values, ':failureStatus': failure.status },
    });
    return true;
  }

  /** A conditional update of this table: false when its condition did not hold. */
  private updateIf(input: Omit<UpdateCommandInput, 'TableName'>): Promise<boolean> {
    return conditionalUpdate(this.db, this.tableName, input);
  }
}

/** The entry is not erased: nothing brings an erased recording back onto the call. */
const NOT_ERASED = '(attribute_not_exists(recordings.#sid) OR recordings.#sid.#status <> :erased)';

/** True when the recording being written started no earlier than the call's current latest. */
const LATEST_CONDITION =
  '(attribute_not_exists(latestRecordingStartedAt) OR latestRecordingStartedAt < :startedAt OR latestRecordingSid = :sid)';

/** `recordingKey`, `recordingDurationSeconds`, `recordingStatus` and friends for one recording. */
function latestFields(
  recordingSid: string,
  entry: RecordingEntry,
  now: Date,
): { sets: string[]; remove: string; values: Record<string, unknown> } {
  const sets = [
    'recordingStatus = :status',
    'latestRecordingSid = :sid',
    'latestRecordingStartedAt = :startedAt',
    'updatedAt = :now',
  ];
  const values: Record<string, unknown> = {
    ':status': entry.status,
    ':sid': recordingSid,
    ':startedAt': entry.startedAt ?? now.toISOString(),
    ':now': now.toISOString(),
  };
  const removes: string[] = [];
  if (entry.status === 'stored') {
    sets.push('recordingKey = :key');
    values[':key'] = entry.key;
  } else {
    removes.push('recordingKey');
  }
  if (entry.durationSeconds !== undefined) {
    sets.push('recordingDurationSeconds = :duration');
    values[':duration'] = entry.durationSeconds;
  } else {
    removes.push('recordingDurationSeconds');
  }
  return { sets, remove: removes.length ? ` REMOVE ${removes.join(', ')}` : '', values };
}

/** `value` without its undefined members: an entry of the `recordings` map is written whole. */
export function withoutUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}
