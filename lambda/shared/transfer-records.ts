import type { SQSRecord } from 'aws-lambda';
import type { TransferQueue } from './queue';
import { retryDelaySeconds } from './queue';
import {
  classify,
  describe,
  PermanentTransferError,
  type TransferDeps,
  type TransferOutcome,
  transferRecording,
} from './transfer';
import { CallbackValidationError, parseRecordingJob, type RecordingJob } from './twilio';

export interface TransferRecordDeps extends TransferDeps {
  readonly queue: TransferQueue;
  /** Receives before the dead-letter queue; the queue's maxReceiveCount. */
  readonly maxAttempts: number;
  readonly retryBaseSeconds: number;
}

/**
 * Handles one SQS record of the transfer queue. A throw reports the record as a batch item
 * failure: SQS delivers it again after the backoff set here, and after `maxAttempts`
 * receives moves it to the dead-letter queue. The call item says `failed` once no more
 * attempts will come (or the failure is permanent), with the reason.
 */
export function createTransferRecordHandler(deps: TransferRecordDeps) {
  const { logger } = deps.obs;
  return async function handleRecord(record: SQSRecord): Promise<TransferOutcome> {
    const attempt = Number(record.attributes?.ApproximateReceiveCount ?? '1') || 1;
    let job: RecordingJob;
    try {
      job = parseRecordingJob(record.body);
    } catch (error) {
      // Never produced by our webhook: park it in the dead-letter queue for a human.
      logger.error('Malformed transfer job', { messageId: record.messageId, error: describe(error) });
      deps.obs.metric('MalformedJob');
      await deps.queue.delayRetry(record.receiptHandle, 0).catch(() => undefined);
      throw error instanceof CallbackValidationError ? new PermanentTransferError(error.message, 'bad-job') : error;
    }

    logger.appendKeys({ recordingSid: job.recordingSid, callSid: job.callSid, attempt, messageId: record.messageId });
    try {
      const outcome = await transferRecording(job, job.jobId ?? record.messageId, deps);
      return outcome;
    } catch (caught) {
      const error = classify(caught);
      const permanent = error instanceof PermanentTransferError;
      const lastAttempt = attempt >= deps.maxAttempts;
      if (permanent || lastAttempt) {
        logger.error('Recording transfer failed; the job goes to the dead-letter queue', {
          error: describe(error),
          code: error.code,
          permanent,
        });
        deps.obs.metric('TransferFailed');
        await recordFailure(job, error.code, error.message, deps);
        // A permanent failure need not wait out the backoff on its way to the dead-letter queue.
        if (permanent && !lastAttempt) await deps.queue.delayRetry(record.receiptHandle, 0).catch(() => undefined);
      } else {
        const delay = retryDelaySeconds(attempt, deps.retryBaseSeconds);
        logger.warn('Recording transfer failed; will retry', {
          error: describe(error),
          code: error.code,
          retryInSeconds: delay,
        });
        deps.obs.metric('TransferRetried');
        await deps.queue
          .delayRetry(record.receiptHandle, delay)
          .catch((e) =>
            logger.warn('Could not set the retry delay; the queue visibility timeout applies', { error: describe(e) }),
          );
      }
      throw error;
    } finally {
      logger.resetKeys();
    }
  };
}

async function recordFailure(
  job: RecordingJob,
  code: string,
  message: string,
  deps: TransferRecordDeps,
): Promise<void> {
  try {
    const now = (deps.now ?? (() => new Date()))();
    const { callId } = await deps.calls.resolveCall(job.callSid, now);
    await deps.calls.markFailed(
      callId,
      job.recordingSid,
      {
        status: 'failed',
        errorCode: code,
        error: message,
        durationSeconds: job.durationSeconds,
        channels: job.channels,
        source: job.source,
        startedAt: job.startedAt,
      },
      now,
    );
  } catch (error) {
    deps.obs.logger.error('Could not record the failure on the call item', { error: describe(error) });
  }
}
