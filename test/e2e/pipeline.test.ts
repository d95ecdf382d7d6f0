import { createHash, randomBytes } from 'node:crypto';
import { reset, SimulatedTwilio, slow, status } from '../../lib/simulated-twilio';
import {
  BUCKET,
  type CallItem,
  callbackParams,
  download,
  expectedKey,
  LocalStack,
  mapLimit,
  newAccountSid,
  newCallSid,
  newRecordingSid,
  type PlaybackBody,
  stopSuite,
  waitFor,
} from './harness';

/**
 * Recording Vault end to end: real HTTP into `npm start`'s local stack, the simulated
 * Twilio (lib/simulated-twilio/index.ts) on loopback, outcomes read back from the stack's S3, DynamoDB and SQS emulators.
 * One stack serves every case here; the kill/restart case has its own (local-process.test.ts).
 */

const ACCOUNT_SID = newAccountSid();
const AUTH_TOKEN = randomBytes(16).toString('hex');
const MAX_ATTEMPTS = 4;

let stub: SimulatedTwilio;
let stack: LocalStack;

beforeAll(async () => {
  stub = await SimulatedTwilio.start({ accountSid: ACCOUNT_SID, authToken: AUTH_TOKEN });
  stack = await LocalStack.startFor(stub, {
    maxAttempts: MAX_ATTEMPTS,
    retryBaseSeconds: 1,
    visibilityTimeoutSeconds: 5,
  });
}, 120_000);

afterEach(async () => {
  // Every case leaves the transfer queue empty, so the next one starts from a known state.
  await stack?.waitForQueueDrained(45_000);
}, 60_000);

afterAll(() => stopSuite(stack, stub), 60_000);

/** A call item as the app would have written it before any recording arrives. */
async function knownCall(): Promise<{ callId: string; callSid: string }> {
  const callId = `call-${randomBytes(6).toString('hex')}`;
  const callSid = newCallSid();
  await stack.putCall({
    callId,
    twilioCallSid: callSid,
    customerRef: 'cust-42',
    createdAt: '2024-07-22T16:59:58.000Z',
  });
  return { callId, callSid };
}

function callback(callSid: string, recordingSid: string, extra: Partial<Parameters<typeof callbackParams>[0]> = {}) {
  return callbackParams({ accountSid: ACCOUNT_SID, callSid, recordingSid, ...extra });
}

function notesAbout(item: CallItem | undefined, recordingSid: string): string[] {
  return (item?.notes ?? []).filter((line) => line.includes(recordingSid));
}

/** No request reached the simulated Twilio for this recording, under any path. */
function requestsFor(recordingSid: string): number {
  return stub.requestsTo(recordingSid).length;
}

describe('a completed recording', () => {
  test('is copied to S3 byte for byte, recorded on its call item and played back through a presigned URL', async () => {
    const { callId, callSid } = await knownCall();
    const recordingSid = newRecordingSid();
    const audio = stub.addRecording({ sid: recordingSid, size: 300_000 }).media;
    const key = expectedKey(callId, recordingSid);

    const accepted = await stack.postCallback(callback(callSid, recordingSid));

    expect(accepted.status).toBe(204);
    expect(accepted.text).toBe('');
    const item = await stack.waitForEntry(callId, recordingSid, 'stored');
    expect(item.recordings?.[recordingSid]).toEqual({
      status: 'stored',
      bucket: BUCKET,
      key,
      contentType: 'audio/mpeg',
      sha256: createHash('sha256').update(audio).digest('hex'),
      sizeBytes: audio.length,
      durationSeconds: 12,
      channels: 1,
      source: 'DialVerb',
      startedAt: '2024-07-22T17:00:00.000Z',
      storedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
    });
    expect(item).toMatchObject({
      callId,
      twilioCallSid: callSid,
      customerRef: 'cust-42',
      recordingKey: key,
      recordingDurationSeconds: 12,
      recordingStatus: 'stored',
      updatedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
    });
    expect(item.origin).toBeUndefined();
    expect(notesAbout(item, recordingSid)).toEqual([]);
    expect(JSON.stringify(item)).not.toMatch(/X-Amz-Signature/i);

    expect((await stack.objectBytes(key)).equals(audio)).toBe(true);
    const head = await stack.headObject(key);
    expect(head.contentType).toBe('audio/mpeg');
    expect(head.metadata).toMatchObject({ 'call-sid': callSid, 'recording-sid': recordingSid });

    const playback = await stack.playback(callId);
    expect(playback.status).toBe(200);
    expect(playback.json).toMatchObject({
      callId,
      recordingSid,
      url: expect.stringContaining(`/${BUCKET}/`),
      expiresAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      contentType: 'audio/mpeg',
      durationSeconds: 12,
      sizeBytes: audio.length,
    });
    const body = playback.json as PlaybackBody;
    expect(Date.parse(body.expiresAt)).toBeGreaterThan(Date.now());
    const served = await download(body.url);
    expect(served.status).toBe(200);
    expect(served.bytes.equals(audio)).toBe(true);

    expect(stub.mediaRequests(recordingSid)).toHaveLength(1);
    expect(stub.mediaRequests(recordingSid).every((r) => r.authorized)).toBe(true);
  });

  test('playback with ?redirect=true answers 302 to a presigned URL that serves the exact bytes', async () => {
    const { callId, callSid } = await knownCall();
    const recordingSid = newRecordingSid();
    const audio = stub.addRecording({ sid: recordingSid, size: 64_000 }).media;
    await stack.postCallback(callback(callSid, recordingSid));
    await stack.waitForEntry(callId, recordingSid, 'stored');

    const redirect = await stack.playback(callId, { redirect: true });

    expect(redirect.status).toBe(302);
    const location = redirect.headers.get('location') ?? '';
    expect(location).toContain(`/${BUCKET}/`);
    expect(location).toContain(recordingSid);
    const served = await download(location);
    expect(served.status).toBe(200);
    expect(served.bytes.equals(audio)).toBe(true);
  });

  test('a second recording on the same call adds an entry and becomes the latest', async () => {
    const { callId, callSid } = await knownCall();
    const first = newRecordingSid();
    const second = newRecordingSid();
    const firstAudio = stub.addRecording({ sid: first, size: 40_000 }).media;
    const secondAudio = stub.addRecording({ sid: second, size: 60_000 }).media;
    const firstStart = 'Mon, 22 Jul 2024 17:00:00 +0000';
    const secondStart = 'Mon, 22 Jul 2024 17:30:00 +0000';

    expect((await stack.postCallback(callback(callSid, first, { startTime: firstStart, duration: 8 }))).status).toBe(
      204,
    );
    await stack.waitForEntry(callId, first, 'stored');
    expect((await stack.postCallback(callback(callSid, second, { startTime: secondStart, duration: 20 }))).status).toBe(
      204,
    );
    const item = await stack.waitForEntry(callId, second, 'stored');

    expect(Object.keys(item.recordings ?? {}).sort()).toEqual([first, second].sort());
    expect(item.recordings?.[first]).toMatchObject({ status: 'stored', key: expectedKey(callId, first, firstStart) });
    expect(item.recordings?.[second]).toMatchObject({
      status: 'stored',
      key: expectedKey(callId, second, secondStart),
    });
    expect(item).toMatchObject({
      recordingKey: expectedKey(callId, second, secondStart),
      recordingDurationSeconds: 20,
      recordingStatus: 'stored',
    });

    const latest = await stack.playback(callId);
    expect(latest.status).toBe(200);
    expect((latest.json as PlaybackBody).recordingSid).toBe(second);
    const list = await stack.playback(callId, { list: true });
    expect(list.status).toBe(200);
    const { recordings } = list.json as { callId: string; recordings: PlaybackBody[] };
    expect(recordings.map((r) => r.recordingSid)).toEqual([first, second]);
    expect((await download(recordings[0]?.url ?? '')).bytes.equals(firstAudio)).toBe(true);
    expect((await download(recordings[1]?.url ?? '')).bytes.equals(secondAudio)).toBe(true);
  });

  test('from an unknown CallSid is kept on a new call item keyed by the CallSid', async () => {
    const callSid = newCallSid();
    const recordingSid = newRecordingSid();
    const audio = stub.addRecording({ sid: recordingSid, size: 20_000 }).media;

    expect((await stack.postCallback(callback(callSid, recordingSid))).status).toBe(204);

    const item = await stack.waitForEntry(callSid, recordingSid, 'stored');
    expect(item).toMatchObject({
      callId: callSid,
      twilioCallSid: callSid,
      origin: 'recording-callback',
      recordingKey: expectedKey(callSid, recordingSid),
      recordingStatus: 'stored',
    });
    expect((await stack.objectBytes(expectedKey(callSid, recordingSid))).equals(audio)).toBe(true);
    const playback = await stack.playback(callSid);
    expect(playback.status).toBe(200);
    expect((await download((playback.json as PlaybackBody).url)).bytes.equals(audio)).toBe(true);
  });
});

describe('what the webhook trusts', () => {
  test('media is fetched from the configured Twilio API only, never from the RecordingUrl in the callback', async () => {
    const elsewhere = await SimulatedTwilio.start({ accountSid: ACCOUNT_SID, authToken: AUTH_TOKEN });
    try {
      const { callId, callSid } = await knownCall();
      const recordingSid = newRecordingSid();
      const audio = stub.addRecording({ sid: recordingSid, size: 8_000 }).media;
      elsewhere.addRecording({ sid: recordingSid, size: 8_000 });
      const params = {
        ...callback(callSid, recordingSid),
        RecordingUrl: `${elsewhere.baseUrl}/2010-04-01/Accounts/${ACCOUNT_SID}/Recordings/${recordingSid}`,
      };

      expect((await stack.postCallback(params)).status).toBe(204);

      await stack.waitForEntry(callId, recordingSid, 'stored');
      expect((await stack.objectBytes(expectedKey(callId, recordingSid))).equals(audio)).toBe(true);
      expect(stub.count('media', recordingSid)).toBe(1);
      expect(elsewhere.count('media', recordingSid)).toBe(0);
      expect(elsewhere.unexpected).toEqual([]);
    } finally {
      await elsewhere.close();
    }
  });

  test('a webhook URL with a query string is verified over the URL as Twilio called it', async () => {
    const { callId, callSid } = await knownCall();
    const recordingSid = newRecordingSid();
    stub.addRecording({ sid: recordingSid, size: 4_000 });
    const params = callback(callSid, recordingSid);
    const query = 'tenant=acme&region=eu';

    const withoutQuery = await stack.postCallback(params, { query, signature: stack.sign(params) });
    const withQuery = await stack.postCallback(params, { query });

    expect(withoutQuery.status).toBe(403);
    expect(withQuery.status).toBe(204);
    const item = await stack.waitForEntry(callId, recordingSid, 'stored');
    expect(item.recordings?.[recordingSid]?.sizeBytes).toBe(4_000);
  });

  test('parameters Twilio adds later are tolerated and signed like the rest', async () => {
    const { callId, callSid } = await knownCall();
    const recordingSid = newRecordingSid();
    stub.addRecording({ sid: recordingSid, size: 4_000 });
    const params = { ...callback(callSid, recordingSid), RecordingFutureFeature: 'on', Blank: '' };

    expect((await stack.postCallback(params)).status).toBe(204);

    const item = await stack.waitForEntry(callId, recordingSid, 'stored');
    expect(item.recordings?.[recordingSid]?.sizeBytes).toBe(4_000);
  });
});

describe('callbacks without audio', () => {
  test('an in-progress callback is acknowledged and nothing is queued, fetched or stored', async () => {
    const callSid = newCallSid();
    const recordingSid = newRecordingSid();

    const response = await stack.postCallback(callback(callSid, recordingSid, { status: 'in-progress' }));

    expect(response.status).toBe(204);
    expect(await stack.queueDepth()).toBe(0);
    expect(await stack.getCall(callSid)).toBeUndefined();
    expect(await stack.listKeys(`recordings/2024/07/${callSid}/`)).toEqual([]);
    expect(requestsFor(recordingSid)).toBe(0);
  });

  test.each([
    { status: 'absent' as const, errorCode: '16102', reason: /silent/ },
    { status: 'failed' as const, errorCode: undefined, reason: /failed/ },
  ])(
    'a callback with RecordingStatus=$status is recorded with a note, and nothing is fetched or stored',
    async ({ status: recordingStatus, errorCode, reason }) => {
      const { callId, callSid } = await knownCall();
      const recordingSid = newRecordingSid();

      const response = await stack.postCallback(
        callback(callSid, recordingSid, { status: recordingStatus, errorCode: errorCode ?? '0', duration: 0 }),
      );

      expect(response.status).toBe(204);
      const item = await stack.waitForEntry(callId, recordingSid, recordingStatus);
      expect(item.recordings?.[recordingSid]).toMatchObject({
        status: recordingStatus,
        error: expect.stringMatching(reason),
        startedAt: '2024-07-22T17:00:00.000Z',
        ...(errorCode ? { errorCode } : {}),
      });
      expect(item.recordings?.[recordingSid]?.key).toBeUndefined();
      expect(item.recordingStatus).toBe(recordingStatus);
      expect(item.recordingKey).toBeUndefined();
      expect(notesAbout(item, recordingSid)).toHaveLength(1);
      expect(notesAbout(item, recordingSid)[0]).toContain(recordingStatus);
      await stack.waitForQueueDrained();
      expect(await stack.listKeys(`recordings/2024/07/${callId}/`)).toEqual([]);
      expect(requestsFor(recordingSid)).toBe(0);
      expect((await stack.playback(callId)).status).toBe(404);
      const list = await stack.playback(callId, { list: true });
      expect(list.status).toBe(200);
      expect(list.json).toEqual({ callId, recordings: [] });
    },
  );

  test('the same absent callback delivered twice leaves one entry and one note', async () => {
    const { callId, callSid } = await knownCall();
    const recordingSid = newRecordingSid();
    const params = callback(callSid, recordingSid, { status: 'absent', errorCode: '16101', duration: 0 });

    expect((await stack.postCallback(params)).status).toBe(204);
    const first = await stack.waitForEntry(callId, recordingSid, 'absent');
    expect((await stack.postCallback(params)).status).toBe(204);
    await stack.waitForQueueDrained();

    const second = await stack.getCall(callId);
    expect(second?.recordings).toEqual(first.recordings);
    expect(notesAbout(second, recordingSid)).toEqual(notesAbout(first, recordingSid));
    expect(notesAbout(second, recordingSid)).toHaveLength(1);
  });
});

describe('a transfer that Twilio interrupts', () => {
  test.each([
    { name: 'a 404 while Twilio finishes the media', responses: [status(404)], requests: 2 },
    { name: 'two 5xx answers', responses: [status(503), status(500)], requests: 3 },
    { name: 'a 429 throttle', responses: [status(429)], requests: 2 },
    { name: 'a connection reset mid-stream', responses: [reset(256 * 1024)], requests: 2 },
    { name: 'a chunked stream cut short', responses: [reset(256 * 1024, true)], requests: 2 },
  ])(
    'is retried after $name and stores the exact recording',
    async ({ responses, requests }) => {
      const { callId, callSid } = await knownCall();
      const recordingSid = newRecordingSid();
      const audio = stub.addRecording({ sid: recordingSid, size: 1024 * 1024 + 123, responses }).media;
      const key = expectedKey(callId, recordingSid);

      expect((await stack.postCallback(callback(callSid, recordingSid))).status).toBe(204);

      const item = await stack.waitForEntry(callId, recordingSid, 'stored', 45_000);
      const stored = await stack.objectBytes(key);
      expect(stored.length).toBe(audio.length);
      expect(stored.equals(audio)).toBe(true);
      expect(item.recordings?.[recordingSid]?.sizeBytes).toBe(audio.length);
      expect(notesAbout(item, recordingSid)).toEqual([]);
      expect(stub.mediaRequests(recordingSid)).toHaveLength(requests);
      expect(await stack.listKeys(`recordings/2024/07/${callId}/`)).toEqual([{ key, size: audio.length }]);
    },
    60_000,
  );

  test('is dead-lettered and marked failed with the reason when Twilio keeps answering 5xx', async () => {
    const { callId, callSid } = await knownCall();
    const recordingSid = newRecordingSid();
    stub.addRecording({ sid: recordingSid, size: 10_000, otherwise: status(500) });

    expect((await stack.postCallback(callback(callSid, recordingSid))).status).toBe(204);

    const dead = await stack.takeDeadLetter(recordingSid, 60_000);
    expect(dead.job).toMatchObject({ recordingSid, callSid, accountSid: ACCOUNT_SID, status: 'completed' });
    const item = await stack.waitForEntry(callId, recordingSid, 'failed');
    expect(item.recordings?.[recordingSid]).toMatchObject({
      status: 'failed',
      errorCode: 'twilio-500',
      error: expect.stringContaining('500'),
    });
    expect(item.recordingStatus).toBe('failed');
    expect(notesAbout(item, recordingSid)).toHaveLength(1);
    expect(stub.mediaRequests(recordingSid)).toHaveLength(MAX_ATTEMPTS);
    expect(await stack.listKeys(`recordings/2024/07/${callId}/`)).toEqual([]);
  }, 90_000);

  test('is marked failed on its first attempt, after one media request, and dead-lettered when Twilio refuses the credentials (401)', async () => {
    const { callId, callSid } = await knownCall();
    const recordingSid = newRecordingSid();
    stub.addRecording({ sid: recordingSid, size: 10_000, otherwise: status(401) });

    expect((await stack.postCallback(callback(callSid, recordingSid))).status).toBe(204);

    const dead = await stack.takeDeadLetter(recordingSid, 60_000);
    expect(dead.job).toMatchObject({ recordingSid });
    // Permanent: given up on the first receive, not after the retries a 5xx gets.
    expect(dead.message.MessageAttributes?.attempts?.StringValue).toBe('1');
    expect(dead.message.MessageAttributes?.errorCode?.StringValue).toBe('twilio-401');
    await stack.waitForQueueDrained();
    expect(stub.count('media', recordingSid)).toBe(1);
    const item = await stack.waitForEntry(callId, recordingSid, 'failed');
    expect(item.recordings?.[recordingSid]).toMatchObject({
      status: 'failed',
      errorCode: 'twilio-401',
      error: expect.stringContaining('401'),
    });
    expect(item.recordingStatus).toBe('failed');
    // One failure, one line: receives that change nothing must not repeat the note.
    expect(notesAbout(item, recordingSid)).toHaveLength(1);
    expect(await stack.listKeys(`recordings/2024/07/${callId}/`)).toEqual([]);
  }, 90_000);
});

describe('duplicate deliveries', () => {
  test('the same callback delivered five times at once stores one object and one entry', async () => {
    const { callId, callSid } = await knownCall();
    const recordingSid = newRecordingSid();
    const audio = stub.addRecording({ sid: recordingSid, size: 500_000 }).media;
    const params = callback(callSid, recordingSid);

    const responses = await Promise.all(Array.from({ length: 5 }, () => stack.postCallback(params)));

    expect(responses.map((r) => r.status)).toEqual([204, 204, 204, 204, 204]);
    await stack.waitForEntry(callId, recordingSid, 'stored');
    await stack.waitForQueueDrained(45_000);
    const item = await stack.getCall(callId);
    expect(Object.keys(item?.recordings ?? {})).toEqual([recordingSid]);
    expect(item?.recordings?.[recordingSid]?.status).toBe('stored');
    expect(notesAbout(item, recordingSid)).toEqual([]);
    const keys = await stack.listKeys(`recordings/2024/07/${callId}/`);
    expect(keys).toEqual([{ key: expectedKey(callId, recordingSid), size: audio.length }]);
    expect((await stack.objectBytes(expectedKey(callId, recordingSid))).equals(audio)).toBe(true);
    expect(stub.count('media', recordingSid)).toBeGreaterThanOrEqual(1);
    expect(stub.count('media', recordingSid)).toBeLessThanOrEqual(5);
    expect(await stack.deadLettersFor(new Set([recordingSid]))).toEqual([]);
    console.log(`5x duplicate: Twilio media requests: ${stub.count('media', recordingSid)}`);
  }, 90_000);

  test('a callback delivered again during a long transfer neither fails the recording nor dead-letters it', async () => {
    const { callId, callSid } = await knownCall();
    const recordingSid = newRecordingSid();
    // About 6.4 s per download: longer than the claim's lease locally (the visibility timeout, 5 s) and
    // than the first retries of a duplicate (1 + 2 s).
    const audio = stub.addRecording({ sid: recordingSid, size: 200 * 1024, otherwise: slow(8 * 1024, 250) }).media;
    const params = callback(callSid, recordingSid);

    expect((await stack.postCallback(params)).status).toBe(204);
    await waitFor('the first download to start', () => (stub.bytesSent(recordingSid) > 0 ? true : undefined));
    expect((await stack.postCallback(params)).status).toBe(204);

    const item = await stack.waitForEntry(callId, recordingSid, 'stored', 60_000);
    await stack.waitForQueueDrained(45_000);
    const after = await stack.getCall(callId);
    expect(after?.recordings?.[recordingSid]?.status).toBe('stored');
    expect(after?.recordingStatus).toBe('stored');
    expect(notesAbout(after, recordingSid)).toEqual([]);
    expect(await stack.deadLettersFor(new Set([recordingSid]))).toEqual([]);
    expect((await stack.objectBytes(expectedKey(callId, recordingSid))).equals(audio)).toBe(true);
    expect(item.recordings?.[recordingSid]?.sizeBytes).toBe(audio.length);
    console.log(`duplicate during a long transfer: Twilio media requests ${stub.count('media', recordingSid)}`);
  }, 150_000);
});

describe('the webhook rejects, through the real HTTP server,', () => {
  const otherToken = randomBytes(16).toString('hex');
  const cases: {
    name: string;
    expected: number;
    send: (callSid: string, recordingSid: string) => ReturnType<LocalStack['postCallback']>;
  }[] = [
    {
      name: 'a callback signed with another token (403)',
      expected: 403,
      send: (c, r) => stack.postCallback(callback(c, r), { signature: stack.sign(callback(c, r), otherToken) }),
    },
    {
      name: 'a callback without X-Twilio-Signature (403)',
      expected: 403,
      send: (c, r) => stack.postCallback(callback(c, r), { signature: null }),
    },
    {
      name: 'a signed callback whose parameters were altered (403)',
      expected: 403,
      send: (c, r) =>
        stack.postCallback({ ...callback(c, r), RecordingDuration: '9999' }, { signature: stack.sign(callback(c, r)) }),
    },
    {
      name: 'a correctly signed callback for another account (403)',
      expected: 403,
      send: (c, r) => stack.postCallback({ ...callback(c, r), AccountSid: newAccountSid() }),
    },
    {
      name: 'a signed callback without a RecordingSid (400)',
      expected: 400,
      send: (c, r) => {
        const { RecordingSid: _omitted, ...params } = callback(c, r);
        return stack.postCallback(params);
      },
    },
    {
      name: 'a signed callback with a malformed CallSid (400)',
      expected: 400,
      send: (c, r) => stack.postCallback({ ...callback(c, r), CallSid: `${c}'; DROP` }),
    },
    {
      name: 'a JSON body (415)',
      expected: 415,
      send: (c, r) =>
        stack.request('POST', '/twilio/recording', {
          headers: { 'content-type': 'application/json', 'x-twilio-signature': stack.sign(callback(c, r)) },
          body: JSON.stringify(callback(c, r)),
        }),
    },
    {
      name: 'a signed body over 64 KiB (413)',
      expected: 413,
      send: (c, r) => stack.postCallback({ ...callback(c, r), Padding: 'x'.repeat(70 * 1024) }),
    },
  ];

  test.each(cases)('$name, and nothing is queued, fetched or stored', async ({ expected, send }) => {
    const callSid = newCallSid();
    const recordingSid = newRecordingSid();
    stub.addRecording({ sid: recordingSid, size: 1_000 });

    const response = await send(callSid, recordingSid);

    expect(response.status).toBe(expected);
    expect(response.json).toEqual({ error: expect.any(String) });
    expect(response.text).not.toContain(AUTH_TOKEN);
    expect(response.text).not.toMatch(/\bat .+\.ts:\d+/);
    expect(await stack.queueDepth()).toBe(0);
    expect(await stack.getCall(callSid)).toBeUndefined();
    expect(await stack.listKeys(`recordings/2024/07/${callSid}/`)).toEqual([]);
    expect(requestsFor(recordingSid)).toBe(0);
  });
});

describe('playback', () => {
  test('answers 401 without the bearer token or with a wrong one, and hands out no URL', async () => {
    const { callId, callSid } = await knownCall();
    const recordingSid = newRecordingSid();
    stub.addRecording({ sid: recordingSid, size: 2_000 });
    await stack.postCallback(callback(callSid, recordingSid));
    await stack.waitForEntry(callId, recordingSid, 'stored');

    const anonymous = await stack.playback(callId, { token: null });
    const wrongToken = await stack.playback(callId, { token: 'not-the-token' });
    const anonymousList = await stack.playback(callId, { token: null, list: true });
    const anonymousRedirect = await stack.playback(callId, { token: null, redirect: true });

    for (const response of [anonymous, wrongToken, anonymousList, anonymousRedirect]) {
      expect(response.status).toBe(401);
      expect(response.headers.get('location')).toBeNull();
      expect(response.text).not.toContain('X-Amz-Signature');
      expect(response.text).not.toContain(recordingSid);
    }
    expect((await stack.playback(callId)).status).toBe(200);
  });

  test('answers 404 for an unknown call', async () => {
    const response = await stack.playback(`call-${randomBytes(6).toString('hex')}`);

    expect(response.status).toBe(404);
    expect(response.json).toEqual({ error: expect.any(String) });
  });
});

describe('a burst of callbacks', () => {
  test('300 callbacks at 25 in flight are all stored, each exactly once', async () => {
    const CALLS = 60;
    const PER_CALL = 5;
    const CONCURRENCY = 25;
    // A month no other case uses, so that the prefix holds the burst alone (start times before 2008 are ignored).
    const prefix = 'recordings/2019/01/';
    const calls = await mapLimit(
      Array.from({ length: CALLS }, (_, i) => i),
      10,
      () => knownCall(),
    );
    const jobs = calls.flatMap(({ callId, callSid }, c) =>
      Array.from({ length: PER_CALL }, (_, r) => {
        const recordingSid = newRecordingSid();
        const size = 2_048 + (((c * PER_CALL + r) * 37) % 4_096);
        const startTime = new Date(Date.UTC(2019, 0, 15, 10, c, r)).toUTCString().replace('GMT', '+0000');
        stub.addRecording({ sid: recordingSid, size });
        return { callId, callSid, recordingSid, size, startTime, key: expectedKey(callId, recordingSid, startTime) };
      }),
    );
    expect(jobs[0]?.key.startsWith(prefix)).toBe(true);

    const started = Date.now();
    const statuses = await mapLimit(jobs, CONCURRENCY, async (job) => {
      const response = await stack.postCallback(callback(job.callSid, job.recordingSid, { startTime: job.startTime }));
      return response.status;
    });
    const acceptedMs = Date.now() - started;
    await waitFor(
      'all 300 recordings in S3',
      async () => ((await stack.listKeys(prefix)).length >= jobs.length ? true : undefined),
      { timeoutMs: 180_000, intervalMs: 250 },
      async () => `objects so far: ${(await stack.listKeys(prefix)).length}\n${stack.logTail(2_000)}`,
    );
    const items = await waitFor(
      'all 300 entries stored',
      async () => {
        const all = await Promise.all(calls.map((c) => stack.getCall(c.callId)));
        const stored = all.flatMap((i) => Object.values(i?.recordings ?? {})).filter((e) => e.status === 'stored');
        return stored.length >= jobs.length ? all : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 250 },
    );
    const drainMs = Date.now() - started;
    await stack.waitForQueueDrained(60_000);

    expect(statuses.every((s) => s === 204)).toBe(true);
    const objects = await stack.listKeys(prefix);
    expect(objects).toHaveLength(jobs.length);
    expect(new Map(objects.map((o) => [o.key, o.size]))).toEqual(new Map(jobs.map((j) => [j.key, j.size])));
    const entries = items.flatMap((item) => Object.entries(item?.recordings ?? {}));
    expect(entries).toHaveLength(jobs.length);
    expect(entries.every(([, e]) => e.status === 'stored')).toBe(true);
    expect(new Set(entries.map(([, e]) => e.key))).toEqual(new Set(jobs.map((j) => j.key)));
    expect(items.flatMap((item) => item?.notes ?? [])).toEqual([]);
    for (const job of jobs.filter((_, i) => i % 30 === 0)) {
      expect((await stack.objectBytes(job.key)).equals(stub.recording(job.recordingSid).media)).toBe(true);
    }
    const fetches = jobs.map((j) => stub.count('media', j.recordingSid));
    expect(Math.min(...fetches)).toBeGreaterThanOrEqual(1);
    expect(stub.unauthorizedRequests()).toEqual([]);
    expect(await stack.deadLettersFor(new Set(jobs.map((j) => j.recordingSid)))).toEqual([]);

    console.log(
      `burst: ${jobs.length} callbacks (${CALLS} calls x ${PER_CALL}, 2-6 KiB each) at ${CONCURRENCY} in flight; ` +
        `all accepted in ${acceptedMs} ms; all stored (drained) in ${drainMs} ms ` +
        `(${((jobs.length * 1000) / drainMs).toFixed(1)} recordings/s); media fetches total ${fetches.reduce((a, b) => a + b, 0)}, ` +
        `max per recording ${Math.max(...fetches)}; stack startup ${stack.startupMs} ms`,
    );
  }, 300_000);
});
