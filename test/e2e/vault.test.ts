import { createHash, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { GetObjectTaggingCommand } from '@aws-sdk/client-s3';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { getExpectedTwilioSignature } from 'twilio/lib/webhooks/webhooks';
import type { LedgerItem } from '../../lambda/shared/ledger/ledger';
import { htmlPage, jsonError, SimulatedTwilio, slow } from '../../lib/simulated-twilio';
import {
  callbackParams,
  download,
  LocalStack,
  newAccountSid,
  newCallSid,
  newRecordingSid,
  type PlaybackBody,
  stopSuite,
  waitFor,
} from './harness';

/**
 * The vault's own record and its proofs, end to end on the local stack, with the stage's
 * `deleteFromTwilioAfterCopy` on throughout: every recording of this suite is deleted at Twilio
 * once its copy is verified, so any DELETE of something that is not the whole recording would
 * show. Twilio misbehaves in legal ways: an outage page with a 200, a copy slower than the lease,
 * an `absent` callback mid-copy, one RecordingSid under two CallSids, hostile parameter values.
 */

const ACCOUNT_SID = newAccountSid();
const AUTH_TOKEN = randomBytes(16).toString('hex');
const LEASE_SECONDS = 2;

let twilio: SimulatedTwilio;
let stack: LocalStack;

beforeAll(async () => {
  twilio = await SimulatedTwilio.start({ accountSid: ACCOUNT_SID, authToken: AUTH_TOKEN });
  stack = await LocalStack.startFor(twilio, {
    maxAttempts: 3,
    retryBaseSeconds: 1,
    visibilityTimeoutSeconds: 5,
    env: { DELETE_FROM_TWILIO_AFTER_COPY: 'true', TRANSFER_LEASE_SECONDS: String(LEASE_SECONDS) },
  });
}, 120_000);

afterEach(async () => {
  await stack?.waitForQueueDrained(45_000);
}, 60_000);

afterAll(() => stopSuite(stack, twilio), 60_000);

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

async function knownCall(callId = `call-${randomBytes(6).toString('hex')}`) {
  const callSid = newCallSid();
  await stack.putCall({ callId, twilioCallSid: callSid });
  return { callId, callSid };
}

function callback(callSid: string, recordingSid: string, extra: Partial<Parameters<typeof callbackParams>[0]> = {}) {
  return callbackParams({ accountSid: ACCOUNT_SID, callSid, recordingSid, ...extra });
}

async function ledger(recordingSid: string): Promise<LedgerItem | undefined> {
  const result = await stack.ddb.send(
    new GetCommand({ TableName: 'recordings', Key: { recordingSid }, ConsistentRead: true }),
  );
  return result.Item as LedgerItem | undefined;
}

async function ledgerSays(recordingSid: string, status: LedgerItem['status']): Promise<LedgerItem> {
  return waitFor(`the ledger to say ${recordingSid} is ${status}`, async () => {
    const item = await ledger(recordingSid);
    return item?.status === status ? item : undefined;
  });
}

async function events(): Promise<Array<{ source: string; 'detail-type': string; detail: Record<string, unknown> }>> {
  const text = await readFile(join(stack.config.dataDir, 'events.ndjson'), 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line));
}

const deletes = (recordingSid: string) => twilio.requestsTo(`${recordingSid}.json`, 'DELETE').length;
const mediaFetches = (recordingSid: string) => twilio.mediaRequests(recordingSid).length;

describe('a stored recording', () => {
  test.each([
    ['of one part', 200 * 1024, 'metadata'],
    ['over one part (multipart, the hash a tag)', 12 * 1024 * 1024 + 7, 'tag'],
  ] as const)(
    '%s is proven by the same SHA-256 in S3, the ledger, the call entry and the playback API, and announced',
    async (_, size, where) => {
      const { callId, callSid } = await knownCall();
      const recordingSid = newRecordingSid();
      const audio = twilio.addRecording({ sid: recordingSid, callSid, size }).media;

      expect((await stack.postCallback(callback(callSid, recordingSid))).status).toBe(204);
      const item = await stack.waitForEntry(callId, recordingSid, 'stored');

      const stored = await ledgerSays(recordingSid, 'stored');
      expect(stored).toMatchObject({
        callId,
        callSid,
        sha256: sha256(audio),
        sizeBytes: audio.length,
        day: '2024-07-22',
      });
      expect(stored.deletedAtTwilioAt).toEqual(expect.any(String));
      expect(item.recordings?.[recordingSid]?.sha256).toBe(sha256(audio));
      const head = await stack.headObject(stored.key ?? '');
      const { TagSet = [] } = await stack.s3.send(
        new GetObjectTaggingCommand({ Bucket: 'recordings', Key: stored.key }),
      );
      const tag = TagSet.find((t) => t.Key === 'sha256')?.Value;
      expect(where === 'metadata' ? head.metadata.sha256 : tag).toBe(sha256(audio));
      const playback = await stack.playback(callId);
      expect((playback.json as PlaybackBody & { sha256: string }).sha256).toBe(sha256(audio));
      expect(sha256((await download((playback.json as PlaybackBody).url)).bytes)).toBe(sha256(audio));
      expect(deletes(recordingSid)).toBe(1);
      const announced = await waitFor('the Recording Stored event', async () =>
        (await events()).find((e) => e.detail.recordingSid === recordingSid),
      );
      expect(announced).toMatchObject({
        source: 'recording-vault',
        'detail-type': 'Recording Stored',
        detail: { callId, sha256: sha256(audio), origin: 'callback' },
      });
      const text = JSON.stringify(await events());
      expect(text).not.toMatch(/https?:\/\/|X-Amz-|Signature=/);
      expect(text).not.toContain(AUTH_TOKEN);
    },
  );

  test('that is absent at Twilio is entered in the ledger and announced as failed', async () => {
    const { callId, callSid } = await knownCall();
    const recordingSid = newRecordingSid();

    await stack.postCallback(callback(callSid, recordingSid, { status: 'absent', errorCode: '16102' }));

    await stack.waitForEntry(callId, recordingSid, 'absent');
    expect(await ledgerSays(recordingSid, 'absent')).toMatchObject({ callId, errorCode: '16102' });
    const failed = await waitFor('the Recording Failed event', async () =>
      (await events()).find((e) => e.detail.recordingSid === recordingSid),
    );
    expect(failed['detail-type']).toBe('Recording Failed');
    expect(mediaFetches(recordingSid)).toBe(0);
  });
});

describe('media that is not the recording', () => {
  test.each([
    ['an HTML outage page', htmlPage()],
    ["Twilio's JSON error", jsonError()],
  ])(
    'answered with a 200 (%s) is never stored nor deleted at Twilio, and the next attempt stores the audio',
    async (_, page) => {
      const { callId, callSid } = await knownCall();
      const recordingSid = newRecordingSid();
      const audio = twilio.addRecording({ sid: recordingSid, callSid, size: 50_000, responses: [page] }).media;

      await stack.postCallback(callback(callSid, recordingSid));

      const item = await stack.waitForEntry(callId, recordingSid, 'stored');
      expect(mediaFetches(recordingSid)).toBe(2);
      expect(item.recordings?.[recordingSid]).toMatchObject({ sizeBytes: audio.length, sha256: sha256(audio) });
      expect(await stack.objectBytes(item.recordings?.[recordingSid]?.key ?? '')).toEqual(audio);
      expect(deletes(recordingSid)).toBe(1);
    },
  );

  test('that never turns into audio is dead-lettered with the reason, with nothing stored and nothing deleted', async () => {
    const { callId, callSid } = await knownCall();
    const recordingSid = newRecordingSid();
    twilio.addRecording({ sid: recordingSid, callSid, otherwise: htmlPage() });

    await stack.postCallback(callback(callSid, recordingSid));

    const dead = await stack.takeDeadLetter(recordingSid, 45_000);
    expect(dead.message.MessageAttributes?.errorCode?.StringValue).toBe('twilio-not-audio');
    expect(await ledgerSays(recordingSid, 'failed')).toMatchObject({ errorCode: 'twilio-not-audio' });
    expect(await stack.listKeys(`recordings/2024/07/${callId}/`)).toEqual([]);
    expect(deletes(recordingSid)).toBe(0);
  });
});

describe('a copy slower than its lease', () => {
  test('keeps its claim: a duplicate callback after the lease ran out fetches nothing and the key stays', async () => {
    const { callId, callSid } = await knownCall();
    const recordingSid = newRecordingSid();
    // About 3 × the lease: 64 KiB in 4 KiB chunks every 400 ms.
    const audio = twilio.addRecording({
      sid: recordingSid,
      callSid,
      size: 64 * 1024,
      responses: [slow(4096, 400)],
    }).media;
    await stack.postCallback(callback(callSid, recordingSid));
    await twilio.waitForRequest({ route: 'media', sid: recordingSid });
    const claimed = await ledgerSays(recordingSid, 'transferring');
    await waitFor('the first lease to run out', async () =>
      Date.now() > (claimed.leaseExpiresAt ?? 0) + 500 ? true : undefined,
    );

    const duplicate = await stack.postCallback(
      callback(callSid, recordingSid, { startTime: 'Tue, 20 Aug 2024 09:00:00 +0000' }),
    );

    expect(duplicate.status).toBe(204);
    const item = await stack.waitForEntry(callId, recordingSid, 'stored');
    expect(mediaFetches(recordingSid)).toBe(1);
    expect(item.recordings?.[recordingSid]).toMatchObject({
      startedAt: '2024-07-22T17:00:00.000Z',
      sha256: sha256(audio),
    });
    expect(await stack.listKeys(`recordings/2024/08/${callId}/`)).toEqual([]);
    expect(deletes(recordingSid)).toBe(1);
  });

  test('is not replaced by an absent callback mid-copy; a duplicate after it fetches nothing', async () => {
    const { callId, callSid } = await knownCall();
    const recordingSid = newRecordingSid();
    const audio = twilio.addRecording({
      sid: recordingSid,
      callSid,
      size: 32 * 1024,
      responses: [slow(4096, 300)],
    }).media;
    await stack.postCallback(callback(callSid, recordingSid));
    await twilio.waitForRequest({ route: 'media', sid: recordingSid });

    await stack.postCallback(callback(callSid, recordingSid, { status: 'absent', errorCode: '16101' }));
    await waitFor('the absent callback to be noted', async () =>
      (await ledger(recordingSid))?.notes?.some((n) => n.includes('absent')) ? true : undefined,
    );
    await stack.postCallback(callback(callSid, recordingSid));

    const item = await stack.waitForEntry(callId, recordingSid, 'stored');
    expect(item.recordings?.[recordingSid]).toMatchObject({ sha256: sha256(audio) });
    expect(item.recordingKey).toBe(item.recordings?.[recordingSid]?.key);
    expect(mediaFetches(recordingSid)).toBe(1);
    expect(deletes(recordingSid)).toBe(1);
  });
});

describe('one RecordingSid under two CallSids', () => {
  test('is copied once, under the call that named it first', async () => {
    const first = await knownCall();
    const second = await knownCall();
    const recordingSid = newRecordingSid();
    twilio.addRecording({ sid: recordingSid, callSid: first.callSid, size: 10_000 });

    await stack.postCallback(callback(first.callSid, recordingSid));
    await stack.waitForEntry(first.callId, recordingSid, 'stored');
    await stack.postCallback(callback(second.callSid, recordingSid));
    await stack.waitForQueueDrained();

    expect(mediaFetches(recordingSid)).toBe(1);
    expect((await stack.getCall(second.callId))?.recordings?.[recordingSid]).toBeUndefined();
    expect(await stack.listKeys(`recordings/2024/07/${second.callId}/`)).toEqual([]);
  });
});

describe('a CallSid that matches no call', () => {
  test('gets an item with the numbers in E.164, the direction and the start Twilio knows', async () => {
    const callSid = newCallSid();
    twilio.addCall({
      sid: callSid,
      from: '+1 415 555 0100',
      to: '+44 20 7946 0958',
      direction: 'outbound-api',
      startTime: new Date('2024-07-22T16:59:00Z'),
    });
    const recordingSid = newRecordingSid();
    twilio.addRecording({ sid: recordingSid, callSid, size: 8_000 });

    await stack.postCallback(callback(callSid, recordingSid));

    const item = await stack.waitForEntry(callSid, recordingSid, 'stored');
    expect(item).toMatchObject({
      callId: callSid,
      origin: 'recording-callback',
      from: '+14155550100',
      to: '+442079460958',
      direction: 'outbound-api',
      callStartedAt: '2024-07-22T16:59:00.000Z',
    });
  });
});

describe('any value is safe', () => {
  const hostile = [
    ['emoji and scripts', '🎙️ Запись 录音 تسجيل'],
    ['control characters', 'a\u0000b\u0001c\u001fd\u007f'],
    ['noncharacters SQS refuses', 'x\uFFFEy\uFFFF'],
    ['a lone surrogate', 'a\uD800b'],
    ['a very long value', 'L'.repeat(20_000)],
    ['markup and quotes', '"><script>alert(1)</script>\'; DROP TABLE calls;--'],
  ] as const;

  test.each(hostile)('a signed callback with %s in free-form parameters is accepted and stored', async (_, value) => {
    const { callId, callSid } = await knownCall();
    const recordingSid = newRecordingSid();
    twilio.addRecording({ sid: recordingSid, callSid, size: 4_000 });
    const params = { ...callback(callSid, recordingSid), RecordingUrl: value, RecordingDuration: value, Extra: value };

    const accepted = await stack.postCallback(params);

    expect(accepted.status).toBe(204);
    await stack.waitForEntry(callId, recordingSid, 'stored');
  });

  test.each(hostile)('a signed callback with %s as its RecordingSource is refused with 400', async (_, value) => {
    const { callSid } = await knownCall();

    const refused = await stack.postCallback({ ...callback(callSid, newRecordingSid()), RecordingSource: value });

    expect(refused.status).toBe(400);
  });

  test.each(hostile)('a signed callback with %s as its RecordingSid is refused with 400', async (_, value) => {
    const { callSid } = await knownCall();

    const refused = await stack.postCallback(callback(callSid, value));

    expect(refused.status).toBe(400);
  });
});

describe('call ids the app chose', () => {
  test.each([
    ['a space and an accent', 'café 1'],
    ['delimiters', 'a,b;c=d+e'],
    ['braces and a slash', '{7d0c}/x'],
  ])('with %s are stored and playable by the same id', async (_, callId) => {
    const { callSid } = await knownCall(callId);
    const recordingSid = newRecordingSid();
    const audio = twilio.addRecording({ sid: recordingSid, callSid, size: 6_000 }).media;

    await stack.postCallback(callback(callSid, recordingSid));
    await stack.waitForEntry(callId, recordingSid, 'stored');
    const playback = await stack.playback(callId);

    expect(playback.status).toBe(200);
    expect((await download((playback.json as PlaybackBody).url)).bytes).toEqual(audio);
  });
});

describe('a webhook URL configured with a trailing ?', () => {
  test('accepts callbacks signed over it', async () => {
    const { callId, callSid } = await knownCall();
    const recordingSid = newRecordingSid();
    twilio.addRecording({ sid: recordingSid, callSid, size: 5_000 });
    const params = callback(callSid, recordingSid);

    const answer = await stack.request('POST', '/twilio/recording?', {
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        'x-twilio-signature': getExpectedTwilioSignature(AUTH_TOKEN, `${stack.webhookUrl}?`, params),
      },
      body: new URLSearchParams(params).toString(),
    });

    expect(answer.status).toBe(204);
    await stack.waitForEntry(callId, recordingSid, 'stored');
  });
});
