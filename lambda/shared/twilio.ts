import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Readable } from 'node:stream';
// The signature module alone: loading the whole twilio SDK costs ~160 ms of cold start.
import { validateRequest } from 'twilio/lib/webhooks/webhooks';
import type { RecordingFormat } from './config';

/* ------------------------------------------------------------------------------------------
 * Credentials
 * ---------------------------------------------------------------------------------------- */

/** The account's auth token and, while rotating, the secondary one. */
export interface TwilioTokens {
  readonly primary: string;
  readonly secondary?: string | undefined;
}

/**
 * Supplies the current tokens (cached). `refresh: true` asks for a fresh read, e.g. after a
 * signature fails, in case the token was rotated since the cache was filled.
 */
export type TokenSource = (options?: { readonly refresh?: boolean }) => Promise<TwilioTokens>;

/** A fixed pair of tokens (local stack, tests). */
export function staticTokens(primary: string, secondary?: string): TokenSource {
  const tokens: TwilioTokens = { primary, secondary: secondary || undefined };
  return async () => tokens;
}

/* ------------------------------------------------------------------------------------------
 * Webhook signatures
 * ---------------------------------------------------------------------------------------- */

export type FormParams = Record<string, string | string[]>;

/** Parses an x-www-form-urlencoded body, keeping blank and repeated parameters (they are signed too). */
export function parseForm(body: string): FormParams {
  const params: FormParams = {};
  for (const [name, value] of new URLSearchParams(body)) {
    const existing = params[name];
    if (existing === undefined) params[name] = value;
    else if (Array.isArray(existing)) existing.push(value);
    else params[name] = [existing, value];
  }
  return params;
}

/**
 * True when `signature` is Twilio's HMAC-SHA1 of `url` + the sorted parameters under the
 * primary or the secondary token. twilio's own `validateRequest` compares in constant time
 * and accepts the URL with and without the default port.
 */
export function validateTwilioSignature(
  tokens: TwilioTokens,
  signature: string | undefined,
  url: string,
  params: FormParams,
): boolean {
  if (!signature) return false;
  const candidates = [tokens.primary, tokens.secondary].filter((t): t is string => Boolean(t));
  return candidates.some((token) => {
    try {
      return validateRequest(token, signature, url, params);
    } catch {
      return false; // an unparsable URL never validates
    }
  });
}

/* ------------------------------------------------------------------------------------------
 * Recording status callbacks
 * ---------------------------------------------------------------------------------------- */

export const RECORDING_STATUSES = ['in-progress', 'completed', 'absent', 'failed'] as const;
export type RecordingStatus = (typeof RECORDING_STATUSES)[number];

const SID = {
  AccountSid: /^AC[0-9a-fA-F]{32}$/,
  CallSid: /^CA[0-9a-fA-F]{32}$/,
  RecordingSid: /^RE[0-9a-fA-F]{32}$/,
} as const;

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
    typeof job.startedAt !== 'string' ||
    Number.isNaN(Date.parse(job.startedAt))
  ) {
    throw new CallbackValidationError('job is malformed');
  }
  return job as RecordingJob;
}

/* ------------------------------------------------------------------------------------------
 * Twilio REST API: media, metadata, deletion
 * ---------------------------------------------------------------------------------------- */

/** A non-2xx answer or a transport failure talking to Twilio. */
export class TwilioApiError extends Error {
  override name = 'TwilioApiError';
  constructor(
    message: string,
    /** HTTP status, or undefined for timeouts and connection failures. */
    readonly status: number | undefined,
    /** Worth trying again later: 404 (media not ready yet), 408, 429, 5xx and transport errors. */
    readonly retryable: boolean,
    /** Short machine-readable reason for the call item and metrics. */
    readonly code: string,
  ) {
    super(message);
  }
}

export function isRetryableStatus(status: number): boolean {
  return status === 404 || status === 408 || status === 409 || status === 425 || status === 429 || status >= 500;
}

export interface RecordingMedia {
  readonly body: Readable;
  readonly contentType: string;
  /** From Content-Length, when Twilio sent one; the transfer checks the stored size against it. */
  readonly contentLength: number | undefined;
}

export interface TwilioApiOptions {
  /** e.g. https://api.twilio.com — the only host media is fetched from (never a URL from the request). */
  readonly baseUrl: string;
  readonly accountSid: string;
  readonly tokens: TokenSource;
  /** A socket idle longer than this fails the request (stalled downloads). Default 20 s. */
  readonly idleTimeoutMs?: number;
}

export interface CallDetails {
  readonly sid: string;
  readonly from?: string;
  readonly to?: string;
  readonly direction?: string;
  readonly status?: string;
  readonly startTime?: string;
  readonly duration?: string;
}

export interface RecordingDetails {
  readonly sid: string;
  readonly callSid?: string;
  readonly duration?: string;
  readonly channels?: number;
  readonly status?: string;
  readonly startTime?: string;
}

export const MEDIA_CONTENT_TYPES: Record<RecordingFormat, string> = { mp3: 'audio/mpeg', wav: 'audio/wav' };

const MAX_REDIRECTS = 3;

export interface TwilioApi {
  /** Streams the recording's media in `format`; the caller must consume or destroy `body`. */
  fetchRecordingAudio(recordingSid: string, format: RecordingFormat): Promise<RecordingMedia>;
  getRecordingDetails(recordingSid: string): Promise<RecordingDetails>;
  getCallDetails(callSid: string): Promise<CallDetails>;
  /** Deletes the recording at Twilio; an already-deleted recording (404) counts as done. */
  deleteRecording(recordingSid: string): Promise<void>;
}

export function createTwilioApi(options: TwilioApiOptions): TwilioApi {
  const base = options.baseUrl.replace(/\/+$/, '');
  const accountPath = `/2010-04-01/Accounts/${encodeURIComponent(options.accountSid)}`;
  const idleTimeoutMs = options.idleTimeoutMs ?? 20_000;

  async function authHeader(): Promise<string> {
    const { primary } = await options.tokens();
    return `Basic ${Buffer.from(`${options.accountSid}:${primary}`).toString('base64')}`;
  }

  async function send(method: string, path: string): Promise<IncomingMessage> {
    const authorization = await authHeader();
    let url = new URL(`${base}${path}`);
    const origin = url.origin;
    for (let redirects = 0; ; redirects++) {
      // Credentials go to the configured Twilio host only; a redirect elsewhere (Twilio's media CDN) gets none.
      const headers: Record<string, string> = { 'user-agent': 'recording-vault' };
      if (url.origin === origin) headers.authorization = authorization;
      const response = await once(method, url, headers, idleTimeoutMs);
      const status = response.statusCode ?? 0;
      const location = response.headers.location;
      if (status >= 300 && status < 400 && location && redirects < MAX_REDIRECTS) {
        response.resume();
        const next = new URL(location, url);
        if (next.protocol !== 'https:' && next.protocol !== url.protocol) {
          throw new TwilioApiError('Twilio redirected to an insecure URL', status, false, 'bad-redirect');
        }
        url = next;
        continue;
      }
      return response;
    }
  }

  async function getJson<T>(path: string): Promise<T> {
    const response = await send('GET', path);
    const text = await readText(response);
    const status = response.statusCode ?? 0;
    if (status < 200 || status >= 300) throw statusError(status, 'GET', path);
    return JSON.parse(text) as T;
  }

  return {
    async fetchRecordingAudio(recordingSid, format) {
      assertSid(recordingSid, SID.RecordingSid);
      const requestPath = `${accountPath}/Recordings/${recordingSid}.${format}`;
      const response = await send('GET', requestPath);
      const status = response.statusCode ?? 0;
      if (status < 200 || status >= 300) {
        response.resume();
        throw statusError(status, 'GET', requestPath);
      }
      const length = Number(response.headers['content-length']);
      return {
        body: response,
        contentType: MEDIA_CONTENT_TYPES[format],
        contentLength: Number.isSafeInteger(length) && length >= 0 ? length : undefined,
      };
    },

    async getRecordingDetails(recordingSid) {
      assertSid(recordingSid, SID.RecordingSid);
      const raw = await getJson<Record<string, unknown>>(`${accountPath}/Recordings/${recordingSid}.json`);
      return {
        sid: String(raw.sid ?? recordingSid),
        callSid: optionalString(raw.call_sid),
        duration: optionalString(raw.duration),
        channels: typeof raw.channels === 'number' ? raw.channels : undefined,
        status: optionalString(raw.status),
        startTime: optionalString(raw.start_time),
      } as RecordingDetails;
    },

    async getCallDetails(callSid) {
      assertSid(callSid, SID.CallSid);
      const raw = await getJson<Record<string, unknown>>(`${accountPath}/Calls/${callSid}.json`);
      return {
        sid: String(raw.sid ?? callSid),
        from: optionalString(raw.from),
        to: optionalString(raw.to),
        direction: optionalString(raw.direction),
        status: optionalString(raw.status),
        startTime: optionalString(raw.start_time),
        duration: optionalString(raw.duration),
      } as CallDetails;
    },

    async deleteRecording(recordingSid) {
      assertSid(recordingSid, SID.RecordingSid);
      const requestPath = `${accountPath}/Recordings/${recordingSid}.json`;
      const response = await send('DELETE', requestPath);
      response.resume();
      const status = response.statusCode ?? 0;
      if (status === 404 || (status >= 200 && status < 300)) return;
      throw statusError(status, 'DELETE', requestPath);
    },
  };
}

function assertSid(value: string, pattern: RegExp): void {
  // SIDs become URL path segments: never let anything else through.
  if (!pattern.test(value)) throw new TwilioApiError('Malformed SID', undefined, false, 'bad-sid');
}

function optionalString(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

function statusError(status: number, method: string, path: string): TwilioApiError {
  const what = path.replace(/^.*\/(Recordings|Calls)\//, '$1/');
  return new TwilioApiError(
    `Twilio answered ${status} to ${method} ${what}`,
    status,
    isRetryableStatus(status),
    `twilio-${status}`,
  );
}

function once(
  method: string,
  url: URL,
  headers: Record<string, string>,
  idleTimeoutMs: number,
): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const requester = url.protocol === 'http:' ? httpRequest : httpsRequest;
    const req = requester(url, { method, headers }, (response) => {
      // A stall mid-body must fail the stream, not hang the transfer until the Lambda times out.
      response.setTimeout(idleTimeoutMs, () =>
        response.destroy(new TwilioApiError('Twilio media stream stalled', undefined, true, 'twilio-timeout')),
      );
      resolve(response);
    });
    req.setTimeout(idleTimeoutMs, () =>
      req.destroy(new TwilioApiError('Twilio did not answer in time', undefined, true, 'twilio-timeout')),
    );
    req.on('error', (error) =>
      reject(
        error instanceof TwilioApiError
          ? error
          : new TwilioApiError(
              `Could not reach Twilio: ${(error as NodeJS.ErrnoException).code ?? error.message}`,
              undefined,
              true,
              'twilio-network',
            ),
      ),
    );
    req.end();
  });
}

async function readText(stream: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/* ------------------------------------------------------------------------------------------
 * Phone numbers
 * ---------------------------------------------------------------------------------------- */

/**
 * Normalises a phone number to E.164 (`+14155550100`). Ten-digit numbers are taken as NANP
 * (Twilio's home market); anything that cannot be a phone number is returned as undefined.
 */
export function formatPhoneNumber(raw: string | undefined, defaultCountryCode = '1'): string | undefined {
  if (!raw) return undefined;
  const trimmed = raw.trim();
  const digits = trimmed.replace(/\D/g, '');
  if (trimmed.startsWith('+')) return digits.length >= 8 && digits.length <= 15 ? `+${digits}` : undefined;
  if (trimmed.startsWith('00') && digits.length >= 10) return `+${digits.slice(2)}`;
  if (digits.length === 10) return `+${defaultCountryCode}${digits}`;
  if (digits.length === 11 && digits.startsWith(defaultCountryCode)) return `+${digits}`;
  return undefined;
}

/** For logs: keeps the country prefix and the last two digits (`+1*******00`). */
export function maskPhoneNumber(raw: string | undefined): string | undefined {
  if (!raw) return undefined;
  const digits = raw.replace(/\D/g, '');
  if (digits.length <= 4) return '*'.repeat(digits.length);
  return `${raw.trim().startsWith('+') ? '+' : ''}${digits.slice(0, 1)}${'*'.repeat(digits.length - 3)}${digits.slice(-2)}`;
}
