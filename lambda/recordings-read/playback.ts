import { isSupportedCallId } from '../shared/calls/call-ids';
import type { CallItem, CallsRepository } from '../shared/calls/calls';
import type { LedgerItem, RecordingLedger } from '../shared/ledger/ledger';
import { notFound } from '../shared/runtime/http';
import { isStorageKeyOf, type RecordingStore } from '../shared/storage/recording-store';
import type { EncryptionDetails } from '../shared/twilio/encryption-details';
import { SID } from '../shared/twilio/sids';

export interface PlaybackDeps {
  readonly calls: Pick<CallsRepository, 'getCall'>;
  /** Where every key presigned here comes from: the call item only says which recordings to look up. */
  readonly ledger: Pick<RecordingLedger, 'items'>;
  readonly store: RecordingStore;
  readonly urlTtlSeconds: number;
  readonly now?: () => Date;
}

export interface PlaybackRecording {
  readonly callId: string;
  readonly recordingSid: string;
  readonly url: string;
  readonly expiresAt: string;
  readonly contentType: string | undefined;
  readonly durationSeconds: number | undefined;
  readonly sizeBytes: number | undefined;
  /** Lowercase hex SHA-256 of the stored bytes, when the transfer recorded one. */
  readonly sha256: string | undefined;
  readonly startedAt: string | undefined;
  /** Set when the object is ciphertext (Voice Recording Encryption): the URL serves it as stored. */
  readonly encryption: EncryptionDetails | null;
}

/** Any call id the transfer can store is playable by the same id (see call-ids.ts). */
export const isPlayableCallId = isSupportedCallId;

interface StoredRecording {
  readonly recordingSid: string;
  readonly item: LedgerItem & { readonly key: string };
}

/**
 * The RecordingSids a call item names: its `recordings` entries and the one in a legacy
 * `recordingKey`. Only names to look up in the ledger; nothing else of the item is used.
 */
function namedRecordings(item: CallItem): string[] {
  const sids = Object.keys(item.recordings ?? {});
  const legacy = /(RE[0-9a-fA-F]{32})\.\w+$/.exec(item.recordingKey ?? '')?.[1];
  if (legacy) sids.push(legacy);
  return [...new Set(sids)].filter((sid) => SID.RecordingSid.test(sid));
}

/**
 * The call's stored recordings by the ledger, oldest first: a ledger item `stored` for this call
 * (by call id, or by CallSid for an item without one), in this function's bucket, whose key has
 * the form the transfer writes for this call and recording. Whatever the call item says, a key
 * of another call or recording is never presigned.
 */
export async function storedRecordings(
  call: CallItem,
  deps: Pick<PlaybackDeps, 'ledger' | 'store'>,
): Promise<StoredRecording[]> {
  const items = await deps.ledger.items(namedRecordings(call));
  const stored: StoredRecording[] = [];
  for (const [recordingSid, item] of items) {
    const ours = item.callId !== undefined ? item.callId === call.callId : item.callSid === call.twilioCallSid;
    if (
      item.status === 'stored' &&
      ours &&
      item.key !== undefined &&
      (item.bucket === undefined || item.bucket === deps.store.bucket) &&
      isStorageKeyOf(item.key, call.callId, recordingSid)
    ) {
      stored.push({ recordingSid, item: item as LedgerItem & { key: string } });
    }
  }
  return stored.sort(
    (a, b) => a.item.startedAt.localeCompare(b.item.startedAt) || a.recordingSid.localeCompare(b.recordingSid),
  );
}

async function loadCall(callId: string, deps: PlaybackDeps): Promise<CallItem> {
  if (!isPlayableCallId(callId)) throw notFound('Call not found');
  const item = await deps.calls.getCall(callId);
  if (!item) throw notFound('Call not found');
  return item;
}

async function presign(
  callId: string,
  recording: StoredRecording,
  deps: PlaybackDeps,
): Promise<PlaybackRecording | undefined> {
  const { item } = recording;
  const head = await deps.store.headRecording(item.key);
  if (!head) return undefined; // deleted by lifecycle or by hand: nothing to play
  const now = (deps.now ?? (() => new Date()))();
  const contentType = item.contentType ?? head.contentType;
  const extension = item.key.slice(item.key.lastIndexOf('.') + 1);
  const url = await deps.store.getRecordingUrl(item.key, {
    expiresInSeconds: deps.urlTtlSeconds,
    contentType,
    filename: `${recording.recordingSid}.${extension}`,
  });
  return {
    callId,
    recordingSid: recording.recordingSid,
    url,
    expiresAt: new Date(now.getTime() + deps.urlTtlSeconds * 1000).toISOString(),
    contentType,
    durationSeconds: item.durationSeconds,
    sizeBytes: item.sizeBytes ?? head.sizeBytes,
    sha256: item.sha256,
    startedAt: item.startedAt,
    encryption: item.encryption ?? null,
  };
}

/** The latest stored recording of a call that still exists in S3, with a presigned GET URL. */
export async function latestRecordingUrl(callId: string, deps: PlaybackDeps): Promise<PlaybackRecording> {
  const item = await loadCall(callId, deps);
  const recordings = (await storedRecordings(item, deps)).reverse();
  for (const recording of recordings) {
    const playable = await presign(callId, recording, deps);
    if (playable) return playable;
  }
  throw notFound('No stored recording for this call');
}

/** Every stored recording of a call that still exists in S3, oldest first. */
export async function allRecordingUrls(callId: string, deps: PlaybackDeps): Promise<PlaybackRecording[]> {
  const item = await loadCall(callId, deps);
  const results = await Promise.all((await storedRecordings(item, deps)).map((r) => presign(callId, r, deps)));
  return results.filter((r): r is PlaybackRecording => r !== undefined);
}
