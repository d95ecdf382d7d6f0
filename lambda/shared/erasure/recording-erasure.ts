import { isSupportedCallId } from '../calls/call-ids';
import type { CallItem, CallsRepository, RecordingEntry } from '../calls/calls';
import type { CallsErasure } from '../calls/calls-erasure';
import type { EventPublisher } from '../ledger/events';
import { announce } from '../ledger/events';
import type { LedgerItem, LegalHold, RecordingLedger } from '../ledger/ledger';
import type { ErasureFields, LedgerErasure } from '../ledger/ledger-erasure';
import { describeError } from '../runtime/errors';
import { badRequest, HttpError, notFound } from '../runtime/http';
import type { Observability } from '../runtime/observability';
import {
  generateStorageKey,
  isStorageKeyOf,
  type ObjectVersion,
  type RecordingStore,
} from '../storage/recording-store';
import type { TwilioApi } from '../twilio/rest-api';
import { MALFORMED_RECORDING_SID, SID } from '../twilio/sids';

/**
 * DELETE /calls/{callId}/recordings/{recordingSid} (and DELETE /recordings/{recordingSid}, the
 * recording found by its SID alone): erases one recording for good.
 *
 * 1. The recording must be on this call (404 otherwise, nothing touched).
 * 2. A legal hold in the ledger: 409 naming the hold, nothing touched (and the `erasing` write
 *    below refuses a hold placed meanwhile).
 * 3. Object Lock: while any version of the object is retained, 409 and nothing is touched.
 * 4. The ledger turns `erasing` (conditional): from then on no callback, redrive or reconciliation
 *    copies it again (the transfer's claim refuses `erasing` and `erased`).
 * 5. Every version and delete marker of the object is removed from S3.
 * 6. The recording is deleted at Twilio (already gone counts as done).
 * 7. The ledger turns `erased` (erasedAt, erasedBy); then the call entry, the call's latest-
 *    recording fields and a note; then `Recording Erased`.
 *
 * Any step that fails leaves the ledger `erasing` and answers 503: the same DELETE again resumes
 * and finishes it. An erased recording answers 204 again (and heals the call item and the event
 * if they were cut short).
 */

export type ErasureStore = Pick<
  RecordingStore,
  'bucket' | 'listObjectVersions' | 'objectRetention' | 'deleteObjectVersions'
> &
  // Optional: a store without Object Lock has no legal holds to read.
  Partial<Pick<RecordingStore, 'objectLegalHold'>>;

export interface ErasureDeps {
  readonly calls: Pick<CallsRepository, 'getCall'>;
  readonly callsErasure: Pick<CallsErasure, 'markErased'>;
  readonly ledger: Pick<RecordingLedger, 'get' | 'markDeletedAtTwilio'>;
  readonly ledgerErasure: Pick<
    LedgerErasure,
    'markErasing' | 'markErased' | 'markErasedEventSent' | 'claimErasedAnnouncement' | 'releaseErasedAnnouncement'
  > &
    Partial<Pick<LedgerErasure, 'markExpired'>>;
  readonly store: ErasureStore;
  /** Twilio as the parent account: recordings whose ledger names no account. */
  readonly twilio: Pick<TwilioApi, 'deleteRecording'>;
  /** Twilio as a recording's own account (its path, its token); unset: `twilio` for every recording. */
  readonly twilioFor?: (accountSid: string) => Pick<TwilioApi, 'deleteRecording'>;
  readonly events: EventPublisher;
  readonly obs: Observability;
  readonly now?: () => Date;
}

export interface ErasureRequest {
  readonly callId: string;
  readonly recordingSid: string;
  /** The caller: an IAM principal ARN, a JWT `sub`, or `local`. */
  readonly erasedBy: string;
  /**
   * The retention sweep: the ledger ends `expired` (with `expiredAt`) instead of `erased`, and the
   * event is `Recording Expired`.
   */
  readonly expire?: boolean;
}

/** DELETE /recordings/{recordingSid}: the recording named by its SID alone. */
export interface ErasureBySidRequest {
  readonly recordingSid: string;
  /** The caller: an IAM principal ARN, a JWT `sub`, or `local`. */
  readonly erasedBy: string;
  /** The retention sweep: ends `expired` with `Recording Expired` (see ErasureRequest). */
  readonly expire?: boolean;
}

/** What the erasure works on once the recording is found: its call is undefined for a recording without one. */
interface FoundRecording {
  readonly callId: string | undefined;
  readonly recordingSid: string;
  /** The caller: an IAM principal ARN, a JWT `sub`, or `local`. */
  readonly erasedBy: string;
  readonly expire?: boolean;
}

export interface ErasureResult {
  readonly result: 'erased' | 'already-erased';
  readonly erasedAt: string;
  readonly erasedBy: string;
  /** Versions and delete markers removed from S3 by this request. */
  readonly versionsDeleted: number;
  /**
   * already-erased because a concurrent erasure finished first (this request did the work too,
   * but erased nothing the winner did not): never the repeat of a request cut short.
   */
  readonly lostRace?: true;
}

/** Object Lock retention forbids deleting a version of the object: 409 `{ error, retainUntil }`. */
export class RetentionConflictError extends HttpError {
  constructor(readonly retainUntil: string) {
    super(409, `Object Lock retention forbids erasing this recording until ${retainUntil}`);
    this.name = 'RetentionConflictError';
  }
}

/** The recording is under a legal hold: 409 `{ error, hold }`, nothing touched. */
export class HoldConflictError extends HttpError {
  constructor(readonly hold: LegalHold) {
    super(
      409,
      `The recording is under a legal hold placed by ${hold.by} at ${hold.at} (${hold.reason}); release the hold before erasing it`,
    );
    this.name = 'HoldConflictError';
  }
}

/**
 * An S3 legal hold is on a version of the object (set through the hold route, or by hand in S3):
 * 409, nothing touched. DELETE /recordings/{recordingSid}/hold clears it.
 */
export class ObjectLegalHoldConflictError extends HttpError {
  constructor(readonly versionId: string | undefined) {
    super(
      409,
      'An S3 Object Lock legal hold is on a version of this recording; release it (DELETE /recordings/{recordingSid}/hold) before erasing it',
    );
    this.name = 'ObjectLegalHoldConflictError';
  }
}

/** A step failed; the ledger says `erasing` and the same DELETE again finishes the erasure. */
export class ErasureIncompleteError extends HttpError {
  constructor(message: string) {
    super(503, `${message}; the erasure is recorded as in progress: send the same DELETE again to finish it`);
    this.name = 'ErasureIncompleteError';
  }
}

type Ledgered = LedgerItem & ErasureFields;

/** Who the ledger's answers, the call item and the events name for an expiry (the retention sweep). */
export const RETENTION_ACTOR = 'retention';

const FORMATS = ['mp3', 'wav'] as const;

/**
 * An erased recording asked again, or erased by a concurrent request that won: the call item is
 * made to say so and an event never sent goes out (a cut-short erasure heals), unless the request
 * that erased it is still sending it.
 */
async function alreadyErased(
  item: Ledgered,
  request: FoundRecording,
  keys: Parameters<typeof project>[2],
  deps: ErasureDeps,
  lost?: { readonly versionsDeleted: number },
): Promise<ErasureResult> {
  await project(item, request, keys, deps, false);
  return {
    result: 'already-erased',
    erasedAt: item.erasedAt ?? item.expiredAt ?? '',
    erasedBy: erasedByOf(item, ''),
    versionsDeleted: lost?.versionsDeleted ?? 0,
    ...(lost ? { lostRace: true as const } : {}),
  };
}

/** Who the ledger names as having erased it: the sweep for an expired recording. */
function erasedByOf(item: Ledgered, fallback: string): string {
  return item.erasedBy ?? (item.status === 'expired' ? RETENTION_ACTOR : fallback);
}

export async function eraseRecording(request: ErasureRequest, deps: ErasureDeps): Promise<ErasureResult> {
  const { callId, recordingSid } = request;
  // The ids the transfer stores; anything else cannot be a call of ours (and DynamoDB would refuse it).
  if (!isSupportedCallId(callId)) throw notFound('Call not found');
  if (!SID.RecordingSid.test(recordingSid)) throw notFound('Recording not found on this call');

  const call = await deps.calls.getCall(callId);
  if (!call) throw notFound('Call not found');
  const item = (await deps.ledger.get(recordingSid)) as Ledgered | undefined;
  const entry = call.recordings?.[recordingSid];
  if (!belongsToCall(recordingSid, item, call, entry)) throw notFound('Recording not found on this call');
  return eraseFound(request, item, call, entry, deps);
}

/**
 * DELETE /recordings/{recordingSid}: the same erasure, for the recording the ledger holds under
 * this SID, on its call when it has one (the call item is updated as by the per-call route) and
 * without one for a recording that has none (a conference recording without a CallSid).
 * 400 for a malformed SID, 404 for one the ledger does not know.
 */
export async function eraseRecordingBySid(request: ErasureBySidRequest, deps: ErasureDeps): Promise<ErasureResult> {
  const { recordingSid } = request;
  if (!SID.RecordingSid.test(recordingSid)) throw badRequest(MALFORMED_RECORDING_SID);
  const item = (await deps.ledger.get(recordingSid)) as Ledgered | undefined;
  if (!item) throw notFound('Recording not found');
  const call = item.callId !== undefined ? await deps.calls.getCall(item.callId) : undefined;
  const callId = call ? item.callId : undefined;
  return eraseFound({ ...request, callId }, item, call, call?.recordings?.[recordingSid], deps);
}

async function eraseFound(
  request: FoundRecording,
  found: Ledgered | undefined,
  call: CallItem | undefined,
  entry: RecordingEntry | undefined,
  deps: ErasureDeps,
): Promise<ErasureResult> {
  const now = deps.now ?? (() => new Date());
  const { callId, recordingSid } = request;
  let item = found;
  const keys = storageKeys(recordingSid, callId, item, call, entry);

  if (item?.status === 'erased' || item?.status === 'expired') {
    return alreadyErased(item, request, keys, deps);
  }
  if (item?.hold) throw new HoldConflictError(item.hold);
  if (item && copyInProgress(item, now())) throw copyInProgressError();
  if (item?.bucket && item.bucket !== deps.store.bucket) {
    throw new HttpError(500, 'The recording is stored in another bucket than the one this function erases in');
  }

  // Nothing is touched while Object Lock retains any version.
  await assertNotRetained((await findVersions(keys, deps)).versions, deps, now());

  const marked = await deps.ledgerErasure.markErasing(
    recordingSid,
    call
      ? {
          callId: item?.callId ?? call.callId,
          callSid: item?.callSid ?? (call.twilioCallSid as string | undefined) ?? 'unknown',
          // Only a call item older than the ledger seeds these (if_not_exists): the key as checked below.
          startedAt:
            item?.startedAt ?? entry?.startedAt ?? startedAtOfLegacy(recordingSid, call) ?? now().toISOString(),
          key: item?.key ?? ownKeys(recordingSid, callId, item, call, entry)[0],
          bucket: item?.bucket ?? deps.store.bucket,
        }
      : // Found in the ledger with no call item: it is erased as the ledger holds it.
        { startedAt: item?.startedAt, key: item?.key, bucket: item?.bucket },
    now(),
  );
  if (!marked) {
    // Changed since it was read: erased by a concurrent request, or a copy started.
    item = (await deps.ledger.get(recordingSid)) as Ledgered | undefined;
    if (item?.status === 'erased' || item?.status === 'expired') {
      return alreadyErased(item, request, keys, deps);
    }
    if (item?.hold) throw new HoldConflictError(item.hold);
    if (item && copyInProgress(item, now())) throw copyInProgressError();
    if (item && call && !belongsToCall(recordingSid, item, call, entry)) {
      throw notFound('Recording not found on this call');
    }
    throw new ErasureIncompleteError('The recording changed while the erasure started');
  }
  const log = deps.obs.withKeys({ recordingSid, callId }).logger;
  log.info('Erasing a recording', { previousStatus: item?.status ?? 'none', keys: keys.length });

  let versionsDeleted = 0;
  try {
    // Listed again now that no copy can start: a copy finished in between is caught here.
    for (let round = 1; ; round++) {
      const { versions, versioning } = await findVersions(keys, deps);
      if (versions.length === 0) break;
      if (round > 3) throw new ErasureIncompleteError('Versions of the recording kept reappearing in S3');
      await assertNotRetained(versions, deps, now());
      await deps.store.deleteObjectVersions(versions);
      versionsDeleted += versions.length;
      log.info('Deleted the recording from S3', { versions: versions.length, versioning });
    }
  } catch (error) {
    if (error instanceof HttpError) throw error;
    log.error('Could not delete the recording from S3', { error: describeError(error) });
    throw new ErasureIncompleteError('Could not delete every version of the recording from S3');
  }

  if (!marked.deletedAtTwilioAt) {
    try {
      const accountSid = marked.accountSid ?? item?.accountSid;
      const twilio = deps.twilioFor && accountSid ? deps.twilioFor(accountSid) : deps.twilio;
      await twilio.deleteRecording(recordingSid);
      await deps.ledger.markDeletedAtTwilio(recordingSid, now());
    } catch (error) {
      log.error('Could not delete the recording at Twilio', { error: describeError(error) });
      throw new ErasureIncompleteError('Could not delete the recording at Twilio');
    }
  }

  const erasedAt = now().toISOString();
  const finished =
    request.expire && deps.ledgerErasure.markExpired
      ? await deps.ledgerErasure.markExpired(recordingSid, erasedAt, now())
      : await deps.ledgerErasure.markErased(recordingSid, { erasedAt, erasedBy: request.erasedBy }, now());
  if (!finished) throw new ErasureIncompleteError('The ledger did not take the erasure');
  if (!finished.won) {
    // A concurrent erasure finished first: it alone announces and is entered as having erased it.
    log.info('Recording erased meanwhile by a concurrent request', { versionsDeleted });
    return alreadyErased(finished.item, request, keys, deps, { versionsDeleted });
  }
  const erased = finished.item;
  await project(erased, request, keys, deps, true);
  deps.obs.metric('RecordingErased');
  log.info('Recording erased', { versionsDeleted });
  return {
    result: 'erased',
    erasedAt: erased.erasedAt ?? erasedAt,
    erasedBy: erased.erasedBy ?? request.erasedBy,
    versionsDeleted,
  };
}

/**
 * The call item and the `Recording Erased` event, from the erased ledger item. Idempotent: a
 * repeat changes nothing on the call item and announces only what never went out.
 */
async function project(
  item: Ledgered,
  request: FoundRecording,
  keys: readonly string[],
  deps: ErasureDeps,
  /** This request's write turned the ledger final: it owns the event (announcingErasureUntil). */
  won: boolean,
) {
  const now = deps.now ?? (() => new Date());
  const expired = item.status === 'expired';
  const erasedAt = item.erasedAt ?? item.expiredAt ?? now().toISOString();
  const erasedBy = erasedByOf(item, request.erasedBy);
  // Cut short: the next request may send the event at once instead of waiting out the lease.
  const release = async () => {
    if (won) await deps.ledgerErasure.releaseErasedAnnouncement(item.recordingSid).catch(() => undefined);
  };
  try {
    // A recording without a call item (a conference recording without a CallSid) has none to update.
    if (request.callId !== undefined) {
      await deps.callsErasure.markErased(
        request.callId,
        item.recordingSid,
        { erasedAt, erasedBy, startedAt: item.startedAt, keys },
        now(),
      );
    }
  } catch (error) {
    deps.obs.logger.error('Could not record the erasure on the call item', { error: describeError(error) });
    await release();
    throw new ErasureIncompleteError('The recording is erased but the call item could not be updated');
  }
  if (item.erasedEventAt) return;
  // A repeat sends only an event nobody sent or is sending: never one the winner is still sending.
  if (!won && !(await deps.ledgerErasure.claimErasedAnnouncement(item.recordingSid, now()))) return;
  const sent = await announce(
    expired
      ? {
          // The retention sweep: what the stage keeps, and when it ran out.
          detailType: 'Recording Expired',
          detail: {
            recordingSid: item.recordingSid,
            callId: request.callId,
            callSid: item.callSid,
            conferenceSid: item.conferenceSid,
            accountSid: item.accountSid,
            at: erasedAt,
            by: erasedBy,
            reason: 'retention: older than the stage keeps recordings',
          },
        }
      : {
          detailType: 'Recording Erased',
          detail: {
            recordingSid: item.recordingSid,
            callId: request.callId,
            callSid: item.callSid,
            conferenceSid: item.conferenceSid,
            accountSid: item.accountSid,
            erasedAt,
            erasedBy,
          },
        },
    deps,
  );
  if (!sent) {
    await deps.ledgerErasure.releaseErasedAnnouncement(item.recordingSid).catch(() => undefined);
    throw new ErasureIncompleteError('The recording is erased but the Recording Erased event could not be sent');
  }
  await deps.ledgerErasure.markErasedEventSent(item.recordingSid, now());
}

/** The recording belongs to this call: by the ledger, or (no ledger item) by the call item itself. */
function belongsToCall(
  recordingSid: string,
  item: LedgerItem | undefined,
  call: CallItem,
  entry: RecordingEntry | undefined,
): boolean {
  if (item) {
    // A recording without a CallSid (a conference recording) belongs to no call.
    return item.callId !== undefined
      ? item.callId === call.callId
      : item.callSid !== undefined && item.callSid === call.twilioCallSid;
  }
  return entry !== undefined || (call.recordingKey?.includes(`/${recordingSid}.`) ?? false);
}

/**
 * When a recording the ledger never knew (a call item older than it) started, for the ledger item
 * the erasure creates: without a start it has no `day` and no listing would ever show it. The call
 * item's latest-recording start if it names this recording, else the call's own start; the caller
 * falls back to the time of the erasure.
 */
function startedAtOfLegacy(recordingSid: string, call: CallItem): string | undefined {
  const instant = (value: unknown) =>
    typeof value === 'string' && !Number.isNaN(Date.parse(value)) ? new Date(value).toISOString() : undefined;
  if (call.latestRecordingSid === recordingSid) {
    const latest = instant(call.latestRecordingStartedAt);
    if (latest) return latest;
  }
  return instant(call.callStartedAt);
}

/** A copy holds a live claim (erasing now could race its upload), or its `Recording Stored` is being sent. */
function copyInProgress(item: LedgerItem, now: Date): boolean {
  if (item.announcingUntil !== undefined && item.announcingUntil >= now.getTime()) return true;
  return item.status === 'transferring' && item.leaseExpiresAt !== undefined && item.leaseExpiresAt >= now.getTime();
}

function copyInProgressError(): HttpError {
  return new HttpError(409, 'A copy of this recording is in progress; erase it once the copy has finished');
}

/**
 * The keys recorded for the recording: the ledger's, or only for a call item older than the
 * ledger (no ledger item) its entry's key or legacy `recordingKey`. Each only when it has the
 * form the transfer writes for this call and this recording: the app's table (or the ledger,
 * were it ever wrong) can never point an erasure at another recording's object.
 */
function ownKeys(
  recordingSid: string,
  callId: string | undefined,
  item: LedgerItem | undefined,
  call: CallItem | undefined,
  entry: RecordingEntry | undefined,
): string[] {
  const owners = keyOwners(callId, item);
  const recorded = item ? [item.key] : [entry?.key, call?.recordingKey];
  return recorded.filter(
    (key): key is string => key !== undefined && owners.some((owner) => isStorageKeyOf(key, owner, recordingSid)),
  );
}

/** Whose folder a recording's key is in: its call id, or for a recording without a CallSid its ConferenceSid. */
function keyOwners(callId: string | undefined, item: LedgerItem | undefined): string[] {
  return [...new Set([item?.callId ?? callId, item?.conferenceSid])].filter((o): o is string => o !== undefined);
}

/**
 * Every key the recording may be stored under: the recorded ones (`ownKeys`), and the keys a copy
 * would write in either format for its start time (an attempt that stored the object but died
 * before the ledger said so leaves one there). The start time is the ledger's when it has the
 * recording; it only picks the month of this call's and this recording's own keys.
 */
function storageKeys(
  recordingSid: string,
  callId: string | undefined,
  item: LedgerItem | undefined,
  call: CallItem | undefined,
  entry: RecordingEntry | undefined,
): string[] {
  const keys = new Set(ownKeys(recordingSid, callId, item, call, entry));
  const startedAt = item ? item.startedAt : entry?.startedAt;
  if (startedAt) {
    for (const owner of keyOwners(callId, item)) {
      for (const format of FORMATS) {
        try {
          keys.add(generateStorageKey(owner, recordingSid, startedAt, format));
        } catch {
          // A call id too long for a key, or a start time that is not a date: no copy was ever written there.
        }
      }
    }
  }
  return [...keys];
}

/** The versions and delete markers of exactly these keys (listed by the prefix `…/{RecordingSid}.`). */
async function findVersions(
  keys: readonly string[],
  deps: Pick<ErasureDeps, 'store'>,
): Promise<{ versions: ObjectVersion[]; versioning: 's3' | 'none' }> {
  const wanted = new Set(keys);
  const prefixes = new Set(keys.map((key) => key.slice(0, key.lastIndexOf('.') + 1) || key));
  const versions: ObjectVersion[] = [];
  let versioning: 's3' | 'none' = 's3';
  for (const prefix of prefixes) {
    const listed = await deps.store.listObjectVersions(prefix);
    if (listed.versioning === 'none') versioning = 'none';
    versions.push(...listed.versions.filter((v) => wanted.has(v.key)));
  }
  return { versions, versioning };
}

/** 409 when any version is under an S3 legal hold, or (with the latest retain-until date) under Object Lock retention now. */
async function assertNotRetained(
  versions: readonly ObjectVersion[],
  deps: Pick<ErasureDeps, 'store' | 'obs'>,
  now: Date,
): Promise<void> {
  let latest: Date | undefined;
  for (const version of versions) {
    if (version.deleteMarker) continue; // a delete marker carries no retention
    if (await deps.store.objectLegalHold?.(version.key, version.versionId)) {
      deps.obs.metric('ErasureRefusedHold');
      throw new ObjectLegalHoldConflictError(version.versionId);
    }
    const retention = await deps.store.objectRetention(version.key, version.versionId);
    if (retention && retention.retainUntil.getTime() > now.getTime()) {
      if (!latest || retention.retainUntil > latest) latest = retention.retainUntil;
    }
  }
  if (latest) {
    deps.obs.metric('ErasureRefusedRetention');
    throw new RetentionConflictError(latest.toISOString());
  }
}
