import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { PassThrough, type Readable } from 'node:stream';
import type { RecordingFormat } from '../config/function-config';
import type { TwilioAccounts } from './accounts';
import { SID } from './sids';
import type { TokenSource } from './signature';

/** Twilio's REST API: media, recording and call metadata, deletion. Only the configured host is ever called. */

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
  /** The type of the requested format (audio/mpeg | audio/wav): what the object is stored under. */
  readonly contentType: string;
  /**
   * Content-Type as Twilio (or its CDN) sent it, e.g. audio/x-wav; always audio/* from
   * fetchRecordingAudio. Optional only so that hand-built media (test doubles) stay valid.
   */
  readonly receivedContentType?: string | undefined;
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
  readonly conferenceSid?: string;
  readonly duration?: string;
  readonly channels?: number;
  readonly status?: string;
  readonly startTime?: string;
  /** Twilio's RecordingSource: the retention period of the recording may depend on it. */
  readonly source?: string;
}

export interface MediaOptions {
  /**
   * The recording's channels as Twilio reported them. 2 asks `RequestedChannels=2`: Twilio serves
   * a dual-channel conference recording as a mono mix otherwise. Never asked of a mono one (16113).
   */
  readonly channels?: number | undefined;
}

export const MEDIA_CONTENT_TYPES: Record<RecordingFormat, string> = { mp3: 'audio/mpeg', wav: 'audio/wav' };

const MAX_REDIRECTS = 3;

export interface TwilioApi {
  /** Streams the recording's media in `format`; the caller must consume or destroy `body`. */
  fetchRecordingAudio(recordingSid: string, format: RecordingFormat, options?: MediaOptions): Promise<RecordingMedia>;
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
    const text = await readText(guardedBody(response));
    const status = response.statusCode ?? 0;
    if (status < 200 || status >= 300) throw statusError(status, 'GET', path);
    return JSON.parse(text) as T;
  }

  return {
    async fetchRecordingAudio(recordingSid, format, options = {}) {
      assertSid(recordingSid, SID.RecordingSid);
      const channels = options.channels === 2 ? '?RequestedChannels=2' : '';
      const requestPath = `${accountPath}/Recordings/${recordingSid}.${format}${channels}`;
      const response = await send('GET', requestPath);
      const status = response.statusCode ?? 0;
      if (status < 200 || status >= 300) {
        response.resume();
        throw statusError(status, 'GET', requestPath);
      }
      const receivedContentType = response.headers['content-type'];
      const mediaType = receivedContentType?.split(';')[0]?.trim().toLowerCase();
      // Binary bodies pass too: an encrypted recording is not audio to a CDN, and Twilio does
      // not document the type it serves such a recording with.
      if (!mediaType?.startsWith('audio/') && mediaType !== 'application/octet-stream') {
        // A proxy's error page or Twilio's JSON error with a 200: storing it as audio would
        // pass for a recording. Media may appear a little later, so try again.
        response.destroy();
        throw new TwilioApiError(
          `Twilio answered ${status} ${mediaType ? `with ${mediaType.slice(0, 100)}` : 'without a Content-Type'} instead of audio`,
          status,
          true,
          'twilio-not-audio',
        );
      }
      const length = Number(response.headers['content-length']);
      return {
        body: guardedBody(response),
        contentType: MEDIA_CONTENT_TYPES[format],
        receivedContentType,
        contentLength: Number.isSafeInteger(length) && length >= 0 ? length : undefined,
      };
    },

    async getRecordingDetails(recordingSid) {
      assertSid(recordingSid, SID.RecordingSid);
      const raw = await getJson<Record<string, unknown>>(`${accountPath}/Recordings/${recordingSid}.json`);
      return {
        sid: String(raw.sid ?? recordingSid),
        callSid: optionalString(raw.call_sid),
        conferenceSid: optionalString(raw.conference_sid),
        duration: optionalString(raw.duration),
        channels: typeof raw.channels === 'number' ? raw.channels : undefined,
        status: optionalString(raw.status),
        startTime: optionalString(raw.start_time),
        source: optionalString(raw.source),
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

/** The API as one account of the stage: its path, its credentials. */
export type TwilioApiFor = (accountSid: string) => TwilioApi;

/**
 * One client per listed account, made on first use: a recording is fetched, looked up and
 * deleted under its own account's path with that account's token, always at `baseUrl`. An
 * account the stage does not list throws UnknownAccountError.
 */
export function twilioApiPerAccount(
  options: Omit<TwilioApiOptions, 'accountSid' | 'tokens'> & { readonly accounts: TwilioAccounts },
): TwilioApiFor {
  const clients = new Map<string, TwilioApi>();
  return (accountSid) => {
    let client = clients.get(accountSid);
    if (!client) {
      const tokens = options.accounts.tokens(accountSid);
      client = createTwilioApi({ ...options, accountSid, tokens });
      clients.set(accountSid, client);
    }
    return client;
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
  const what = path.replace(/^.*\/(Recordings|Calls)\//, '$1/').replace(/\?.*$/, '');
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

/**
 * The response body, whose errors say what happened: once Twilio has answered, a socket that
 * closes early is a cut-short answer ("twilio-truncated"), not an unreachable Twilio. The
 * caller consumes the body (as an upload body), so the error must travel on the stream itself.
 */
function guardedBody(response: IncomingMessage): Readable {
  const body = new PassThrough();
  response.on('error', (error) => body.destroy(bodyError(response, error)));
  // The caller destroying the body (a failed upload) must release the connection too.
  body.on('close', () => {
    if (!response.readableEnded) response.destroy();
  });
  response.pipe(body);
  return body;
}

function bodyError(response: IncomingMessage, error: Error): TwilioApiError {
  if (error instanceof TwilioApiError) return error;
  const announced = response.headers['content-length'] !== undefined;
  return new TwilioApiError(
    announced ? "Twilio's answer ended before its Content-Length" : "Twilio's answer ended early",
    response.statusCode,
    true,
    'twilio-truncated',
  );
}

async function readText(stream: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
