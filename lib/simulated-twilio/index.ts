/**
 * A simulated Twilio for the tests and `npm run demo`: one account's REST API (2010-04-01) on
 * 127.0.0.1 over plain HTTP, plus Twilio's side of recording status callbacks. The account may
 * have subaccounts (`subaccounts`, `addSubaccount`): each holds its own recordings and calls under
 * `/Accounts/{SubaccountSid}/…`, answers its own credentials or the parent's (as Twilio does),
 * and signs its callbacks with its own token.
 *
 * Resources (HTTP Basic auth AccountSid:AuthToken enforced, 401 otherwise):
 * - `GET …/Recordings/{Sid}[.mp3|.wav]` media of `completed` recordings (`?RequestedChannels=2` of
 *   a mono recording: 400, 16113; a two-channel conference recording without it: a mono mix, see
 *   `monoMixFor`), following the recording's script of answers; an encrypted
 *   recording (Voice Recording Encryption, `addRecording({ encryption })`) serves its ciphertext
 *   as `.wav` or bare, and refuses `.mp3` (400, 16109);
 * - `GET …/Recordings/{Sid}.json` metadata; `DELETE …/Recordings/{Sid}.json` 204, after which the
 *   media answers 404, the metadata says `deleted` and the default list leaves it out;
 * - `GET …/Recordings.json` the list: filters, newest first, paging (see ./simulated-twilio/store.ts),
 *   one-shot scripted answers first (429 for backoff tests);
 * - `GET …/Calls/{CallSid}.json` for calls added with `addCall`.
 * Raw answers (`route`, `respond`) for any method and path (query included; a media path's also
 * answers it with `?RequestedChannels=N`) come before all of that, auth included: they answer
 * exactly what the test scripted. Anything else is 404 with
 * Twilio's JSON error and is listed in `unexpected`.
 *
 * Every request is logged (`requests`, `waitForRequest`, `count`); media requests also get a
 * record of what was sent (`mediaRequests`, `bytesSent`). Imports no test framework.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type RawAnswer, type ScriptedAnswer, scriptedToRaw, twilioError, writeAnswer } from './answers';
import { type RecordingAudio, recordingAudio } from './audio';
import { postSignedCallback, recordingCallbackParams, type SendCallbackOptions } from './callbacks';
import { encryptLikeTwilio, type RecordingKeyPair } from './encryption';
import {
  accountOf,
  type Classified,
  classify,
  MEDIA_TYPES,
  type MediaRequest,
  RequestLog,
  type RequestMatch,
  type SimulatedRequest,
  type SimulatedRoute,
} from './requests';
import {
  accountPath,
  BadListRequest,
  type CallFields,
  CONFERENCE_SOURCES,
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
} from './store';

export {
  deferred,
  htmlPage,
  jsonError,
  ok,
  type RawAnswer,
  reset,
  type ScriptedAnswer,
  slow,
  stall,
  status,
} from './answers';
export type { SendCallbackOptions } from './callbacks';
export {
  type EncryptedMedia,
  encryptLikeTwilio,
  generateRecordingKeyPair,
  newPublicKeySid,
  type RecordingKeyPair,
} from './encryption';
export type { MediaRequest, RequestMatch, SimulatedRequest, SimulatedRoute } from './requests';
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
} from './store';

/** An account of the simulator: the parent or one of its subaccounts. */
export interface SimulatedAccount {
  readonly accountSid: string;
  readonly authToken: string;
}

export interface SimulatedTwilioOptions {
  readonly accountSid: string;
  readonly authToken: string;
  /** Subaccounts of the account, each with its own auth token. */
  readonly subaccounts?: readonly SimulatedAccount[];
  /** Default 127.0.0.1. */
  readonly host?: string;
  /** Default 0 (a free port). */
  readonly port?: number;
}

export interface AddRecordingOptions extends RecordingFields {
  /** The account (the parent, or a subaccount) that made it. Default: the parent. */
  readonly accountSid?: string;
  /** Media size in bytes, the bytes derived from the SID (`mediaBytes`), served for both formats. */
  readonly size?: number;
  /** The media itself, instead of `size`, served for both formats. */
  readonly media?: Buffer;
  /** Answers to the first media requests, in order. */
  readonly responses?: readonly ScriptedAnswer[];
  /** The answer to every media request after `responses` run out. Default: ok. */
  readonly otherwise?: ScriptedAnswer;
  /**
   * Voice Recording Encryption with this public key: the media (`media`, or the WAV of real
   * audio) is served encrypted as Twilio does, only as `.wav` (`.mp3` answers 16109), and the
   * callback and the resource carry its EncryptionDetails.
   */
  readonly encryption?: Pick<RecordingKeyPair, 'publicKeySid' | 'publicKeyPem'>;
}

interface Scripted {
  readonly recording: MutableRecording;
  /** Real audio (neither `size` nor `media` given): `.mp3` serves MP3, `.wav` and no extension WAV. */
  readonly audio: RecordingAudio | undefined;
  readonly responses: readonly ScriptedAnswer[];
  readonly otherwise: ScriptedAnswer | undefined;
  readonly requests: MediaRequest[];
  /** An encrypted recording's audio before Twilio encrypted it. */
  readonly plaintext: Buffer | undefined;
}

export class SimulatedTwilio {
  readonly accountSid: string;
  readonly authToken: string;
  private readonly log = new RequestLog();
  private readonly recordingsBySid = new Map<string, Scripted>();
  private readonly calls = new Map<string, SimulatedCall>();
  private readonly listScript: ScriptedAnswer[] = [];
  private readonly queued = new Map<string, RawAnswer[]>();
  private readonly routes = new Map<string, () => RawAnswer>();
  private readonly timers = new Set<NodeJS.Timeout>();
  /** Every account's auth token, the parent's included. */
  private readonly tokens = new Map<string, string>();

  private constructor(
    private readonly server: Server,
    readonly baseUrl: string,
    options: SimulatedTwilioOptions,
  ) {
    this.accountSid = options.accountSid;
    this.authToken = options.authToken;
    this.tokens.set(options.accountSid, options.authToken);
    for (const sub of options.subaccounts ?? []) this.tokens.set(sub.accountSid, sub.authToken);
  }

  /** Adds a subaccount (default: a fresh SID and token); its resources live under its own path. */
  addSubaccount(account: Partial<SimulatedAccount> = {}): SimulatedAccount {
    const added = {
      accountSid: account.accountSid ?? `AC${randomBytes(16).toString('hex')}`,
      authToken: account.authToken ?? randomBytes(16).toString('hex'),
    };
    this.tokens.set(added.accountSid, added.authToken);
    return added;
  }

  /** The parent's subaccounts. */
  get subaccounts(): readonly SimulatedAccount[] {
    return [...this.tokens]
      .filter(([sid]) => sid !== this.accountSid)
      .map(([accountSid, authToken]) => ({ accountSid, authToken }));
  }

  /** Basic credentials that may read an account's resources: its own, or its parent's. */
  private authorizations(accountSid: string | undefined): readonly string[] {
    const basic = (sid: string) => `Basic ${Buffer.from(`${sid}:${this.tokens.get(sid)}`).toString('base64')}`;
    if (accountSid === undefined || !this.tokens.has(accountSid)) return [basic(this.accountSid)];
    return accountSid === this.accountSid ? [basic(accountSid)] : [basic(accountSid), basic(this.accountSid)];
  }

  static async start(options: SimulatedTwilioOptions): Promise<SimulatedTwilio> {
    let sim: SimulatedTwilio | undefined;
    const server = createServer((req, res) => {
      req.resume();
      const request = { method: req.method ?? 'GET', path: req.url ?? '/', headers: req.headers };
      sim?.handle(request, res).catch(() => res.destroy());
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

  /** Every request, in arrival order. */
  get requests(): readonly SimulatedRequest[] {
    return this.log.requests;
  }

  /** Requests to no resource the simulator holds (unknown path, account, recording or call). */
  get unexpected(): readonly { method: string; url: string }[] {
    return this.log.unexpected;
  }

  /** `…/Recordings/{Sid}.mp3|.wav|.json` (or the bare media URL), relative to `baseUrl`. */
  recordingPath(recordingSid: string, extension: 'mp3' | 'wav' | 'json' | '' = 'json'): string {
    const owner = this.recordingsBySid.get(recordingSid)?.recording.accountSid ?? this.accountSid;
    return `${accountPath(owner)}/Recordings/${recordingSid}${extension ? `.${extension}` : ''}`;
  }

  callPath(callSid: string): string {
    return `${accountPath(this.calls.get(callSid)?.accountSid ?? this.accountSid)}/Calls/${callSid}.json`;
  }

  /** The recording list resource of an account (default: the parent), relative to `baseUrl`. */
  listPath(accountSid: string = this.accountSid): string {
    return `${accountPath(accountSid)}/Recordings.json`;
  }

  /**
   * Adds (or replaces, with a fresh request log) a recording; its media is served per its script.
   * Without `size` or `media` its media is real audio of its duration and channels (./simulated-twilio/audio.ts),
   * and `media` holds the WAV.
   */
  addRecording(options: AddRecordingOptions = {}): SimulatedRecording {
    const sid = options.sid ?? newSid('RE');
    const bytes = options.media ?? (options.size === undefined ? undefined : mediaBytes(sid, options.size));
    let audio: RecordingAudio | undefined;
    const owner = options.accountSid ?? this.accountSid;
    if (!this.tokens.has(owner)) throw new Error(`The simulated Twilio has no account ${owner}`);
    let recording = newRecording(owner, { ...options, sid }, bytes ?? Buffer.alloc(0));
    if (!bytes) {
      audio = recordingAudio({ seed: sid, durationSeconds: recording.duration, channels: recording.channels });
      recording = { ...recording, media: audio.wav() };
    }
    let plaintext: Buffer | undefined;
    if (options.encryption) {
      plaintext = recording.media;
      const encrypted = encryptLikeTwilio(plaintext, options.encryption);
      recording = { ...recording, media: encrypted.ciphertext, encryptionDetails: encrypted.details };
    }
    this.recordingsBySid.set(sid, {
      recording,
      audio,
      responses: options.responses ?? [],
      otherwise: options.otherwise,
      requests: [],
      plaintext,
    });
    return recording;
  }

  /** The audio of an encrypted recording as it was before Twilio encrypted it. */
  plaintextFor(recordingSid: string): Buffer {
    const plaintext = this.recordingsBySid.get(recordingSid)?.plaintext;
    if (!plaintext) throw new Error(`The simulated Twilio has no encrypted recording ${recordingSid}`);
    return plaintext;
  }

  /** The bytes a request for `.mp3` or `.wav` of a recording is served (`media` for both, unless real audio). */
  mediaFor(recordingSid: string, format: 'mp3' | 'wav'): Buffer {
    const entry = this.recordingsBySid.get(recordingSid);
    if (!entry) throw new Error(`The simulated Twilio has no recording ${recordingSid}`);
    return entry.audio && format === 'mp3' && !entry.plaintext ? entry.audio.mp3() : entry.recording.media;
  }

  /**
   * What a media request that does not ask `RequestedChannels=2` gets of a two-channel conference
   * recording: Twilio keeps both channels but serves a mono mix by default (changelog, July 2024).
   * Real audio: the same tones on one channel; given bytes: other bytes of the same length, so
   * that a test can tell which it got.
   */
  monoMixFor(recordingSid: string, format: 'mp3' | 'wav'): Buffer {
    const entry = this.recordingsBySid.get(recordingSid);
    if (!entry) throw new Error(`The simulated Twilio has no recording ${recordingSid}`);
    const { recording } = entry;
    if (!entry.audio) return mediaBytes(`${recordingSid}:mono-mix`, recording.media.length);
    const mono = recordingAudio({ seed: recordingSid, durationSeconds: recording.duration, channels: 1 });
    return format === 'mp3' ? mono.mp3() : mono.wav();
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

  addCall(fields: CallFields & { readonly accountSid?: string } = {}): SimulatedCall {
    const call = newCall(fields.accountSid ?? this.accountSid, fields);
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
    return this.log.to(fragment, method);
  }

  /** Resolves with the first request (already received or future) that matches. */
  waitForRequest(match: RequestMatch | ((request: SimulatedRequest) => boolean)): Promise<SimulatedRequest> {
    return this.log.waitFor(match);
  }

  /** How many requests went to `route` (for one recording or call SID, if given), answered or not. */
  count(route: SimulatedRoute, sid?: string): number {
    return this.log.count(route, sid);
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
    return this.log.unauthorized();
  }

  /** Twilio's recording status callback parameters for a recording (see recordingCallbackParams). */
  callbackParams(
    recording: SimulatedRecording | string,
    overrides: Record<string, string | undefined> = {},
  ): Record<string, string> {
    const found = typeof recording === 'string' ? this.recording(recording) : recording;
    return recordingCallbackParams(found, this.baseUrl, overrides);
  }

  /**
   * POSTs a callback signed with the auth token of its AccountSid (a subaccount signs with its
   * own, as Twilio does; the parent's for an account it does not hold); resolves with the HTTP status.
   */
  sendCallback(webhookUrl: string, params: Record<string, string>, options: SendCallbackOptions = {}): Promise<number> {
    const token = (params.AccountSid && this.tokens.get(params.AccountSid)) || this.authToken;
    return postSignedCallback(webhookUrl, params, token, options);
  }

  /** Forgets every recording, call, script, raw answer and logged request (the accounts stay). */
  reset(): void {
    this.log.clear();
    this.recordingsBySid.clear();
    this.calls.clear();
    this.listScript.length = 0;
    this.queued.clear();
    this.routes.clear();
  }

  async close(): Promise<void> {
    for (const timer of this.timers) clearInterval(timer);
    this.timers.clear();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private handle(request: SimulatedRequest, res: ServerResponse): Promise<void> {
    const entry = classify(request, this.authorizations(accountOf(request)));
    this.log.add(entry);
    const ours = entry.accountSid !== undefined && this.tokens.has(entry.accountSid);
    // A recording is found only under its own account's path.
    const found = entry.sid ? this.recordingsBySid.get(entry.sid) : undefined;
    const scripted =
      entry.route === 'media' && ours && found?.recording.accountSid === entry.accountSid ? found : undefined;
    if (!scripted) {
      return writeAnswer(
        res,
        this.resourceAnswer(entry, ours),
        { outcome: 200, bytesSent: 0, completed: false },
        this.timers,
      );
    }
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
    return writeAnswer(res, this.mediaAnswer(scripted, entry), record, this.timers);
  }

  /** A raw answer queued or routed for this request, if any. */
  private rawAnswer({ method, path }: SimulatedRequest): RawAnswer | undefined {
    const key = `${method} ${path}`;
    const exact = this.queued.get(key)?.shift() ?? this.routes.get(key)?.();
    if (exact) return exact;
    // A media request asking RequestedChannels=2 gets what was scripted for its plain path.
    const query = path.indexOf('?');
    if (query === -1 || !/^RequestedChannels=\d$/.test(path.slice(query + 1))) return undefined;
    const plain = `${method} ${path.slice(0, query)}`;
    return this.queued.get(plain)?.shift() ?? this.routes.get(plain)?.();
  }

  private notFound(entry: Classified): RawAnswer {
    this.log.unexpected.push({ method: entry.request.method, url: entry.request.path });
    return twilioError(404, `The requested resource ${entry.pathname} was not found`);
  }

  private mediaAnswer(scripted: Scripted, entry: Classified): RawAnswer {
    const raw = this.rawAnswer(entry.request);
    if (raw) return raw;
    if (!entry.authorized) return twilioError(401);
    const { recording, responses, otherwise } = scripted;
    if (recording.status !== 'completed') return twilioError(404);
    if (entry.query.get('RequestedChannels') === '2' && recording.channels === 1) {
      return twilioError(400, 'Stereo is not available for this recording', 16113);
    }
    if (recording.encryptionDetails && entry.extension === '.mp3') {
      // Twilio documents the code; the status is our reading of it (a request it refuses).
      return twilioError(400, 'Cannot fetch .mp3 of an encrypted recording: request .wav', 16109);
    }
    const script = responses[scripted.requests.length - 1] ?? otherwise ?? { kind: 'ok' };
    const format = entry.extension === '.mp3' ? 'mp3' : 'wav';
    const media =
      servesMonoMix(recording) && entry.query.get('RequestedChannels') !== '2'
        ? this.monoMixFor(recording.sid, format)
        : scripted.audio && format === 'mp3'
          ? scripted.audio.mp3()
          : recording.media;
    return scriptedToRaw(script, media, MEDIA_TYPES[entry.extension] ?? 'audio/x-wav');
  }

  private resourceAnswer(entry: Classified, ours: boolean): RawAnswer {
    const raw = this.rawAnswer(entry.request);
    if (raw) return raw;
    if (!ours || entry.route === 'other') return this.notFound(entry);
    if (!entry.authorized) return twilioError(401);
    const json = (body: unknown): RawAnswer => ({
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    const held = entry.sid ? this.recordingsBySid.get(entry.sid)?.recording : undefined;
    const recording = held?.accountSid === entry.accountSid ? held : undefined;
    switch (entry.route) {
      case 'list': {
        const script = this.listScript.shift() ?? { kind: 'ok' };
        if (script.kind === 'status') return scriptedToRaw(script, Buffer.alloc(0), 'application/json');
        try {
          const all = [...this.recordingsBySid.values()]
            .map((s) => s.recording)
            .filter((r) => r.accountSid === entry.accountSid);
          const page = recordingsPage(all, entry.query, entry.pathname, this.baseUrl);
          return scriptedToRaw(script, Buffer.from(JSON.stringify(page)), 'application/json');
        } catch (error) {
          if (error instanceof BadListRequest) return twilioError(400, error.message, 20001);
          throw error;
        }
      }
      case 'recording':
        return recording ? json(recordingJson(recording, this.baseUrl)) : this.notFound(entry);
      case 'delete':
        if (!recording) return this.notFound(entry);
        if (recording.status === 'deleted') return twilioError(404);
        this.setRecordingStatus(recording.sid, 'deleted');
        return { status: 204 };
      case 'call': {
        const call = entry.sid ? this.calls.get(entry.sid) : undefined;
        return call && call.accountSid === entry.accountSid ? json(callJson(call)) : this.notFound(entry);
      }
      default:
        return this.notFound(entry);
    }
  }
}

/** A two-channel conference recording without encryption: served mono unless both channels are asked for. */
function servesMonoMix(recording: SimulatedRecording): boolean {
  return recording.channels === 2 && CONFERENCE_SOURCES.includes(recording.source) && !recording.encryptionDetails;
}
