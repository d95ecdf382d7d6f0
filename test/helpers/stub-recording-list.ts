/**
 * Twilio's account recording list (`GET /2010-04-01/Accounts/{AccountSid}/Recordings.json`) on
 * 127.0.0.1, for the list client, the reconciler, backfill and the reconcile bench.
 *
 * StubTwilioServer (./stub-twilio.ts) matches whole request paths, query string included, so it
 * cannot page a list whose `next_page_uri` it makes up itself; this stub serves the list from
 * `recordings` the way Twilio does: whole-day `DateCreated>` / `DateCreated<` filters (on or
 * after / on or before, UTC), newest first unless told otherwise, `PageSize` pages with a
 * relative `next_page_uri` that repeats the filters and adds `Page` and `PageToken`, Basic auth
 * (401, code 20003, otherwise). `faults` are one-shot answers given before the list (429, 500…);
 * `afterPage` runs after each page is served (add recordings mid-listing to shift pages).
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface ListRecord {
  readonly sid: string;
  readonly account_sid: string;
  readonly call_sid: string | null;
  readonly conference_sid: string | null;
  readonly status: string;
  readonly date_created: string;
  readonly date_updated: string;
  readonly start_time: string;
  readonly duration: string;
  readonly channels: number;
  readonly source: string;
  readonly error_code: number | null;
  readonly uri: string;
  readonly [extra: string]: unknown;
}

export interface ListRecordOptions {
  readonly accountSid: string;
  readonly createdAt: Date;
  readonly sid?: string;
  readonly callSid?: string | null;
  readonly status?: string;
  readonly duration?: string;
  readonly channels?: number;
  readonly source?: string;
  readonly extra?: Record<string, unknown>;
}

const hex32 = () => randomBytes(16).toString('hex');

/** RFC 2822 as Twilio writes dates: `Mon, 22 Jul 2024 17:00:00 +0000`. */
export function rfc2822(time: Date): string {
  return time.toUTCString().replace('GMT', '+0000');
}

/** One recording as Twilio lists it (its start_time 5 s before its date_created). */
export function listRecord(options: ListRecordOptions): ListRecord {
  const sid = options.sid ?? `RE${hex32()}`;
  return {
    sid,
    account_sid: options.accountSid,
    call_sid: options.callSid === undefined ? `CA${hex32()}` : options.callSid,
    conference_sid: null,
    status: options.status ?? 'completed',
    date_created: rfc2822(options.createdAt),
    date_updated: rfc2822(options.createdAt),
    start_time: rfc2822(new Date(options.createdAt.getTime() - 5000)),
    duration: options.duration ?? '42',
    channels: options.channels ?? 2,
    source: options.source ?? 'DialVerb',
    error_code: null,
    uri: `/2010-04-01/Accounts/${options.accountSid}/Recordings/${sid}.json`,
    ...options.extra,
  };
}

export interface ListAnswer {
  readonly status: number;
  readonly body?: unknown;
  readonly headers?: Record<string, string>;
}

export interface ListRequest {
  readonly path: string;
  readonly query: URLSearchParams;
  readonly headers: IncomingHttpHeaders;
}

export type ListOrder = 'newest-first' | 'oldest-first' | 'as-given';

export class StubRecordingList {
  /** The account's recordings (any order; `order` decides how they are listed). */
  recordings: ListRecord[] = [];
  order: ListOrder = 'newest-first';
  /** Serve at most this many per page, whatever PageSize asks (small pages in tests). */
  pageSizeCap: number | undefined;
  /** One-shot answers, used in turn before the list is served. */
  readonly faults: ListAnswer[] = [];
  /** Runs after each page is served, with its index. */
  afterPage: ((page: number) => void) | undefined;
  /** Rewrites each page's next_page_uri (to point elsewhere, loop…). */
  rewriteNextPage: ((uri: string | null) => unknown) | undefined;
  readonly requests: ListRequest[] = [];
  private readonly sockets = new Set<Socket>();
  private readonly authorization: string;
  private served = 0;

  private constructor(
    private readonly server: Server,
    readonly baseUrl: string,
    readonly accountSid: string,
    authToken: string,
  ) {
    this.authorization = `Basic ${Buffer.from(`${accountSid}:${authToken}`).toString('base64')}`;
  }

  get listPath(): string {
    return `/2010-04-01/Accounts/${this.accountSid}/Recordings.json`;
  }

  /** List requests answered with a page (not faults, not refusals). */
  get pagesServed(): number {
    return this.served;
  }

  /** How often each sid was served (more than once: pages shifted under the client). */
  readonly servedSids = new Map<string, number>();

  static async start(accountSid: string, authToken: string): Promise<StubRecordingList> {
    let stub: StubRecordingList | undefined;
    const server = createServer((req, res) => {
      const answer = stub?.answer(req.url ?? '/', req.headers) ?? { status: 500 };
      const body = answer.body === undefined ? '' : JSON.stringify(answer.body);
      res.writeHead(answer.status, { 'content-type': 'application/json', ...answer.headers });
      res.end(body);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    stub = new StubRecordingList(server, `http://127.0.0.1:${port}`, accountSid, authToken);
    server.on('connection', (socket) => {
      stub?.sockets.add(socket);
      socket.on('close', () => stub?.sockets.delete(socket));
    });
    return stub;
  }

  /** Adds a recording created at `createdAt` (other fields as options say) and returns it. */
  add(createdAt: Date, options: Omit<ListRecordOptions, 'accountSid' | 'createdAt'> = {}): ListRecord {
    const record = listRecord({ accountSid: this.accountSid, createdAt, ...options });
    this.recordings.push(record);
    return record;
  }

  reset(): void {
    this.recordings = [];
    this.order = 'newest-first';
    this.pageSizeCap = undefined;
    this.faults.length = 0;
    this.afterPage = undefined;
    this.rewriteNextPage = undefined;
    this.requests.length = 0;
    this.served = 0;
    this.servedSids.clear();
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private answer(rawUrl: string, headers: IncomingHttpHeaders): ListAnswer {
    const url = new URL(rawUrl, this.baseUrl);
    this.requests.push({ path: url.pathname, query: url.searchParams, headers });
    if (url.pathname !== this.listPath) {
      return { status: 404, body: { code: 20404, message: `The requested resource ${url.pathname} was not found` } };
    }
    if (headers.authorization !== this.authorization) {
      return { status: 401, body: { code: 20003, message: 'Authenticate', status: 401 } };
    }
    const fault = this.faults.shift();
    if (fault) return fault;

    const after = url.searchParams.get('DateCreated>');
    const before = url.searchParams.get('DateCreated<');
    const day = (r: ListRecord) => new Date(Date.parse(r.date_created)).toISOString().slice(0, 10);
    let matching = this.recordings.filter((r) => (!after || day(r) >= after) && (!before || day(r) <= before));
    if (this.order !== 'as-given') {
      const sign = this.order === 'newest-first' ? -1 : 1;
      matching = matching
        .map((r) => ({ r, t: Date.parse(r.date_created) }))
        .sort((a, b) => sign * (a.t - b.t))
        .map(({ r }) => r);
    }
    const pageSize = Math.min(Number(url.searchParams.get('PageSize') ?? 50), this.pageSizeCap ?? 1000);
    const page = Number(url.searchParams.get('Page') ?? 0);
    const records = matching.slice(page * pageSize, (page + 1) * pageSize);
    let next: string | null = null;
    if ((page + 1) * pageSize < matching.length) {
      const query = new URLSearchParams(url.searchParams);
      query.set('PageSize', String(pageSize));
      query.set('Page', String(page + 1));
      query.set('PageToken', `PA${records[records.length - 1]?.sid ?? ''}`);
      next = `${this.listPath}?${query.toString()}`;
    }
    const body = {
      recordings: records,
      first_page_uri: `${this.listPath}?PageSize=${pageSize}&Page=0`,
      next_page_uri: this.rewriteNextPage ? this.rewriteNextPage(next) : next,
      previous_page_uri: null,
      page,
      page_size: pageSize,
      start: page * pageSize,
      end: page * pageSize + records.length - 1,
      uri: `${url.pathname}${url.search}`,
    };
    this.served++;
    for (const r of records) this.servedSids.set(r.sid, (this.servedSids.get(r.sid) ?? 0) + 1);
    this.afterPage?.(page);
    return { status: 200, body };
  }
}
