import { type EncryptionDetails, isEncryptionDetails } from '../twilio/encryption-details';
import { SID } from '../twilio/sids';

/** The transfer job: what the webhook, the reconciler and backfill queue and the transfer consumes, and the rules for its values. */

export const RECORDING_STATUSES = ['in-progress', 'completed', 'absent', 'failed'] as const;
export type RecordingStatus = (typeof RECORDING_STATUSES)[number];

/**
 * Twilio's RecordingSource values (twilio/twilio-oai `recording_enum_source`): the webhook accepts
 * only these, and a stage's retention may differ by them.
 */
export const RECORDING_SOURCES = [
  'DialVerb',
  'Conference',
  'OutboundAPI',
  'Trunking',
  'RecordVerb',
  'StartCallRecordingAPI',
  'StartConferenceRecordingAPI',
] as const;
export type RecordingSource = (typeof RECORDING_SOURCES)[number];

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
  /** The call recorded; absent for a conference recording Twilio sent without one. */
  readonly callSid?: string | undefined;
  /** The conference recorded (`CF…`), when it is a conference recording. */
  readonly conferenceSid?: string | undefined;
  readonly recordingSid: string;
  readonly status: RecordingStatus;
  /** Whole seconds; undefined when Twilio sent none or a non-number. */
  readonly durationSeconds?: number | undefined;
  readonly channels?: number | undefined;
  /** ISO-8601 start of the recording; falls back to when the callback arrived. */
  readonly startedAt: string;
  /**
   * The RecordingStartTime Twilio sent (at most 64 characters) when it was not used because it
   * did not parse or was implausible, so that the transfer can note it; absent otherwise.
   */
  readonly startTimeIgnored?: string | undefined;
  readonly source?: string | undefined;
  readonly track?: string | undefined;
  readonly errorCode?: string | undefined;
  /** Voice Recording Encryption: the recording is ciphertext, fetched as `.wav` (see encryption-details.ts). */
  readonly encryption?: EncryptionDetails | undefined;
  /**
   * `EncryptionDetails` were sent but unusable: why, and a bounded copy of them, for the ledger's
   * notes. The recording is still copied (as `.wav`: Twilio serves encrypted media only so).
   */
  readonly encryptionIgnored?: string | undefined;
  readonly receivedAt: string;
  /** Unset: `callback`. */
  readonly origin?: JobOrigin | undefined;
}

export class CallbackValidationError extends Error {
  override name = 'CallbackValidationError';
}

/** Bound on each optional text copied into a job: Twilio's own values are a few characters. */
export const MAX_OPTIONAL_CHARS = 128;
/**
 * Control characters, lone surrogates and U+FFFE/U+FFFF: never meaningful in Twilio's values,
 * and the last two are refused in an SQS message body (JSON escapes the others, but they
 * would still reach the call item and its notes).
 */
const UNFIT_CHARACTERS = /[\p{Cc}\p{Cs}\ufffe\uffff]/gu;

/**
 * Callback text fit to copy into a job: unfit characters dropped, at most `max` characters
 * (code points, so a pair is never split), undefined when nothing is left. Whatever a
 * callback holds, the job stays small and survives the queue.
 */
export function boundedText(raw: string | undefined, max: number): string | undefined {
  if (raw === undefined) return undefined;
  const cleaned = Array.from(raw.replace(UNFIT_CHARACTERS, '').trim()).slice(0, max).join('').trim();
  return cleaned || undefined;
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

/** Twilio Programmable Voice recordings do not predate 2008: anything earlier is a bad value. */
const EARLIEST_START = Date.UTC(2008, 0, 1);
/** Clocks differ and zones confuse, but a recording cannot start more than a day after it was reported. */
const MAX_START_AHEAD_MS = 24 * 60 * 60 * 1000;
export const MAX_IGNORED_START_CHARS = 64;

/**
 * The start time when it is plausible: it parses, lies between 2008 and a day after the
 * callback arrived, and its text spells that year in four digits (Date.parse reads
 * `Mon, 22 Jul 0001 …` as 2001, and two-digit years are guesses). A local year may differ
 * from the UTC year by one around New Year (zone offsets like +0000 never pass for a year
 * after 2008). Implausible times would make absurd S3 keys.
 */
export function plausibleStartTime(raw: string | undefined, receivedAt: Date): string | undefined {
  const iso = parseStartTime(raw);
  if (!raw || !iso) return undefined;
  const time = Date.parse(iso);
  if (time < EARLIEST_START || time > receivedAt.getTime() + MAX_START_AHEAD_MS) return undefined;
  const year = new Date(time).getUTCFullYear();
  const written = (raw.match(/(?<!\d)\d{4}(?!\d)/g) ?? []).map(Number);
  return written.some((y) => Math.abs(y - year) <= 1) ? iso : undefined;
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
    !optionalSid(job.callSid, SID.CallSid) ||
    !optionalSid(job.conferenceSid, SID.ConferenceSid) ||
    (job.callSid === undefined && job.conferenceSid === undefined) ||
    typeof job.recordingSid !== 'string' ||
    !SID.RecordingSid.test(job.recordingSid) ||
    !(RECORDING_STATUSES as readonly (string | undefined)[]).includes(job.status) ||
    (job.jobId !== undefined && typeof job.jobId !== 'string') ||
    (job.origin !== undefined && !(JOB_ORIGINS as readonly unknown[]).includes(job.origin)) ||
    (job.startTimeIgnored !== undefined && typeof job.startTimeIgnored !== 'string') ||
    (job.encryption !== undefined && !isEncryptionDetails(job.encryption)) ||
    (job.encryptionIgnored !== undefined && typeof job.encryptionIgnored !== 'string') ||
    typeof job.startedAt !== 'string' ||
    Number.isNaN(Date.parse(job.startedAt))
  ) {
    throw new CallbackValidationError('job is malformed');
  }
  return job as RecordingJob;
}

/** Absent, or a well-formed SID. */
function optionalSid(value: unknown, pattern: RegExp): boolean {
  return value === undefined || (typeof value === 'string' && pattern.test(value));
}
