/**
 * A stub of Twilio's REST API on 127.0.0.1 (plain HTTP, random port) for tests that exercise the
 * real HTTP client: point `TWILIO_API_BASE_URL` / `baseUrl` at `stub.baseUrl`.
 *
 * - `addRecording` serves a recording the way Twilio does: media at `…/Recordings/{Sid}.mp3|.wav`
 *   (Content-Length set), metadata at `…/Recordings/{Sid}.json`, and `DELETE …/{Sid}.json` → 204.
 * - `respond(method, path, …responses)` queues one-shot answers for a path; they are used in order
 *   before the default route (404 first and then the media, a stalled body, a redirect, a held answer).
 * - `requests` records every request (method, path, headers) for assertions, e.g. Basic auth.
 * - `waitForRequest` resolves when a matching request arrives: use it instead of sleeping.
 * Anything else answers 404 with Twilio's JSON error shape.
 */
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface StubResponse {
  readonly status?: number;
  readonly headers?: Record<string, string>;
  readonly body?: string | Buffer;
  /** Answer only once this settles (hold a transfer mid-flight while another runs). */
  readonly waitFor?: Promise<unknown>;
  /** Send the headers and this many body bytes, then go silent with the socket open. */
  readonly stallAfterBytes?: number;
  /** Send the headers and this many body bytes, then destroy the socket. */
  readonly cutAfterBytes?: number;
  /** Send the body chunked, with no Content-Length. */
  readonly chunked?: boolean;
}

export interface StubRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
}

interface Waiter {
  readonly match: (request: StubRequest) => boolean;
  readonly resolve: (request: StubRequest) => void;
}

export class StubTwilioServer {
  readonly requests: StubRequest[] = [];
  private readonly queued = new Map<string, StubResponse[]>();
  private readonly routes = new Map<string, () => StubResponse>();
  private readonly sockets = new Set<Socket>();
  private waiters: Waiter[] = [];

  private constructor(
    private readonly server: Server,
    readonly baseUrl: string,
  ) {}

  static async start(): Promise<StubTwilioServer> {
    let stub: StubTwilioServer | undefined;
    const server = createServer((req, res) => {
      void stub?.handle(req.method ?? 'GET', req.url ?? '/', req.headers, res);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    stub = new StubTwilioServer(server, `http://127.0.0.1:${port}`);
    server.on('connection', (socket) => {
      stub?.sockets.add(socket);
      socket.on('close', () => stub?.sockets.delete(socket));
    });
    return stub;
  }

  static recordingPath(accountSid: string, recordingSid: string, extension: 'mp3' | 'wav' | 'json'): string {
    return `/2010-04-01/Accounts/${accountSid}/Recordings/${recordingSid}.${extension}`;
  }

  static callPath(accountSid: string, callSid: string): string {
    return `/2010-04-01/Accounts/${accountSid}/Calls/${callSid}.json`;
  }

  /** Serves `audio` as the recording's media (both formats), its metadata, and accepts its deletion. */
  addRecording(accountSid: string, recordingSid: string, audio: Buffer, details: Record<string, unknown> = {}): void {
    for (const [extension, type] of [
      ['mp3', 'audio/mpeg'],
      ['wav', 'audio/x-wav'],
    ] as const) {
      this.route('GET', StubTwilioServer.recordingPath(accountSid, recordingSid, extension), () => ({
        headers: { 'content-type': type },
        body: audio,
      }));
    }
    const json = StubTwilioServer.recordingPath(accountSid, recordingSid, 'json');
    this.route('GET', json, () => ({
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ sid: recordingSid, account_sid: accountSid, ...details }),
    }));
    this.route('DELETE', json, () => ({ status: 204 }));
  }

  /** The default answer for `method path` (used whenever nothing is queued for it). */
  route(method: string, path: string, answer: () => StubResponse): void {
    this.routes.set(`${method} ${path}`, answer);
  }

  /** Queues one-shot answers for `method path`, used in order before the default route. */
  respond(method: string, path: string, ...responses: StubResponse[]): void {
    const key = `${method} ${path}`;
    this.queued.set(key, [...(this.queued.get(key) ?? []), ...responses]);
  }

  /** Requests whose path contains `fragment` (and, if given, with this method). */
  requestsTo(fragment: string, method?: string): StubRequest[] {
    return this.requests.filter((r) => r.path.includes(fragment) && (!method || r.method === method));
  }

  /** Resolves with the first request (already received or future) that matches. */
  waitForRequest(match: (request: StubRequest) => boolean): Promise<StubRequest> {
    const seen = this.requests.find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve) => this.waiters.push({ match, resolve }));
  }

  reset(): void {
    this.requests.length = 0;
    this.queued.clear();
    this.routes.clear();
    this.waiters = [];
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(method: string, path: string, headers: IncomingHttpHeaders, res: ServerResponse) {
    const request: StubRequest = { method, path, headers };
    this.requests.push(request);
    const ready = this.waiters.filter((w) => w.match(request));
    this.waiters = this.waiters.filter((w) => !ready.includes(w));
    for (const waiter of ready) waiter.resolve(request);

    const key = `${method} ${path}`;
    const queue = this.queued.get(key);
    const answer = queue?.shift() ??
      this.routes.get(key)?.() ?? {
        status: 404,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ code: 20404, message: `The requested resource ${path} was not found`, status: 404 }),
      };
    if (answer.waitFor) await answer.waitFor.catch(() => undefined);
    const body = typeof answer.body === 'string' ? Buffer.from(answer.body) : (answer.body ?? Buffer.alloc(0));
    const length = answer.chunked ? {} : { 'content-length': String(body.length) };
    res.writeHead(answer.status ?? 200, { ...length, ...answer.headers });
    const partial = answer.stallAfterBytes ?? answer.cutAfterBytes;
    if (partial === undefined) {
      res.end(body);
      return;
    }
    res.write(body.subarray(0, partial), () => {
      if (answer.cutAfterBytes !== undefined) res.socket?.destroy();
    });
  }
}

/** A promise with its resolver exposed: hold a stub answer until the test says so. */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

/** Deterministic pseudo-audio of `size` bytes (distinct per seed), to compare stored bytes exactly. */
export function fakeAudio(size: number, seed = 1): Buffer {
  const bytes = Buffer.alloc(size);
  let x = seed * 2654435761;
  for (let i = 0; i < size; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    bytes[i] = x >>> 24;
  }
  return bytes;
}
