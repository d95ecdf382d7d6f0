import type { CallsRepository } from '../shared/calls/calls';
import type { RecordingFormat } from '../shared/config/function-config';
import type { RecordingJob } from '../shared/job/recording-job';
import type { EventPublisher } from '../shared/ledger/events';
import { isLate, type LateDays } from '../shared/ledger/late-days';
import { dayOf, type LedgerItem, type RecordingFacts, type RecordingLedger } from '../shared/ledger/ledger';
import { describeError } from '../shared/runtime/errors';
import type { Observability } from '../shared/runtime/observability';
import {
  generateStorageKey,
  type RecordingStore,
  StorageKeyError,
  type UploadResult,
} from '../shared/storage/recording-store';
import { encryptionMetadata } from '../shared/twilio/encryption-details';
import { MEDIA_CONTENT_TYPES, type TwilioApi } from '../shared/twilio/rest-api';
import { addCallDetails, type ProjectionDeps, projectStored, recordTwilioFailure } from './recording-projection';
import { classify, PermanentTransferError, RetryableTransferError } from './transfer-errors';

export interface TransferDeps {
  readonly twilio: TwilioApi;
  readonly store: RecordingStore;
  readonly ledger: RecordingLedger;
  /** Days the retention sweep must walk again: a recording stored a day or more after it started. */
  readonly lateDays: Pick<LateDays, 'note'>;
  readonly calls: CallsRepository;
  readonly events: EventPublisher;
  readonly format: RecordingFormat;
  readonly deleteFromTwilioAfterCopy: boolean;
  /** How long a claim holds without renewal; renewed every third of it while the copy runs. */
  readonly leaseSeconds: number;
  /** Fewer bytes per second of duration cannot be audio. @default MIN_BYTES_PER_SECOND */
  readonly minBytesPerSecond?: number;
  readonly obs: Observability;
  readonly now?: () => Date;
}

/** `callId` is undefined for a recording without a CallSid (a conference recording): it has no call item. */
export type TransferOutcome =
  | { readonly result: 'stored'; readonly callId: string | undefined; readonly key: string; readonly sizeBytes: number }
  | { readonly result: 'already-stored'; readonly callId: string | undefined }
  | { readonly result: 'claimed-elsewhere'; readonly callId: string | undefined }
  | { readonly result: 'erased'; readonly callId: string | undefined }
  | { readonly result: 'other-call'; readonly callId: string | undefined }
  | { readonly result: 'recorded-failure'; readonly callId: string | undefined; readonly status: 'failed' | 'absent' }
  | { readonly result: 'ignored' };

/**
 * Bytes per second of audio below which a download cannot be the recording (an error page
 * served with an audio type): twenty times below the sparsest real audio (8 kbit/s is 1,000 B/s).
 */
export const MIN_BYTES_PER_SECOND = 50;

/**
 * Handles one recording job. The ledger is written first and is the truth; the call item and the
 * events follow it. A completed recording is claimed in the ledger, copied from Twilio to S3
 * with its SHA-256, recorded, projected onto its call item and announced; an absent or failed
 * one is entered without fetching anything. Safe to run more than once for the same job, and
 * concurrently with a duplicate.
 */
export async function transferRecording(
  job: RecordingJob,
  claimId: string,
  deps: TransferDeps,
): Promise<TransferOutcome> {
  const now = deps.now ?? (() => new Date());
  const { obs } = deps;

  if (job.status === 'in-progress') return { result: 'ignored' };

  const projection = projectionDeps(deps);
  // A conference recording Twilio reported without a CallSid has no call item: it is found by its RecordingSid.
  let callId: string | undefined;
  if (job.callSid !== undefined) {
    const resolved = await deps.calls.resolveCall(job.callSid, now());
    callId = resolved.callId;
    if (resolved.created) {
      obs.logger.warn('No call item has this CallSid; created one so the recording is kept', { callId });
      obs.metric('UnmatchedCallSid');
      await addCallDetails(callId, job.callSid, projection);
    }
  }
  const facts: RecordingFacts = {
    recordingSid: job.recordingSid,
    callId,
    callSid: job.callSid,
    conferenceSid: job.conferenceSid,
    accountSid: job.accountSid,
    startedAt: job.startedAt,
    durationSeconds: job.durationSeconds,
    channels: job.channels,
    source: job.source,
    encryption: job.encryption,
    origin: job.origin ?? 'callback',
  };

  if (job.status === 'absent' || job.status === 'failed') {
    const recorded = await recordTwilioFailure(job, facts, projection);
    return { result: 'recorded-failure', ...recorded };
  }

  const claim = await deps.ledger.claim(facts, claimId, deps.leaseSeconds, now());
  switch (claim.result) {
    case 'stored':
      // A crash between the ledger and the call item heals here; the event goes out if it never did.
      await projectStored(claim.item, projection);
      obs.logger.info('Recording already stored; the call item says so');
      obs.metric('DuplicateJob');
      return { result: 'already-stored', callId: claim.item.callId ?? callId };
    case 'erased':
      obs.logger.info('Recording was erased; it is never copied again');
      obs.metric('DuplicateJob');
      return { result: 'erased', callId: claim.item.callId ?? callId };
    case 'other-call':
      obs.logger.warn('This RecordingSid is already held under another CallSid; noted, nothing copied', {
        ledgerCallSid: claim.item.callSid,
      });
      obs.metric('RecordingUnderTwoCalls');
      return { result: 'other-call', callId: claim.item.callId ?? callId };
    case 'busy':
      // A duplicate delivery while another job holds the claim. That job's own message is retried
      // if it fails or dies, so this one can go: retrying it would only risk a spurious `failed`.
      obs.logger.info('Another job is transferring this recording; dropping the duplicate');
      obs.metric('DuplicateJob');
      return { result: 'claimed-elsewhere', callId };
    case 'claimed':
      break;
  }

  // The first claim fixed the call and the start time: every attempt writes the same key.
  const recording = claim.item;
  const ownerCallId = recording.callId;
  if (job.startTimeIgnored !== undefined && recording.startedAt === job.startedAt) {
    await deps.ledger.addNote(
      job.recordingSid,
      `${now().toISOString()} RecordingStartTime "${job.startTimeIgnored}" is implausible; used the time the callback arrived`,
      now(),
    );
  }
  if (job.encryptionIgnored !== undefined) {
    await deps.ledger.addNote(
      job.recordingSid,
      `${now().toISOString()} EncryptionDetails unusable (${job.encryptionIgnored}); the ciphertext is still stored`,
      now(),
    );
  }
  if (ownerCallId !== undefined) {
    await deps.calls.markTransferring(ownerCallId, job.recordingSid, recording.startedAt, now());
  }
  // Twilio serves encrypted media only as .wav (.mp3 answers 16109), whatever the stage prefers.
  const encrypted = recording.encryption !== undefined || job.encryption !== undefined || !!job.encryptionIgnored;
  const format = encrypted ? 'wav' : deps.format;
  let key: string;
  try {
    key = generateStorageKey(storageOwner(recording), job.recordingSid, recording.startedAt, format);
  } catch (error) {
    if (error instanceof StorageKeyError) throw new PermanentTransferError(error.message, 'bad-call-id');
    throw error;
  }
  const contentType = MEDIA_CONTENT_TYPES[format];

  const copy = await withLease(job.recordingSid, claimId, recording.leaseExpiresAt ?? 0, deps, (signal) =>
    copyOnce(job, recording, { key, contentType, format }, signal, deps),
  );

  // Before the ledger says stored, so that a crash between the two loses no day: the sweep may have
  // passed this recording's day already (a backfill, a copy retried for days).
  if (isLate(recording.startedAt, now())) await deps.lateDays.note(dayOf(recording.startedAt));
  const stored = await deps.ledger.markStored(
    job.recordingSid,
    claimId,
    { bucket: deps.store.bucket, key, contentType, sizeBytes: copy.sizeBytes, sha256: copy.sha256 },
    now(),
  );
  if (!stored) throw new RetryableTransferError('The claim was taken over before the copy was recorded', 'lost-claim');
  obs.metric('RecordingStored');
  obs.metric('RecordingBytes', copy.sizeBytes, 'Bytes');
  obs.logger.info('Recording stored', { key, sizeBytes: copy.sizeBytes, sha256: copy.sha256 });
  await projectStored(stored, projection);

  if (deps.deleteFromTwilioAfterCopy) {
    // Reached only with the ledger `stored`: the size matched and the hash is recorded.
    try {
      await deps.twilio.deleteRecording(job.recordingSid);
      await deps.ledger.markDeletedAtTwilio(job.recordingSid, now());
      obs.logger.info('Deleted the recording at Twilio after a verified copy');
    } catch (error) {
      // Not a loss: the recording is safe in S3 and still at Twilio. Alarmed through the metric.
      obs.logger.error('Could not delete the recording at Twilio', { error: describeError(error) });
      obs.metric('TwilioDeleteFailed');
    }
  }
  return { result: 'stored', callId: ownerCallId, key, sizeBytes: copy.sizeBytes };
}

/** The object from an earlier attempt that died before recording it, or a fresh copy from Twilio. */
/** Where and how one recording is stored. */
interface Destination {
  readonly key: string;
  readonly contentType: string;
  readonly format: RecordingFormat;
}

async function copyOnce(
  job: RecordingJob,
  recording: LedgerItem,
  destination: Destination,
  signal: AbortSignal,
  deps: TransferDeps,
): Promise<UploadResult> {
  const { key } = destination;
  const existing = await deps.store.headRecording(key).catch(rethrowAsStorageError);
  const existingSha =
    existing && existing.sizeBytes > 0 && existing.metadata['recording-sid'] === job.recordingSid
      ? await deps.store.storedSha256(key, existing).catch(rethrowAsStorageError)
      : undefined;
  if (existing && existingSha) {
    deps.obs.logger.info('Object already in S3 from an earlier attempt; recording it', { key });
    return { sizeBytes: existing.sizeBytes, sha256: existingSha };
  }
  return copyFromTwilio(job, recording, destination, signal, deps);
}

async function copyFromTwilio(
  job: RecordingJob,
  recording: LedgerItem,
  { key, contentType, format }: Destination,
  signal: AbortSignal,
  deps: TransferDeps,
): Promise<UploadResult> {
  let media: Awaited<ReturnType<TwilioApi['fetchRecordingAudio']>>;
  try {
    // Both channels of a two-channel recording: Twilio mixes a conference's down to mono unless asked.
    media = await deps.twilio.fetchRecordingAudio(job.recordingSid, format, {
      channels: recording.channels ?? job.channels,
    });
  } catch (error) {
    throw classify(error);
  }
  const abort = () => media.body.destroy(new RetryableTransferError('The claim was lost mid-copy', 'lost-claim'));
  if (signal.aborted) abort();
  signal.addEventListener('abort', abort, { once: true });
  const metadata: Record<string, string> = { 'recording-sid': job.recordingSid };
  if (recording.callSid !== undefined) metadata['call-sid'] = recording.callSid;
  if (recording.conferenceSid !== undefined) metadata['conference-sid'] = recording.conferenceSid;
  const durationSeconds = recording.durationSeconds ?? job.durationSeconds;
  if (durationSeconds !== undefined) metadata['duration-seconds'] = String(durationSeconds);
  const channels = recording.channels ?? job.channels;
  if (channels !== undefined) metadata.channels = String(channels);
  const encryption = recording.encryption ?? job.encryption;
  if (encryption) Object.assign(metadata, encryptionMetadata(encryption));

  let uploaded: UploadResult;
  try {
    uploaded = await deps.store.uploadRecording(key, media.body, {
      contentType,
      metadata,
      expectedBytes: media.contentLength,
      minBytes: durationSeconds ? durationSeconds * (deps.minBytesPerSecond ?? MIN_BYTES_PER_SECOND) : undefined,
    });
  } catch (error) {
    throw classify(error);
  } finally {
    signal.removeEventListener('abort', abort);
  }
  const stored = await deps.store.headRecording(key).catch(rethrowAsStorageError);
  const storedSha = stored ? await deps.store.storedSha256(key, stored).catch(rethrowAsStorageError) : undefined;
  if (!stored || stored.sizeBytes !== uploaded.sizeBytes || storedSha !== uploaded.sha256) {
    throw new RetryableTransferError('The stored object does not match what was sent', 'verify-failed');
  }
  return uploaded;
}

/**
 * Runs `work` while renewing the claim's lease every third of its length, so that a copy that
 * outlasts the lease is never taken over by a duplicate. A renewal that finds the claim gone
 * aborts the work (its signal), which then fails retryably.
 */
async function withLease<T>(
  recordingSid: string,
  claimId: string,
  leaseExpiresAt: number,
  deps: TransferDeps,
  work: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const now = deps.now ?? (() => new Date());
  const lost = new AbortController();
  const intervalMs = Math.max(250, (deps.leaseSeconds * 1000) / 3);
  let heldUntil = leaseExpiresAt;
  const timer = setInterval(() => {
    const renewing = now();
    deps.ledger.renewLease(recordingSid, claimId, deps.leaseSeconds, renewing).then(
      (held) => {
        if (held) {
          heldUntil = renewing.getTime() + deps.leaseSeconds * 1000;
          return;
        }
        deps.obs.logger.warn('The claim was taken over; abandoning this copy');
        lost.abort();
      },
      (error: unknown) => {
        // Unconfirmed, the claim may lapse before the next try: stop writing while it still holds,
        // so that no object lands after another job (or an erasure) has taken the recording.
        if (now().getTime() + intervalMs >= heldUntil) {
          deps.obs.logger.warn('Could not renew the claim before it lapses; abandoning this copy', {
            error: describeError(error),
          });
          lost.abort();
          return;
        }
        deps.obs.logger.warn('Could not renew the claim; will try again', { error: describeError(error) });
      },
    );
  }, intervalMs);
  try {
    const result = await work(lost.signal);
    if (lost.signal.aborted) throw new RetryableTransferError('The claim was lost mid-copy', 'lost-claim');
    return result;
  } finally {
    clearInterval(timer);
  }
}

/**
 * The folder of the recording's key: its call id, or for a recording without a CallSid (a
 * conference recording) its ConferenceSid, so that the key never depends on which job came first.
 */
function storageOwner(recording: LedgerItem): string {
  const owner = recording.callId ?? recording.conferenceSid;
  if (owner === undefined) {
    throw new PermanentTransferError('The ledger names neither a call nor a conference', 'no-call-or-conference');
  }
  return owner;
}

function rethrowAsStorageError(error: unknown): never {
  throw classify(error);
}

/** What the projections need of the transfer's dependencies. */
function projectionDeps(deps: TransferDeps): ProjectionDeps {
  return {
    ledger: deps.ledger,
    calls: deps.calls,
    events: deps.events,
    twilio: deps.twilio,
    bucket: deps.store.bucket,
    obs: deps.obs,
    ...(deps.now ? { now: deps.now } : {}),
  };
}
