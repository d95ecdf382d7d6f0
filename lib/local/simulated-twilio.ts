/**
 * A simulated Twilio for the tests and `npm run demo`: one account's REST API (2010-04-01) on
 * 127.0.0.1 over plain HTTP, plus Twilio's side of recording status callbacks.
 *
 * Resources (HTTP Basic auth AccountSid:AuthToken enforced, 401 otherwise):
 * - `GET …/Recordings/{Sid}[.mp3|.wav]` media of `completed` recordings (`?RequestedChannels=2` of
 *   a mono recording: 400, 16113), following the recording's script of answers;
 * - `GET …/Recordings/{Sid}.json` metadata; `DELETE …/Recordings/{Sid}.json` 204, after which the
 *   media answers 404, the metadata says `deleted` and the default list leaves it out;
 * - `GET …/Recordings.json` the list: filters, newest first, paging (see ./simulated-twilio/store.ts),
 *   one-shot scripted answers first (429 for backoff tests);
 * - `GET …/Calls/{CallSid}.json` for calls added with `addCall`.
 * Raw answers (`route`, `respond`) for any method and path (query included) come before all of
 * that, auth included: they answer exactly what the test scripted. Anything else is 404 with
 * Twilio's JSON error and is listed in `unexpected`.
 *
 * Every request is logged (`requests`, `waitForRequest`, `count`); media requests also get a
 * record of what was sent (`mediaRequests`, `bytesSent`). Imports no test framework.
 */
import type { IncomingHttpHeaders, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  type AnswerProgress,
  type RawAnswer,
  type ScriptedAnswer,
  scriptedToRaw,
  twilioError,
  writeAnswer,
} from './simulated-twilio/answers';
import { postSignedCallback, recordingCallbackParams, type SendCallbackOptions } from './simulated-twilio/callbacks';
import {
  accountPath,
  BadListRequest,
  type CallFields,
  callJson,
  type MutableRecording,
  mediaBytes,
  newCall,
  newRecording,
  newSid,
  type RecordingFields,
  type RecordingStatus,
  recordingJson,
  recordingsPage,
  type SimulatedCall,
  type SimulatedRecording,
} from './simulated-twilio/store';

export {
  htmlPage,
  jsonError,
  ok,
  type RawAnswer,
  reset,
  type ScriptedAnswer,
  slow,
  stall,
  status,
} from './simulated-twilio/answers';
export type { SendCallbackOptions } from './simulated-twilio/callbacks';
export {
  type CallDirection,
  type CallFields,
  mediaBytes,
  newSid,
  type RecordingFields,
  type RecordingSource,
  type RecordingStatus,
  rfc2822,
  type SimulatedCall,
  type SimulatedRecording,
} from './simulated-twilio/store';

export interface SimulatedTwilioOptions {
  readonly accountSid: string;
  readonly authToken: string;
  /** Default 127.0.0.1. */
  readonly host?: string;
  /** Default 0 (a free port). */
  readonly port?: number;
}

export interface AddRecordingOptions extends RecordingFields {
  /** Media size in bytes, the bytes derived from the SID (`mediaBytes`). Default 16,000. */
  readonly size?: number;
  /** The media itself, instead of `size`. */
  readonly media?: Buffer;
  /** Answers to the first media requests, in order. */
  readonly responses?: readonly ScriptedAnswer[];
  /** The answer to every media request after `responses` run out. Default: ok. */
  readonly otherwise?: ScriptedAnswer;
}

/** What the simulator makes of a request's path. */
export type SimulatedRoute = 'media' | 'recording' | 'delete' | 'list' | 'call' | 'other';

/** One logged request; `path` is the request target as sent (query string included). */
export interface SimulatedRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
}

export interface RequestMatch {
  readonly method?: string;
  readonly route?: SimulatedRoute;
  /** The recording SID (media, recording, delete) or call SID (call) in the path. */
  readonly sid?: string;
}

/** One media request and what it got. */
export interface MediaRequest extends AnswerProgress {
  readonly recordingSid: string;
  readonly at: number;
  readonly authorized: boolean;
  /** True when the client went away before the answer was complete. */
  aborted: boolean;
}

interface Logged {
  readonly request: SimulatedRequest;
  readonly route: SimulatedRoute;
  readonly sid: string | undefined;
  readonly authorized: boolean;
}

interface Waiter {
  readonly match: (entry: Logged) => boolean;
  readonly resolve: (request: SimulatedRequest) => void;
}

interface Scripted {
  readonly recording: MutableRecording;
  readonly responses: readonly ScriptedAnswer[];
  readonly otherwise: ScriptedAnswer | undefined;
  readonly requests: MediaRequest[];
}

const DEFAULT_MEDIA_SIZE = 16_000;
const PATH = /^\/2010-04-01\/Accounts\/([^/]+)\/(Recordings|Calls)(?:\/([^/.]+))?(\.[a-z0-9]+)?$/;
const MEDIA_TYPES: Record<string, string> = { '': 'audio/x-wav', '.wav': 'audio/x-wav', '.mp3': 'audio/mpeg' };

export class SimulatedTwilio {
  /** Every request, in arrival order. */
  readonly requests: SimulatedRequest[] = [];
  /** Requests to no resource the simulator holds (unknown path, account, recording or call). */
  readonly unexpected: { method: string; url: string }[] = [];
  readonly accountSid: string;
  readonly authToken: string;
  private readonly log: Logged[] = [];
  private readonly recordingsBySid = new Map<string, Scripted>();
  private readonly calls = new Map<string, SimulatedCall>();
  private readonly listScript: ScriptedAnswer[] = [];
  private readonly queued = new Map<string, RawAnswer[]>();
  private readonly routes = new Map<string, () => RawAnswer>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private waiters: Waiter[] = [];

  private constructor(
    private readonly server: Server,
    readonly baseUrl: string,
    options: SimulatedTwilioOptions,
  ) {
    this.accountSid = options.accountSid;
    this.authToken = options.authToken;
  }

  static async start(options: SimulatedTwilioOptions): Promise<SimulatedTwilio> {
    let sim: SimulatedTwilio | undefined;
    const server = createServer((req, res) => {
      req.resume();
      sim?.handle(req.method ?? 'GET', req.url ?? '/', req.headers, res).catch(() => res.destroy());
    });
    server.keepAliveTimeout = 1_000;
    const host = options.host ?? '127.0.0.1';
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 0, host, () => resolve());
    });
    const { port } = server.address() as AddressInfo;
    sim = new SimulatedTwilio(server, `http://${host}:${port}`, options);
    return sim;
  }

  /** `…/Recordings/{Sid}.mp3|.wav|.json` (or the bare media URL), relative to `baseUrl`. */
  recordingPath(recordingSid: string, extension: 'mp3' | 'wav' | 'json' | '' = 'json'): string {
    return `${accountPath(this.accountSid)}/Recordings/${recordingSid}${extension ? `.${extension}` : ''}`;
  }

  callPath(callSid: string): string {
    return `${accountPath(this.accountSid)}/Calls/${callSid}.json`;
  }

  /** The recording list resource, relative to `baseUrl`. */
  listPath(): string {
    return `${accountPath(this.accountSid)}/Recordings.json`;
  }

  /** Adds (or replaces, with a fresh request log) a recording; its media is served per its script. */
  addRecording(options: AddRecordingOptions = {}): SimulatedRecording {
    const sid = options.sid ?? newSid('RE');
    const media = options.media ?? mediaBytes(sid, options.size ?? DEFAULT_MEDIA_SIZE);
    const recording = newRecording(this.accountSid, { ...options, sid }, media);
    this.recordingsBySid.set(sid, {
      recording,
      responses: options.responses ?? [],
      otherwise: options.otherwise,
      requests: [],
    });
    return recording;
  }

  recording(recordingSid: string): SimulatedRecording {
    const entry = this.recordingsBySid.get(recordingSid);
    if (!entry) throw new Error(`The simulated Twilio has no recording ${recordingSid}`);
    return entry.recording;
  }

  /** A recording's new status (`processing` → `completed`, …); `deleted` as if DELETE was called. */
  setRecordingStatus(recordingSid: string, status: RecordingStatus): SimulatedRecording {
    const recording = this.recording(recordingSid) as MutableRecording;
    recording.status = status;
    recording.dateUpdated = new Date();
    return recording;
  }

  addCall(fields: CallFields = {}): SimulatedCall {
    const call = newCall(this.accountSid, fields);
    this.calls.set(call.sid, call);
    return call;
  }

  /** One-shot answers to the next list requests, before the list itself (`status(429)`…). */
  scriptList(...answers: ScriptedAnswer[]): void {
    this.listScript.push(...answers);
  }

  /** The default raw answer for `method path` (path with its query string, as requested). */
  route(method: string, path: string, answer: () => RawAnswer): void {
    this.routes.set(`${method} ${path}`, answer);
  }

  /** Queues one-shot raw answers for `method path`, used in order before the default route. */
  respond(method: string, path: string, ...answers: RawAnswer[]): void {
    const key = `${method} ${path}`;
    this.queued.set(key, [...(this.queued.get(key) ?? []), ...answers]);
  }

  /** Requests whose path contains `fragment` (and, if given, with this method). */
  requestsTo(fragment: string, method?: string): SimulatedRequest[] {
    return this.requests.filter((r) => r.path.includes(fragment) && (!method || r.method === method));
  }

  /** Resolves with the first request (already received or future) that matches. */
  waitForRequest(match: RequestMatch | ((request: SimulatedRequest) => boolean)): Promise<SimulatedRequest> {
    const test =
      typeof match === 'function'
        ? (entry: Logged) => match(entry.request)
        : (entry: Logged) =>
            (match.method === undefined || entry.request.method === match.method) &&
            (match.route === undefined || entry.route === match.route) &&
            (match.sid === undefined || entry.sid === match.sid);
    const seen = this.log.find(test);
    if (seen) return Promise.resolve(seen.request);
    return new Promise((resolve) => this.waiters.push({ match: test, resolve }));
  }

  /** How many requests went to `route` (for one recording or call SID, if given), answered or not. */
  count(route: SimulatedRoute, sid?: string): number {
    return this.log.filter((e) => e.route === route && (sid === undefined || e.sid === sid)).length;
  }

  /** The media requests for one recording of this account, with what each got. */
  mediaRequests(recordingSid: string): readonly MediaRequest[] {
    return this.recordingsBySid.get(recordingSid)?.requests ?? [];
  }

  /** Media bytes of 2xx answers written so far for a recording, over all its requests. */
  bytesSent(recordingSid: string): number {
    return this.mediaRequests(recordingSid).reduce((sum, r) => sum + r.bytesSent, 0);
  }

  /** Requests to the account's resources that lacked the right Basic auth. */
  unauthorizedRequests(): SimulatedRequest[] {
    return this.log.filter((e) => e.route !== 'other' && !e.authorized).map((e) => e.request);
  }

  /** Twilio's recording status callback parameters for a recording (see recordingCallbackParams). */
  callbackParams(
    recording: SimulatedRecording | string,
    overrides: Record<string, string | undefined> = {},
  ): Record<string, string> {
    const found = typeof recording === 'string' ? this.recording(recording) : recording;
    return recordingCallbackParams(found, this.baseUrl, overrides);
  }

  /** POSTs a callback signed with the account's auth token; resolves with the HTTP status. */
  sendCallback(webhookUrl: string, params: Record<string, string>, options: SendCallbackOptions = {}): Promise<number> {
    return postSignedCallback(webhookUrl, params, this.authToken, options);
  }

  /** Forgets every recording, call, script, raw answer and logged request. */
  reset(): void {
    this.requests.length = 0;
    this.log.length = 0;
    this.unexpected.length = 0;
    this.recordingsBySid.clear();
    this.calls.clear();
    this.listScript.length = 0;
    this.queued.clear();
    this.routes.clear();
    this.waiters = [];
  }

  async close(): Promise<void> {
    for (const timer of this.timers) clearInterval(timer);
    this.timers.clear();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(method: string, url: string, headers: IncomingHttpHeaders, res: ServerResponse): Promise<void> {
    const target = new URL(url, 'http://simulated-twilio');
    const match = PATH.exec(target.pathname);
    const ours = match?.[1] === this.accountSid;
    const sid = match?.[3];
    const extension = match?.[4] ?? '';
    const route = routeOf(method, match?.[2], sid, extension);
    const expected = `Basic ${Buffer.from(`${this.accountSid}:${this.authToken}`).toString('base64')}`;
    const entry: Logged = {
      request: { method, path: url, headers },
      route,
      sid,
      authorized: headers.authorization === expected,
    };
    this.requests.push(entry.request);
    this.log.push(entry);
    const ready = this.waiters.filter((w) => w.match(entry));
    this.waiters = this.waiters.filter((w) => !ready.includes(w));
    for (const waiter of ready) waiter.resolve(entry.request);

    const scripted = route === 'media' && ours && sid ? this.recordingsBySid.get(sid) : undefined;
    const progress: AnswerProgress = { outcome: 200, bytesSent: 0, completed: false };
    if (scripted) {
      const record: MediaRequest = {
        recordingSid: scripted.recording.sid,
        at: Date.now(),
        authorized: entry.authorized,
        outcome: 200,
        bytesSent: 0,
        completed: false,
        aborted: false,
      };
      scripted.requests.push(record);
      res.on('close', () => {
        if (!res.writableFinished && record.outcome !== 'reset') record.aborted = true;
      });
      return this.answer(res, this.mediaAnswer(scripted, entry, target, extension), record);
    }
    return this.answer(res, this.resourceAnswer(entry, ours, target), progress);
  }

  private answer(res: ServerResponse, answer: RawAnswer, progress: AnswerProgress): Promise<void> {
    return writeAnswer(res, answer, progress, this.timers);
  }

  /** A raw answer queued or routed for this request, if any. */
  private rawAnswer({ method, path }: SimulatedRequest): RawAnswer | undefined {
    const key = `${method} ${path}`;
    return this.queued.get(key)?.shift() ?? this.routes.get(key)?.();
  }

  private notFound({ method, path }: SimulatedRequest): RawAnswer {
    this.unexpected.push({ method, url: path });
    return twilioError(404, `The requested resource ${new URL(path, 'http://x').pathname} was not found`);
  }

  private mediaAnswer(scripted: Scripted, entry: Logged, target: URL, extension: string): RawAnswer {
    const raw = this.rawAnswer(entry.request);
    if (raw) return raw;
    if (!entry.authorized) return twilioError(401);
    const { recording, responses, otherwise } = scripted;
    if (recording.status !== 'completed') return twilioError(404);
    if (target.searchParams.get('RequestedChannels') === '2' && recording.channels === 1) {
      return twilioError(400, 'Stereo is not available for this recording', 16113);
    }
    const index = scripted.requests.length - 1;
    const script = responses[index] ?? otherwise ?? { kind: 'ok' };
    return scriptedToRaw(script, recording.media, MEDIA_TYPES[extension] ?? 'audio/x-wav');
  }

  private resourceAnswer(entry: Logged, ours: boolean, target: URL): RawAnswer {
    const raw = this.rawAnswer(entry.request);
    if (raw) return raw;
    if (!ours || entry.route === 'other') return this.notFound(entry.request);
    if (!entry.authorized) return twilioError(401);
    const json = (body: unknown, code = 200): RawAnswer => ({
      status: code,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    const recording = entry.sid ? this.recordingsBySid.get(entry.sid)?.recording : undefined;
    switch (entry.route) {
      case 'list': {
        const script = this.listScript.shift() ?? { kind: 'ok' };
        if (script.kind === 'status') return scriptedToRaw(script, Buffer.alloc(0), 'application/json');
        try {
          const all = [...this.recordingsBySid.values()].map((s) => s.recording);
          const page = recordingsPage(all, target.searchParams, target.pathname, this.baseUrl);
          return scriptedToRaw(script, Buffer.from(JSON.stringify(page)), 'application/json');
        } catch (error) {
          if (error instanceof BadListRequest) return twilioError(400, error.message, 20001);
          throw error;
        }
      }
      case 'recording':
        return recording ? json(recordingJson(recording, this.baseUrl)) : this.notFound(entry.request);
      case 'delete':
        if (!recording) return this.notFound(entry.request);
        if (recording.status === 'deleted') return twilioError(404);
        this.setRecordingStatus(recording.sid, 'deleted');
        return { status: 204 };
      case 'call': {
        const call = entry.sid ? this.calls.get(entry.sid) : undefined;
        return call ? json(callJson(call)) : this.notFound(entry.request);
      }
      default:
        return this.notFound(entry.request);
    }
  }
}

function routeOf(
  method: string,
  resource: string | undefined,
  sid: string | undefined,
  extension: string,
): SimulatedRoute {
  if (resource === 'Recordings' && !sid && extension === '.json' && method === 'GET') return 'list';
  if (resource === 'Recordings' && sid && extension === '.json') {
    return method === 'GET' ? 'recording' : method === 'DELETE' ? 'delete' : 'other';
  }
  if (resource === 'Recordings' && sid && extension in MEDIA_TYPES && method === 'GET') return 'media';
  if (resource === 'Calls' && sid && extension === '.json' && method === 'GET') return 'call';
  return 'other';
}

/** A promise with its resolver exposed: hold a raw answer (`waitFor`) until the test says so. */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}
