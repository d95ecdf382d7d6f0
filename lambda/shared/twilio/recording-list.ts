import { type ParsedEncryption, parseEncryptionDetailsField } from './encryption-details';
import { TwilioApiError } from './rest-api';
import { SID } from './sids';
import type { TokenSource } from './signature';

/**
 * Twilio's account-wide recording list (`GET /2010-04-01/Accounts/{AccountSid}/Recordings.json`)
 * for the reconciler and backfill. Kept apart from twilio-api.ts (media and single resources):
 * it shares only the error type, and talks to Twilio through its own small GET-JSON helper.
 *
 * Twilio filters by whole UTC days and lists newest first (see FIELD-NOTES.md): each day of the
 * window is listed on its own, its records filtered to the exact window and de-duplicated by
 * sid; a listing stops early once it has passed the window's start, but only while its order
 * has been seen to be descending. Only the configured host is ever called, with Basic auth.
 */

/** One recording as the list describes it; raw strings where the transfer job parses them itself. */
export interface TwilioRecordingEntry {
  readonly sid: string;
  readonly accountSid: string | undefined;
  /** `call_sid`: null for a conference recording Twilio keeps without a call. */
  readonly callSid: string | undefined;
  /** `conference_sid`, for a conference recording. */
  readonly conferenceSid?: string | undefined;
  readonly status: string | undefined;
  /** ISO-8601 of `date_created`; undefined when Twilio sent none that parses. */
  readonly dateCreated: string | undefined;
  /** `start_time` as Twilio sent it (RFC 2822). */
  readonly startTime: string | undefined;
  /** `duration`: whole seconds as a string. */
  readonly duration: string | undefined;
  readonly channels: number | undefined;
  readonly source: string | undefined;
  /** `encryption_details`, parsed; absent when the recording is not encrypted. */
  readonly encryption?: ParsedEncryption;
}

export interface ListWindow {
  /** Inclusive. */
  readonly from: Date;
  /** Exclusive. */
  readonly to: Date;
}

/** One page of a listing: its recordings inside the window (not seen before), and how far back the listing has got. */
export interface ListedPage {
  readonly recordings: readonly TwilioRecordingEntry[];
  /** Everything created in [position, window.to) has been listed (for progress; only moves back). */
  readonly position: Date;
}

export interface RecordingListSource {
  list(window: ListWindow, options?: { readonly signal?: AbortSignal }): AsyncIterable<ListedPage>;
}

export interface RetryPolicy {
  /** Attempts per request, the first included. @default 6 */
  readonly maxAttempts?: number;
  /** First backoff; doubles per attempt, with jitter. @default 500 */
  readonly baseDelayMs?: number;
  /** @default 20000 */
  readonly maxDelayMs?: number;
}

export interface RecordingListOptions {
  /** e.g. https://api.twilio.com (a base path is kept): the only host ever called. */
  readonly baseUrl: string;
  readonly accountSid: string;
  readonly tokens: TokenSource;
  /** Twilio's maximum. @default 1000 */
  readonly pageSize?: number;
  readonly retry?: RetryPolicy;
  /** One request (headers and body) may take this long. @default 20000 */
  readonly requestTimeoutMs?: number;
  /** Waits between attempts; rejects when `signal` aborts (tests inject one that does not wait). */
  readonly sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** [0, 1) for backoff jitter. @default Math.random */
  readonly random?: () => number;
  /** Told about each retry (logging); never given the token. */
  readonly onRetry?: (info: { readonly attempt: number; readonly delayMs: number; readonly reason: string }) => void;
}

const DAY_MS = 24 * 60 * 60 * 1000;
/** A Retry-After longer than this is not waited for in full: the next attempt's answer decides. */
const MAX_RETRY_AFTER_MS = 60_000;

export function createTwilioRecordingList(options: RecordingListOptions): RecordingListSource {
  if (!SID.AccountSid.test(options.accountSid)) {
    throw new TwilioApiError('Malformed AccountSid', undefined, false, 'bad-sid');
  }
  const base = new URL(options.baseUrl.replace(/\/+$/, ''));
  const basePath = base.pathname.replace(/\/+$/, '');
  const listPath = `${basePath}/2010-04-01/Accounts/${options.accountSid}/Recordings.json`;
  const pageSize = Math.min(1000, Math.max(1, options.pageSize ?? 1000));
  const getPage = pageFetcher(options);

  /** A next_page_uri is followed only on the configured host, and only to this same list. */
  function nextUrl(uri: unknown): URL | undefined {
    if (uri === null || uri === undefined || uri === '') return undefined;
    if (typeof uri !== 'string') throw badNextPage();
    let url: URL;
    try {
      url = uri.startsWith('/') && !uri.startsWith('//') ? new URL(`${base.origin}${basePath}${uri}`) : new URL(uri);
    } catch {
      throw badNextPage();
    }
    if (url.origin !== base.origin || url.pathname !== listPath) throw badNextPage();
    return url;
  }

  async function* listDay(day: string, window: ListWindow, signal: AbortSignal | undefined) {
    const from = window.from.getTime();
    const to = window.to.getTime();
    const dayStart = Date.parse(`${day}T00:00:00.000Z`);
    const dayEnd = dayStart + DAY_MS;
    const seen = new Set<string>();
    const visited = new Set<string>();
    let descending = true;
    let previous: number | undefined;
    let oldest = Math.min(dayEnd, to);
    let url: URL | undefined = new URL(`${base.origin}${listPath}`);
    url.search = new URLSearchParams({
      'DateCreated>': day,
      'DateCreated<': day,
      PageSize: String(pageSize),
    }).toString();

    while (url) {
      if (visited.has(url.href)) {
        throw new TwilioApiError('Twilio listed the same page twice', undefined, false, 'twilio-page-loop');
      }
      visited.add(url.href);
      const page = await getPage(url, signal);
      const recordings: TwilioRecordingEntry[] = [];
      let passedStart = false;
      for (const raw of page.recordings) {
        const recording = toListed(raw);
        // A repeat (pages shifted under new recordings) says nothing about the order either.
        if (!recording || seen.has(recording.sid)) continue;
        seen.add(recording.sid);
        const created = recording.dateCreated === undefined ? Number.NaN : Date.parse(recording.dateCreated);
        if (!Number.isNaN(created)) {
          if (previous !== undefined && created > previous) descending = false;
          previous = created;
          oldest = Math.min(oldest, created);
          if (created < from) passedStart = true;
          if (created < from || created >= to) continue;
        }
        // A record whose date does not parse cannot be placed: listing it costs a ledger lookup, missing it a recording.
        recordings.push(recording);
      }
      // Newest first, so nothing older than the window's start can follow; unproven order: read it all.
      url = descending && passedStart ? undefined : nextUrl(page.nextPageUri);
      const done = url === undefined;
      // Done back to: the day's start once finished; the oldest seen while the order holds; else none of it yet.
      const position = done ? dayStart : descending ? oldest : dayEnd;
      yield { recordings, position: new Date(Math.min(to, Math.max(from, position))) } satisfies ListedPage;
      if (done) return;
    }
  }

  return {
    async *list(window, { signal } = {}) {
      if (!(window.from.getTime() < window.to.getTime())) return;
      // Newest day first: the order Twilio lists in, so progress moves one way.
      const first = utcDay(window.from);
      for (let day = utcDay(new Date(window.to.getTime() - 1)); day >= first; day = previousDay(day)) {
        yield* listDay(day, window, signal);
      }
    },
  };
}

interface RawPage {
  readonly recordings: readonly unknown[];
  readonly nextPageUri: unknown;
}

/**
 * GETs one page as JSON, with Basic auth, retrying throttling (429, Twilio code 20429), 408, 5xx
 * and transport failures with capped exponential backoff (Retry-After honoured), a fresh token
 * read once after a 401 (a rotated token), and every wait cut short by `signal`.
 */
function pageFetcher(options: RecordingListOptions): (url: URL, signal: AbortSignal | undefined) => Promise<RawPage> {
  const maxAttempts = Math.max(1, options.retry?.maxAttempts ?? 6);
  const baseDelayMs = options.retry?.baseDelayMs ?? 500;
  const maxDelayMs = options.retry?.maxDelayMs ?? 20_000;
  const timeoutMs = options.requestTimeoutMs ?? 20_000;
  const sleep = options.sleep ?? abortableSleep;
  const random = options.random ?? Math.random;

  return async (url, signal) => {
    let refreshed = false;
    for (let attempt = 1; ; attempt++) {
      signal?.throwIfAborted();
      let failure: TwilioApiError;
      let retryAfterMs: number | undefined;
      try {
        const { primary } = await options.tokens(refreshed ? { refresh: true } : undefined);
        const response = await getOnce(url, `${options.accountSid}:${primary}`, timeoutMs, signal);
        if (response.status >= 200 && response.status < 300) return parsePage(response.body);
        if (response.status === 401 && !refreshed) {
          refreshed = true;
          attempt--;
          continue;
        }
        failure = statusError(response.status, response.body);
        retryAfterMs = response.retryAfterMs;
      } catch (error) {
        if (signal?.aborted) throw signal.reason;
        if (!(error instanceof TwilioApiError)) throw error;
        failure = error;
      }
      if (!failure.retryable || attempt >= maxAttempts) throw failure;
      const backoff = Math.min(maxDelayMs, baseDelayMs * 2 ** (attempt - 1)) * (0.5 + random() / 2);
      const delayMs = Math.round(Math.max(backoff, Math.min(MAX_RETRY_AFTER_MS, retryAfterMs ?? 0)));
      options.onRetry?.({ attempt, delayMs, reason: failure.code });
      await sleep(delayMs, signal);
    }
  };
}

interface RawResponse {
  readonly status: number;
  readonly body: string;
  readonly retryAfterMs: number | undefined;
}

/** The one GET this module sends: credentials in the header, no redirects followed, bounded in time. */
async function getOnce(url: URL, credentials: string, timeoutMs: number, signal: AbortSignal | undefined) {
  const timeout = AbortSignal.timeout(timeoutMs);
  try {
    const response = await fetch(url, {
      headers: {
        authorization: `Basic ${Buffer.from(credentials).toString('base64')}`,
        accept: 'application/json',
        'user-agent': 'recording-vault',
      },
      // A redirect could take the credentials elsewhere; Twilio's list never redirects.
      redirect: 'manual',
      signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
    });
    const body = await response.text();
    const retryAfter = Number(response.headers.get('retry-after'));
    return {
      status: response.status,
      body,
      retryAfterMs: Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter * 1000 : undefined,
    } satisfies RawResponse;
  } catch (error) {
    if (signal?.aborted) throw signal.reason;
    if (timeout.aborted) throw new TwilioApiError('Twilio did not answer in time', undefined, true, 'twilio-timeout');
    const cause = (error as { cause?: { code?: string } }).cause?.code;
    throw new TwilioApiError(
      `Could not reach Twilio: ${cause ?? (error as Error).message}`,
      undefined,
      true,
      'twilio-network',
    );
  }
}

function parsePage(body: string): RawPage {
  // A 200 that is no page (an outage page in front of Twilio, an error in JSON) is an outage: retried.
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    throw new TwilioApiError(
      'Twilio answered the recording list with something not JSON',
      200,
      true,
      'twilio-bad-page',
    );
  }
  const page = parsed as { recordings?: unknown; next_page_uri?: unknown } | null;
  if (!page || !Array.isArray(page.recordings)) {
    throw new TwilioApiError('Twilio answered the recording list without recordings', 200, true, 'twilio-bad-page');
  }
  return { recordings: page.recordings, nextPageUri: page.next_page_uri };
}

function statusError(status: number, body: string): TwilioApiError {
  let code: unknown;
  try {
    code = (JSON.parse(body) as { code?: unknown }).code;
  } catch {
    code = undefined;
  }
  const detail = typeof code === 'number' ? ` (code ${code})` : '';
  const retryable = status === 408 || status === 429 || status >= 500;
  const hint = status === 401 ? ': check the account SID and auth token' : '';
  // 3xx lands here too: a redirect is never followed (see getOnce).
  return new TwilioApiError(
    `Twilio answered ${status}${detail} to the recording list${hint}`,
    status,
    retryable,
    `twilio-${status}`,
  );
}

function badNextPage(): TwilioApiError {
  return new TwilioApiError('Twilio named a next page outside the recording list', undefined, false, 'bad-next-page');
}

function toListed(raw: unknown): TwilioRecordingEntry | undefined {
  if (typeof raw !== 'object' || raw === null) return undefined;
  const r = raw as Record<string, unknown>;
  if (typeof r.sid !== 'string' || r.sid === '') return undefined;
  const created = typeof r.date_created === 'string' ? Date.parse(r.date_created) : Number.NaN;
  const encryption = parseEncryptionDetailsField(r.encryption_details);
  return {
    sid: r.sid,
    accountSid: text(r.account_sid),
    callSid: text(r.call_sid),
    conferenceSid: text(r.conference_sid),
    status: text(r.status),
    dateCreated: Number.isNaN(created) ? undefined : new Date(created).toISOString(),
    startTime: text(r.start_time),
    duration: typeof r.duration === 'number' ? String(r.duration) : text(r.duration),
    channels: typeof r.channels === 'number' ? r.channels : Number(text(r.channels) ?? Number.NaN) || undefined,
    source: text(r.source),
    ...(encryption.kind === 'none' ? {} : { encryption }),
  };
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

export function utcDay(time: Date): string {
  return time.toISOString().slice(0, 10);
}

function previousDay(day: string): string {
  return utcDay(new Date(Date.parse(`${day}T00:00:00.000Z`) - DAY_MS));
}

function abortableSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
