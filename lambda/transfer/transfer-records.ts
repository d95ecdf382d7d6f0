import type { SQSRecord } from 'aws-lambda';
import { parseRecordingJob, type RecordingJob } from '../shared/job/recording-job';
import type { TransferQueue } from '../shared/job/transfer-queue';
import { retryDelaySeconds } from '../shared/job/transfer-queue';
import { announce } from '../shared/ledger/events';
import { describeError } from '../shared/runtime/errors';
import type { Observability } from '../shared/runtime/observability';
import { UnknownAccountError } from '../shared/twilio/accounts';
import type { TwilioApiFor } from '../shared/twilio/rest-api';
import { classify, PermanentTransferError, type RetryableTransferError } from './transfer-errors';
import { type TransferDeps, type TransferOutcome, transferRecording } from './transfer-recording';

export interface TransferRecordDeps extends TransferDeps {
  /** Twilio as the job's account (its path, its token); unset: `twilio` for every job. */
  readonly twilioFor?: TwilioApiFor;
  readonly queue: TransferQueue;
  /** Attempts before a job is given up and dead-lettered; also the queue's maxReceiveCount. */
  readonly maxAttempts: number;
  readonly retryBaseSeconds: number;
}

export type RecordOutcome = TransferOutcome | { readonly result: 'dead-lettered'; readonly code: string };

/**
 * Handles one SQS record of the transfer queue.
 * - Success, or a duplicate: the record is acknowledged.
 * - A retryable failure before the last attempt: the record is reported failed (a throw) after
 *   its next delivery is delayed by the backoff (30 s, 60 s, 120 s … with the default base).
 * - A permanent failure, or the last attempt: the call item says `failed` with the reason, the
 *   job is moved to the dead-letter queue at once (one note, no further calls to Twilio) and the
 *   record is acknowledged. The queue's own redrive stays as the backstop for a crashing function.
 */
export function createTransferRecordHandler(deps: TransferRecordDeps) {
  const twilioOf = (job: RecordingJob) => {
    if (!deps.twilioFor) return deps.twilio;
    try {
      return deps.twilioFor(job.accountSid);
    } catch (error) {
      // Queued before the stage stopped listing the account: nothing can fetch it until it is listed again.
      if (error instanceof UnknownAccountError) throw new PermanentTransferError(error.message, 'account-not-listed');
      throw error;
    }
  };
  return async function handleRecord(record: SQSRecord): Promise<RecordOutcome> {
    const attempt = Number(record.attributes?.ApproximateReceiveCount ?? '1') || 1;
    let job: RecordingJob;
    try {
      job = parseRecordingJob(record.body);
    } catch (error) {
      // Never produced by our webhook: park it for a human.
      deps.obs.logger.error('Malformed transfer job', { messageId: record.messageId, error: describeError(error) });
      deps.obs.metric('MalformedJob');
      await deps.queue.deadLetter(record.body, { code: 'bad-job', error: describeError(error), attempts: attempt });
      return { result: 'dead-lettered', code: 'bad-job' };
    }

    // Keys of its own: records of one batch run concurrently and must not share them.
    const obs = deps.obs.withKeys({
      recordingSid: job.recordingSid,
      callSid: job.callSid,
      attempt,
      messageId: record.messageId,
    });
    try {
      return await transferRecording(job, job.jobId ?? record.messageId, { ...deps, twilio: twilioOf(job), obs });
    } catch (caught) {
      const error = classify(caught);
      const permanent = error instanceof PermanentTransferError;
      if (!permanent && attempt < deps.maxAttempts) {
        await releaseLease(job.recordingSid, job.jobId ?? record.messageId, obs, deps);
        await scheduleRetry(record, attempt, error, obs, deps);
        throw error;
      }
      obs.logger.error('Recording transfer failed; moving the job to the dead-letter queue', {
        error: describeError(error),
        code: error.code,
        permanent,
      });
      obs.metric('TransferFailed');
      await recordFailure(job, job.jobId ?? record.messageId, error.code, error.message, obs, deps);
      await deps.queue.deadLetter(record.body, { code: error.code, error: error.message, attempts: attempt });
      return { result: 'dead-lettered', code: error.code };
    }
  };
}

/** Nothing runs until the retry: the lease is let go, so that a DELETE need not wait for it. */
async function releaseLease(
  recordingSid: string,
  claimId: string,
  obs: Observability,
  deps: TransferRecordDeps,
): Promise<void> {
  try {
    await deps.ledger.releaseLease(recordingSid, claimId, (deps.now ?? (() => new Date()))());
  } catch (error) {
    // The lease then runs out by itself; the retry takes the claim back either way.
    obs.logger.warn('Could not release the claim before the retry', { error: describeError(error) });
  }
}

async function scheduleRetry(
  record: SQSRecord,
  attempt: number,
  error: RetryableTransferError,
  obs: Observability,
  deps: TransferRecordDeps,
): Promise<void> {
  const delay = retryDelaySeconds(attempt, deps.retryBaseSeconds);
  obs.logger.warn('Recording transfer failed; will retry', {
    error: describeError(error),
    code: error.code,
    retryInSeconds: delay,
  });
  obs.metric('TransferRetried');
  await deps.queue.delayRetry(record.receiptHandle, delay).catch((e) =>
    obs.logger.warn('Could not set the retry delay; the queue visibility timeout applies', {
      error: describeError(e),
    }),
  );
}

async function recordFailure(
  job: RecordingJob,
  claimId: string,
  code: string,
  message: string,
  obs: Observability,
  deps: TransferRecordDeps,
): Promise<void> {
  try {
    const now = (deps.now ?? (() => new Date()))();
    // Only this job's claim turns `failed`: a copy stored or erased meanwhile stays so.
    const item = await deps.ledger.markFailed(job.recordingSid, claimId, { errorCode: code, error: message }, now);
    if (!item) return;
    const callSid = item.callSid ?? job.callSid;
    const callId = item.callId ?? (callSid ? (await deps.calls.resolveCall(callSid, now)).callId : undefined);
    // A recording without a CallSid (a conference recording) has no call item to write.
    if (callId !== undefined)
      await deps.calls.markFailed(
        callId,
        job.recordingSid,
        {
          status: 'failed',
          errorCode: code,
          error: message,
          durationSeconds: item.durationSeconds,
          channels: item.channels,
          source: item.source,
          startedAt: item.startedAt,
        },
        now,
      );
    await announce(
      {
        detailType: 'Recording Failed',
        detail: {
          recordingSid: job.recordingSid,
          callId,
          callSid: item.callSid,
          conferenceSid: item.conferenceSid,
          accountSid: item.accountSid ?? job.accountSid,
          status: 'failed',
          errorCode: code,
          error: message,
        },
      },
      { events: deps.events, obs },
    );
  } catch (error) {
    // The dead-letter queue still holds the job; the ledger and the item are the readable summary.
    obs.logger.error('Could not record the failure', { error: describeError(error) });
  }
}
