import type { CallsRepository, RecordingEntry } from './calls';
import type { RecordingFormat } from './config';
import type { Observability } from './observability';
import type { RecordingJob } from './recording-callback';
import { generateStorageKey, IncompleteMediaError, isNotFound, type RecordingStore } from './storage';
import { MEDIA_CONTENT_TYPES, type TwilioApi, TwilioApiError } from './twilio-api';

export interface TransferDeps {
  readonly twilio: TwilioApi;
  readonly store: RecordingStore;
  readonly calls: CallsRepository;
  readonly format: RecordingFormat;
  readonly deleteFromTwilioAfterCopy: boolean;
  readonly leaseSeconds: number;
  readonly obs: Observability;
  readonly now?: () => Date;
}

export type TransferOutcome =
  | { readonly result: 'stored'; readonly callId: string; readonly key: string; readonly sizeBytes: number }
  | { readonly result: 'already-stored'; readonly callId: string }
  | { readonly result: 'claimed-elsewhere'; readonly callId: string }
  | { readonly result: 'recorded-failure'; readonly callId: string; readonly status: 'failed' | 'absent' }
  | { readonly result: 'ignored' };

/** A failure worth another attempt later (Twilio not ready, throttling, transient network or S3 errors). */
export class RetryableTransferError extends Error {
  override name = 'RetryableTransferError';
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
  }
}

/** A failure that another attempt will not fix (credentials refused, malformed job, size mismatch persists…). */
export class PermanentTransferError extends Error {
  override name = 'PermanentTransferError';
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
  }
}

/**
 * Handles one recording job: a completed recording is copied from Twilio to S3 and recorded
 * on its call item; an absent or failed one is recorded without fetching anything.
 * Safe to run more than once for the same job, and concurrently with a duplicate.
 */
export async function transferRecording(
  job: RecordingJob,
  claimId: string,
  deps: TransferDeps,
): Promise<TransferOutcome> {
  const now = deps.now ?? (() => new Date());
  const { obs } = deps;

  if (job.status === 'in-progress') return { result: 'ignored' };

  const { callId, created } = await deps.calls.resolveCall(job.callSid, now());
  if (created) {
    obs.logger.warn('No call item has this CallSid; created one so the recording is kept', { callId });
    obs.metric('UnmatchedCallSid');
  }

  if (job.status === 'absent' || job.status === 'failed') {
    await deps.calls.markFailed(
      callId,
      job.recordingSid,
      {
        status: job.status,
        errorCode: job.errorCode,
        error: job.status === 'absent' ? describeAbsent(job.errorCode) : 'Twilio reported the recording failed',
        durationSeconds: job.durationSeconds,
        channels: job.channels,
        source: job.source,
        startedAt: job.startedAt,
      },
      now(),
    );
    obs.logger.warn('Twilio reported no usable recording', { status: job.status, errorCode: job.errorCode });
    obs.metric(job.status === 'absent' ? 'RecordingAbsent' : 'RecordingFailedAtTwilio');
    return { result: 'recorded-failure', callId, status: job.status };
  }

  const claim = await deps.calls.claimRecording(callId, job.recordingSid, claimId, deps.leaseSeconds, now());
  if (claim === 'stored') {
    obs.logger.info('Recording already stored; nothing to do');
    obs.metric('DuplicateJob');
    return { result: 'already-stored', callId };
  }
  if (claim === 'busy') {
    // A duplicate delivery while another job holds the claim. That job's own message is retried
    // if it fails or dies, so this one can go: retrying it would only risk a spurious `failed`.
    obs.logger.info('Another job is transferring this recording; dropping the duplicate');
    obs.metric('DuplicateJob');
    return { result: 'claimed-elsewhere', callId };
  }

  const key = generateStorageKey(callId, job.recordingSid, job.startedAt, deps.format);
  const contentType = MEDIA_CONTENT_TYPES[deps.format];
  const existing = await deps.store.headRecording(key).catch(rethrowAsStorageError);
  let sizeBytes: number;
  if (existing && existing.sizeBytes > 0 && existing.metadata['recording-sid'] === job.recordingSid) {
    // An earlier attempt stored the object but died before updating the item.
    sizeBytes = existing.sizeBytes;
    obs.logger.info('Object already in S3 from an earlier attempt; recording it', { key });
  } else {
    sizeBytes = await copyFromTwilio(job, key, contentType, deps);
  }

  const entry: RecordingEntry = {
    status: 'stored',
    bucket: deps.store.bucket,
    key,
    contentType,
    sizeBytes,
    durationSeconds: job.durationSeconds,
    channels: job.channels,
    source: job.source,
    startedAt: job.startedAt,
    storedAt: now().toISOString(),
  };
  await deps.calls.markStored(callId, job.recordingSid, entry, now());
  obs.metric('RecordingStored');
  obs.metric('RecordingBytes', sizeBytes, 'Bytes');
  obs.logger.info('Recording stored', { key, sizeBytes });

  if (deps.deleteFromTwilioAfterCopy) {
    try {
      await deps.twilio.deleteRecording(job.recordingSid);
      obs.logger.info('Deleted the recording at Twilio after a verified copy');
    } catch (error) {
      // Not a loss: the recording is safe in S3 and still at Twilio. Alarmed through the metric.
      obs.logger.error('Could not delete the recording at Twilio', { error: describe(error) });
      obs.metric('TwilioDeleteFailed');
    }
  }
  return { result: 'stored', callId, key, sizeBytes };
}

async function copyFromTwilio(
  job: RecordingJob,
  key: string,
  contentType: string,
  deps: TransferDeps,
): Promise<number> {
  let media: Awaited<ReturnType<TwilioApi['fetchRecordingAudio']>>;
  try {
    media = await deps.twilio.fetchRecordingAudio(job.recordingSid, deps.format);
  } catch (error) {
    throw classify(error);
  }
  const metadata: Record<string, string> = { 'call-sid': job.callSid, 'recording-sid': job.recordingSid };
  if (job.durationSeconds !== undefined) metadata['duration-seconds'] = String(job.durationSeconds);
  if (job.channels !== undefined) metadata.channels = String(job.channels);

  let uploaded: number;
  try {
    ({ sizeBytes: uploaded } = await deps.store.uploadRecording(key, media.body, {
      contentType,
      metadata,
      expectedBytes: media.contentLength,
    }));
  } catch (error) {
    throw classify(error);
  }
  const stored = await deps.store.headRecording(key).catch(rethrowAsStorageError);
  if (!stored || stored.sizeBytes !== uploaded) {
    throw new RetryableTransferError('The stored object does not match what was sent', 'verify-failed');
  }
  return uploaded;
}

/** AWS error names that mean "try again later" whatever their HTTP status. */
const RETRYABLE_AWS_ERRORS = new Set([
  'ThrottlingException',
  'ProvisionedThroughputExceededException',
  'RequestLimitExceeded',
  'TransactionConflictException',
  'LimitExceededException',
  'SlowDown',
  'RequestTimeout',
  'RequestTimeoutException',
  'InternalError',
  'InternalServerError',
  'ServiceUnavailable',
]);

/** Maps any error from Twilio, the network, S3 or DynamoDB onto retryable or permanent. */
export function classify(error: unknown): RetryableTransferError | PermanentTransferError {
  if (error instanceof RetryableTransferError || error instanceof PermanentTransferError) return error;
  if (error instanceof IncompleteMediaError) return new RetryableTransferError(error.message, error.code);
  if (error instanceof TwilioApiError) {
    return error.retryable
      ? new RetryableTransferError(error.message, error.code)
      : new PermanentTransferError(error.message, error.code);
  }
  const e = error as {
    name?: string;
    code?: string;
    $metadata?: { httpStatusCode?: number };
    $retryable?: unknown;
  };
  const status = e?.$metadata?.httpStatusCode;
  if (status !== undefined) {
    const name = e.name ?? 'error';
    // Throttling and server-side trouble pass (DynamoDB throttles with 400s); access,
    // validation and missing-resource errors need a person, then a redrive.
    if (status >= 500 || status === 429 || status === 408 || RETRYABLE_AWS_ERRORS.has(name) || e.$retryable) {
      return new RetryableTransferError(`AWS answered ${status} (${name})`, `aws-${name}`);
    }
    if (name === 'NoSuchBucket' || (status === 404 && isNotFound(error))) {
      return new PermanentTransferError('The recordings bucket does not exist', 's3-404');
    }
    return new PermanentTransferError(`AWS refused the request (${status} ${name})`, `aws-${name}`);
  }
  // Resets, premature closes, aborted streams, DNS hiccups: transient by nature.
  return new RetryableTransferError(`Transfer interrupted: ${e?.code ?? e?.name ?? 'error'}`, 'network');
}

function rethrowAsStorageError(error: unknown): never {
  throw classify(error);
}

function describeAbsent(errorCode: string | undefined): string {
  if (errorCode === '16101') return 'Twilio recorded nothing: the recording was too short';
  if (errorCode === '16102') return 'Twilio recorded nothing: the recording was silent';
  return 'Twilio reported the recording absent';
}

export function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
