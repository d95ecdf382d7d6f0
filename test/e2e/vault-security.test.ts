import { randomBytes } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { getExpectedTwilioSignature } from 'twilio/lib/webhooks/webhooks';
import type { LedgerItem } from '../../lambda/shared/ledger/ledger';
import { SimulatedTwilio } from '../../lib/simulated-twilio';
import { download, LocalStack, newAccountSid, newCallSid, type PlaybackBody, stopSuite } from './harness';

/**
 * What an attacker can do from outside the vault, against the local stack: write the app's call
 * item (the app owns it, and so may anyone who can reach the app's table), re-split a signed
 * callback, or choose the Host header. Each is refused, or reaches nothing but its own recording.
 */

const ACCOUNT_SID = newAccountSid();
const AUTH_TOKEN = randomBytes(16).toString('hex');

let twilio: SimulatedTwilio;
let stack: LocalStack;

beforeAll(async () => {
  twilio = await SimulatedTwilio.start({ accountSid: ACCOUNT_SID, authToken: AUTH_TOKEN });
  stack = await LocalStack.startFor(twilio);
}, 120_000);

afterAll(() => stopSuite(stack, twilio), 60_000);

async function ledger(recordingSid: string): Promise<LedgerItem | undefined> {
  const result = await stack.ddb.send(
    new GetCommand({ TableName: 'recordings', Key: { recordingSid }, ConsistentRead: true }),
  );
  return result.Item as LedgerItem | undefined;
}

/** A call of the app with one recording stored through the whole pipeline. */
async function storedCall(): Promise<{ callId: string; recordingSid: string; key: string; bytes: Buffer }> {
  const callId = `call-${randomBytes(6).toString('hex')}`;
  const callSid = newCallSid();
  await stack.putCall({ callId, twilioCallSid: callSid });
  const recording = twilio.addRecording({ callSid, size: 4_000 });
  expect((await stack.postCallback(twilio.callbackParams(recording.sid))).status).toBe(204);
  const item = await stack.waitForEntry(callId, recording.sid, 'stored');
  const key = item.recordings?.[recording.sid]?.key ?? '';
  return { callId, recordingSid: recording.sid, key, bytes: await stack.objectBytes(key) };
}

/** What an app (or anyone writing its table) can do: point a call's entry at another object. */
async function pointEntryAt(callId: string, recordingSid: string, key: string): Promise<void> {
  await stack.ddb.send(
    new UpdateCommand({
      TableName: 'calls',
      Key: { callId },
      UpdateExpression: 'SET recordings.#sid.#key = :key, recordingKey = :key',
      ExpressionAttributeNames: { '#sid': recordingSid, '#key': 'key' },
      ExpressionAttributeValues: { ':key': key },
    }),
  );
}

describe('keys come from the ledger, never from the app’s call item', () => {
  test('playback of a call whose entry names another call’s key serves the call’s own recording', async () => {
    const a = await storedCall();
    const b = await storedCall();
    await pointEntryAt(a.callId, a.recordingSid, b.key);

    const answer = await stack.playback(a.callId);

    expect(answer.status).toBe(200);
    const body = answer.json as PlaybackBody;
    expect(body.recordingSid).toBe(a.recordingSid);
    const served = await download(body.url);
    expect(served.status).toBe(200);
    expect(served.bytes.equals(a.bytes)).toBe(true);
  });

  test('a recording of another call entered in a call’s item is not listed for it', async () => {
    const a = await storedCall();
    const b = await storedCall();
    const bEntry = (await stack.getCall(b.callId))?.recordings?.[b.recordingSid];
    await stack.ddb.send(
      new UpdateCommand({
        TableName: 'calls',
        Key: { callId: a.callId },
        UpdateExpression: 'SET recordings.#sid = :entry',
        ExpressionAttributeNames: { '#sid': b.recordingSid },
        ExpressionAttributeValues: { ':entry': { ...bEntry, startedAt: '2999-01-01T00:00:00.000Z' } },
      }),
    );

    const list = await stack.playback(a.callId, { list: true });
    const latest = await stack.playback(a.callId);

    expect(list.status).toBe(200);
    const listed = (list.json as { recordings: PlaybackBody[] }).recordings;
    expect(listed.map((r) => r.recordingSid)).toEqual([a.recordingSid]);
    expect((latest.json as PlaybackBody).recordingSid).toBe(a.recordingSid);
  });

  test('erasing a call’s recording whose entry names another call’s key never deletes that object', async () => {
    const a = await storedCall();
    const b = await storedCall();
    await pointEntryAt(a.callId, a.recordingSid, b.key);

    const erased = await stack.request('DELETE', `/calls/${a.callId}/recordings/${a.recordingSid}`, {
      headers: { authorization: `Bearer ${stack.config.apiToken}` },
    });

    expect(erased.status).toBe(204);
    expect((await stack.objectBytes(b.key)).equals(b.bytes)).toBe(true);
    expect((await ledger(b.recordingSid))?.status).toBe('stored');
    expect(await stack.listKeys(a.key)).toEqual([]);
    expect((await ledger(a.recordingSid))?.status).toBe('erased');
  });
});

describe('a re-split callback is refused', () => {
  /**
   * Twilio signs the URL followed by each name and value with no separator, so moving the
   * boundary between names and values keeps the signature: what the vault must refuse.
   */
  function resplit(params: Record<string, string>, body: string) {
    const signature = getExpectedTwilioSignature(AUTH_TOKEN, stack.webhookUrl, params);
    return stack.request('POST', '/twilio/recording', {
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': signature },
      body,
    });
  }

  function signedString(params: Record<string, string>): string {
    return Object.keys(params)
      .sort()
      .map((name) => `${name}${params[name]}`)
      .join('');
  }

  test('a start time folded into RecordingSource is refused with 400', async () => {
    const callSid = newCallSid();
    const recording = twilio.addRecording({ callSid, size: 2_000 });
    const params = twilio.callbackParams(recording.sid);
    const { RecordingStartTime: startTime, ...rest } = params;
    const folded = { ...rest, RecordingSource: `${params.RecordingSource}RecordingStartTime${startTime}` };
    expect(signedString(folded)).toBe(signedString(params));

    const answer = await resplit(params, new URLSearchParams(folded).toString());

    expect(answer.status).toBe(400);
    expect(await ledger(recording.sid)).toBeUndefined();
  });

  test('a start time whose name lost its last letter is refused with 400', async () => {
    const recording = twilio.addRecording({ callSid: newCallSid(), size: 2_000 });
    const params = twilio.callbackParams(recording.sid);
    const { RecordingStartTime: startTime, ...rest } = params;
    const renamed = { ...rest, RecordingStartTim: `e${startTime}` };
    expect(signedString(renamed)).toBe(signedString(params));

    const answer = await resplit(params, new URLSearchParams(renamed).toString());

    expect(answer.status).toBe(400);
    expect(await ledger(recording.sid)).toBeUndefined();
  });

  test('channels folded into ErrorCode are refused with 400', async () => {
    const recording = twilio.addRecording({ callSid: newCallSid(), size: 2_000, channels: 2 });
    const params = twilio.callbackParams(recording.sid);
    const { RecordingChannels: channels, ...rest } = params;
    const folded = { ...rest, ErrorCode: `${params.ErrorCode}RecordingChannels${channels}` };
    expect(signedString(folded)).toBe(signedString(params));

    const answer = await resplit(params, new URLSearchParams(folded).toString());

    expect(answer.status).toBe(400);
    expect(await ledger(recording.sid)).toBeUndefined();
  });
});

describe('the signed URL never comes from a request header', () => {
  /** A raw request: fetch will not send a Host header of the caller's choosing. */
  function post(path: string, headers: Record<string, string>, body: string): Promise<number> {
    const api = new URL(stack.baseUrl);
    return new Promise((resolve, reject) => {
      const req = httpRequest(
        { host: api.hostname, port: api.port, path, method: 'POST', headers, timeout: 15_000 },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  }

  test('a callback signed for another host and sent with that Host header is refused with 403', async () => {
    const recording = twilio.addRecording({ callSid: newCallSid(), size: 2_000 });
    const params = twilio.callbackParams(recording.sid);
    const signature = getExpectedTwilioSignature(AUTH_TOKEN, 'http://evil.example/twilio/recording', params);

    const status = await post(
      '/twilio/recording',
      {
        host: 'evil.example',
        'x-forwarded-proto': 'http',
        'x-forwarded-host': 'evil.example',
        'content-type': 'application/x-www-form-urlencoded',
        'x-twilio-signature': signature,
      },
      new URLSearchParams(params).toString(),
    );

    expect(status).toBe(403);
    expect(await ledger(recording.sid)).toBeUndefined();
  });

  test('a callback signed for the bound address is accepted whatever Host header it carries', async () => {
    const recording = twilio.addRecording({ callSid: newCallSid(), size: 2_000 });
    const params = twilio.callbackParams(recording.sid);

    const status = await post(
      '/twilio/recording',
      {
        host: 'evil.example',
        'content-type': 'application/x-www-form-urlencoded',
        'x-twilio-signature': stack.sign(params),
      },
      new URLSearchParams(params).toString(),
    );

    expect(status).toBe(204);
  });
});
