import type { LedgerItem, LedgerStatus, LegalHold, RecordingLedger } from '../shared/ledger/ledger';
import { badRequest, notFound } from '../shared/runtime/http';
import type { RecordingStore } from '../shared/storage/recording-store';
import type { EncryptionDetails } from '../shared/twilio/encryption-details';
import { MALFORMED_RECORDING_SID, SID } from '../shared/twilio/sids';

/**
 * GET /recordings/{recordingSid}: one recording found by its RecordingSid in the ledger, whatever
 * its call (a conference recording without a CallSid has none), with a presigned GET URL. The same
 * fields as GET /calls/{callId}/recording, and the ledger's status, SIDs, channels and source.
 */

/** The route key; the same function serves the per-call routes and the listing. */
export const RECORDING_BY_SID_ROUTE = 'GET /recordings/{recordingSid}';

export interface RecordingBySidDeps {
  readonly ledger: Pick<RecordingLedger, 'get'>;
  readonly store: Pick<RecordingStore, 'headRecording' | 'getRecordingUrl' | 'bucket'>;
  readonly urlTtlSeconds: number;
  readonly now?: () => Date;
}

export interface RecordingBySid {
  /** The call item the recording is on; null for a recording without a CallSid. */
  readonly callId: string | null;
  readonly recordingSid: string;
  readonly callSid: string | null;
  readonly conferenceSid: string | null;
  readonly accountSid: string | null;
  readonly status: LedgerStatus;
  readonly url: string;
  readonly expiresAt: string;
  readonly contentType: string | undefined;
  readonly durationSeconds: number | undefined;
  readonly sizeBytes: number | undefined;
  /** Lowercase hex SHA-256 of the stored bytes, taken while they streamed. */
  readonly sha256: string | undefined;
  readonly startedAt: string;
  readonly channels: number | null;
  readonly source: string | null;
  /** Set when the object is ciphertext (Voice Recording Encryption): the URL serves it as stored. */
  readonly encryption: EncryptionDetails | null;
  readonly hold: LegalHold | null;
}

export async function recordingUrlBySid(recordingSid: string, deps: RecordingBySidDeps): Promise<RecordingBySid> {
  if (!SID.RecordingSid.test(recordingSid)) throw badRequest(MALFORMED_RECORDING_SID);
  const item = await deps.ledger.get(recordingSid);
  if (!item) throw notFound('Recording not found');
  if (item.status !== 'stored' || !item.key) {
    throw notFound(`Recording is not stored (its status is ${item.status})`);
  }
  // Only this bucket's objects: the key comes from the ledger, never from the request.
  if (item.bucket && item.bucket !== deps.store.bucket) throw notFound('Recording is stored in another bucket');
  const head = await deps.store.headRecording(item.key);
  if (!head) throw notFound('The stored object is gone'); // deleted by lifecycle or by hand
  const now = (deps.now ?? (() => new Date()))();
  const contentType = item.contentType ?? head.contentType;
  const extension = item.key.slice(item.key.lastIndexOf('.') + 1);
  const url = await deps.store.getRecordingUrl(item.key, {
    expiresInSeconds: deps.urlTtlSeconds,
    contentType,
    filename: `${recordingSid}.${extension}`,
  });
  return view(item, {
    url,
    expiresAt: new Date(now.getTime() + deps.urlTtlSeconds * 1000).toISOString(),
    contentType,
    sizeBytes: item.sizeBytes ?? head.sizeBytes,
  });
}

function view(
  item: LedgerItem,
  object: Pick<RecordingBySid, 'url' | 'expiresAt' | 'contentType' | 'sizeBytes'>,
): RecordingBySid {
  return {
    callId: item.callId ?? null,
    recordingSid: item.recordingSid,
    callSid: item.callSid ?? null,
    conferenceSid: item.conferenceSid ?? null,
    accountSid: item.accountSid ?? null,
    status: item.status,
    ...object,
    durationSeconds: item.durationSeconds,
    sha256: item.sha256,
    startedAt: item.startedAt,
    channels: item.channels ?? null,
    source: item.source ?? null,
    encryption: item.encryption ?? null,
    hold: item.hold ?? null,
  };
}
