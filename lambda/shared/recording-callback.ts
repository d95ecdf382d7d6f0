import type { FormParams } from './twilio-signature';

/** Twilio's recording status callback, validated into the job the webhook queues and the transfer consumes. */

export const RECORDING_STATUSES = ['in-progress', 'completed', 'absent', 'failed'] as const;
export type RecordingStatus = (typeof RECORDING_STATUSES)[number];

export const SID = {
  AccountSid: /^AC[0-9a-fA-F]{32}$/,
  CallSid: /^CA[0-9a-fA-F]{32}$/,
  RecordingSid: /^RE[0-9a-fA-F]{32}$/,
} as const;

/** Who queued a job: Twilio's callback, the scheduled reconciler, or a backfill run. */
export const JOB_ORIGINS = ['callback', 'reconciler', 'backfill'] as const;
export type JobOrigin = (typeof JOB_ORIGINS)[number];

/** One recording event, validated: what the webhook enqueues and the transfer consumes. */
export interface RecordingJob {
  readonly version: 1;
  /**
   * One per accepted callback. Redeliveries of the same message (SQS at-least-once, a replayed
   * local queue, a DLQ redrive) keep it and may resume a claim; a duplicate callback gets another.
   */
  readonly jobId?: string | undefined;
  readonly accountSid: string;
  readonly callSid: string;
  readonly recordingSid: string;
  readonly status: RecordingStatus;
  /** Whole seconds; undefined when Twilio sent none or a non-number. */
  readonly durationSeconds?: number | undefined;
  readonly channels?: number | undefined;
  /** ISO-8601 start of the recording; falls back to when the callback arrived. */
  readonly startedAt: string;
  readonly source?: string | undefined;
  readonly track?: string | undefined;
  readonly errorCode?: string | undefined;
  readonly receivedAt: string;
  /** A RecordingStartTime that was implausible and ignored (the raw value, for a note). */
  readonly startTimeIgnored?: string | undefined;
  /** Unset: `callback`. */
  readonly origin?: JobOrigin | undefined;
}

export class CallbackValidationError extends Error {
  override name = 'CallbackValidationError';
}

function single(params: FormParams, name: string): string | undefined {
  const value = params[name];
  const first = Array.isArray(value) ? value[0] : value;
  const trimmed = first?.trim();
  return trimmed ? trimmed : undefined;
}

/** Whole, non-negative seconds, or undefined for anything else ("", "abc", "-1", "1.5e3x"). */
export function parseDuration(raw: string | undefined): number | undefined {
  if (raw === undefined || !/^\d+$/.test(raw)) return undefined;
  const value = Number(raw);
  return Number.isSafeInteger(value) ? value : undefined;
}

/** RFC 2822 (`Mon, 22 Jul 2024 17:00:00 +0000`) or ISO-8601 to ISO-8601; undefined if unparsable. */
export function parseStartTime(raw: string | undefined): string | undefined {
  if (!raw) return undefined;
  const time = Date.parse(raw);
  return Number.isNaN(time) ? undefined : new Date(time).toISOString();
}

/**
 * Validates a recording status callback. Required: AccountSid, CallSid, RecordingSid,
 * RecordingStatus, with well-formed SIDs. Unknown parameters are tolerated (Twilio adds
 * parameters without notice); optional ones that do not parse are dropped, not fatal.
 */
export function parseRecordingCallback(params: FormParams, receivedAt: Date, jobId?: string): RecordingJob {
  const problems: string[] = [];
  const sid = (name: keyof typeof SID): string => {
    const value = single(params, name);
    if (!value) problems.push(`${name} is required`);
    else if (!SID[name].test(value)) problems.push(`${name} is malformed`);
    return value ?? '';
  };
  const accountSid = sid('AccountSid');
  const callSid = sid('CallSid');
  const recordingSid = sid('RecordingSid');
  const status = single(params, 'RecordingStatus');
  if (!status) problems.push('RecordingStatus is required');
  else if (!(RECORDING_STATUSES as readonly string[]).includes(status))
    problems.push('RecordingStatus is not recognised');
  if (problems.length > 0) throw new CallbackValidationError(problems.join('; '));

  const channels = parseDuration(single(params, 'RecordingChannels'));
  const errorCode = single(params, 'ErrorCode');
  return {
    version: 1,
    jobId,
    accountSid,
    callSid,
    recordingSid,
    status: status as RecordingStatus,
    durationSeconds: parseDuration(single(params, 'RecordingDuration')),
    channels: channels === 1 || channels === 2 ? channels : undefined,
    startedAt: parseStartTime(single(params, 'RecordingStartTime')) ?? receivedAt.toISOString(),
    source: single(params, 'RecordingSource'),
    track: single(params, 'RecordingTrack'),
    errorCode: errorCode && errorCode !== '0' ? errorCode : undefined,
    receivedAt: receivedAt.toISOString(),
  };
}

/** Checks a queued job's shape; a poison message must fail loudly, not half-process. */
export function parseRecordingJob(body: string): RecordingJob {
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    throw new CallbackValidationError('job is not JSON');
  }
  const job = value as Partial<RecordingJob> | null;
  if (
    job?.version !== 1 ||
    typeof job.accountSid !== 'string' ||
    !SID.AccountSid.test(job.accountSid) ||
    typeof job.callSid !== 'string' ||
    !SID.CallSid.test(job.callSid) ||
    typeof job.recordingSid !== 'string' ||
    !SID.RecordingSid.test(job.recordingSid) ||
    !(RECORDING_STATUSES as readonly (string | undefined)[]).includes(job.status) ||
    (job.jobId !== undefined && typeof job.jobId !== 'string') ||
    (job.origin !== undefined && !(JOB_ORIGINS as readonly unknown[]).includes(job.origin)) ||
    typeof job.startedAt !== 'string' ||
    Number.isNaN(Date.parse(job.startedAt))
  ) {
    throw new CallbackValidationError('job is malformed');
  }
  return job as RecordingJob;
}
