/**
 * GET /recordings against dynalite: the ledger's `byDayShard` index read day by day, pages ordered by
 * (startedAt, recordingSid) with nothing missing and nothing twice, whatever the page size and
 * however many recordings share one startedAt; every bad parameter or cursor a 400.
 */
import '../../helpers/setup-env';
import { BatchWriteCommand } from '@aws-sdk/lib-dynamodb';
import { createPlaybackHandler } from '../../../lambda/recordings-read/handler';
import {
  encodeCursor,
  type ListedRecording,
  type ListingPage,
  listRecordings,
  parseListingQuery,
} from '../../../lambda/recordings-read/listing';
import { LedgerDayIndex, type PartitionQuery } from '../../../lambda/shared/ledger/day-index';
import {
  DEFAULT_INDEX_SHARDS,
  dayShardKey,
  isOpenStatus,
  openStatusKey,
  partitionsOf,
  shardOf,
} from '../../../lambda/shared/ledger/index-shards';
import { dayOf, type LedgerItem, type LedgerStatus } from '../../../lambda/shared/ledger/ledger';
import { createObservability } from '../../../lambda/shared/runtime/observability';
import { LEDGER_DAY_INDEX } from '../../../lib/local/config';
import { CALLS_TABLE, type Emulators, LEDGER_TABLE, RECORDINGS_BUCKET, startEmulators } from '../../helpers/emulators';
import { httpApiEvent } from '../../helpers/events';
import { newCallSid, newRecordingSid } from '../../helpers/twilio-fixtures';

let aws: Emulators;
let ledger: LedgerDayIndex;
const seeded: LedgerItem[] = [];

/** 2031-03-10 … 2031-03-13: 140 recordings, 45 of them at one instant, some exactly on the bounds. */
const TIE = '2031-03-11T12:00:00.000Z';
const FROM = '2031-03-10T06:00:00.000Z';
const TO = '2031-03-13T06:00:00.000Z';
const STATUSES: LedgerStatus[] = ['stored', 'stored', 'stored', 'failed', 'absent', 'erased', 'transferring'];

/** The index partitions the ledger's writes give an item (lambda/shared/ledger/ledger.ts). */
function indexKeys(recordingSid: string, status: LedgerStatus, startedAt: string, shards: number) {
  const shard = shardOf(recordingSid, shards);
  return {
    dayShard: dayShardKey(dayOf(startedAt), shard),
    ...(isOpenStatus(status) ? { openStatus: openStatusKey(status, shard) } : {}),
  };
}

/** A legal hold as lambda/shared/ledger/ledger-hold.ts writes it: on some, released on others. */
function holdOf(i: number, status: LedgerStatus): Pick<LedgerItem, 'hold' | 'holdState'> {
  if (status === 'erased' || status === 'erasing') return {};
  if (i % 11 === 2) {
    return {
      hold: { by: `counsel-${i}`, at: '2031-03-20T09:00:00.000Z', reason: `Matter ${i}: ünïcødé, "quotes" & <tags>` },
      holdState: 'held',
    };
  }
  return i % 11 === 5 ? { holdState: 'released' } : {};
}

function ledgerItem(startedAt: string, i: number): LedgerItem {
  const status = STATUSES[i % STATUSES.length] as LedgerStatus;
  const recordingSid = newRecordingSid();
  return {
    recordingSid,
    callId: `call-${i}`,
    callSid: newCallSid(),
    accountSid: `AC${'0'.repeat(32)}`,
    status,
    startedAt,
    day: dayOf(startedAt),
    ...indexKeys(recordingSid, status, startedAt, DEFAULT_INDEX_SHARDS),
    updatedAt: startedAt,
    durationSeconds: 30 + i,
    // Never listed: the key, the bucket and the notes stay inside.
    key: `recordings/2031/03/call-${i}/x.mp3`,
    bucket: RECORDINGS_BUCKET,
    notes: ['internal note'],
    ...(status === 'stored'
      ? { sizeBytes: 1000 + i, sha256: 'a'.repeat(64), contentType: 'audio/mpeg', storedAt: startedAt }
      : {}),
    ...(status === 'erased' ? { erasedAt: startedAt, erasedBy: 'someone' } : {}),
    ...holdOf(i, status),
  };
}

async function seed(items: LedgerItem[]): Promise<void> {
  for (let i = 0; i < items.length; i += 25) {
    await aws.ddb.send(
      new BatchWriteCommand({
        RequestItems: { [LEDGER_TABLE]: items.slice(i, i + 25).map((Item) => ({ PutRequest: { Item } })) },
      }),
    );
  }
}

function byOrder(a: { startedAt: string; recordingSid: string }, b: { startedAt: string; recordingSid: string }) {
  return a.startedAt === b.startedAt
    ? a.recordingSid.localeCompare(b.recordingSid)
    : a.startedAt.localeCompare(b.startedAt);
}

function expected(filter: (item: LedgerItem) => boolean = () => true, from = FROM, to = TO): string[] {
  return seeded
    .filter((item) => item.startedAt >= from && item.startedAt < to && filter(item))
    .sort(byOrder)
    .map((item) => item.recordingSid);
}

beforeAll(async () => {
  aws = await startEmulators();
  ledger = new LedgerDayIndex(aws.ddb, LEDGER_TABLE);
  const times: string[] = [];
  // Spread over four days, hours apart…
  for (let i = 0; i < 80; i++)
    times.push(new Date(Date.parse('2031-03-10T00:00:00.000Z') + i * 65 * 60_000).toISOString());
  // …45 sharing one instant (Twilio's start times have whole seconds)…
  for (let i = 0; i < 45; i++) times.push(TIE);
  // …exactly on `from` (included) and on `to` (excluded), and one on the day boundary.
  for (let i = 0; i < 6; i++) times.push(FROM);
  for (let i = 0; i < 6; i++) times.push(TO);
  for (let i = 0; i < 3; i++) times.push('2031-03-12T00:00:00.000Z');
  seeded.push(...times.map((t, i) => ledgerItem(t, i)));
  await seed(seeded);
});

afterAll(async () => {
  await aws.stop();
});

function handler() {
  return createPlaybackHandler({
    config: { bucketName: RECORDINGS_BUCKET, tableName: CALLS_TABLE, ledgerTableName: LEDGER_TABLE, urlTtlSeconds: 60 },
    listing: { ledgerTableName: LEDGER_TABLE, ledgerDayIndexName: LEDGER_DAY_INDEX },
    s3: aws.s3,
    ddb: aws.ddb,
    obs: createObservability('list-test'),
  });
}

async function get(query: Record<string, string> | string) {
  const rawQueryString = typeof query === 'string' ? query : new URLSearchParams(query).toString();
  const response = await handler()(httpApiEvent({ path: '/recordings', routeKey: 'GET /recordings', rawQueryString }));
  return { status: response.statusCode, body: JSON.parse(response.body ?? '{}') as ListingPage & { error?: string } };
}

/** Follows every cursor; returns the RecordingSids in order and the number of pages. */
async function readAll(query: Record<string, string>): Promise<{ sids: string[]; pages: number; sizes: number[] }> {
  const sids: string[] = [];
  const sizes: number[] = [];
  let cursor: string | null = null;
  for (let pages = 1; ; pages++) {
    const { status, body } = await get(cursor ? { ...query, cursor } : query);
    expect(status).toBe(200);
    sids.push(...body.recordings.map((r) => r.recordingSid));
    sizes.push(body.recordings.length);
    cursor = body.nextCursor;
    if (cursor === null) return { sids, pages, sizes };
    if (pages > 500) throw new Error('runaway pagination');
  }
}

describe('GET /recordings: pages', () => {
  test.each([1, 7, 44, 45, 46, 100, 1000])(
    'limit %i: every recording in [from, to) exactly once, ordered by startedAt then recordingSid',
    async (limit) => {
      const all = expected();
      expect(all.length).toBeGreaterThan(100);
      const { sids, pages, sizes } = await readAll({ from: FROM, to: TO, limit: String(limit) });
      expect(sids).toEqual(all);
      expect(new Set(sids).size).toBe(sids.length);
      expect(pages).toBe(Math.max(1, Math.ceil(all.length / limit)));
      // Every page but the last is full: the cursor is null exactly on the last one.
      expect(sizes.slice(0, -1).every((n) => n === limit)).toBe(true);
    },
  );

  test('the default page is 100 recordings; the answer holds ledger facts only, no URL or key', async () => {
    const { status, body } = await get({ from: FROM, to: TO });
    expect(status).toBe(200);
    expect(body.recordings).toHaveLength(100);
    expect(typeof body.nextCursor).toBe('string');
    const stored = body.recordings.find((r) => r.status === 'stored') as ListedRecording;
    const source = seeded.find((i) => i.recordingSid === stored.recordingSid) as LedgerItem;
    expect(stored).toEqual({
      recordingSid: source.recordingSid,
      callId: source.callId,
      callSid: source.callSid,
      conferenceSid: null,
      accountSid: source.accountSid,
      status: 'stored',
      startedAt: source.startedAt,
      durationSeconds: source.durationSeconds,
      channels: source.channels ?? null,
      source: source.source ?? null,
      sizeBytes: source.sizeBytes,
      sha256: source.sha256,
      contentType: 'audio/mpeg',
      storedAt: source.storedAt,
      erasedAt: null,
      expiredAt: null,
      encryption: null,
      hold: source.hold ?? null,
    });
    const erased = body.recordings.find((r) => r.status === 'erased') as ListedRecording;
    expect(erased.erasedAt).toEqual(expect.stringMatching(/^2031-/));
    expect(erased.sizeBytes).toBeNull();
    const text = JSON.stringify(body);
    expect(text).not.toMatch(/recordings\/2031|https?:|internal note|"key"|"bucket"/);
  });

  test('a conference recording without a CallSid is listed with its ConferenceSid and a null callSid', async () => {
    const startedAt = '2031-04-02T10:00:00.000Z';
    const recordingSid = newRecordingSid();
    const conference: LedgerItem = {
      recordingSid,
      ...indexKeys(recordingSid, 'stored', startedAt, DEFAULT_INDEX_SHARDS),
      conferenceSid: `CF${'c0'.repeat(16)}`,
      accountSid: `AC${'0'.repeat(32)}`,
      status: 'stored',
      source: 'Conference',
      channels: 2,
      startedAt,
      day: dayOf(startedAt),
      updatedAt: startedAt,
      sizeBytes: 10,
      sha256: 'b'.repeat(64),
      contentType: 'audio/mpeg',
      storedAt: startedAt,
    };
    await seed([conference]);

    const { status, body } = await get({ from: '2031-04-02', to: '2031-04-03' });

    expect(status).toBe(200);
    expect(body.recordings).toEqual([
      expect.objectContaining({
        recordingSid: conference.recordingSid,
        callId: null,
        callSid: null,
        conferenceSid: conference.conferenceSid,
        source: 'Conference',
        channels: 2,
      }),
    ]);
  });

  test('an expired recording is listed with when the retention sweep erased it', async () => {
    const startedAt = '2031-04-05T08:00:00.000Z';
    const recordingSid = newRecordingSid();
    const expired: LedgerItem = {
      recordingSid,
      ...indexKeys(recordingSid, 'expired', startedAt, DEFAULT_INDEX_SHARDS),
      callId: 'call-expired',
      callSid: newCallSid(),
      accountSid: `AC${'0'.repeat(32)}`,
      status: 'expired',
      startedAt,
      day: dayOf(startedAt),
      updatedAt: '2031-05-05T00:00:00.000Z',
      erasedBy: 'retention',
      expiredAt: '2031-05-05T00:00:00.000Z',
    };
    await seed([expired]);

    const { status, body } = await get({ from: '2031-04-05', to: '2031-04-06', status: 'expired' });

    expect(status).toBe(200);
    expect(body.recordings).toEqual([
      expect.objectContaining({
        recordingSid,
        status: 'expired',
        expiredAt: '2031-05-05T00:00:00.000Z',
        erasedAt: null,
      }),
    ]);
  });

  test('from is inclusive and to exclusive; dates alone mean midnight UTC; offsets are converted', async () => {
    const atFrom = seeded.filter((i) => i.startedAt === FROM).map((i) => i.recordingSid);
    const atTo = seeded.filter((i) => i.startedAt === TO).map((i) => i.recordingSid);
    const { sids } = await readAll({ from: FROM, to: TO, limit: '1000' });
    for (const sid of atFrom) expect(sids).toContain(sid);
    for (const sid of atTo) expect(sids).not.toContain(sid);

    // A range that starts where the last one ended holds the `to` recordings.
    const next = await readAll({ from: TO, to: '2031-03-14', limit: '1000' });
    expect(next.sids).toEqual(expected(() => true, TO, '2031-03-14T00:00:00.000Z'));
    for (const sid of atTo) expect(next.sids).toContain(sid);

    const dates = await readAll({ from: '2031-03-11', to: '2031-03-12' });
    expect(dates.sids).toEqual(expected(() => true, '2031-03-11T00:00:00.000Z', '2031-03-12T00:00:00.000Z'));
    // The midnight recordings of the 12th belong to the next range only.
    const midnight = seeded.filter((i) => i.startedAt === '2031-03-12T00:00:00.000Z').map((i) => i.recordingSid);
    for (const sid of midnight) expect(dates.sids).not.toContain(sid);

    const offset = await readAll({ from: '2031-03-11T14:00:00+02:00', to: '2031-03-11T12:00:00.001Z' });
    expect(offset.sids).toEqual(
      seeded
        .filter((i) => i.startedAt === TIE)
        .map((i) => i.recordingSid)
        .sort(),
    );
  });

  test.each(['stored', 'erased', 'failed', 'transferring', 'erasing'] as const)(
    'status=%s lists only those, across pages',
    async (status) => {
      const want = expected((i) => i.status === status);
      const { sids } = await readAll({ from: FROM, to: TO, status, limit: '3' });
      expect(sids).toEqual(want);
    },
  );

  test('an empty range answers an empty list and no cursor', async () => {
    const { status, body } = await get({ from: '2030-01-01', to: '2030-01-31' });
    expect(status).toBe(200);
    expect(body).toEqual({ recordings: [], nextCursor: null });
  });

  test('a read budget cuts pages short but never skips or repeats one (status filter, 1 DynamoDB page a request)', async () => {
    const base = parseListingQuery({ from: FROM, to: TO, status: 'absent', limit: '4' });
    const sids: string[] = [];
    let query = base;
    for (let round = 0; round < 400; round++) {
      const page = await listRecordings(query, { ledger, maxReadPages: 1 });
      sids.push(...page.recordings.map((r) => r.recordingSid));
      if (page.nextCursor === null) break;
      query = parseListingQuery({ from: FROM, to: TO, status: 'absent', limit: '4', cursor: page.nextCursor });
    }
    expect(sids).toEqual(expected((i) => i.status === 'absent'));
  });
});

describe('GET /recordings?hold=true', () => {
  const isHeld = (item: LedgerItem) => item.hold !== undefined;

  test.each([1, 3, 100])(
    'limit %i: the held recordings of [from, to) and only those, each once, in order, across pages',
    async (limit) => {
      const want = expected(isHeld);
      expect(want.length).toBeGreaterThan(5);
      const { sids } = await readAll({ from: FROM, to: TO, hold: 'true', limit: String(limit) });
      expect(sids).toEqual(want);
    },
  );

  test('each held row carries its hold: who, when and why', async () => {
    const { status, body } = await get({ from: FROM, to: TO, hold: 'true', limit: '1000' });
    expect(status).toBe(200);
    for (const row of body.recordings) {
      const source = seeded.find((item) => item.recordingSid === row.recordingSid) as LedgerItem;
      expect(row.hold).toEqual(source.hold);
    }
  });

  test('a released hold is not listed, and rows of the ordinary listing say hold null unless held', async () => {
    const released = seeded.filter((item) => item.holdState === 'released').map((item) => item.recordingSid);
    expect(released.length).toBeGreaterThan(0);
    const held = await readAll({ from: FROM, to: TO, hold: 'true', limit: '1000' });
    for (const sid of released) expect(held.sids).not.toContain(sid);

    const { body } = await get({ from: FROM, to: TO, limit: '1000' });
    for (const row of body.recordings) {
      const source = seeded.find((item) => item.recordingSid === row.recordingSid) as LedgerItem;
      expect(row.hold).toEqual(source.hold ?? null);
    }
  });

  test.each(['stored', 'failed', 'transferring'] as const)(
    'hold=true with status=%s lists the held recordings in that status',
    async (status) => {
      const want = expected((item) => isHeld(item) && item.status === status);
      const { sids } = await readAll({ from: FROM, to: TO, hold: 'true', status, limit: '2' });
      expect(sids).toEqual(want);
    },
  );

  test('a narrower range lists only its held recordings', async () => {
    const from = '2031-03-11T00:00:00.000Z';
    const to = '2031-03-12T00:00:00.000Z';
    const { sids } = await readAll({ from, to, hold: 'true' });
    expect(sids).toEqual(expected(isHeld, from, to));
  });

  test('a read budget of one DynamoDB page a request never skips or repeats a held recording', async () => {
    const sids: string[] = [];
    let query = parseListingQuery({ from: FROM, to: TO, hold: 'true', limit: '2' });
    for (let round = 0; round < 400; round++) {
      const page = await listRecordings(query, { ledger, maxReadPages: 1 });
      sids.push(...page.recordings.map((r) => r.recordingSid));
      if (page.nextCursor === null) break;
      query = parseListingQuery({ from: FROM, to: TO, hold: 'true', limit: '2', cursor: page.nextCursor });
    }
    expect(sids).toEqual(expected(isHeld));
  });
});

describe('GET /recordings?hold=true without a range: every recording on hold now', () => {
  const isHeld = (item: LedgerItem) => item.hold !== undefined;
  /** Held recordings years apart, outside every other test's range, and one released among them. */
  const FAR = [
    '1970-01-01T00:00:00.000Z',
    '2019-06-30T23:59:59.000Z',
    '2025-01-15T08:00:00.000Z',
    '2044-11-02T17:30:00.000Z',
  ];

  beforeAll(async () => {
    const far = FAR.map((startedAt, i) => ({
      ...ledgerItem(startedAt, 0),
      hold: { by: `counsel-far-${i}`, at: '2031-03-20T09:00:00.000Z', reason: `Matter far ${i}` },
      holdState: 'held' as const,
    }));
    const released = { ...ledgerItem('2022-02-02T02:02:02.000Z', 0), holdState: 'released' as const };
    seeded.push(...far, released);
    await seed([...far, released]);
  });

  const allHeld = () =>
    seeded
      .filter(isHeld)
      .sort(byOrder)
      .map((item) => item.recordingSid);

  test.each([1, 3, 1000])(
    'limit %i: every held recording of every year, oldest first, each once, across pages',
    async (limit) => {
      const want = allHeld();
      expect(want.length).toBeGreaterThan(FAR.length);
      const { sids } = await readAll({ hold: 'true', limit: String(limit) });
      expect(sids).toEqual(want);
    },
  );

  test('one request with the default limit lists them all, each with its hold; nothing released or unheld', async () => {
    const { status, body } = await get({ hold: 'true' });
    expect(status).toBe(200);
    expect(body.nextCursor).toBeNull();
    expect(body.recordings.map((r) => r.recordingSid)).toEqual(allHeld());
    for (const row of body.recordings) expect(row.hold).not.toBeNull();
  });

  test('a read budget of one DynamoDB page a request never skips or repeats one', async () => {
    const sids: string[] = [];
    let query = parseListingQuery({ hold: 'true', limit: '2' });
    for (let round = 0; round < 400; round++) {
      const page = await listRecordings(query, { ledger, maxReadPages: 1 });
      sids.push(...page.recordings.map((r) => r.recordingSid));
      if (page.nextCursor === null) break;
      query = parseListingQuery({ hold: 'true', limit: '2', cursor: page.nextCursor });
    }
    expect(sids).toEqual(allHeld());
  });

  test('with status too: the held recordings in that status, of every year', async () => {
    const want = seeded
      .filter((item) => isHeld(item) && item.status === 'stored')
      .sort(byOrder)
      .map((item) => item.recordingSid);
    const { sids } = await readAll({ hold: 'true', status: 'stored', limit: '2' });
    expect(sids).toEqual(want);
  });

  test('only from: the held recordings from then on; only to: those before it', async () => {
    const cut = '2025-01-15T08:00:00.000Z';
    const all = seeded.filter(isHeld).sort(byOrder);
    const after = await readAll({ hold: 'true', from: cut, limit: '3' });
    expect(after.sids).toEqual(all.filter((i) => i.startedAt >= cut).map((i) => i.recordingSid));
    const before = await readAll({ hold: 'true', to: cut, limit: '3' });
    expect(before.sids).toEqual(all.filter((i) => i.startedAt < cut).map((i) => i.recordingSid));
  });

  test('with from and to, any span: years apart is accepted for the held recordings', async () => {
    const from = '2019-01-01';
    const to = '2031-03-11';
    const { sids } = await readAll({ hold: 'true', from, to, limit: '5' });
    expect(sids).toEqual(expected(isHeld, '2019-01-01T00:00:00.000Z', '2031-03-11T00:00:00.000Z'));
    expect(sids.length).toBeGreaterThan(2);
  });

  test('a cursor binds "no range": refused on a ranged listing, and a ranged one refused without its range', async () => {
    const first = await get({ hold: 'true', limit: '1' });
    const unbounded = first.body.nextCursor as string;
    expect(typeof unbounded).toBe('string');
    // The same query goes on, whatever the limit.
    expect((await get({ hold: 'true', limit: '2', cursor: unbounded })).status).toBe(200);
    const ranges: Record<string, string>[] = [
      { from: '1970-01-01', to: '9999-12-31' },
      { from: '1970-01-01' },
      { to: '9999-12-31' },
      { from: FROM, to: TO },
    ];
    for (const other of ranges) {
      const { status, body } = await get({ hold: 'true', ...other, limit: '1', cursor: unbounded });
      expect(status).toBe(400);
      expect(body.error).toMatch(/another query/);
    }
    // Without hold=true there is no listing without a range: the range is what is missing.
    const withoutHold = await get({ limit: '1', cursor: unbounded });
    expect(withoutHold.status).toBe(400);
    expect(withoutHold.body.error).toMatch(/"from" is required/);

    const ranged = (await get({ hold: 'true', from: '1970-01-01', limit: '1' })).body.nextCursor as string;
    const replayed = await get({ hold: 'true', limit: '1', cursor: ranged });
    expect(replayed.status).toBe(400);
    expect(replayed.body.error).toMatch(/another query/);
  });

  test.each<[string, Record<string, string> | string, RegExp]>([
    ['a bad from', { hold: 'true', from: 'last year' }, /"from" must be an ISO-8601/],
    ['an empty from', { hold: 'true', from: '' }, /"from" must be an ISO-8601/],
    ['a bad to', { hold: 'true', to: '2031-13-01' }, /"to" must be an ISO-8601/],
    ['to before from', { hold: 'true', from: TO, to: FROM }, /"to" must be later than "from"/],
    ['hold=false without a range', { hold: 'false' }, /"hold" can only be true/],
  ])('still 400 with hold=true: %s', async (_name, query, message) => {
    const { status, body } = await get(query);
    expect(status).toBe(400);
    expect(body.error).toMatch(message);
  });
});

describe('GET /recordings: 400 for every bad parameter or cursor', () => {
  const cases: [string, Record<string, string> | string, RegExp][] = [
    ['no parameters', {}, /"from" is required/],
    ['no to', { from: FROM }, /"to" is required/],
    ['no from', { to: TO }, /"from" is required/],
    ['empty from', { from: '', to: TO }, /"from" is required/],
    ['not a date', { from: 'yesterday', to: TO }, /"from" must be an ISO-8601/],
    ['a date that does not exist', { from: '2031-02-30', to: '2031-03-05' }, /"from" must be an ISO-8601/],
    ['hour 24', { from: '2031-03-01T24:00:00Z', to: TO }, /"from" must be an ISO-8601/],
    ['an unencoded + offset', 'from=2031-03-10T06:00:00+01:00&to=2031-03-12', /%2B/],
    ['epoch seconds', { from: '1900000000', to: TO }, /"from" must be an ISO-8601/],
    ['to before from', { from: TO, to: FROM }, /"to" must be later than "from"/],
    ['to equal to from', { from: FROM, to: FROM }, /"to" must be later than "from"/],
    ['more than 31 days', { from: '2031-01-01', to: '2031-02-01T00:00:00.001Z' }, /at most 31 days/],
    ['only from, without hold=true', { from: FROM }, /"to" is required.*hold=true/],
    ['status without a range', { status: 'failed' }, /"from" is required.*hold=true/],
    ['an unknown status', { from: FROM, to: TO, status: 'deleted' }, /"status" must be one of/],
    ['limit 0', { from: FROM, to: TO, limit: '0' }, /"limit" must be a whole number from 1 to 1000/],
    ['limit 1001', { from: FROM, to: TO, limit: '1001' }, /"limit"/],
    ['limit 2.5', { from: FROM, to: TO, limit: '2.5' }, /"limit"/],
    ['limit -1', { from: FROM, to: TO, limit: '-1' }, /"limit"/],
    ['an unknown parameter', { from: FROM, to: TO, form: 'x' }, /Unknown parameter "form"/],
    ['a repeated parameter', `from=${FROM}&to=${TO}&from=${FROM}`, /"from" is given more than once/],
    ['hold=false', { from: FROM, to: TO, hold: 'false' }, /"hold" can only be true/],
    ['hold=1', { from: FROM, to: TO, hold: '1' }, /"hold" can only be true/],
    ['an empty hold', { from: FROM, to: TO, hold: '' }, /"hold" can only be true/],
    ['a repeated hold', `from=${FROM}&to=${TO}&hold=true&hold=true`, /"hold" is given more than once/],
    ['a cursor that is not one', { from: FROM, to: TO, cursor: 'abc' }, /"cursor" is not a cursor/],
    ['an empty cursor', { from: FROM, to: TO, cursor: '' }, /"cursor" is not a cursor/],
  ];
  test.each(cases)('%s', async (_name, query, message) => {
    const { status, body } = await get(query);
    expect(status).toBe(400);
    expect(body.error).toMatch(message);
    expect(JSON.stringify(body)).not.toMatch(/at .*\.ts|stack/i);
  });

  test('31 days exactly is accepted', async () => {
    expect((await get({ from: '2031-01-01', to: '2031-02-01' })).status).toBe(200);
  });

  async function firstCursor(query: Record<string, string> = { from: FROM, to: TO, limit: '5' }): Promise<string> {
    const { body } = await get(query);
    if (!body.nextCursor) throw new Error('no cursor');
    return body.nextCursor;
  }

  test('a cursor is refused with another from, to, status or hold than its own', async () => {
    const cursor = await firstCursor();
    const others: Record<string, string>[] = [
      { from: '2031-03-10T06:00:00.001Z', to: TO },
      { from: FROM, to: '2031-03-13T07:00:00Z' },
      { from: FROM, to: TO, status: 'stored' },
      { from: FROM, to: TO, hold: 'true' },
    ];
    for (const other of others) {
      const { status, body } = await get({ ...other, limit: '5', cursor });
      expect(status).toBe(400);
      expect(body.error).toMatch(/another query/);
    }
    // …and a cursor of the held recordings is refused without hold=true.
    const heldCursor = await firstCursor({ from: FROM, to: TO, hold: 'true', limit: '1' });
    const withoutHold = await get({ from: FROM, to: TO, limit: '1', cursor: heldCursor });
    expect(withoutHold.status).toBe(400);
    expect(withoutHold.body.error).toMatch(/another query/);
    // The same query written another way is the same query; limit may change.
    const same = await get({ from: '2031-03-10T07:00+01:00', to: TO, limit: '9', cursor });
    expect(same.status).toBe(200);
    expect(same.body.recordings).toHaveLength(9);
  });

  test('a tampered cursor is refused: edited payload, edited checksum, truncated', async () => {
    const cursor = await firstCursor();
    const [payload = '', check = ''] = cursor.split('.');
    const body = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { after: [string, string] };
    body.after = ['2031-03-12T00:00:00.000Z', ''];
    const edited = Buffer.from(JSON.stringify(body)).toString('base64url');
    const flip = (s: string) => `${s.slice(0, -1)}${s.endsWith('A') ? 'B' : 'A'}`;
    for (const bad of [`${edited}.${check}`, `${payload}.${flip(check)}`, cursor.slice(0, -3), `${payload}`]) {
      const { status, body: answer } = await get({ from: FROM, to: TO, limit: '5', cursor: bad });
      expect(status).toBe(400);
      expect(answer.error).toMatch(/not a cursor this API issued/);
    }
  });

  test('a well-formed cursor whose position lies outside the range is refused', async () => {
    const query = { from: FROM, to: TO, status: undefined };
    for (const startedAt of ['2031-03-10T05:59:59.999Z', TO, '2031-04-01T00:00:00.000Z']) {
      const cursor = encodeCursor(query, { startedAt, recordingSid: newRecordingSid() });
      const { status, body } = await get({ from: FROM, to: TO, cursor });
      expect(status).toBe(400);
      expect(body.error).toMatch(/outside from … to/);
    }
    const inside = encodeCursor(query, { startedAt: TIE, recordingSid: 'not-a-sid' });
    expect((await get({ from: FROM, to: TO, cursor: inside })).status).toBe(400);
  });
});

describe('listRecordings over an index that returns ties in its own order', () => {
  /**
   * DynamoDB orders recordings that share a startedAt by its own internal hash, not by
   * RecordingSid; dynalite happens to use the key. This double orders ties by a hash of the SID
   * and pages the way DynamoDB does (Limit counts evaluated items, the filter applies after,
   * LastEvaluatedKey carries the index key).
   */
  function hashOf(sid: string): string {
    return require('node:crypto').createHash('md5').update(sid).digest('hex') as string;
  }
  const SHARDS = 3;
  function fakeIndex(items: LedgerItem[]) {
    const ordered = [...items]
      .map((i) => ({ ...i, ...indexKeys(i.recordingSid, i.status, i.startedAt, SHARDS) }))
      .sort((a, b) =>
        a.startedAt === b.startedAt
          ? hashOf(a.recordingSid).localeCompare(hashOf(b.recordingSid))
          : a.startedAt.localeCompare(b.startedAt),
      );
    let reads = 0;
    return {
      reads: () => reads,
      ledger: {
        dayPartitions: (day: string) => partitionsOf(day, SHARDS),
        openPartitions: (status: string) => partitionsOf(status, SHARDS),
        holdPartitions: () => ['held'],
        async queryPartition(q: PartitionQuery) {
          reads++;
          const keyOf = { day: 'dayShard', open: 'openStatus', hold: 'holdState' } as const;
          const partition = ordered.filter(
            (i) => i[keyOf[q.index]] === q.partition && i.startedAt >= q.from && i.startedAt <= q.through,
          );
          let start = 0;
          if (q.exclusiveStartKey) {
            start = partition.findIndex((i) => i.recordingSid === q.exclusiveStartKey?.recordingSid) + 1;
          }
          const evaluated = partition.slice(start, start + q.limit);
          const more = start + q.limit < partition.length;
          const last = evaluated[evaluated.length - 1];
          return {
            items: evaluated.filter((i) => q.status === undefined || i.status === q.status),
            lastEvaluatedKey:
              more && last
                ? { recordingSid: last.recordingSid, partition: q.partition, startedAt: last.startedAt }
                : undefined,
          };
        },
      },
    };
  }

  const items: LedgerItem[] = [];
  beforeAll(() => {
    // 120 in one second, 60 in the next, a few around them, over two days.
    for (let i = 0; i < 120; i++) items.push(ledgerItem('2032-05-01T23:59:59.000Z', i));
    for (let i = 0; i < 60; i++) items.push(ledgerItem('2032-05-02T00:00:00.000Z', i));
    for (let i = 0; i < 30; i++) items.push(ledgerItem(`2032-05-02T00:00:${String(i + 1).padStart(2, '0')}.000Z`, i));
    for (let i = 0; i < 10; i++) items.push(ledgerItem(`2032-05-01T10:00:0${i}.000Z`, i));
  });

  const want = (status?: LedgerStatus) =>
    items
      .filter((i) => status === undefined || i.status === status)
      .sort(byOrder)
      .map((i) => i.recordingSid);

  test.each([
    [1, undefined],
    [7, undefined],
    [60, undefined],
    [119, undefined],
    [120, undefined],
    [121, undefined],
    [3, 'stored' as const],
    [50, 'failed' as const],
    [2, 'failed' as const],
    [1, 'transferring' as const],
  ])(
    'limit %i, status %s: nothing missing, nothing twice, in (startedAt, recordingSid) order',
    async (limit, status) => {
      const index = fakeIndex(items);
      const raw = { from: '2032-05-01', to: '2032-05-03', limit: String(limit), ...(status ? { status } : {}) };
      const sids: string[] = [];
      let query = parseListingQuery(raw);
      for (let round = 0; ; round++) {
        const page = await listRecordings(query, { ledger: index.ledger, maxReadPages: 3 });
        expect(page.recordings.length).toBeLessThanOrEqual(limit);
        sids.push(...page.recordings.map((r) => r.recordingSid));
        if (page.nextCursor === null) break;
        if (round > 1000) throw new Error('runaway pagination');
        query = parseListingQuery({ ...raw, cursor: page.nextCursor });
      }
      expect(sids).toEqual(want(status));
    },
  );

  test.each([1, 4])(
    'limit %i, hold=true: the held recordings that share a second, in order, each once',
    async (limit) => {
      const index = fakeIndex(items);
      const raw = { from: '2032-05-01', to: '2032-05-03', hold: 'true', limit: String(limit) };
      const sids: string[] = [];
      let query = parseListingQuery(raw);
      for (let round = 0; round < 1000; round++) {
        const page = await listRecordings(query, { ledger: index.ledger, maxReadPages: 3 });
        sids.push(...page.recordings.map((r) => r.recordingSid));
        if (page.nextCursor === null) break;
        query = parseListingQuery({ ...raw, cursor: page.nextCursor });
      }
      const held = items.filter((i) => i.holdState === 'held').sort(byOrder);
      expect(held.filter((i) => i.startedAt === '2032-05-01T23:59:59.000Z').length).toBeGreaterThan(5);
      expect(sids).toEqual(held.map((i) => i.recordingSid));
    },
  );

  test('the double really does return ties out of RecordingSid order', async () => {
    const tie = '2032-05-01T23:59:59.000Z';

    const index = fakeIndex(items).ledger;
    const pages = await Promise.all(
      index
        .dayPartitions('2032-05-01')
        .map((partition) => index.queryPartition({ index: 'day', partition, from: tie, through: tie, limit: 1000 })),
    );

    // Spread over the shards, and out of RecordingSid order within each.
    expect(pages.every((page) => page.items.length > 10)).toBe(true);
    const sids = pages.flatMap((page) => page.items.map((i) => i.recordingSid));
    expect(sids).toHaveLength(120);
    expect(new Set(sids)).toEqual(
      new Set(want().filter((sid) => items.find((i) => i.recordingSid === sid)?.startedAt === tie)),
    );
    for (const page of pages) {
      const inShard = page.items.map((i) => i.recordingSid);
      expect(inShard).not.toEqual([...inShard].sort((a, b) => a.localeCompare(b)));
    }
  });
});

describe('listRecordings at the end of the calendar', () => {
  /** An index with nothing in it that refuses to be read more than a few times: a runaway loop fails, not hangs. */
  function boundedEmptyIndex(maxReads: number) {
    let reads = 0;
    return {
      reads: () => reads,
      ledger: {
        dayPartitions: (day: string) => partitionsOf(day, 2),
        openPartitions: (status: string) => partitionsOf(status, 2),
        holdPartitions: () => ['held'],
        async queryPartition() {
          reads++;
          if (reads > maxReads) throw new Error(`read the index ${reads} times`);
          return { items: [], lastEvaluatedKey: undefined };
        },
      },
    };
  }

  test('a range on 9999-12-31 answers at once: the day after it (year 10000) never sorts before it', async () => {
    const index = boundedEmptyIndex(20);
    const query = parseListingQuery({ from: '9999-12-31', to: '9999-12-31T12:00:00Z' });
    const page = await listRecordings(query, { ledger: index.ledger });
    expect(page).toEqual({ recordings: [], nextCursor: null });
    expect(index.reads()).toBeLessThanOrEqual(2);
  });

  test('a 31-day range ending on the last instant a date can name reads each day once', async () => {
    const index = boundedEmptyIndex(200);
    const query = parseListingQuery({ from: '9999-12-01', to: '9999-12-31T23:59:59.999Z' });
    const page = await listRecordings(query, { ledger: index.ledger, maxReadPages: 100 });
    expect(page.nextCursor).toBeNull();
    // Two shards a day.
    expect(index.reads()).toBe(62);
  });
});
