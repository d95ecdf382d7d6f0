import { type DynamoDBDocumentClient, GetCommand, type UpdateCommandInput } from '@aws-sdk/lib-dynamodb';
import { conditionalUpdate } from '../runtime/dynamo-conditions';
import { type CallItem, type RecordingEntry, withoutUndefined } from './calls';

/**
 * The erasure of one recording from its call item (DELETE /calls/{callId}/recordings/{recordingSid}):
 * the entry turns `erased`, a note is added, and the call's latest-recording fields move to the
 * newest recording left, or go. Written after the ledger says `erased`; repeating it changes nothing.
 */

export interface CallErasure {
  readonly erasedAt: string;
  readonly erasedBy: string;
  /** The recording's start, for an entry the call item never had. */
  readonly startedAt?: string | undefined;
  /** Every key the recording was stored under (a legacy item names it only in `recordingKey`). */
  readonly keys: readonly string[];
}

export class CallsErasure {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    readonly tableName: string,
  ) {}

  /**
   * Records an erased recording on its call: the entry becomes `erased` (no key, no URL to
   * anything), a line goes to `notes`, and if the single-recording fields named it they move to
   * the newest remaining stored recording, or are removed when none is left. Optimistic: the
   * write is conditional on what was read (latest fields, the entries it relies on) and is redone
   * on a concurrent change. Repeating it for an erased entry changes nothing (no second note).
   * Returns false when the call has no item.
   */
  async markErased(callId: string, recordingSid: string, erasure: CallErasure, now: Date): Promise<boolean> {
    for (let attempt = 1; ; attempt++) {
      const read = await this.db.send(
        new GetCommand({ TableName: this.tableName, Key: { callId }, ConsistentRead: true }),
      );
      const item = read.Item as CallItem | undefined;
      if (!item) return false;
      const plan = planErasure(item, recordingSid, erasure, now);
      if (!plan) return true;
      if (await conditionalUpdate(this.db, this.tableName, { Key: { callId }, ...plan })) return true;
      if (attempt >= 5) throw new Error('The call item kept changing while the erasure was recorded');
    }
  }
}

/** The conditional update that records the erasure on `item`, or undefined when it is already recorded. */
function planErasure(
  item: CallItem,
  recordingSid: string,
  erasure: CallErasure,
  now: Date,
): Omit<UpdateCommandInput, 'TableName' | 'Key'> | undefined {
  const entry = item.recordings?.[recordingSid];
  const latestSid = item.latestRecordingSid as string | undefined;
  const latestKey = item.recordingKey;
  const namesErased = latestSid === recordingSid || (latestKey !== undefined && erasure.keys.includes(latestKey));
  const alreadyErased = entry?.status === 'erased';
  if (alreadyErased && !namesErased) return undefined;

  const names: Record<string, string> = {};
  const values: Record<string, unknown> = {};
  const name = (placeholder: string, attribute: string) => {
    names[placeholder] = attribute;
    return placeholder;
  };
  const value = (placeholder: string, v: unknown) => {
    values[placeholder] = v;
    return placeholder;
  };
  const sets: string[] = [`updatedAt = ${value(':now', now.toISOString())}`];
  const removes: string[] = [];
  const conditions: string[] = ['attribute_exists(callId)'];

  if (!alreadyErased) {
    const erasedEntry = withoutUndefined({
      status: 'erased',
      startedAt: entry?.startedAt ?? erasure.startedAt,
      durationSeconds: entry?.durationSeconds,
      channels: entry?.channels,
      source: entry?.source,
      erasedAt: erasure.erasedAt,
      erasedBy: erasure.erasedBy,
    });
    if (item.recordings) {
      const path = `recordings.${name('#sid', recordingSid)}`;
      sets.push(`${path} = ${value(':entry', erasedEntry)}`);
      conditions.push(
        `(attribute_not_exists(${path}) OR ${path}.${name('#status', 'status')} <> ${value(':erased', 'erased')})`,
      );
    } else {
      // An item written before the map existed: the map starts with this entry.
      sets.push(`recordings = ${value(':recordings', { [recordingSid]: erasedEntry })}`);
      conditions.push('attribute_not_exists(recordings)');
    }
    const note = `${erasure.erasedAt} recording ${recordingSid} erased by ${erasure.erasedBy}`.slice(0, 500);
    sets.push(`notes = list_append(if_not_exists(notes, ${value(':none', [])}), ${value(':note', [note])})`);
  }

  if (namesErased) {
    // What was read must still hold when the fields move: the latest fields…
    conditions.push(
      latestSid === undefined
        ? 'attribute_not_exists(latestRecordingSid)'
        : `latestRecordingSid = ${value(':readSid', latestSid)}`,
      latestKey === undefined ? 'attribute_not_exists(recordingKey)' : `recordingKey = ${value(':readKey', latestKey)}`,
    );
    const next = newestStoredOtherThan(item, recordingSid, erasure.keys);
    if (next) {
      // …and the recording they move to is still stored.
      const stored = value(':stored', 'stored');
      conditions.push(`recordings.${name('#next', next.recordingSid)}.${name('#status', 'status')} = ${stored}`);
      sets.push(
        `recordingKey = ${value(':nextKey', next.entry.key)}`,
        `recordingStatus = ${stored}`,
        `latestRecordingSid = ${value(':nextSid', next.recordingSid)}`,
        `latestRecordingStartedAt = ${value(':nextStartedAt', next.entry.startedAt ?? erasure.erasedAt)}`,
      );
      if (next.entry.durationSeconds !== undefined) {
        sets.push(`recordingDurationSeconds = ${value(':nextDuration', next.entry.durationSeconds)}`);
      } else {
        removes.push('recordingDurationSeconds');
      }
    } else {
      removes.push(
        'recordingKey',
        'recordingDurationSeconds',
        'recordingStatus',
        'latestRecordingSid',
        'latestRecordingStartedAt',
      );
    }
  }
  return {
    UpdateExpression: `SET ${sets.join(', ')}${removes.length ? ` REMOVE ${removes.join(', ')}` : ''}`,
    ConditionExpression: conditions.join(' AND '),
    ...(Object.keys(names).length ? { ExpressionAttributeNames: names } : {}),
    ExpressionAttributeValues: values,
  };
}

/** The stored recording that started last, other than the erased one (ties: the larger RecordingSid). */
function newestStoredOtherThan(
  item: CallItem,
  recordingSid: string,
  erasedKeys: readonly string[],
): { recordingSid: string; entry: RecordingEntry & { key: string } } | undefined {
  let best: { recordingSid: string; entry: RecordingEntry & { key: string } } | undefined;
  for (const [sid, entry] of Object.entries(item.recordings ?? {})) {
    if (sid === recordingSid || entry.status !== 'stored' || !entry.key || erasedKeys.includes(entry.key)) continue;
    const candidate = { recordingSid: sid, entry: entry as RecordingEntry & { key: string } };
    if (!best) {
      best = candidate;
      continue;
    }
    const a = entry.startedAt ?? '';
    const b = best.entry.startedAt ?? '';
    if (a > b || (a === b && sid > best.recordingSid)) best = candidate;
  }
  return best;
}
