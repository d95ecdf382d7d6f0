import { announce, type EventPublisher } from '../shared/ledger/events';
import type { LedgerItem, LegalHold, RecordingLedger } from '../shared/ledger/ledger';
import type { LedgerHold } from '../shared/ledger/ledger-hold';
import { describeError } from '../shared/runtime/errors';
import { badRequest, HttpError, notFound } from '../shared/runtime/http';
import type { Observability } from '../shared/runtime/observability';
import type { RecordingStore } from '../shared/storage/recording-store';
import { MALFORMED_RECORDING_SID, SID } from '../shared/twilio/sids';

/**
 * PUT /recordings/{recordingSid}/hold and DELETE of it: a legal hold on one recording.
 *
 * Placing: the ledger first (from then on no erasure or retention sweep can start), then, where the
 * bucket has Object Lock, the S3 legal hold on every version of the object, then `Recording Held`.
 * Releasing: the S3 legal holds first, then the ledger, then `Recording Released`. So the ledger
 * is never less strict than S3, and a step cut short (503) is finished by the same request again.
 */

export const MAX_REASON_LENGTH = 500;

export interface HoldDeps {
  readonly ledger: Pick<RecordingLedger, 'get'>;
  readonly holds: Pick<
    LedgerHold,
    'placeHold' | 'releaseHold' | 'markHeldAnnounced' | 'keepReleaseToAnnounce' | 'forgetReleaseToAnnounce'
  >;
  /** The bucket's S3 Object Lock legal holds; unset where the bucket has no Object Lock. */
  readonly objectLock?: Pick<RecordingStore, 'listObjectVersions' | 'setLegalHold' | 'objectLegalHold'> | undefined;
  readonly events: EventPublisher;
  readonly obs: Observability;
  readonly now?: () => Date;
}

export interface HoldResult {
  readonly recordingSid: string;
  readonly hold: LegalHold;
  /** False when the recording was already on hold: the first hold stands. */
  readonly placed: boolean;
  /** Versions of the object under an S3 legal hold now (0 without Object Lock). */
  readonly versionsHeld: number;
}

/** The hold or release reached the ledger but not every S3 version: the same request again finishes it. */
export class HoldIncompleteError extends HttpError {
  constructor(message: string) {
    super(503, `${message}; send the same request again to finish it`);
    this.name = 'HoldIncompleteError';
  }
}

const UTF8 = new TextDecoder('utf-8', { fatal: true });

/**
 * The reason in a PUT body: `{ "reason": "…" }`, one line of 1–500 characters once trimmed, counted
 * in Unicode code points (not UTF-16 units, not grapheme clusters: a count that does not depend on
 * the ICU version and bounds the stored size). Refused, each with a message naming the rule: a body
 * that is not UTF-8 (and U+FFFD, the mark a gateway leaves of bytes that were not), a lone surrogate,
 * C0 and C1 controls with U+2028/U+2029 (a reason is one line in logs, events and terminals), and
 * the bidirectional embedding, override and isolate controls (they make a reason display as
 * other text than it is).
 */
export function parseHoldReason(body: Buffer): string {
  if (body.length === 0) throw badRequest('"reason" is required: send { "reason": "…" }');
  let text: string;
  try {
    text = UTF8.decode(body);
  } catch {
    throw badRequest('The body must be UTF-8 text: it holds bytes that are not UTF-8');
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw badRequest('The body must be JSON: { "reason": "…" }');
  }
  const reason = (parsed as { reason?: unknown } | null)?.reason;
  if (reason === undefined || reason === null) {
    throw badRequest('"reason" is required: why the recording is held (a case, a request, a policy)');
  }
  if (typeof reason !== 'string') throw badRequest('"reason" must be a string');
  // With the u flag a surrogate pair is one code point: only a lone surrogate matches.
  if (/[\uD800-\uDFFF]/u.test(reason)) throw badRequest('"reason" must be Unicode text: it holds a lone surrogate');
  if (reason.includes('\uFFFD')) {
    throw badRequest('"reason" must be UTF-8 text: U+FFFD marks bytes that were not UTF-8');
  }
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused.
  if (/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/.test(reason)) {
    throw badRequest(
      '"reason" must be one line of text: no control characters or line or paragraph separators (U+0000–U+001F, U+007F–U+009F, U+2028, U+2029)',
    );
  }
  if (/[\u202a-\u202e\u2066-\u2069]/.test(reason)) {
    throw badRequest(
      '"reason" must not hold bidirectional embedding, override or isolate controls (U+202A–U+202E, U+2066–U+2069)',
    );
  }
  const trimmed = reason.trim();
  if (trimmed === '') throw badRequest('"reason" is required: why the recording is held (a case, a request, a policy)');
  if ([...trimmed].length > MAX_REASON_LENGTH) {
    throw badRequest(`"reason" must be at most ${MAX_REASON_LENGTH} characters (Unicode code points)`);
  }
  return trimmed;
}

function checkSid(recordingSid: string): void {
  if (!SID.RecordingSid.test(recordingSid)) throw badRequest(MALFORMED_RECORDING_SID);
}

export async function placeHold(
  request: { readonly recordingSid: string; readonly by: string; readonly reason: string },
  deps: HoldDeps,
): Promise<HoldResult> {
  const now = deps.now ?? (() => new Date());
  checkSid(request.recordingSid);
  const hold: LegalHold = { by: request.by, at: now().toISOString(), reason: request.reason };
  const outcome = await deps.holds.placeHold(request.recordingSid, hold, now());
  if (outcome.result === 'not-found') throw notFound('Recording not found');
  if (outcome.result === 'erased') {
    throw new HttpError(409, `The recording is ${outcome.item.status}: there is nothing left to hold`);
  }
  const item = outcome.item;
  const held = item.hold ?? hold;
  // Applied again on a repeat: a first request cut short after the ledger write is finished here.
  const versionsHeld = await setObjectLegalHolds(item, true, deps);
  const log = deps.obs.withKeys({ recordingSid: request.recordingSid }).logger;
  if (outcome.result === 'held') {
    log.info('Recording put on legal hold', { by: held.by, versionsHeld });
    deps.obs.metric('RecordingHeld');
  }
  // Once per hold: a first request cut short (S3 above, or EventBridge) leaves it to the repeat.
  if (
    !item.heldEventAt &&
    (await announce({ detailType: 'Recording Held', detail: complianceDetail(item, held) }, deps))
  ) {
    await deps.holds.markHeldAnnounced(request.recordingSid, held.at, now());
  }
  return { recordingSid: request.recordingSid, hold: held, placed: outcome.result === 'held', versionsHeld };
}

export interface ReleaseResult {
  /** The ledger held the recording and no longer does. */
  readonly released: boolean;
  /** Versions whose S3 legal hold was on and this request cleared (0 without Object Lock). */
  readonly versionsReleased: number;
}

export async function releaseHold(
  request: { readonly recordingSid: string; readonly by: string },
  deps: HoldDeps,
): Promise<ReleaseResult> {
  const now = deps.now ?? (() => new Date());
  checkSid(request.recordingSid);
  const before = await deps.ledger.get(request.recordingSid);
  if (!before) throw notFound('Recording not found');
  // S3 first: were the ledger released first and S3 then failed, an erasure would pass the ledger
  // and stop at S3. Also clears a legal hold set in S3 by hand, which the ledger never knew.
  const versionsReleased = await setObjectLegalHolds(before, false, deps);
  const outcome = await deps.holds.releaseHold(request.recordingSid, request.by, now());
  if (outcome.result === 'not-found') throw notFound('Recording not found');
  if (outcome.result === 'not-held') {
    // An earlier release whose event could not be published: this repeat sends it.
    const kept = outcome.item.releaseToAnnounce;
    if (kept && (await announceRelease(outcome.item, kept, deps))) {
      await deps.holds.forgetReleaseToAnnounce(request.recordingSid, kept.at);
    }
    return { released: false, versionsReleased };
  }
  deps.obs.metric('RecordingReleased');
  const release: LegalHold = { by: request.by, at: now().toISOString(), reason: outcome.hold.reason };
  if (!(await announceRelease(outcome.item, release, deps))) {
    await deps.holds.keepReleaseToAnnounce(request.recordingSid, release);
  }
  return { released: true, versionsReleased };
}

function announceRelease(item: LedgerItem, release: LegalHold, deps: HoldDeps): Promise<boolean> {
  return announce({ detailType: 'Recording Released', detail: complianceDetail(item, release) }, deps);
}

/**
 * Sets the S3 legal hold on every version of the ledger's key (the number of versions held now),
 * or clears it on each version where it is on, read first (the number actually cleared: a release
 * that removed a hold set in S3 by hand says so).
 */
async function setObjectLegalHolds(item: LedgerItem, on: boolean, deps: HoldDeps): Promise<number> {
  const lock = deps.objectLock;
  if (!lock || !item.key) return 0;
  const key = item.key;
  try {
    const prefix = key.slice(0, key.lastIndexOf('.') + 1) || key;
    const { versions } = await lock.listObjectVersions(prefix);
    const mine = versions.filter((v) => v.key === key && !v.deleteMarker);
    let changed = 0;
    for (const version of mine) {
      if (!on && !(await lock.objectLegalHold(key, version.versionId))) continue;
      await lock.setLegalHold(key, version.versionId, on);
      changed++;
    }
    return changed;
  } catch (error) {
    deps.obs.logger.error('Could not set the S3 legal hold', { on, error: describeError(error) });
    deps.obs.metric('ObjectLegalHoldFailed');
    throw new HoldIncompleteError(
      on
        ? 'The hold is recorded in the ledger, but the S3 legal hold could not be set on every version'
        : 'The S3 legal hold could not be cleared on every version; the ledger still holds the recording',
    );
  }
}

function complianceDetail(item: LedgerItem, hold: LegalHold) {
  return {
    recordingSid: item.recordingSid,
    callId: item.callId,
    callSid: item.callSid,
    accountSid: item.accountSid,
    ...(item.conferenceSid ? { conferenceSid: item.conferenceSid } : {}),
    at: hold.at,
    by: hold.by,
    reason: hold.reason,
  };
}
