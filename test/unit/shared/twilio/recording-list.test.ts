/**
 * The recording list client (lambda/shared/twilio/recording-list.ts) against the simulated
 * Twilio over real HTTP: whole-day filters, newest-first paging with an early stop, window edges,
 * backoff on 429/5xx and on pages that are not a list (injected sleep), the abort signal. What
 * the simulator never does by itself (list out of order, repeat a record across pages, name a
 * next page elsewhere) is served as scripted pages on the exact paths the client asks for.
 */
import '../../../helpers/setup-env';
import {
  createTwilioRecordingList,
  type ListWindow,
  type RecordingListOptions,
  type TwilioRecordingEntry,
} from '../../../../lambda/shared/twilio/recording-list';
import { TwilioApiError } from '../../../../lambda/shared/twilio/rest-api';
import { staticTokens } from '../../../../lambda/shared/twilio/signature';
import { htmlPage, jsonError, SimulatedTwilio, status } from '../../../../lib/simulated-twilio';
import { recordingJson, type SimulatedRecording } from '../../../../lib/simulated-twilio/store';
import { TEST_ACCOUNT_SID, TEST_AUTH_TOKEN } from '../../../helpers/twilio-fixtures';

const at = (iso: string) => new Date(iso);
const MINUTE = 60_000;
const NO_MEDIA = Buffer.alloc(0);

let twilio: SimulatedTwilio;
let elsewhere: SimulatedTwilio;
const delays: number[] = [];

beforeAll(async () => {
  [twilio, elsewhere] = await Promise.all([
    SimulatedTwilio.start({ accountSid: TEST_ACCOUNT_SID, authToken: TEST_AUTH_TOKEN }),
    SimulatedTwilio.start({ accountSid: TEST_ACCOUNT_SID, authToken: TEST_AUTH_TOKEN }),
  ]);
});

afterAll(async () => {
  await Promise.all([twilio.close(), elsewhere.close()]);
});

beforeEach(() => {
  twilio.reset();
  elsewhere.reset();
  delays.length = 0;
});

function client(overrides: Partial<RecordingListOptions> = {}) {
  return createTwilioRecordingList({
    baseUrl: twilio.baseUrl,
    accountSid: TEST_ACCOUNT_SID,
    tokens: staticTokens(TEST_AUTH_TOKEN),
    // Records the backoff instead of waiting it out; aborts like the real one.
    sleep: async (ms, signal) => {
      signal?.throwIfAborted();
      delays.push(ms);
    },
    random: () => 0.5,
    ...overrides,
  });
}

async function listAll(window: ListWindow, overrides: Partial<RecordingListOptions> = {}, signal?: AbortSignal) {
  const recordings: TwilioRecordingEntry[] = [];
  const positions: Date[] = [];
  for await (const page of client(overrides).list(window, { signal })) {
    recordings.push(...page.recordings);
    positions.push(page.position);
  }
  return { recordings, positions, sids: recordings.map((r) => r.sid) };
}

function add(dateCreated: Date, fields: Parameters<SimulatedTwilio['addRecording']>[0] = {}): SimulatedRecording {
  return twilio.addRecording({ dateCreated, media: NO_MEDIA, ...fields });
}

/** One recording every `stepMinutes` from `start` (inclusive) to `end` (exclusive), oldest first. */
function addEvery(start: string, end: string, stepMinutes: number): SimulatedRecording[] {
  const added: SimulatedRecording[] = [];
  for (let t = Date.parse(start); t < Date.parse(end); t += stepMinutes * MINUTE) added.push(add(new Date(t)));
  return added;
}

const listRequests = () => twilio.requests.filter((r) => r.path.startsWith(twilio.listPath()));
const queryOf = (path: string | undefined) => new URL(path ?? '/', 'http://x').searchParams;

/** The first page the client asks for, for one day, exactly as it asks. */
function firstPagePath(day: string, pageSize: number): string {
  const query = new URLSearchParams({ 'DateCreated>': day, 'DateCreated<': day, PageSize: String(pageSize) });
  return `${twilio.listPath()}?${query}`;
}

/**
 * Serves `pages` of a day's listing as scripted, in the order given (whatever it is), each page
 * naming the next (or what `next` makes of it).
 */
function scriptPages(
  day: string,
  pageSize: number,
  pages: SimulatedRecording[][],
  next: (uri: string | null, index: number) => unknown = (uri) => uri,
): void {
  const paths = pages.map((_, i) =>
    i === 0 ? firstPagePath(day, pageSize) : `${twilio.listPath()}?Page=${i}&PageToken=PT${i}`,
  );
  pages.forEach((records, i) => {
    const body = {
      recordings: records.map((r) => recordingJson(r, twilio.baseUrl)),
      next_page_uri: next(paths[i + 1] ?? null, i),
      page: i,
      page_size: pageSize,
    };
    twilio.route('GET', paths[i] ?? '', () => ({
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    }));
  });
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (error: unknown) => error,
  );
}

describe('paging', () => {
  it('asks for whole days, 1000 a page, with Basic auth, and follows next_page_uri to the end', async () => {
    const added = addEvery('2024-07-22T00:00:00Z', '2024-07-23T00:00:00Z', 1); // 1,440 recordings
    const { sids } = await listAll({ from: at('2024-07-22T00:00:00Z'), to: at('2024-07-23T00:00:00Z') });

    expect(sids).toHaveLength(1440);
    expect(new Set(sids)).toEqual(new Set(added.map((r) => r.sid)));
    const [first, second, ...more] = listRequests();
    expect(more).toEqual([]);
    expect(Object.fromEntries(queryOf(first?.path))).toEqual({
      'DateCreated>': '2024-07-22',
      'DateCreated<': '2024-07-22',
      PageSize: '1000',
    });
    expect(queryOf(second?.path).get('PageToken')).toMatch(/^PA/);
    expect(first?.headers.authorization).toBe(
      `Basic ${Buffer.from(`${TEST_ACCOUNT_SID}:${TEST_AUTH_TOKEN}`).toString('base64')}`,
    );
    expect(twilio.unauthorizedRequests()).toEqual([]);
  });

  it('maps each record to what a transfer job needs', async () => {
    const recording = add(at('2024-07-22T12:00:00Z'), {
      startTime: at('2024-07-22T11:59:50Z'),
      duration: 17,
      channels: 1,
      source: 'RecordVerb',
    });
    const { recordings } = await listAll({ from: at('2024-07-22T11:00:00Z'), to: at('2024-07-22T13:00:00Z') });

    expect(recordings).toEqual([
      {
        sid: recording.sid,
        accountSid: TEST_ACCOUNT_SID,
        callSid: recording.callSid,
        status: 'completed',
        dateCreated: '2024-07-22T12:00:00.000Z',
        startTime: 'Mon, 22 Jul 2024 11:59:50 +0000',
        duration: '17',
        channels: 1,
        source: 'RecordVerb',
      },
    ]);
  });

  it('stops paging once a newest-first list has passed the start of the window', async () => {
    addEvery('2024-07-22T08:00:00Z', '2024-07-22T14:00:00Z', 5); // 72 recordings
    const window = { from: at('2024-07-22T12:00:00Z'), to: at('2024-07-22T13:00:00Z') };
    const { recordings, positions } = await listAll(window, { pageSize: 6 });

    expect(recordings).toHaveLength(12);
    expect(
      recordings.every((r) => r.dateCreated && r.dateCreated >= '2024-07-22T12:00' && r.dateCreated < '2024-07-22T13'),
    ).toBe(true);
    // 12 after the window, 12 in it, then the page holding 11:55: 5 of 12 pages.
    expect(listRequests()).toHaveLength(5);
    // Progress only moves back, and ends at the window's start.
    expect(positions.map((p) => p.getTime())).toEqual([...positions.map((p) => p.getTime())].sort((a, b) => b - a));
    expect(positions.at(-1)).toEqual(window.from);
  });

  it.each([
    ['oldest first', (all: SimulatedRecording[]) => all],
    // Newest first for two pages, then one step back up, then newest first again.
    [
      'newest first but for one pair',
      (all: SimulatedRecording[]) => {
        const listed = [...all].reverse();
        const [a, b] = [listed[12], listed[13]];
        if (a && b) [listed[12], listed[13]] = [b, a];
        return listed;
      },
    ],
  ])('reads the whole day when the list comes %s', async (_order, arrange) => {
    const all = addEvery('2024-07-22T08:00:00Z', '2024-07-22T14:00:00Z', 5);
    const listed = arrange(all);
    scriptPages(
      '2024-07-22',
      6,
      Array.from({ length: 12 }, (_, i) => listed.slice(i * 6, i * 6 + 6)),
    );
    const window = { from: at('2024-07-22T12:00:00Z'), to: at('2024-07-22T13:00:00Z') };
    const { sids } = await listAll(window, { pageSize: 6 });

    expect(listRequests()).toHaveLength(12);
    expect(new Set(sids)).toEqual(new Set(all.slice(48, 60).map((r) => r.sid)));
  });

  it('lists each recording once when pages repeat records (shifted under new recordings), and still stops early', async () => {
    const all = addEvery('2024-07-22T09:00:00Z', '2024-07-22T11:00:00Z', 5).reverse(); // 24, newest first
    // Offset paging while two recordings arrive per page: each page starts with the last two of the one before.
    const pages = [
      all.slice(0, 6),
      all.slice(4, 10),
      all.slice(8, 14),
      all.slice(12, 18),
      all.slice(16, 22),
      all.slice(20),
    ];
    scriptPages('2024-07-22', 6, pages);
    const { sids } = await listAll(
      { from: at('2024-07-22T10:00:00Z'), to: at('2024-07-22T11:00:00Z') },
      { pageSize: 6 },
    );

    expect(sids).toHaveLength(12);
    expect(new Set(sids).size).toBe(12);
    expect(listRequests()).toHaveLength(3); // the repeats did not pass for disorder
  });

  it('keeps the exact window: from inclusive, to exclusive, across midnight, newest day first', async () => {
    const inside = [
      add(at('2024-07-21T23:30:00Z')), // == from
      add(at('2024-07-21T23:59:59Z')),
      add(at('2024-07-22T00:00:00Z')),
      add(at('2024-07-22T00:29:59Z')), // last second before to
    ];
    add(at('2024-07-21T23:29:59Z')); // before from
    add(at('2024-07-22T00:30:00Z')); // == to
    const { sids } = await listAll({ from: at('2024-07-21T23:30:00Z'), to: at('2024-07-22T00:30:00Z') });

    expect(new Set(sids)).toEqual(new Set(inside.map((r) => r.sid)));
    expect(
      listRequests().map((r) => [queryOf(r.path).get('DateCreated>'), queryOf(r.path).get('DateCreated<')]),
    ).toEqual([
      ['2024-07-22', '2024-07-22'],
      ['2024-07-21', '2024-07-21'],
    ]);
  });

  it('lists nothing for an empty window', async () => {
    add(at('2024-07-22T12:00:00Z'));
    const { sids } = await listAll({ from: at('2024-07-22T12:00:00Z'), to: at('2024-07-22T12:00:00Z') });
    expect(sids).toEqual([]);
    expect(twilio.requests).toHaveLength(0);
  });
});

describe('throttling and failures', () => {
  const window = { from: at('2024-07-22T12:00:00Z'), to: at('2024-07-22T13:00:00Z') };

  it('backs off and retries a 429 (20429) and a 5xx, doubling the wait and honouring Retry-After', async () => {
    const sid = add(at('2024-07-22T12:30:00Z')).sid;
    twilio.respond('GET', firstPagePath('2024-07-22', 1000), {
      status: 429,
      headers: { 'content-type': 'application/json', 'retry-after': '7' },
      body: JSON.stringify({ code: 20429, message: 'Too Many Requests', status: 429 }),
    });
    twilio.scriptList(status(429), status(503));
    const retries: string[] = [];
    const { sids } = await listAll(window, { onRetry: (r) => retries.push(r.reason) });

    expect(sids).toEqual([sid]);
    expect(listRequests()).toHaveLength(4);
    expect(delays).toEqual([7000, 750, 1500]); // Retry-After; then 500 × 2^n × (0.5 + 0.5/2) jitter
    expect(retries).toEqual(['twilio-429', 'twilio-429', 'twilio-503']);
  });

  it('retries a 200 that is not a page of the list (an outage page, an error in JSON)', async () => {
    const sid = add(at('2024-07-22T12:30:00Z')).sid;
    twilio.scriptList(htmlPage(), jsonError());
    const { sids } = await listAll(window);

    expect(sids).toEqual([sid]);
    expect(delays).toHaveLength(2);
  });

  it('gives up after the last attempt with a retryable error', async () => {
    twilio.scriptList(status(429), status(429), status(429));
    const error = await rejection(listAll(window, { retry: { maxAttempts: 3 } }));

    expect(error).toBeInstanceOf(TwilioApiError);
    expect(error).toMatchObject({ status: 429, retryable: true, code: 'twilio-429' });
    expect((error as Error).message).toContain('20429');
    expect(listRequests()).toHaveLength(3);
  });

  it('reads the token again once after a 401, then fails without retrying and without the token in the message', async () => {
    const reads: Array<boolean | undefined> = [];
    const error = await rejection(
      listAll(window, {
        tokens: async (options) => {
          reads.push(options?.refresh);
          return { primary: 'wrong-token-value' };
        },
      }),
    );

    expect(reads).toEqual([undefined, true]);
    expect(error).toMatchObject({ status: 401, retryable: false });
    expect((error as Error).message).toMatch(/401 \(code 20003\).*auth token/);
    expect((error as Error).message).not.toContain('wrong-token-value');
    expect(delays).toEqual([]);
  });

  it('does not retry a 404 (wrong account or base URL)', async () => {
    const error = await rejection(listAll(window, { baseUrl: `${twilio.baseUrl}/elsewhere` }));
    expect(error).toMatchObject({ status: 404, retryable: false });
    expect(twilio.requests).toHaveLength(1);
  });

  it('stops waiting and sends nothing more once the signal aborts', async () => {
    twilio.scriptList(status(429), status(429));
    const controller = new AbortController();
    const error = await rejection(
      listAll(
        window,
        {
          sleep: async () => {
            controller.abort(new Error('time budget spent'));
            controller.signal.throwIfAborted();
          },
        },
        controller.signal,
      ),
    );

    expect((error as Error).message).toBe('time budget spent');
    expect(listRequests()).toHaveLength(1);
  });
});

describe('next_page_uri', () => {
  const window = { from: at('2024-07-22T10:00:00Z'), to: at('2024-07-22T11:00:00Z') };
  let pages: SimulatedRecording[][];

  beforeEach(() => {
    const all = addEvery('2024-07-22T10:00:00Z', '2024-07-22T11:00:00Z', 10).reverse();
    pages = [all.slice(0, 3), all.slice(3)];
  });

  it('is never followed to another host: no request, no credentials there', async () => {
    scriptPages('2024-07-22', 3, pages, (uri) => (uri ? `${elsewhere.baseUrl}${uri}` : uri));
    const error = await rejection(listAll(window, { pageSize: 3 }));

    expect(error).toMatchObject({ code: 'bad-next-page', retryable: false });
    expect(elsewhere.requests).toHaveLength(0);
  });

  it.each([
    ['a protocol-relative URI', (uri: string) => `//${new URL(elsewhere.baseUrl).host}${uri}`],
    ['another resource', (uri: string) => uri.replace('Recordings.json', 'Calls.json')],
  ])('is refused when it names %s', async (_what, rewrite) => {
    scriptPages('2024-07-22', 3, pages, (uri) => (uri ? rewrite(uri) : uri));
    await expect(listAll(window, { pageSize: 3 })).rejects.toMatchObject({ code: 'bad-next-page' });
    expect(elsewhere.requests).toHaveLength(0);
  });

  it('fails instead of looping when a page names itself as the next one', async () => {
    scriptPages('2024-07-22', 3, pages, () => firstPagePath('2024-07-22', 3));
    await expect(listAll(window, { pageSize: 3 })).rejects.toMatchObject({ code: 'twilio-page-loop' });
    expect(twilio.requests).toHaveLength(1);
  });

  it('is followed when absolute on the configured host', async () => {
    scriptPages('2024-07-22', 3, pages, (uri) => (uri ? `${twilio.baseUrl}${uri}` : uri));
    const { sids } = await listAll(window, { pageSize: 3 });
    expect(sids).toHaveLength(6);
    expect(twilio.requests).toHaveLength(2);
  });
});
