import { isSupportedCallId } from '../shared/calls/call-ids';
import type { CallItem, CallsRepository, RecordingEntry } from '../shared/calls/calls';
import { notFound } from '../shared/runtime/http';
import type { RecordingStore } from '../shared/storage/recording-store';
import type { EncryptionDetails } from '../shared/twilio/encryption-details';

export interface PlaybackDeps {
  readonly calls: CallsRepository;
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
  readonly entry: RecordingEntry & { readonly key: string };
}

/** Stored recordings of a call, oldest first; items written before `recordings` existed fall back to `recordingKey`. */
export function storedRecordings(item: CallItem): StoredRecording[] {
  const entries = Object.entries(item.recordings ?? {})
    .filter((pair): pair is [string, RecordingEntry & { key: string }] => pair[1].status === 'stored' && !!pair[1].key)
    .map(([recordingSid, entry]) => ({ recordingSid, entry }));
  if (entries.length === 0 && item.recordingKey) {
    const sid = /(RE[0-9a-fA-F]{32})\.\w+$/.exec(item.recordingKey)?.[1] ?? 'unknown';
    entries.push({
      recordingSid: sid,
      entry: { status: 'stored', key: item.recordingKey, durationSeconds: item.recordingDurationSeconds },
    });
  }
  return entries.sort((a, b) => (a.entry.startedAt ?? '').localeCompare(b.entry.startedAt ?? ''));
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
  const { entry } = recording;
  const head = await deps.store.headRecording(entry.key);
  if (!head) return undefined; // deleted by lifecycle or by hand: nothing to play
  const now = (deps.now ?? (() => new Date()))();
  const contentType = entry.contentType ?? head.contentType;
  const extension = entry.key.slice(entry.key.lastIndexOf('.') + 1);
  const url = await deps.store.getRecordingUrl(entry.key, {
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
    durationSeconds: entry.durationSeconds,
    sizeBytes: entry.sizeBytes ?? head.sizeBytes,
    sha256: entry.sha256,
    startedAt: entry.startedAt,
    encryption: entry.encryption ?? null,
  };
}

/** The latest stored recording of a call that still exists in S3, with a presigned GET URL. */
export async function latestRecordingUrl(callId: string, deps: PlaybackDeps): Promise<PlaybackRecording> {
  const item = await loadCall(callId, deps);
  const recordings = storedRecordings(item).reverse();
  for (const recording of recordings) {
    const playable = await presign(callId, recording, deps);
    if (playable) return playable;
  }
  throw notFound('No stored recording for this call');
}

/** Every stored recording of a call that still exists in S3, oldest first. */
export async function allRecordingUrls(callId: string, deps: PlaybackDeps): Promise<PlaybackRecording[]> {
  const item = await loadCall(callId, deps);
  const results = await Promise.all(storedRecordings(item).map((r) => presign(callId, r, deps)));
  return results.filter((r): r is PlaybackRecording => r !== undefined);
}
