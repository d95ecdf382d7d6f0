/**
 * The recording list client (lambda/shared/twilio-recording-list.ts) against a stub of Twilio's
 * list over real HTTP: whole-day filters, newest-first paging with an early stop, no early stop
 * when the order is not descending, de-duplication, window edges, backoff on 429/5xx with an
 * injected sleep, the abort signal, and paging that never leaves the configured host.
 */
import '../helpers/setup-env';
import { TwilioApiError } from '../../lambda/shared/twilio-api';
import {
  createTwilioRecordingList,
  type ListedRecording,
  type ListWindow,
  type RecordingListOptions,
} from '../../lambda/shared/twilio-recording-list';
import { staticTokens } from '../../lambda/shared/twilio-signature';
import { StubRecordingList } from '../helpers/stub-recording-list';
import { TEST_ACCOUNT_SID, TEST_AUTH_TOKEN } from '../helpers/twilio-fixtures';

const at = (iso: string) => new Date(iso);
const minutes = (n: number) => n * 60_000;

let stub: StubRecordingList;
let elsewhere: StubRecordingList;
const delays: number[] = [];

beforeAll(async () => {
  [stub, elsewhere] = await Promise.all([
    StubRecordingList.start(TEST_ACCOUNT_SID, TEST_AUTH_TOKEN),
    StubRecordingList.start(TEST_ACCOUNT_SID, TEST_AUTH_TOKEN),
  ]);
});

afterAll(async () => {
  await Promise.all([stub.close(), elsewhere.close()]);
});

beforeEach(() => {
  stub.reset();
  elsewhere.reset();
  delays.length = 0;
});

function client(overrides: Partial<RecordingListOptions> = {}) {
  return createTwilioRecordingList({
    baseUrl: stub.baseUrl,
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
  const recordings: ListedRecording[] = [];
  const positions: Date[] = [];
  for await (const page of client(overrides).list(window, { signal })) {
    recordings.push(...page.recordings);
    positions.push(page.position);
  }
  return { recordings, positions, sids: recordings.map((r) => r.sid) };
}

/** One recording every `stepMinutes` from `start` (inclusive) to `end` (exclusive). */
function addEvery(start: string, end: string, stepMinutes: number): string[] {
  const sids: string[] = [];
  for (let t = Date.parse(start); t < Date.parse(end); t += minutes(stepMinutes)) sids.push(stub.add(new Date(t)).sid);
  return sids;
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
    const sids = addEvery('2024-07-22T00:00:00Z', '2024-07-23T00:00:00Z', 1); // 1,440 recordings
    const { recordings } = await listAll({ from: at('2024-07-22T00:00:00Z'), to: at('2024-07-23T00:00:00Z') });

    expect(new Set(recordings.map((r) => r.sid))).toEqual(new Set(sids));
    expect(recordings).toHaveLength(1440);
    expect(stub.requests).toHaveLength(2);
    const [first, second] = stub.requests;
    expect(first?.path).toBe(`/2010-04-01/Accounts/${TEST_ACCOUNT_SID}/Recordings.json`);
    expect(Object.fromEntries(first?.query ?? [])).toEqual({
      'DateCreated>': '2024-07-22',
      'DateCreated<': '2024-07-22',
      PageSize: '1000',
    });
    expect(second?.query.get('Page')).toBe('1');
    expect(second?.query.get('PageToken')).toMatch(/^PA/);
    expect(first?.headers.authorization).toBe(
      `Basic ${Buffer.from(`${TEST_ACCOUNT_SID}:${TEST_AUTH_TOKEN}`).toString('base64')}`,
    );
  });

  it('maps each record to what a transfer job needs', async () => {
    const record = stub.add(at('2024-07-22T12:00:00Z'), { duration: '17', channels: 1, source: 'RecordVerb' });
    const { recordings } = await listAll({ from: at('2024-07-22T11:00:00Z'), to: at('2024-07-22T13:00:00Z') });

    expect(recordings).toEqual([
      {
        sid: record.sid,
        accountSid: TEST_ACCOUNT_SID,
        callSid: record.call_sid,
        status: 'completed',
        dateCreated: '2024-07-22T12:00:00.000Z',
        startTime: 'Mon, 22 Jul 2024 11:59:55 +0000',
        duration: '17',
        channels: 1,
        source: 'RecordVerb',
      },
    ]);
  });

  it('stops paging once a newest-first list has passed the start of the window', async () => {
    addEvery('2024-07-22T08:00:00Z', '2024-07-22T14:00:00Z', 5); // 72 recordings
    stub.pageSizeCap = 6;
    const window = { from: at('2024-07-22T12:00:00Z'), to: at('2024-07-22T13:00:00Z') };
    const { recordings, positions } = await listAll(window);

    expect(recordings).toHaveLength(12);
    expect(
      recordings.every((r) => r.dateCreated && r.dateCreated >= '2024-07-22T12:00' && r.dateCreated < '2024-07-22T13'),
    ).toBe(true);
    // 12 after the window, 12 in it, then the page holding 11:55: 5 of 12 pages.
    expect(stub.pagesServed).toBe(5);
    // Progress only moves back, and ends at the window's start.
    expect(positions.map((p) => p.getTime())).toEqual([...positions.map((p) => p.getTime())].sort((a, b) => b - a));
    expect(positions.at(-1)).toEqual(window.from);
  });

  it.each(['oldest-first', 'as-given'] as const)('reads the whole day when the order is %s', async (order) => {
    const sids = addEvery('2024-07-22T08:00:00Z', '2024-07-22T14:00:00Z', 5);
    // as-given: newest first for two pages, then one step back up, then newest first again.
    if (order === 'as-given') {
      stub.recordings.reverse();
      const [a, b] = [stub.recordings[12], stub.recordings[13]];
      if (a && b) [stub.recordings[12], stub.recordings[13]] = [b, a];
    }
    stub.order = order;
    stub.pageSizeCap = 6;
    const window = { from: at('2024-07-22T12:00:00Z'), to: at('2024-07-22T13:00:00Z') };
    const { sids: listed } = await listAll(window);

    expect(stub.pagesServed).toBe(12);
    expect(new Set(listed)).toEqual(new Set(sids.slice(48, 60)));
  });

  it('lists each recording once when new recordings shift the pages under it', async () => {
    addEvery('2024-07-22T10:00:00Z', '2024-07-22T11:00:00Z', 1);
    stub.pageSizeCap = 10;
    // Each page served, two more recordings arrive at the head (offset paging: the rest shift by two).
    let added = 0;
    stub.afterPage = () => {
      for (let i = 0; i < 2; i++) stub.add(at(`2024-07-22T11:${String(10 + added++).padStart(2, '0')}:00Z`));
    };
    const { sids } = await listAll({ from: at('2024-07-22T10:00:00Z'), to: at('2024-07-22T11:00:00Z') });

    expect([...stub.servedSids.values()].some((n) => n > 1)).toBe(true);
    expect(sids).toHaveLength(60);
    expect(new Set(sids).size).toBe(60);
  });

  it('keeps the exact window: from inclusive, to exclusive, across midnight, newest day first', async () => {
    const inside = [
      stub.add(at('2024-07-21T23:30:00Z')).sid, // == from
      stub.add(at('2024-07-21T23:59:59Z')).sid,
      stub.add(at('2024-07-22T00:00:00Z')).sid,
      stub.add(at('2024-07-22T00:29:59Z')).sid, // last second before to
    ];
    stub.add(at('2024-07-21T23:29:59Z')); // before from
    stub.add(at('2024-07-22T00:30:00Z')); // == to
    const { sids } = await listAll({ from: at('2024-07-21T23:30:00Z'), to: at('2024-07-22T00:30:00Z') });

    expect(new Set(sids)).toEqual(new Set(inside));
    expect(stub.requests.map((r) => [r.query.get('DateCreated>'), r.query.get('DateCreated<')])).toEqual([
      ['2024-07-22', '2024-07-22'],
      ['2024-07-21', '2024-07-21'],
    ]);
  });

  it('lists nothing for an empty window', async () => {
    stub.add(at('2024-07-22T12:00:00Z'));
    const { sids } = await listAll({ from: at('2024-07-22T12:00:00Z'), to: at('2024-07-22T12:00:00Z') });
    expect(sids).toEqual([]);
    expect(stub.requests).toHaveLength(0);
  });
});

describe('throttling and failures', () => {
  const window = { from: at('2024-07-22T12:00:00Z'), to: at('2024-07-22T13:00:00Z') };
  const throttled = { status: 429, body: { code: 20429, message: 'Too Many Requests', status: 429 } };

  it('backs off and retries a 429 (20429) and a 5xx, doubling the wait and honouring Retry-After', async () => {
    const sid = stub.add(at('2024-07-22T12:30:00Z')).sid;
    stub.faults.push(throttled, { status: 503 }, { ...throttled, headers: { 'retry-after': '7' } });
    const retries: string[] = [];
    const { sids } = await listAll(window, { onRetry: (r) => retries.push(r.reason) });

    expect(sids).toEqual([sid]);
    expect(stub.requests).toHaveLength(4);
    expect(delays).toEqual([375, 750, 7000]); // 500 × 2^n × (0.5 + 0.5/2) jitter; then Retry-After
    expect(retries).toEqual(['twilio-429', 'twilio-503', 'twilio-429']);
  });

  it('gives up after the last attempt with a retryable error', async () => {
    stub.faults.push(throttled, throttled, throttled);
    const error = await rejection(listAll(window, { retry: { maxAttempts: 3 } }));

    expect(error).toBeInstanceOf(TwilioApiError);
    expect(error).toMatchObject({ status: 429, retryable: true, code: 'twilio-429' });
    expect((error as Error).message).toContain('20429');
    expect(stub.requests).toHaveLength(3);
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
    expect((error as Error).message).toMatch(/401.*auth token/);
    expect((error as Error).message).not.toContain('wrong-token-value');
    expect(delays).toEqual([]);
  });

  it('does not retry a 404 (wrong account or base URL)', async () => {
    const error = await rejection(listAll(window, { baseUrl: `${stub.baseUrl}/elsewhere` }));
    expect(error).toMatchObject({ status: 404, retryable: false });
    expect(stub.requests).toHaveLength(1);
  });

  it('stops waiting and sends nothing more once the signal aborts', async () => {
    stub.faults.push(throttled, throttled);
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
    expect(stub.requests).toHaveLength(1);
  });
});

describe('next_page_uri', () => {
  const window = { from: at('2024-07-22T10:00:00Z'), to: at('2024-07-22T11:00:00Z') };

  beforeEach(() => {
    addEvery('2024-07-22T10:00:00Z', '2024-07-22T11:00:00Z', 10);
    stub.pageSizeCap = 3;
  });

  it('is never followed to another host: no request, no credentials there', async () => {
    stub.rewriteNextPage = (uri) => (uri ? `${elsewhere.baseUrl}${uri}` : uri);
    const error = await rejection(listAll(window));

    expect(error).toMatchObject({ code: 'bad-next-page', retryable: false });
    expect(elsewhere.requests).toHaveLength(0);
  });

  it.each([
    ['a protocol-relative URI', (uri: string) => `//${new URL(elsewhere.baseUrl).host}${uri}`],
    ['another resource', (uri: string) => uri.replace('Recordings.json', 'Calls.json')],
  ])('is refused when it names %s', async (_what, rewrite) => {
    stub.rewriteNextPage = (uri) => (uri ? rewrite(uri) : uri);
    await expect(listAll(window)).rejects.toMatchObject({ code: 'bad-next-page' });
    expect(elsewhere.requests).toHaveLength(0);
  });

  it('fails instead of looping when a page names itself as the next one', async () => {
    stub.rewriteNextPage = () => `${stub.listPath}?DateCreated%3E=2024-07-22&DateCreated%3C=2024-07-22&PageSize=1000`;
    await expect(listAll(window)).rejects.toMatchObject({ code: 'twilio-page-loop' });
    expect(stub.requests).toHaveLength(1);
  });

  it('is followed when absolute on the configured host', async () => {
    stub.rewriteNextPage = (uri) => (uri ? `${stub.baseUrl}${uri}` : uri);
    const { sids } = await listAll(window);
    expect(sids).toHaveLength(6);
  });
});
