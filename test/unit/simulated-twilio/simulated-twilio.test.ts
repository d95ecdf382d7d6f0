/**
 * The simulated Twilio (lib/simulated-twilio/index.ts) against what Twilio's REST API and webhooks
 * do: the recording list (order, whole-day filters, paging through next_page_uri), deletion, call
 * details, scripted media answers, request counters, and signed callbacks that twilio's own
 * validateRequest accepts.
 */
import '../../helpers/setup-env';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { validateRequest } from 'twilio/lib/webhooks/webhooks';
import {
  htmlPage,
  jsonError,
  mediaBytes,
  type SimulatedRecording,
  SimulatedTwilio,
  status,
} from '../../../lib/simulated-twilio';
import { TEST_ACCOUNT_SID, TEST_AUTH_TOKEN } from '../../helpers/twilio-fixtures';

const AUTH = `Basic ${Buffer.from(`${TEST_ACCOUNT_SID}:${TEST_AUTH_TOKEN}`).toString('base64')}`;

let sim: SimulatedTwilio;

beforeAll(async () => {
  sim = await SimulatedTwilio.start({ accountSid: TEST_ACCOUNT_SID, authToken: TEST_AUTH_TOKEN });
});

afterAll(async () => {
  await sim.close();
});

beforeEach(() => {
  sim.reset();
});

interface Answer {
  readonly status: number;
  readonly headers: Headers;
  readonly body: Buffer;
}

/** `path` (relative to the simulator's base, query included) with the account's Basic auth unless told otherwise. */
async function call(path: string, options: { method?: string; auth?: string | null } = {}): Promise<Answer> {
  const headers: Record<string, string> = {};
  const auth = options.auth === undefined ? AUTH : options.auth;
  if (auth !== null) headers.authorization = auth;
  const response = await fetch(`${sim.baseUrl}${path}`, { method: options.method ?? 'GET', headers });
  return { status: response.status, headers: response.headers, body: Buffer.from(await response.arrayBuffer()) };
}

interface Page {
  first_page_uri: string;
  next_page_uri: string | null;
  previous_page_uri: string | null;
  page: number;
  page_size: number;
  start: number;
  end: number;
  uri: string;
  recordings: Record<string, unknown>[];
}

async function list(query: string): Promise<Page> {
  const answer = await call(`${sim.listPath()}${query ? `?${query}` : ''}`);
  expect(answer.status).toBe(200);
  return JSON.parse(answer.body.toString()) as Page;
}

const sids = (page: Page) => page.recordings.map((r) => r.sid);

/** One recording per instant, in an order that is not the list's. */
function recordingsAt(...instants: string[]): SimulatedRecording[] {
  return instants.map((at) => sim.addRecording({ dateCreated: new Date(at), size: 10 }));
}

describe('the recording list', () => {
  it('answers newest first with every field Twilio gives a recording', async () => {
    const [middle, oldest, newest] = recordingsAt(
      '2024-07-22T12:00:00Z',
      '2024-07-21T08:00:00Z',
      '2024-07-23T09:30:00Z',
    );
    const callSid = middle?.callSid;

    const page = await list('');

    expect(sids(page)).toEqual([newest?.sid, middle?.sid, oldest?.sid]);
    expect(page.recordings[1]).toEqual({
      sid: middle?.sid,
      account_sid: TEST_ACCOUNT_SID,
      api_version: '2010-04-01',
      call_sid: callSid,
      conference_sid: null,
      date_created: 'Mon, 22 Jul 2024 12:00:00 +0000',
      date_updated: 'Mon, 22 Jul 2024 12:00:00 +0000',
      start_time: 'Mon, 22 Jul 2024 12:00:00 +0000',
      duration: '42',
      channels: 2,
      source: 'DialVerb',
      status: 'completed',
      error_code: null,
      price: expect.any(String),
      price_unit: 'USD',
      uri: `/2010-04-01/Accounts/${TEST_ACCOUNT_SID}/Recordings/${middle?.sid}.json`,
      media_url: `${sim.baseUrl}/2010-04-01/Accounts/${TEST_ACCOUNT_SID}/Recordings/${middle?.sid}`,
      encryption_details: null,
      subresource_uris: {
        add_on_results: `/2010-04-01/Accounts/${TEST_ACCOUNT_SID}/Recordings/${middle?.sid}/AddOnResults.json`,
        transcriptions: `/2010-04-01/Accounts/${TEST_ACCOUNT_SID}/Recordings/${middle?.sid}/Transcriptions.json`,
      },
    });
    expect(page).toMatchObject({
      first_page_uri: `${sim.listPath()}?PageSize=50&Page=0`,
      next_page_uri: null,
      previous_page_uri: null,
      page: 0,
      page_size: 50,
      start: 0,
      end: 2,
      uri: `${sim.listPath()}?PageSize=50&Page=0`,
    });
  });

  it('breaks ties of date_created by SID, so that paging never skips or repeats one', async () => {
    const same = Array.from({ length: 5 }, () => sim.addRecording({ dateCreated: new Date('2024-07-22T12:00:00Z') }));

    const page = await list('');

    expect(sids(page)).toEqual(
      same
        .map((r) => r.sid)
        .sort()
        .reverse(),
    );
  });

  describe('DateCreated filters compare whole UTC days, inclusive', () => {
    let byDay: Record<string, string>;

    beforeEach(() => {
      const [d20, d21a, d21b, d22a, d22b, d23, d24] = recordingsAt(
        '2024-07-20T23:59:59Z',
        '2024-07-21T00:00:00Z',
        '2024-07-21T23:59:59Z',
        '2024-07-22T00:00:00Z',
        '2024-07-22T18:30:00Z',
        '2024-07-23T00:00:01Z',
        '2024-07-24T10:00:00Z',
      ).map((r) => r.sid);
      byDay = { d20, d21a, d21b, d22a, d22b, d23, d24 } as Record<string, string>;
    });

    it.each([
      ['DateCreated%3E=2024-07-22', ['d24', 'd23', 'd22b', 'd22a']],
      ['DateCreated>=2024-07-22', ['d24', 'd23', 'd22b', 'd22a']],
      ['DateCreated%3C=2024-07-21', ['d21b', 'd21a', 'd20']],
      ['DateCreated=2024-07-21', ['d21b', 'd21a']],
      ['DateCreated%3E=2024-07-21&DateCreated%3C=2024-07-22', ['d22b', 'd22a', 'd21b', 'd21a']],
    ])('%s (date values)', async (query, expected) => {
      expect(sids(await list(query))).toEqual(expected.map((name) => byDay[name]));
    });

    it.each([
      // The time of day is ignored: the whole day of the value counts.
      ['DateCreated%3E=2024-07-22T23:59:59Z', ['d24', 'd23', 'd22b', 'd22a']],
      ['DateCreated%3C=2024-07-21T00:00:00Z', ['d21b', 'd21a', 'd20']],
      ['DateCreated=2024-07-22T12:00:00Z', ['d22b', 'd22a']],
      // As twilio-node sends a Date: YYYY-MM-DDTHH:mm:ssZ, URL-encoded.
      [
        'DateCreated%3E=2024-07-21T09%3A15%3A00Z&DateCreated%3C=2024-07-22T00%3A00%3A00Z',
        ['d22b', 'd22a', 'd21b', 'd21a'],
      ],
      // A date-time with an offset counts for its UTC day.
      ['DateCreated=2024-07-21T22:00:00-05:00', ['d22b', 'd22a']],
    ])('%s (date-time values)', async (query, expected) => {
      expect(sids(await list(query))).toEqual(expected.map((name) => byDay[name]));
    });

    it('refuses a value that is not a date', async () => {
      const answer = await call(`${sim.listPath()}?DateCreated%3E=yesterday`);

      expect(answer.status).toBe(400);
      expect(JSON.parse(answer.body.toString())).toMatchObject({ status: 400, code: 20001 });
    });
  });

  it('filters by CallSid', async () => {
    const callSid = `CA${'ab'.repeat(16)}`;
    const [first, , second] = [
      sim.addRecording({ callSid, dateCreated: new Date('2024-07-22T10:00:00Z') }),
      sim.addRecording({ dateCreated: new Date('2024-07-22T11:00:00Z') }),
      sim.addRecording({ callSid, dateCreated: new Date('2024-07-22T12:00:00Z') }),
    ];

    const page = await list(`CallSid=${callSid}`);

    expect(sids(page)).toEqual([second?.sid, first?.sid]);
    expect(page.first_page_uri).toBe(`${sim.listPath()}?CallSid=${callSid}&PageSize=50&Page=0`);
  });

  it('pages through next_page_uri with PageSize 1000, repeating the filters', async () => {
    const start = Date.parse('2024-07-01T00:00:00Z');
    const all = Array.from({ length: 2_345 }, (_, i) =>
      sim.addRecording({ dateCreated: new Date(start + i * 60_000), size: 1 }),
    );
    // A recording on the day before the filter, which must not appear.
    sim.addRecording({ dateCreated: new Date('2024-06-30T23:00:00Z'), size: 1 });

    const pages: Page[] = [await list('DateCreated%3E=2024-07-01&PageSize=1000')];
    for (let next = pages[0]?.next_page_uri; next; next = pages[pages.length - 1]?.next_page_uri ?? null) {
      expect(next.startsWith(`${sim.listPath()}?`)).toBe(true);
      const params = new URLSearchParams(next.slice(next.indexOf('?') + 1));
      expect(params.get('DateCreated>')).toBe('2024-07-01');
      expect(params.get('PageSize')).toBe('1000');
      expect(params.get('Page')).toBe(String(pages.length));
      expect(params.get('PageToken')).toMatch(/^PA/);
      pages.push(await list(next.slice(next.indexOf('?') + 1)));
    }

    expect(pages.map((p) => p.recordings.length)).toEqual([1000, 1000, 345]);
    expect(pages.map((p) => [p.page, p.start, p.end])).toEqual([
      [0, 0, 999],
      [1, 1000, 1999],
      [2, 2000, 2344],
    ]);
    expect(pages.flatMap(sids)).toEqual(all.map((r) => r.sid).reverse());
    expect(pages[1]?.previous_page_uri).toMatch(/Page=0&PageToken=PB/);
    expect(sim.count('list')).toBe(3);
  });

  it('keeps paging stable when newer recordings arrive between pages', async () => {
    const older = Array.from({ length: 4 }, (_, i) =>
      sim.addRecording({ dateCreated: new Date(Date.UTC(2024, 6, 22, 10, i)) }),
    );
    const first = await list('PageSize=2');
    sim.addRecording({ dateCreated: new Date('2024-07-22T11:00:00Z') });

    const second = await list((first.next_page_uri ?? '').split('?')[1] ?? '');

    expect([...sids(first), ...sids(second)]).toEqual(older.map((r) => r.sid).reverse());
    expect(second.next_page_uri).toBeNull();
  });

  it.each(['0', '1001', 'ten'])('refuses PageSize=%s (1 to 1000)', async (size) => {
    expect((await call(`${sim.listPath()}?PageSize=${size}`)).status).toBe(400);
  });

  it('answers 429 with code 20429 when scripted to, then the list', async () => {
    sim.addRecording();
    sim.scriptList(status(429), status(429));

    const answers = [await call(sim.listPath()), await call(sim.listPath()), await call(sim.listPath())];

    expect(answers.map((a) => a.status)).toEqual([429, 429, 200]);
    expect(JSON.parse(answers[0]?.body.toString() ?? '')).toMatchObject({ code: 20429, status: 429 });
    expect(sim.count('list')).toBe(3);
  });

  it('requires the account Basic auth', async () => {
    sim.addRecording();

    const none = await call(sim.listPath(), { auth: null });
    const wrong = await call(sim.listPath(), {
      auth: `Basic ${Buffer.from(`${TEST_ACCOUNT_SID}:not-the-token`).toString('base64')}`,
    });

    expect([none.status, wrong.status]).toEqual([401, 401]);
    expect(JSON.parse(none.body.toString())).toMatchObject({ code: 20003, status: 401 });
    expect(sim.unauthorizedRequests()).toHaveLength(2);
  });

  it('serves twilio-node, which follows next_page_uri against its base URL', async () => {
    const all = Array.from({ length: 7 }, (_, i) =>
      sim.addRecording({ dateCreated: new Date(Date.UTC(2024, 6, 22, i)) }),
    );
    const twilio = (await import('twilio')).default;
    const client = twilio(TEST_ACCOUNT_SID, TEST_AUTH_TOKEN);
    client.api.baseUrl = sim.baseUrl;

    const listed = await client.recordings.list({ dateCreatedAfter: new Date('2024-07-22T15:00:00Z'), pageSize: 3 });

    expect(listed.map((r) => r.sid)).toEqual(all.map((r) => r.sid).reverse());
    expect(listed[0]?.dateCreated).toEqual(new Date(Date.UTC(2024, 6, 22, 6)));
    expect(sim.count('list')).toBe(3);
  });
});

describe('a recording', () => {
  it('serves its metadata and its media in both formats, counting each request', async () => {
    const recording = sim.addRecording({
      size: 3000,
      channels: 1,
      duration: 7,
      startTime: new Date('2024-07-22T17:00:00Z'),
    });

    const metadata = await call(sim.recordingPath(recording.sid));
    const mp3 = await call(sim.recordingPath(recording.sid, 'mp3'));
    const wav = await call(sim.recordingPath(recording.sid, 'wav'));

    expect(JSON.parse(metadata.body.toString())).toMatchObject({
      sid: recording.sid,
      call_sid: recording.callSid,
      duration: '7',
      channels: 1,
      start_time: 'Mon, 22 Jul 2024 17:00:00 +0000',
      status: 'completed',
    });
    expect(mp3.headers.get('content-type')).toBe('audio/mpeg');
    expect(wav.headers.get('content-type')).toBe('audio/x-wav');
    expect(mp3.body.equals(mediaBytes(recording.sid, 3000))).toBe(true);
    expect(wav.body.equals(recording.media)).toBe(true);
    expect([sim.count('recording', recording.sid), sim.count('media', recording.sid)]).toEqual([1, 2]);
    expect(sim.mediaRequests(recording.sid).map((r) => [r.outcome, r.completed, r.authorized])).toEqual([
      [200, true, true],
      [200, true, true],
    ]);
    expect(sim.bytesSent(recording.sid)).toBe(6000);
  });

  it('has no media unless completed, and no stereo when mono', async () => {
    const processing = sim.addRecording({ status: 'processing' });
    const mono = sim.addRecording({ channels: 1 });

    expect((await call(sim.recordingPath(processing.sid, 'mp3'))).status).toBe(404);
    const stereo = await call(`${sim.recordingPath(mono.sid, 'mp3')}?RequestedChannels=2`);
    expect(stereo.status).toBe(400);
    expect(JSON.parse(stereo.body.toString())).toMatchObject({ code: 16113 });

    sim.setRecordingStatus(processing.sid, 'completed');
    expect((await call(sim.recordingPath(processing.sid, 'mp3'))).status).toBe(200);
  });

  it('follows its script: an outage page and a JSON error, both with 200, then the media', async () => {
    const recording = sim.addRecording({ size: 100, responses: [htmlPage(), jsonError()] });

    const [page, error, media] = [
      await call(sim.recordingPath(recording.sid, 'mp3')),
      await call(sim.recordingPath(recording.sid, 'mp3')),
      await call(sim.recordingPath(recording.sid, 'mp3')),
    ];

    expect([page.status, page.headers.get('content-type')]).toEqual([200, 'text/html; charset=utf-8']);
    expect(page.body.toString()).toContain('<html>');
    expect([error.status, error.headers.get('content-type')]).toEqual([200, 'application/json']);
    expect(JSON.parse(error.body.toString())).toMatchObject({ code: expect.any(Number), message: expect.any(String) });
    expect(media.body.equals(recording.media)).toBe(true);
    expect(sim.count('media', recording.sid)).toBe(3);
  });

  it('resolves waitForRequest on the matching request, whether it came before or after', async () => {
    const recording = sim.addRecording();
    const later = sim.waitForRequest({ route: 'media', sid: recording.sid });

    await call(sim.recordingPath(recording.sid, 'wav'));

    expect((await later).path).toBe(sim.recordingPath(recording.sid, 'wav'));
    expect((await sim.waitForRequest((r) => r.path.endsWith('.wav'))).headers.authorization).toBe(AUTH);
  });

  it('is deleted: 204, then no media, status deleted, and out of the default list', async () => {
    const [kept, deleted] = recordingsAt('2024-07-22T10:00:00Z', '2024-07-22T11:00:00Z');
    const sid = deleted?.sid ?? '';

    const first = await call(sim.recordingPath(sid), { method: 'DELETE' });
    const again = await call(sim.recordingPath(sid), { method: 'DELETE' });

    expect([first.status, first.body.length, again.status]).toEqual([204, 0, 404]);
    expect((await call(sim.recordingPath(sid, 'mp3'))).status).toBe(404);
    expect(JSON.parse((await call(sim.recordingPath(sid))).body.toString())).toMatchObject({ sid, status: 'deleted' });
    expect(sids(await list(''))).toEqual([kept?.sid]);
    expect((await list('IncludeSoftDeleted=true')).recordings.map((r) => [r.sid, r.status])).toEqual([
      [sid, 'deleted'],
      [kept?.sid, 'completed'],
    ]);
    expect(sim.count('delete', sid)).toBe(2);
    expect(sim.unexpected).toEqual([]);
  });

  it('answers 404 for a recording it does not hold, and lists the request as unexpected', async () => {
    const sid = `RE${'0'.repeat(32)}`;

    expect((await call(sim.recordingPath(sid, 'mp3'))).status).toBe(404);
    expect((await call(sim.recordingPath(sid), { method: 'DELETE' })).status).toBe(404);
    expect(sim.unexpected.map((r) => r.method)).toEqual(['GET', 'DELETE']);
  });
});

describe('calls', () => {
  it('serves the details of a call it was given', async () => {
    const call1 = sim.addCall({
      from: '+14155550100',
      to: '+442071838750',
      direction: 'outbound-dial',
      startTime: new Date('2024-07-22T17:00:00Z'),
      duration: 90,
    });

    const answer = await call(sim.callPath(call1.sid));

    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.body.toString())).toMatchObject({
      sid: call1.sid,
      account_sid: TEST_ACCOUNT_SID,
      from: '+14155550100',
      to: '+442071838750',
      direction: 'outbound-dial',
      status: 'completed',
      start_time: 'Mon, 22 Jul 2024 17:00:00 +0000',
      end_time: 'Mon, 22 Jul 2024 17:01:30 +0000',
      duration: '90',
      parent_call_sid: null,
    });
    expect(sim.count('call', call1.sid)).toBe(1);
  });

  it('has no end time or duration for a call in progress, and 404 for a call it does not know', async () => {
    const live = sim.addCall({ status: 'in-progress' });

    expect(JSON.parse((await call(sim.callPath(live.sid))).body.toString())).toMatchObject({
      status: 'in-progress',
      end_time: null,
      duration: null,
    });
    expect((await call(sim.callPath(`CA${'1'.repeat(32)}`))).status).toBe(404);
    expect((await call(sim.callPath(live.sid), { auth: null })).status).toBe(401);
  });
});

describe('recording status callbacks', () => {
  interface Received {
    readonly url: string;
    readonly headers: IncomingHttpHeaders;
    readonly body: string;
  }
  let webhook: Server;
  let webhookUrl: string;
  let received: Received[];

  beforeAll(async () => {
    webhook = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        received.push({ url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString() });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => webhook.listen(0, '127.0.0.1', resolve));
    webhookUrl = `http://127.0.0.1:${(webhook.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await new Promise<void>((resolve) => webhook.close(() => resolve()));
  });

  beforeEach(() => {
    received = [];
  });

  it("gives Twilio's parameters for a recording", () => {
    const recording = sim.addRecording({ duration: 17, channels: 1, startTime: new Date('2024-07-22T17:00:00Z') });

    expect(sim.callbackParams(recording)).toEqual({
      AccountSid: TEST_ACCOUNT_SID,
      CallSid: recording.callSid,
      RecordingSid: recording.sid,
      RecordingUrl: `${sim.baseUrl}/2010-04-01/Accounts/${TEST_ACCOUNT_SID}/Recordings/${recording.sid}`,
      RecordingStatus: 'completed',
      RecordingDuration: '17',
      RecordingChannels: '1',
      RecordingStartTime: 'Mon, 22 Jul 2024 17:00:00 +0000',
      RecordingSource: 'DialVerb',
      RecordingTrack: 'both',
      ErrorCode: '0',
    });
    const absent = sim.addRecording({ status: 'absent' });
    expect(sim.callbackParams(absent.sid, { Extra: 'x', RecordingTrack: undefined })).toMatchObject({
      RecordingStatus: 'absent',
      ErrorCode: '16101',
      Extra: 'x',
    });
    expect(sim.callbackParams(absent.sid, { RecordingTrack: undefined })).not.toHaveProperty('RecordingTrack');
  });

  it('posts them form-encoded with a signature that validateRequest accepts', async () => {
    const recording = sim.addRecording();
    const params = sim.callbackParams(recording);
    const url = `${webhookUrl}/twilio/recording?tenant=a%20b`;

    const answer = await sim.sendCallback(`${url}#rc=3`, params);

    expect(answer).toBe(204);
    const [request] = received;
    expect(request?.url).toBe('/twilio/recording?tenant=a%20b');
    expect(request?.headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect(request?.headers['i-twilio-idempotency-token']).toEqual(expect.any(String));
    const posted = Object.fromEntries(new URLSearchParams(request?.body));
    expect(posted).toEqual(params);
    const signature = String(request?.headers['x-twilio-signature']);
    expect(validateRequest(TEST_AUTH_TOKEN, signature, url, posted)).toBe(true);
    expect(validateRequest('another-token', signature, url, posted)).toBe(false);
  });

  it('signs with another token when told to, and reports a webhook that cannot be reached', async () => {
    const params = sim.callbackParams(sim.addRecording());

    await sim.sendCallback(webhookUrl, params, { authToken: 'rotated-token' });

    const signature = String(received[0]?.headers['x-twilio-signature']);
    expect(validateRequest('rotated-token', signature, webhookUrl, params)).toBe(true);
    expect(validateRequest(TEST_AUTH_TOKEN, signature, webhookUrl, params)).toBe(false);
    await expect(sim.sendCallback('http://127.0.0.1:1/twilio/recording', params)).rejects.toThrow(/ECONNREFUSED/);
  });
});
