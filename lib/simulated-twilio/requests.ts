/**
 * What the simulated Twilio saw: each request classified by route (media, recording, delete, list,
 * call), logged in arrival order, counted, and waited for without sleeping.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { AnswerProgress } from './answers';

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

/** A request with what the simulator made of it. */
export interface Classified {
  readonly request: SimulatedRequest;
  readonly route: SimulatedRoute;
  /** The AccountSid in the path, if the path is under `/2010-04-01/Accounts/`. */
  readonly accountSid: string | undefined;
  readonly sid: string | undefined;
  /** `.json`, `.mp3`, `.wav`, or '' */
  readonly extension: string;
  readonly query: URLSearchParams;
  readonly pathname: string;
  readonly authorized: boolean;
}

const PATH = /^\/2010-04-01\/Accounts\/([^/]+)\/(Recordings|Calls)(?:\/([^/.]+))?(\.[a-z0-9]+)?$/;
export const MEDIA_TYPES: Record<string, string> = { '': 'audio/x-wav', '.wav': 'audio/x-wav', '.mp3': 'audio/mpeg' };

/** The AccountSid a request's path names, if any. */
export function accountOf(request: SimulatedRequest): string | undefined {
  return PATH.exec(new URL(request.path, 'http://simulated-twilio').pathname)?.[1];
}

/** `expectedAuthorization`: the Authorization header values that may read the path's account. */
export function classify(request: SimulatedRequest, expectedAuthorization: string | readonly string[]): Classified {
  const target = new URL(request.path, 'http://simulated-twilio');
  const [, accountSid, resource, sid, extension = ''] = PATH.exec(target.pathname) ?? [];
  const accepted = typeof expectedAuthorization === 'string' ? [expectedAuthorization] : expectedAuthorization;
  const { method } = request;
  let route: SimulatedRoute = 'other';
  if (resource === 'Recordings' && !sid && extension === '.json' && method === 'GET') route = 'list';
  else if (resource === 'Recordings' && sid && extension === '.json') {
    route = method === 'GET' ? 'recording' : method === 'DELETE' ? 'delete' : 'other';
  } else if (resource === 'Recordings' && sid && extension in MEDIA_TYPES && method === 'GET') route = 'media';
  else if (resource === 'Calls' && sid && extension === '.json' && method === 'GET') route = 'call';
  return {
    request,
    route,
    accountSid,
    sid,
    extension,
    query: target.searchParams,
    pathname: target.pathname,
    authorized: request.headers.authorization !== undefined && accepted.includes(request.headers.authorization),
  };
}

interface Waiter {
  readonly match: (entry: Classified) => boolean;
  readonly resolve: (request: SimulatedRequest) => void;
}

export class RequestLog {
  /** Every request, in arrival order. */
  readonly requests: SimulatedRequest[] = [];
  /** Requests to no resource the simulator holds (unknown path, account, recording or call). */
  readonly unexpected: { method: string; url: string }[] = [];
  private readonly entries: Classified[] = [];
  private waiters: Waiter[] = [];

  add(entry: Classified): void {
    this.requests.push(entry.request);
    this.entries.push(entry);
    const ready = this.waiters.filter((w) => w.match(entry));
    this.waiters = this.waiters.filter((w) => !ready.includes(w));
    for (const waiter of ready) waiter.resolve(entry.request);
  }

  waitFor(match: RequestMatch | ((request: SimulatedRequest) => boolean)): Promise<SimulatedRequest> {
    const test =
      typeof match === 'function'
        ? (entry: Classified) => match(entry.request)
        : (entry: Classified) =>
            (match.method === undefined || entry.request.method === match.method) &&
            (match.route === undefined || entry.route === match.route) &&
            (match.sid === undefined || entry.sid === match.sid);
    const seen = this.entries.find(test);
    if (seen) return Promise.resolve(seen.request);
    return new Promise((resolve) => this.waiters.push({ match: test, resolve }));
  }

  count(route: SimulatedRoute, sid?: string): number {
    return this.entries.filter((e) => e.route === route && (sid === undefined || e.sid === sid)).length;
  }

  to(fragment: string, method?: string): SimulatedRequest[] {
    return this.requests.filter((r) => r.path.includes(fragment) && (!method || r.method === method));
  }

  unauthorized(): SimulatedRequest[] {
    return this.entries.filter((e) => e.route !== 'other' && !e.authorized).map((e) => e.request);
  }

  clear(): void {
    this.requests.length = 0;
    this.unexpected.length = 0;
    this.entries.length = 0;
    this.waiters = [];
  }
}
