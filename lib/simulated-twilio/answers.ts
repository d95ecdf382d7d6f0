/**
 * How the simulated Twilio answers: raw answers (status, headers, body, and the ways a real server
 * misbehaves: held, stalled, cut, chunked, dripped), Twilio's JSON errors, and the scripted answers
 * a recording's media or the recording list can be given (ok, status, reset, slow, stall, HTML
 * outage page, JSON error with a 200).
 */
import type { ServerResponse } from 'node:http';

/** An answer written exactly as described. */
export interface RawAnswer {
  readonly status?: number;
  readonly headers?: Record<string, string>;
  readonly body?: string | Buffer;
  /** Answer only once this settles (hold a transfer mid-flight while another runs). */
  readonly waitFor?: Promise<unknown>;
  /** Send the headers and this many body bytes, then go silent with the socket open. */
  readonly stallAfterBytes?: number;
  /** Send the headers and this many body bytes (at most all but one), then destroy the socket. */
  readonly cutAfterBytes?: number;
  /** Send the body chunked, with no Content-Length. */
  readonly chunked?: boolean;
  /** Send the body `chunkBytes` every `intervalMs` (long transfers, processes killed mid-download). */
  readonly drip?: { readonly chunkBytes: number; readonly intervalMs: number };
}

/** A scripted answer to a recording's media request (or a list request): what the resource would say, or not. */
export type ScriptedAnswer =
  /** The resource itself: the whole media (or the list page), at once. */
  | { readonly kind: 'ok' }
  /** A bare HTTP status with Twilio's JSON error body (429: code 20429). */
  | { readonly kind: 'status'; readonly status: number }
  /** 200 with the full Content-Length (unless chunked), `afterBytes` of the body, then the socket is destroyed. */
  | { readonly kind: 'reset'; readonly afterBytes: number; readonly chunked?: boolean }
  /** The whole body, `chunkBytes` every `intervalMs`. */
  | { readonly kind: 'slow'; readonly chunkBytes: number; readonly intervalMs: number }
  /** 200, `afterBytes` of the body, then silence with the socket open. */
  | { readonly kind: 'stall'; readonly afterBytes: number }
  /** 200 `text/html` with a small "service unavailable" page: an outage page in front of Twilio. */
  | { readonly kind: 'html' }
  /** 200 `application/json` carrying Twilio's error shape instead of the resource. */
  | { readonly kind: 'json-error' };

export const ok = (): ScriptedAnswer => ({ kind: 'ok' });
export const status = (code: number): ScriptedAnswer => ({ kind: 'status', status: code });
export const reset = (afterBytes: number, chunked = false): ScriptedAnswer => ({ kind: 'reset', afterBytes, chunked });
export const slow = (chunkBytes: number, intervalMs: number): ScriptedAnswer => ({
  kind: 'slow',
  chunkBytes,
  intervalMs,
});
export const stall = (afterBytes: number): ScriptedAnswer => ({ kind: 'stall', afterBytes });
export const htmlPage = (): ScriptedAnswer => ({ kind: 'html' });
export const jsonError = (): ScriptedAnswer => ({ kind: 'json-error' });

const ERROR_CODES: Record<number, number> = { 401: 20003, 404: 20404, 429: 20429, 500: 20500, 503: 20503 };
const ERROR_MESSAGES: Record<number, string> = {
  400: 'Bad request',
  401: 'Authenticate',
  404: 'The requested resource was not found',
  429: 'Too Many Requests',
  500: 'An internal server error has occurred',
  503: 'Service unavailable',
};

/** Twilio's JSON error: `{ code, message, more_info, status }`. */
export function twilioError(httpStatus: number, message?: string, code?: number): RawAnswer {
  const errorCode = code ?? ERROR_CODES[httpStatus] ?? 20000 + httpStatus;
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (httpStatus === 401) headers['www-authenticate'] = 'Basic realm="Twilio API"';
  return {
    status: httpStatus,
    headers,
    body: JSON.stringify({
      code: errorCode,
      message: message ?? ERROR_MESSAGES[httpStatus] ?? `HTTP ${httpStatus}`,
      more_info: `https://www.twilio.com/docs/errors/${errorCode}`,
      status: httpStatus,
    }),
  };
}

const OUTAGE_PAGE =
  '<!DOCTYPE html><html><head><title>Twilio - Service Unavailable</title></head>' +
  "<body><h1>We'll be right back</h1><p>Twilio is temporarily unavailable. Please try again later.</p></body></html>";

/** What a scripted answer becomes, given the resource's own answer (`body`, `contentType`). */
export function scriptedToRaw(answer: ScriptedAnswer, body: Buffer, contentType: string): RawAnswer {
  const resource = { status: 200, headers: { 'content-type': contentType }, body };
  switch (answer.kind) {
    case 'ok':
      return resource;
    case 'status':
      return twilioError(answer.status);
    case 'reset':
      return { ...resource, cutAfterBytes: answer.afterBytes, chunked: answer.chunked ?? false };
    case 'slow':
      return { ...resource, drip: { chunkBytes: answer.chunkBytes, intervalMs: answer.intervalMs } };
    case 'stall':
      return { ...resource, stallAfterBytes: answer.afterBytes };
    case 'html':
      return { status: 200, headers: { 'content-type': 'text/html; charset=utf-8' }, body: OUTAGE_PAGE };
    case 'json-error':
      return { ...twilioError(500), status: 200 };
  }
}

/** A promise with its resolver exposed: hold a raw answer (`waitFor`) until the test says so. */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

/** What became of one answer, filled in as it is written. */
export interface AnswerProgress {
  /** The HTTP status sent, or 'reset' when the socket was destroyed on purpose. */
  outcome: number | 'reset';
  /** Body bytes handed to the socket (2xx answers only). */
  bytesSent: number;
  /** True once the whole body of a 2xx answer went out. */
  completed: boolean;
}

/** Writes `answer` to `res`; dripping answers register their timer in `timers` (cleared on close). */
export async function writeAnswer(
  res: ServerResponse,
  answer: RawAnswer,
  progress: AnswerProgress,
  timers: Set<NodeJS.Timeout>,
): Promise<void> {
  if (answer.waitFor) await answer.waitFor.catch(() => undefined);
  if (res.destroyed) return;
  const code = answer.status ?? 200;
  const counts = code >= 200 && code < 300;
  const body = typeof answer.body === 'string' ? Buffer.from(answer.body) : (answer.body ?? Buffer.alloc(0));
  const length = answer.chunked ? {} : { 'content-length': String(body.length) };
  progress.outcome = answer.cutAfterBytes !== undefined ? 'reset' : code;
  res.writeHead(code, { ...length, ...answer.headers });

  const sent = (n: number) => {
    if (counts) progress.bytesSent += n;
  };
  if (answer.cutAfterBytes !== undefined) {
    const part = body.subarray(0, Math.min(answer.cutAfterBytes, Math.max(body.length - 1, 0)));
    res.write(part, () => {
      sent(part.length);
      setImmediate(() => res.socket?.destroy());
    });
    return;
  }
  if (answer.stallAfterBytes !== undefined) {
    const part = body.subarray(0, answer.stallAfterBytes);
    res.write(part, () => sent(part.length));
    return;
  }
  const drip = answer.drip;
  if (drip) {
    let offset = 0;
    const timer = setInterval(() => {
      if (res.destroyed || res.writableEnded) {
        clearInterval(timer);
        timers.delete(timer);
        return;
      }
      const chunk = body.subarray(offset, offset + drip.chunkBytes);
      offset += chunk.length;
      sent(chunk.length);
      if (offset < body.length) {
        res.write(chunk);
        return;
      }
      clearInterval(timer);
      timers.delete(timer);
      res.end(chunk, () => {
        progress.completed = counts;
      });
    }, drip.intervalMs);
    timers.add(timer);
    return;
  }
  res.end(body, () => {
    sent(body.length);
    progress.completed = counts;
  });
}
