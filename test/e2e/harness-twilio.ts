import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A stub of Twilio's REST API for the end-to-end tests: serves
 * `GET /2010-04-01/Accounts/{AccountSid}/Recordings/{RecordingSid}.mp3` on 127.0.0.1 with
 * deterministic pseudo-random bytes, following a per-recording script of responses, and
 * counts every request. Media is served only with the right Basic auth (AccountSid:AuthToken).
 */

/** One scripted answer to a media request. */
export type MediaResponse =
  /** The whole recording, at once. */
  | { readonly kind: 'ok' }
  /** A bare HTTP status with a Twilio-style JSON error body. */
  | { readonly kind: 'status'; readonly status: number }
  /** 200 with the full Content-Length, `afterBytes` of the body, then the socket is destroyed. */
  | { readonly kind: 'reset'; readonly afterBytes: number; readonly chunked?: boolean }
  /** The whole recording, `chunkBytes` every `intervalMs` (for long transfers and kills). */
  | { readonly kind: 'slow'; readonly chunkBytes: number; readonly intervalMs: number };

export const ok = (): MediaResponse => ({ kind: 'ok' });
export const status = (code: number): MediaResponse => ({ kind: 'status', status: code });
export const reset = (afterBytes: number, chunked = false): MediaResponse => ({ kind: 'reset', afterBytes, chunked });
export const slow = (chunkBytes: number, intervalMs: number): MediaResponse => ({
  kind: 'slow',
  chunkBytes,
  intervalMs,
});

export interface RecordingScript {
  /** Size of the recording in bytes. */
  readonly size: number;
  /** Answers to the first requests, in order. */
  readonly responses?: readonly MediaResponse[];
  /** The answer to every request after `responses` run out. Default: ok. */
  readonly otherwise?: MediaResponse;
}

export interface MediaRequest {
  readonly recordingSid: string;
  readonly at: number;
  readonly authorized: boolean;
  /** What was answered: the HTTP status, or 'reset'. */
  outcome: number | 'reset';
  bytesSent: number;
  /** True once the whole recording went out (200 only). */
  completed: boolean;
  /** True when the client went away before the body was complete. */
  aborted: boolean;
}

interface Entry {
  readonly script: RecordingScript;
  readonly requests: MediaRequest[];
}

const MEDIA_PATH = /^\/2010-04-01\/Accounts\/(AC[0-9a-fA-F]{32})\/Recordings\/(RE[0-9a-fA-F]{32})\.mp3$/;

/** Deterministic pseudo-random bytes for a recording: sha256 blocks of (sid, counter). */
export function mediaBytes(recordingSid: string, size: number): Buffer {
  const out = Buffer.alloc(size);
  let offset = 0;
  for (let block = 0; offset < size; block++) {
    const digest = createHash('sha256').update(`${recordingSid}:${block}`).digest();
    offset += digest.copy(out, offset, 0, Math.min(digest.length, size - offset));
  }
  return out;
}

export class StubTwilio {
  private readonly recordings = new Map<string, Entry>();
  private readonly media = new Map<string, Buffer>();
  private readonly timers = new Set<NodeJS.Timeout>();
  /** Requests to paths or accounts that are not a recording we serve. */
  readonly unexpected: { method: string; url: string }[] = [];

  private constructor(
    private readonly server: Server,
    readonly baseUrl: string,
    readonly accountSid: string,
    private readonly authToken: string,
  ) {}

  static async start(accountSid: string, authToken: string): Promise<StubTwilio> {
    let stub: StubTwilio | undefined;
    const server = createServer((req, res) => stub?.handle(req, res));
    server.keepAliveTimeout = 1_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const { port } = server.address() as AddressInfo;
    stub = new StubTwilio(server, `http://127.0.0.1:${port}`, accountSid, authToken);
    return stub;
  }

  /** Scripts the answers for one recording (replacing any earlier script and its request log). */
  serve(recordingSid: string, script: RecordingScript): Buffer {
    this.recordings.set(recordingSid, { script, requests: [] });
    const bytes = mediaBytes(recordingSid, script.size);
    this.media.set(recordingSid, bytes);
    return bytes;
  }

  /** The exact bytes the stub serves for a recording. */
  bytes(recordingSid: string): Buffer {
    const bytes = this.media.get(recordingSid);
    if (!bytes) throw new Error(`No script for ${recordingSid}`);
    return bytes;
  }

  requests(recordingSid: string): readonly MediaRequest[] {
    return this.recordings.get(recordingSid)?.requests ?? [];
  }

  requestCount(recordingSid: string): number {
    return this.requests(recordingSid).length;
  }

  /** Body bytes written so far for a recording, over all its requests. */
  bytesSent(recordingSid: string): number {
    return this.requests(recordingSid).reduce((sum, r) => sum + r.bytesSent, 0);
  }

  /** Every request, over all recordings, that lacked the right Basic auth. */
  unauthorizedRequests(): MediaRequest[] {
    return [...this.recordings.values()].flatMap((e) => e.requests.filter((r) => !r.authorized));
  }

  async close(): Promise<void> {
    for (const timer of this.timers) clearInterval(timer);
    this.timers.clear();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    req.resume();
    const match = MEDIA_PATH.exec(new URL(req.url ?? '/', 'http://stub').pathname);
    const entry = match?.[2] ? this.recordings.get(match[2]) : undefined;
    if (req.method !== 'GET' || !match || match[1] !== this.accountSid || !entry) {
      this.unexpected.push({ method: req.method ?? '', url: req.url ?? '' });
      sendStatus(res, 404);
      return;
    }
    const recordingSid = match[2] as string;
    const expectedAuth = `Basic ${Buffer.from(`${this.accountSid}:${this.authToken}`).toString('base64')}`;
    const request: MediaRequest = {
      recordingSid,
      at: Date.now(),
      authorized: req.headers.authorization === expectedAuth,
      outcome: 200,
      bytesSent: 0,
      completed: false,
      aborted: false,
    };
    const index = entry.requests.length;
    entry.requests.push(request);
    res.on('close', () => {
      if (!res.writableFinished && request.outcome !== 'reset') request.aborted = true;
    });
    if (!request.authorized) {
      request.outcome = 401;
      sendStatus(res, 401);
      return;
    }
    const response = entry.script.responses?.[index] ?? entry.script.otherwise ?? ok();
    const body = this.bytes(recordingSid);

    switch (response.kind) {
      case 'status':
        request.outcome = response.status;
        sendStatus(res, response.status);
        return;
      case 'ok':
        res.writeHead(200, { 'content-type': 'audio/mpeg', 'content-length': String(body.length) });
        res.end(body, () => {
          request.bytesSent = body.length;
          request.completed = true;
        });
        return;
      case 'reset': {
        request.outcome = 'reset';
        const headers: Record<string, string> = { 'content-type': 'audio/mpeg' };
        if (!response.chunked) headers['content-length'] = String(body.length);
        res.writeHead(200, headers);
        const part = body.subarray(0, Math.min(response.afterBytes, body.length - 1));
        res.write(part, () => {
          request.bytesSent = part.length;
          setImmediate(() => res.socket?.destroy());
        });
        return;
      }
      case 'slow': {
        res.writeHead(200, { 'content-type': 'audio/mpeg', 'content-length': String(body.length) });
        const timer = setInterval(() => {
          if (res.destroyed || res.writableEnded) {
            clearInterval(timer);
            this.timers.delete(timer);
            return;
          }
          const chunk = body.subarray(request.bytesSent, request.bytesSent + response.chunkBytes);
          request.bytesSent += chunk.length;
          if (request.bytesSent >= body.length) {
            clearInterval(timer);
            this.timers.delete(timer);
            res.end(chunk, () => {
              request.completed = true;
            });
          } else {
            res.write(chunk);
          }
        }, response.intervalMs);
        this.timers.add(timer);
        return;
      }
    }
  }
}

function sendStatus(res: ServerResponse, code: number): void {
  const body = JSON.stringify({ code: 20000 + code, message: `stub answered ${code}`, status: code });
  res.writeHead(code, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) });
  res.end(body);
}
