import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { MALFORMED_RECORDING_SID } from '../../lambda/shared/twilio/sids';
import { SimulatedTwilio } from '../../lib/simulated-twilio';
import {
  type CallItem,
  callbackParams,
  download,
  expectedKey,
  type HttpResult,
  LocalStack,
  newAccountSid,
  newCallSid,
  newRecordingSid,
  type PlaybackBody,
  stopSuite,
  waitFor,
} from './harness';

/**
 * The recordings API end to end: GET /recordings, DELETE /calls/{callId}/recordings/{sid} and
 * GET/DELETE /recordings/{sid} over real HTTP into the local stack, recordings put there by signed callbacks and the real
 * transfer from the simulated Twilio. Each test uses start times of its own, so listings do not overlap.
 */

// Several callbacks and transfers per test on a shared machine.
jest.setTimeout(120_000);

const ACCOUNT_SID = newAccountSid();
const AUTH_TOKEN = randomBytes(16).toString('hex');

let stub: SimulatedTwilio;
let stack: LocalStack;

beforeAll(async () => {
  stub = await SimulatedTwilio.start({ accountSid: ACCOUNT_SID, authToken: AUTH_TOKEN });
  stack = await LocalStack.startFor(stub);
}, 120_000);

afterAll(() => stopSuite(stack, stub), 60_000);

interface Call {
  readonly callId: string;
  readonly callSid: string;
}

async function knownCall(): Promise<Call> {
  const call = { callId: `call-${randomBytes(6).toString('hex')}`, callSid: newCallSid() };
  await stack.putCall({ callId: call.callId, twilioCallSid: call.callSid, customerRef: 'cust-9' });
  return call;
}

/** Twilio posts the callback; the transfer copies the recording; resolves once it is stored. */
async function recorded(call: Call, startTime: string, duration = 12): Promise<string> {
  const recordingSid = newRecordingSid();
  stub.addRecording({ sid: recordingSid, size: 20_000 });
  const params = callbackParams({ accountSid: ACCOUNT_SID, callSid: call.callSid, recordingSid, startTime, duration });
  expect((await stack.postCallback(params)).status).toBe(204);
  await stack.waitForEntry(call.callId, recordingSid, 'stored');
  return recordingSid;
}

function authorized(token: string | null = stack.config.apiToken): Record<string, string> {
  return token === null ? {} : { authorization: `Bearer ${token}` };
}

function list(query: Record<string, string>, token?: string | null): Promise<HttpResult> {
  return stack.request('GET', `/recordings?${new URLSearchParams(query)}`, { headers: authorized(token) });
}

function erase(callId: string, recordingSid: string, token?: string | null): Promise<HttpResult> {
  return stack.request('DELETE', `/calls/${encodeURIComponent(callId)}/recordings/${recordingSid}`, {
    headers: authorized(token),
  });
}

async function ledger(recordingSid: string): Promise<Record<string, unknown> | undefined> {
  const result = await stack.ddb.send(
    new GetCommand({ TableName: 'recordings', Key: { recordingSid }, ConsistentRead: true }),
  );
  return result.Item;
}

async function events(): Promise<{ 'detail-type': string; detail: Record<string, unknown> }[]> {
  const text = await readFile(join(stack.config.dataDir, 'events.ndjson'), 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as { 'detail-type': string; detail: Record<string, unknown> });
}

interface ListedBody {
  readonly recordings: { recordingSid: string; status: string; startedAt: string; erasedAt: string | null }[];
  readonly nextCursor: string | null;
}

describe('GET /recordings', () => {
  test('pages through the ledger in (startedAt, recordingSid) order, bounds and status honoured', async () => {
    const first = await knownCall();
    const second = await knownCall();
    // Two calls whose recordings started in the same second, one the next day, one exactly at `to`.
    const a = await recorded(first, 'Fri, 01 Mar 2019 10:00:00 +0000');
    const b = await recorded(second, 'Fri, 01 Mar 2019 10:00:00 +0000');
    const c = await recorded(first, 'Sat, 02 Mar 2019 08:15:00 +0000');
    const outside = await recorded(second, 'Sun, 03 Mar 2019 00:00:00 +0000');
    const tied = [a, b].sort();

    const query = { from: '2019-03-01', to: '2019-03-03', limit: '2' };
    const page1 = await list(query);
    expect(page1.status).toBe(200);
    const body1 = page1.json as ListedBody;
    expect(body1.recordings.map((r) => r.recordingSid)).toEqual(tied);
    expect(body1.recordings[0]).toEqual({
      recordingSid: tied[0],
      callId: tied[0] === a ? first.callId : second.callId,
      callSid: tied[0] === a ? first.callSid : second.callSid,
      conferenceSid: null,
      accountSid: expect.stringMatching(/^AC[0-9a-f]{32}$/),
      status: 'stored',
      startedAt: '2019-03-01T10:00:00.000Z',
      durationSeconds: 12,
      channels: 1,
      source: 'DialVerb',
      sizeBytes: 20_000,
      sha256: expect.stringMatching(/^[0-9a-f]{64}$/),
      contentType: 'audio/mpeg',
      storedAt: expect.stringMatching(/^\d{4}-/),
      erasedAt: null,
      expiredAt: null,
      encryption: null,
      hold: null,
    });
    expect(page1.text).not.toMatch(/https?:|X-Amz|recordings\/2019/);
    expect(body1.nextCursor).toEqual(expect.any(String));

    const page2 = await list({ ...query, cursor: body1.nextCursor as string });
    expect(page2.status).toBe(200);
    expect((page2.json as ListedBody).recordings.map((r) => r.recordingSid)).toEqual([c]);
    expect((page2.json as ListedBody).nextCursor).toBeNull();

    const next = (await list({ from: '2019-03-03', to: '2019-03-04' })).json as ListedBody;
    expect(next.recordings.map((r) => r.recordingSid)).toEqual([outside]);
    const failedOnly = (await list({ from: '2019-03-01', to: '2019-03-04', status: 'failed' })).json as ListedBody;
    expect(failedOnly).toEqual({ recordings: [], nextCursor: null });

    // A bad parameter, and a cursor sent with another range.
    const bad = await list({ from: '2019-03-01', to: '2019-05-01' });
    expect(bad.status).toBe(400);
    expect(bad.json).toEqual({
      error: '"from" and "to" must be at most 31 days apart (with hold=true, any range or none)',
    });
    const foreign = await list({ from: '2019-03-01', to: '2019-03-04', cursor: body1.nextCursor as string });
    expect(foreign.status).toBe(400);
  });
});

describe('DELETE /calls/{callId}/recordings/{recordingSid}', () => {
  test('erasing one of two: gone from S3, ledger and call erased, playback moves to the other, an event', async () => {
    const call = await knownCall();
    const older = await recorded(call, 'Mon, 01 Apr 2019 10:00:00 +0000', 8);
    const newer = await recorded(call, 'Mon, 01 Apr 2019 10:30:00 +0000', 20);
    const newerKey = expectedKey(call.callId, newer, 'Mon, 01 Apr 2019 10:30:00 +0000');
    const olderKey = expectedKey(call.callId, older, 'Mon, 01 Apr 2019 10:00:00 +0000');
    expect(((await stack.playback(call.callId)).json as PlaybackBody).recordingSid).toBe(newer);
    const before = (await stack.listKeys(`recordings/2019/04/${call.callId}/`)).map((k) => k.key);
    expect(before.sort()).toEqual([newerKey, olderKey].sort());

    const answer = await erase(call.callId, newer);

    expect(answer.status).toBe(204);
    expect(answer.text).toBe('');
    const keys = (await stack.listKeys(`recordings/2019/04/${call.callId}/`)).map((k) => k.key);
    expect(keys).toEqual([olderKey]);
    expect(await ledger(newer)).toMatchObject({ status: 'erased', erasedBy: 'local', erasedAt: expect.any(String) });
    const item = (await stack.getCall(call.callId)) as CallItem;
    expect(item.recordings?.[newer]).toMatchObject({ status: 'erased', erasedBy: 'local' });
    expect(item.recordings?.[newer]?.key).toBeUndefined();
    expect(item).toMatchObject({
      customerRef: 'cust-9',
      recordingKey: olderKey,
      recordingDurationSeconds: 8,
      latestRecordingSid: older,
    });
    expect((item.notes ?? []).filter((n) => n.includes(newer))).toEqual([
      expect.stringContaining(`recording ${newer} erased by local`),
    ]);

    const latest = await stack.playback(call.callId);
    expect(latest.status).toBe(200);
    expect((latest.json as PlaybackBody).recordingSid).toBe(older);
    const all = (await stack.playback(call.callId, { list: true })).json as { recordings: PlaybackBody[] };
    expect(all.recordings.map((r) => r.recordingSid)).toEqual([older]);

    const listed = (await list({ from: '2019-04-01', to: '2019-04-02' })).json as ListedBody;
    expect(listed.recordings.map((r) => [r.recordingSid, r.status])).toEqual([
      [older, 'stored'],
      [newer, 'erased'],
    ]);
    expect(listed.recordings[1]?.erasedAt).toEqual(expect.any(String));

    const erasedEvents = (await events()).filter((e) => e['detail-type'] === 'Recording Erased');
    expect(erasedEvents.map((e) => e.detail)).toContainEqual({
      recordingSid: newer,
      callId: call.callId,
      callSid: call.callSid,
      accountSid: expect.stringMatching(/^AC[0-9a-f]{32}$/),
      erasedAt: expect.any(String),
      erasedBy: 'local',
    });

    // Idempotent: 204 again, no second event.
    expect((await erase(call.callId, newer)).status).toBe(204);
    const announced = (await events()).filter(
      (e) => e['detail-type'] === 'Recording Erased' && e.detail.recordingSid === newer,
    );
    expect(announced).toHaveLength(1);
  });

  test('erasing the last one: playback answers 404; a replayed callback copies nothing back', async () => {
    const call = await knownCall();
    const startTime = 'Wed, 01 May 2019 09:00:00 +0000';
    const only = await recorded(call, startTime);
    const fetchesBefore = stub.count('media', only);

    expect((await erase(call.callId, only)).status).toBe(204);

    const playback = await stack.playback(call.callId);
    expect(playback.status).toBe(404);
    expect(playback.json).toEqual({ error: 'No stored recording for this call' });
    expect(await stack.listKeys(`recordings/2019/05/${call.callId}/`)).toEqual([]);

    // Twilio's callback again (a replay, or its own retry): accepted, and refused by the ledger.
    const replay = callbackParams({ accountSid: ACCOUNT_SID, callSid: call.callSid, recordingSid: only, startTime });
    expect((await stack.postCallback(replay)).status).toBe(204);
    await stack.waitForQueueDrained(30_000);

    expect(stub.count('media', only)).toBe(fetchesBefore);
    expect(await stack.listKeys(`recordings/2019/05/${call.callId}/`)).toEqual([]);
    expect((await ledger(only))?.status).toBe('erased');
    expect(((await stack.getCall(call.callId)) as CallItem).recordings?.[only]?.status).toBe('erased');
    expect((await stack.playback(call.callId)).status).toBe(404);
  });

  test('no credentials, or the wrong ones: 401 and nothing removed', async () => {
    const call = await knownCall();
    const startTime = 'Sat, 01 Jun 2019 09:00:00 +0000';
    const recordingSid = await recorded(call, startTime);

    for (const token of [null, 'not-the-token']) {
      const refused = await erase(call.callId, recordingSid, token);
      expect(refused.status).toBe(401);
      expect(refused.json).toEqual({ error: 'Unauthorized' });
      expect((await list({ from: '2019-06-01', to: '2019-06-02' }, token)).status).toBe(401);
    }
    expect((await ledger(recordingSid))?.status).toBe('stored');
    expect((await stack.headObject(expectedKey(call.callId, recordingSid, startTime))).size).toBe(20_000);
    expect((await stack.playback(call.callId)).status).toBe(200);

    // A recording of another call is a 404, with the right token.
    const other = await knownCall();
    expect((await erase(other.callId, recordingSid)).status).toBe(404);
    expect((await ledger(recordingSid))?.status).toBe('stored');
  });
});

describe('GET and DELETE /recordings/{recordingSid}', () => {
  function bySid(
    method: 'GET' | 'DELETE',
    recordingSid: string,
    options: { redirect?: boolean; token?: string | null } = {},
  ) {
    const path = `/recordings/${encodeURIComponent(recordingSid)}${options.redirect ? '?redirect=true' : ''}`;
    return stack.request(method, path, { headers: authorized(options.token) });
  }

  async function ledgerSays(recordingSid: string, status: string): Promise<Record<string, unknown>> {
    return waitFor(`ledger ${recordingSid} ${status}`, async () => {
      const item = await ledger(recordingSid);
      return item?.status === status ? item : undefined;
    });
  }

  test('a conference recording without a CallSid: played and erased by its RecordingSid alone', async () => {
    const startTime = new Date('2019-07-01T09:00:00.000Z');
    const recording = stub.addRecording({ source: 'Conference', size: 30_000, startTime, channels: 1 });
    expect(recording.callSid).toBeNull();
    expect((await stack.postCallback(stub.callbackParams(recording))).status).toBe(204);
    const stored = await ledgerSays(recording.sid, 'stored');
    const key = `recordings/2019/07/${recording.conferenceSid}/${recording.sid}.mp3`;
    expect(stored).toMatchObject({ conferenceSid: recording.conferenceSid, key });
    expect(stored.callSid).toBeUndefined();

    const found = await bySid('GET', recording.sid);
    expect(found.status).toBe(200);
    expect(found.json).toMatchObject({
      recordingSid: recording.sid,
      callId: null,
      callSid: null,
      conferenceSid: recording.conferenceSid,
      accountSid: ACCOUNT_SID,
      status: 'stored',
      sizeBytes: 30_000,
      sha256: stored.sha256,
      contentType: 'audio/mpeg',
      startedAt: startTime.toISOString(),
      source: 'Conference',
      encryption: null,
      hold: null,
      url: expect.any(String),
      expiresAt: expect.any(String),
    });
    const media = await download((found.json as PlaybackBody).url);
    expect(media.bytes.equals(stub.mediaFor(recording.sid, 'mp3'))).toBe(true);
    const redirect = await bySid('GET', recording.sid, { redirect: true });
    expect(redirect.status).toBe(302);
    expect(redirect.headers.get('location')).toContain(`${recording.sid}.mp3`);

    const erased = await bySid('DELETE', recording.sid);

    expect(erased.status).toBe(204);
    expect(await stack.listKeys(`recordings/2019/07/${recording.conferenceSid}/`)).toEqual([]);
    expect(await ledger(recording.sid)).toMatchObject({ status: 'erased', erasedBy: 'local' });
    expect(stub.recording(recording.sid).status).toBe('deleted');
    const announced = (await events()).filter((e) => e.detail.recordingSid === recording.sid);
    expect(announced.map((e) => e['detail-type'])).toEqual(['Recording Stored', 'Recording Erased']);
    expect(announced[1]?.detail).toMatchObject({ conferenceSid: recording.conferenceSid, erasedBy: 'local' });
    expect(announced[1]?.detail.callId).toBeUndefined();
    expect((await bySid('GET', recording.sid)).status).toBe(404);
    expect((await bySid('DELETE', recording.sid)).status).toBe(204);
  });

  test("a call recording: the same fields as its call's playback; erased by its SID, its call item says so", async () => {
    const call = await knownCall();
    const startTime = 'Mon, 01 Jul 2019 11:00:00 +0000';
    const recordingSid = await recorded(call, startTime);
    const perCall = (await stack.playback(call.callId)).json as Record<string, unknown>;

    const found = await bySid('GET', recordingSid);

    expect(found.status).toBe(200);
    const body = found.json as Record<string, unknown>;
    for (const field of [
      'callId',
      'recordingSid',
      'contentType',
      'durationSeconds',
      'sizeBytes',
      'sha256',
      'startedAt',
    ]) {
      expect([field, body[field]]).toEqual([field, perCall[field]]);
    }
    expect(body).toMatchObject({ callSid: call.callSid, conferenceSid: null, status: 'stored' });

    expect((await bySid('DELETE', recordingSid)).status).toBe(204);
    expect(await stack.listKeys(`recordings/2019/07/${call.callId}/`)).toEqual([]);
    const item = (await stack.getCall(call.callId)) as CallItem;
    expect(item.recordings?.[recordingSid]).toMatchObject({ status: 'erased', erasedBy: 'local' });
    expect((await stack.playback(call.callId)).status).toBe(404);
  });

  test('400 for a malformed RecordingSid, 404 for an unknown one, 401 without the token', async () => {
    for (const method of ['GET', 'DELETE'] as const) {
      const malformed = await bySid(method, 'RE123');
      expect([method, malformed.status, malformed.json]).toEqual([method, 400, { error: MALFORMED_RECORDING_SID }]);
      const unknown = await bySid(method, newRecordingSid());
      expect([method, unknown.status, unknown.json]).toEqual([method, 404, { error: 'Recording not found' }]);
      expect((await bySid(method, newRecordingSid(), { token: null })).status).toBe(401);
    }
  });
});
