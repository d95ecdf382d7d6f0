/**
 * DELETE /calls/{callId}/recordings/{recordingSid} against dynalite and s3rver, with the product's
 * own writes (ledger claim → stored, call item projection) to set the scene. Twilio is a double
 * that records deletions. s3rver has neither versioning nor Object Lock: the 409 path runs with a
 * store double, and versioned-bucket paging and batching with a mocked S3 client.
 */
import '../../helpers/setup-env';
import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import {
  DeleteObjectsCommand,
  GetObjectRetentionCommand,
  ListObjectVersionsCommand,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { createErasureHandler, type ErasureRuntime } from '../../../lambda/erasure/handler';
import { createPlaybackHandler } from '../../../lambda/recordings-read/handler';
import { listRecordings, parseListingQuery } from '../../../lambda/recordings-read/listing';
import { CallsRepository } from '../../../lambda/shared/calls/calls';
import { CallsErasure } from '../../../lambda/shared/calls/calls-erasure';
import { eraseRecording } from '../../../lambda/shared/erasure/recording-erasure';
import { LedgerDayIndex } from '../../../lambda/shared/ledger/day-index';
import type { VaultEvent } from '../../../lambda/shared/ledger/events';
import { LateDays } from '../../../lambda/shared/ledger/late-days';
import { type LedgerItem, RecordingLedger } from '../../../lambda/shared/ledger/ledger';
import { LedgerErasure } from '../../../lambda/shared/ledger/ledger-erasure';
import { createObservability } from '../../../lambda/shared/runtime/observability';
import { generateStorageKey, type ObjectVersion, RecordingStore } from '../../../lambda/shared/storage/recording-store';
import type { TwilioApi } from '../../../lambda/shared/twilio/rest-api';
import { staticTokens } from '../../../lambda/shared/twilio/signature';
import { RetryableTransferError } from '../../../lambda/transfer/transfer-errors';
import { transferRecording } from '../../../lambda/transfer/transfer-recording';
import { createTransferRecordHandler } from '../../../lambda/transfer/transfer-records';
import { LEDGER_DAY_INDEX } from '../../../lib/local/config';
import { mediaBytes } from '../../../lib/simulated-twilio';
import {
  CALL_SID_INDEX,
  CALLS_TABLE,
  type Emulators,
  LEDGER_TABLE,
  RECORDINGS_BUCKET,
  startEmulators,
} from '../../helpers/emulators';
import { ERASURE_TEST_CONFIG } from '../../helpers/erasure-suite';
import { httpApiEvent, sqsRecord } from '../../helpers/events';
import { newCallSid, newRecordingSid, TEST_ACCOUNT_SID } from '../../helpers/twilio-fixtures';

const ROUTE = 'DELETE /calls/{callId}/recordings/{recordingSid}';
const NOW = new Date('2024-07-23T09:00:00.000Z');
const CALLER = 'arn:aws:sts::123456789012:assumed-role/privacy-officer/alice';

let aws: Emulators;
let ledger: RecordingLedger;
let calls: CallsRepository;
let ledgerErasure: LedgerErasure;
let callsErasure: CallsErasure;
let store: RecordingStore;
const published: VaultEvent[] = [];
let publishFails = 0;
const twilioDeletes: string[] = [];
let twilioDeleteFails = 0;

const obs = createObservability('erasure-test');
const twilio: TwilioApi = {
  async deleteRecording(recordingSid) {
    if (twilioDeleteFails > 0) {
      twilioDeleteFails--;
      throw new Error('Twilio answered 503');
    }
    twilioDeletes.push(recordingSid);
  },
  fetchRecordingAudio: async () => {
    throw new Error('no media in these tests');
  },
  getRecordingDetails: async () => {
    throw new Error('unused');
  },
  getCallDetails: async () => {
    throw new Error('unused');
  },
};
const events = {
  async publish(event: VaultEvent) {
    if (publishFails > 0) {
      publishFails--;
      throw new Error('EventBridge refused');
    }
    published.push(event);
  },
};

beforeAll(async () => {
  aws = await startEmulators();
  ledger = new RecordingLedger(aws.ddb, LEDGER_TABLE);
  calls = new CallsRepository(aws.ddb, CALLS_TABLE, CALL_SID_INDEX);
  ledgerErasure = new LedgerErasure(aws.ddb, LEDGER_TABLE);
  callsErasure = new CallsErasure(aws.ddb, CALLS_TABLE);
  store = new RecordingStore(aws.s3, RECORDINGS_BUCKET);
});

afterAll(async () => {
  await aws.stop();
});

beforeEach(() => {
  published.length = 0;
  twilioDeletes.length = 0;
  publishFails = 0;
  twilioDeleteFails = 0;
});

function erasureHandler(overrides: Partial<ErasureRuntime> = {}) {
  return createErasureHandler({
    config: ERASURE_TEST_CONFIG,
    tokens: staticTokens('unused'),
    s3: aws.s3,
    ddb: aws.ddb,
    twilio,
    events,
    obs,
    now: () => NOW,
    ...overrides,
  });
}

function deleteEvent(
  callId: string,
  recordingSid: string,
  authorizer: Record<string, unknown> | null = { iam: { userArn: CALLER } },
): APIGatewayProxyEventV2 {
  const event = httpApiEvent({
    method: 'DELETE',
    path: `/calls/${encodeURIComponent(callId)}/recordings/${recordingSid}`,
    routeKey: ROUTE,
    pathParameters: { callId, recordingSid },
  });
  if (authorizer) Object.assign(event.requestContext, { authorizer });
  return event;
}

async function erase(callId: string, recordingSid: string, runtime: Partial<ErasureRuntime> = {}) {
  const response = await erasureHandler(runtime)(deleteEvent(callId, recordingSid));
  return {
    status: response.statusCode,
    body: response.body ? (JSON.parse(response.body) as Record<string, unknown>) : {},
  };
}

function playbackHandler() {
  return createPlaybackHandler({
    config: { bucketName: RECORDINGS_BUCKET, tableName: CALLS_TABLE, ledgerTableName: LEDGER_TABLE, urlTtlSeconds: 60 },
    s3: aws.s3,
    ddb: aws.ddb,
    obs,
  });
}

async function playback(callId: string, list = false) {
  const path = `/calls/${callId}/${list ? 'recordings' : 'recording'}`;
  const response = await playbackHandler()(
    httpApiEvent({
      path,
      routeKey: `GET /calls/{callId}/${list ? 'recordings' : 'recording'}`,
      pathParameters: { callId },
    }),
  );
  return { status: response.statusCode, body: JSON.parse(response.body ?? '{}') as Record<string, unknown> };
}

async function givenCall(): Promise<{ callId: string; callSid: string }> {
  const callSid = newCallSid();
  const callId = `call-${callSid.slice(2, 14)}`;
  await aws.putItem({ callId, twilioCallSid: callSid, customerRef: 'cust-7', recordings: {} });
  return { callId, callSid };
}

interface Seeded {
  readonly recordingSid: string;
  readonly key: string;
  readonly startedAt: string;
  readonly durationSeconds: number;
}

/** A recording stored the way the transfer stores it: object, ledger claim → stored, call projection. */
async function givenStored(call: { callId: string; callSid: string }, startedAt: string, durationSeconds = 30) {
  const recordingSid = newRecordingSid();
  const key = generateStorageKey(call.callId, recordingSid, startedAt, 'mp3');
  const audio = mediaBytes(`audio-${durationSeconds}`, 2048);
  await aws.s3.send(
    new PutObjectCommand({ Bucket: RECORDINGS_BUCKET, Key: key, Body: audio, ContentType: 'audio/mpeg' }),
  );
  const claimId = randomUUID();
  const facts = {
    recordingSid,
    callId: call.callId,
    callSid: call.callSid,
    accountSid: TEST_ACCOUNT_SID,
    startedAt,
    durationSeconds,
    origin: 'callback' as const,
  };
  const claim = await ledger.claim(facts, claimId, 300, NOW);
  expect(claim.result).toBe('claimed');
  const copy = {
    bucket: RECORDINGS_BUCKET,
    key,
    contentType: 'audio/mpeg',
    sizeBytes: audio.length,
    sha256: 'f'.repeat(64),
  };
  const stored = await ledger.markStored(recordingSid, claimId, copy, NOW);
  expect(stored?.status).toBe('stored');
  await calls.markStored(
    call.callId,
    recordingSid,
    { status: 'stored', ...copy, durationSeconds, startedAt, storedAt: NOW.toISOString() },
    NOW,
  );
  return { recordingSid, key, startedAt, durationSeconds } satisfies Seeded;
}

/** A recording Twilio reported absent: ledger and call entry, no object. */
async function givenAbsent(call: { callId: string; callSid: string }, startedAt: string) {
  const recordingSid = newRecordingSid();
  const facts = { recordingSid, callId: call.callId, callSid: call.callSid, accountSid: TEST_ACCOUNT_SID, startedAt };
  await ledger.recordTwilioFailure(facts, { status: 'absent', errorCode: '16101', error: 'too short' }, NOW);
  await calls.markFailed(
    call.callId,
    recordingSid,
    { status: 'absent', errorCode: '16101', error: 'too short', startedAt },
    NOW,
  );
  return recordingSid;
}

/** The status of a recording's entry on its call item. */
async function entryStatus(callId: string, recordingSid: string): Promise<string | undefined> {
  const recordings = (await aws.getItem(callId))?.recordings as Record<string, { status: string }> | undefined;
  return recordings?.[recordingSid]?.status;
}

async function objectGone(key: string): Promise<boolean> {
  return (await aws.getObject(key)) === undefined;
}

function job(call: { callSid: string }, recordingSid: string, startedAt: string) {
  return {
    version: 1 as const,
    accountSid: TEST_ACCOUNT_SID,
    callSid: call.callSid,
    recordingSid,
    status: 'completed' as const,
    durationSeconds: 30,
    startedAt,
    receivedAt: NOW.toISOString(),
  };
}

/** What a redelivered callback, a redrive or the reconciler would do: run the transfer again. */
async function copyAgain(call: { callSid: string }, recordingSid: string, startedAt: string) {
  const fetched: string[] = [];
  const outcome = await transferRecording(job(call, recordingSid, startedAt), randomUUID(), {
    twilio: {
      ...twilio,
      fetchRecordingAudio: async (sid) => {
        fetched.push(sid);
        throw new Error('the transfer must not fetch an erased recording');
      },
    },
    store,
    ledger,
    lateDays: new LateDays(aws.ddb, LEDGER_TABLE),
    calls,
    events,
    format: 'mp3',
    deleteFromTwilioAfterCopy: false,
    leaseSeconds: 300,
    obs,
    now: () => NOW,
  });
  return { outcome, fetched };
}

describe('erasing one of two recordings', () => {
  test('removes it everywhere, leaves the other untouched and moves the latest fields and playback to it', async () => {
    const call = await givenCall();
    const older = await givenStored(call, '2024-07-22T17:00:00.000Z', 20);
    const newer = await givenStored(call, '2024-07-22T17:30:00.000Z', 45);
    expect((await playback(call.callId)).body.recordingSid).toBe(newer.recordingSid);

    const answer = await erase(call.callId, newer.recordingSid);

    expect(answer).toEqual({ status: 204, body: {} });
    expect(await objectGone(newer.key)).toBe(true);
    expect(await objectGone(older.key)).toBe(false);
    expect(await aws.getLedger(newer.recordingSid)).toMatchObject({
      status: 'erased',
      erasedAt: NOW.toISOString(),
      erasedBy: CALLER,
      deletedAtTwilioAt: NOW.toISOString(),
      erasedEventAt: NOW.toISOString(),
    });
    expect((await aws.getLedger(older.recordingSid))?.status).toBe('stored');
    const item = await aws.getItem(call.callId);
    const recordings = item?.recordings as Record<string, Record<string, unknown>>;
    expect(recordings[newer.recordingSid]).toEqual({
      status: 'erased',
      startedAt: newer.startedAt,
      durationSeconds: 45,
      erasedAt: NOW.toISOString(),
      erasedBy: CALLER,
    });
    expect(recordings[older.recordingSid]).toMatchObject({ status: 'stored', key: older.key });
    expect(item).toMatchObject({
      customerRef: 'cust-7',
      recordingKey: older.key,
      recordingDurationSeconds: 20,
      recordingStatus: 'stored',
      latestRecordingSid: older.recordingSid,
      latestRecordingStartedAt: older.startedAt,
    });
    expect(item?.notes).toEqual([`${NOW.toISOString()} recording ${newer.recordingSid} erased by ${CALLER}`]);
    expect(twilioDeletes).toEqual([newer.recordingSid]);
    expect(published).toEqual([
      {
        detailType: 'Recording Erased',
        detail: {
          recordingSid: newer.recordingSid,
          callId: call.callId,
          callSid: call.callSid,
          accountSid: TEST_ACCOUNT_SID,
          erasedAt: NOW.toISOString(),
          erasedBy: CALLER,
        },
      },
    ]);

    const latest = await playback(call.callId);
    expect(latest.status).toBe(200);
    expect(latest.body.recordingSid).toBe(older.recordingSid);
    const list = await playback(call.callId, true);
    expect((list.body.recordings as { recordingSid: string }[]).map((r) => r.recordingSid)).toEqual([
      older.recordingSid,
    ]);
  });

  test('erasing the older one leaves the latest fields on the newer one', async () => {
    const call = await givenCall();
    const older = await givenStored(call, '2024-07-22T17:00:00.000Z', 20);
    const newer = await givenStored(call, '2024-07-22T17:30:00.000Z', 45);

    expect((await erase(call.callId, older.recordingSid)).status).toBe(204);

    expect(await objectGone(older.key)).toBe(true);
    expect(await objectGone(newer.key)).toBe(false);
    expect(await aws.getItem(call.callId)).toMatchObject({
      recordingKey: newer.key,
      recordingDurationSeconds: 45,
      latestRecordingSid: newer.recordingSid,
    });
  });
});

describe('erasing the last recording of a call', () => {
  test('clears the latest fields; playback answers 404 and an empty list', async () => {
    const call = await givenCall();
    const only = await givenStored(call, '2024-07-22T17:00:00.000Z');

    expect((await erase(call.callId, only.recordingSid)).status).toBe(204);

    const item = await aws.getItem(call.callId);
    for (const field of [
      'recordingKey',
      'recordingDurationSeconds',
      'recordingStatus',
      'latestRecordingSid',
      'latestRecordingStartedAt',
    ]) {
      expect(item).not.toHaveProperty(field);
    }
    const latest = await playback(call.callId);
    expect(latest.status).toBe(404);
    expect(latest.body).toEqual({ error: 'No stored recording for this call' });
    expect((await playback(call.callId, true)).body).toEqual({ callId: call.callId, recordings: [] });
    expect(await objectGone(only.key)).toBe(true);
  });
});

describe('a recording that never stored', () => {
  test('an absent recording is erased too (ledger, call entry, Twilio, event)', async () => {
    const call = await givenCall();
    const recordingSid = await givenAbsent(call, '2024-07-22T17:00:00.000Z');

    expect((await erase(call.callId, recordingSid)).status).toBe(204);

    expect(await aws.getLedger(recordingSid)).toMatchObject({ status: 'erased', erasedBy: CALLER });
    const item = await aws.getItem(call.callId);
    expect(await entryStatus(call.callId, recordingSid)).toBe('erased');
    expect(item).not.toHaveProperty('recordingStatus');
    expect(item?.notes).toHaveLength(2); // the absence, then the erasure
    expect(twilioDeletes).toEqual([recordingSid]);
    expect(published.map((e) => e.detailType)).toEqual(['Recording Erased']);
  });

  test('an object a dead attempt left behind (ledger never said stored) is removed as well', async () => {
    const call = await givenCall();
    const startedAt = '2024-07-22T17:00:00.000Z';
    const recordingSid = await givenAbsent(call, startedAt);
    const orphan = generateStorageKey(call.callId, recordingSid, startedAt, 'wav');
    await aws.s3.send(new PutObjectCommand({ Bucket: RECORDINGS_BUCKET, Key: orphan, Body: mediaBytes('audio', 100) }));

    expect((await erase(call.callId, recordingSid)).status).toBe(204);
    expect(await objectGone(orphan)).toBe(true);
  });
});

describe('idempotence and refusals', () => {
  test('a second DELETE answers 204 and changes nothing: no second note, event or Twilio call', async () => {
    const call = await givenCall();
    const only = await givenStored(call, '2024-07-22T17:00:00.000Z');
    expect((await erase(call.callId, only.recordingSid)).status).toBe(204);
    const before = await aws.getItem(call.callId);

    const again = await erase(call.callId, only.recordingSid, { now: () => new Date(NOW.getTime() + 60_000) });

    expect(again.status).toBe(204);
    expect(await aws.getItem(call.callId)).toEqual(before);
    expect((await aws.getLedger(only.recordingSid))?.erasedAt).toBe(NOW.toISOString());
    expect(published).toHaveLength(1);
    expect(twilioDeletes).toEqual([only.recordingSid]);
  });

  test('404 for a recording of another call, an unknown call, an unknown or malformed SID; nothing removed', async () => {
    const mine = await givenCall();
    const other = await givenCall();
    const recording = await givenStored(other, '2024-07-22T17:00:00.000Z');

    for (const [callId, sid, message] of [
      [mine.callId, recording.recordingSid, 'Recording not found on this call'],
      ['no-such-call', recording.recordingSid, 'Call not found'],
      [mine.callId, newRecordingSid(), 'Recording not found on this call'],
      [other.callId, 'RE123', 'Recording not found on this call'],
      [other.callId, '../../etc', 'Recording not found on this call'],
    ] as const) {
      const answer = await erase(callId, sid);
      expect(answer).toEqual({ status: 404, body: { error: message } });
    }
    expect(await objectGone(recording.key)).toBe(false);
    expect((await aws.getLedger(recording.recordingSid))?.status).toBe('stored');
    expect(await entryStatus(other.callId, recording.recordingSid)).toBe('stored');
    expect(twilioDeletes).toEqual([]);
    expect(published).toEqual([]);
  });

  test('409 while a copy holds a live claim; nothing is touched', async () => {
    const call = await givenCall();
    const recordingSid = newRecordingSid();
    const startedAt = '2024-07-22T17:00:00.000Z';
    const facts = {
      recordingSid,
      callId: call.callId,
      callSid: call.callSid,
      accountSid: TEST_ACCOUNT_SID,
      startedAt,
      origin: 'callback' as const,
    };
    await ledger.claim(facts, randomUUID(), 300, NOW);
    await calls.markTransferring(call.callId, recordingSid, startedAt, NOW);

    const answer = await erase(call.callId, recordingSid);

    expect(answer.status).toBe(409);
    expect(answer.body.error).toMatch(/copy of this recording is in progress/);
    expect((await aws.getLedger(recordingSid))?.status).toBe('transferring');

    // Once the lease has run out (the copy died), the erasure goes ahead.
    const later = { now: () => new Date(NOW.getTime() + 301_000) };
    expect((await erase(call.callId, recordingSid, later)).status).toBe(204);
    expect((await aws.getLedger(recordingSid))?.status).toBe('erased');
  });

  test('a copy attempt that failed and waits for its retry holds no claim: DELETE erases at once, the retry copies nothing', async () => {
    const call = await givenCall();
    const recordingSid = newRecordingSid();
    const startedAt = '2024-07-22T17:00:00.000Z';
    const delays: number[] = [];
    const fetched: string[] = [];
    const handleRecord = createTransferRecordHandler({
      twilio: {
        ...twilio,
        fetchRecordingAudio: async (sid) => {
          fetched.push(sid);
          throw new RetryableTransferError('Twilio answered 503', 'twilio-unavailable');
        },
      },
      store,
      ledger,
      lateDays: new LateDays(aws.ddb, LEDGER_TABLE),
      calls,
      events,
      format: 'mp3',
      deleteFromTwilioAfterCopy: false,
      leaseSeconds: 300,
      obs,
      now: () => NOW,
      queue: {
        enqueue: async () => undefined,
        delayRetry: async (_handle, seconds) => void delays.push(seconds),
        deadLetter: async () => undefined,
      },
      maxAttempts: 5,
      retryBaseSeconds: 30,
    });
    const record = sqsRecord(job(call, recordingSid, startedAt), { receiveCount: 1 });

    await expect(handleRecord(record)).rejects.toThrow(/503/);
    expect(delays).toEqual([30]);
    expect((await aws.getLedger(recordingSid))?.status).toBe('transferring');

    // A second later, well inside the lease the attempt took: nothing runs, so nothing is in the way.
    const answer = await erase(call.callId, recordingSid, { now: () => new Date(NOW.getTime() + 1000) });
    expect(answer.status).toBe(204);
    expect((await aws.getLedger(recordingSid))?.status).toBe('erased');

    // The retry finds the recording erased and fetches nothing.
    await expect(handleRecord(sqsRecord(job(call, recordingSid, startedAt), { receiveCount: 2 }))).resolves.toEqual({
      result: 'erased',
      callId: call.callId,
    });
    expect(fetched).toEqual([recordingSid]);
  });

  test('erasedBy: the IAM principal ARN, else the JWT sub, else the local default; no caller is a 403', async () => {
    const call = await givenCall();
    const a = await givenStored(call, '2024-07-22T17:00:00.000Z');
    const b = await givenStored(call, '2024-07-22T17:10:00.000Z');
    const c = await givenStored(call, '2024-07-22T17:20:00.000Z');

    expect(
      (
        await erasureHandler()(
          deleteEvent(call.callId, a.recordingSid, { jwt: { claims: { sub: 'user-42', scope: 'recordings/erase' } } }),
        )
      ).statusCode,
    ).toBe(204);
    expect((await aws.getLedger(a.recordingSid))?.erasedBy).toBe('user-42');

    const refused = await erasureHandler()(deleteEvent(call.callId, b.recordingSid, null));
    expect(refused.statusCode).toBe(403);
    expect((await aws.getLedger(b.recordingSid))?.status).toBe('stored');

    expect(
      (await erasureHandler({ defaultPrincipal: 'local' })(deleteEvent(call.callId, b.recordingSid, null))).statusCode,
    ).toBe(204);
    expect((await aws.getLedger(b.recordingSid))?.erasedBy).toBe('local');

    expect(
      (await erasureHandler({ defaultPrincipal: 'local' })(deleteEvent(call.callId, c.recordingSid))).statusCode,
    ).toBe(204);
    expect((await aws.getLedger(c.recordingSid))?.erasedBy).toBe(CALLER);
  });

  test('a call item older than the ledger (only recordingKey, no map, no ledger item) is erased too', async () => {
    const callSid = newCallSid();
    const callId = `legacy-${callSid.slice(2, 10)}`;
    const recordingSid = newRecordingSid();
    const key = `recordings/2023/01/${callId}/${recordingSid}.mp3`;
    await aws.s3.send(new PutObjectCommand({ Bucket: RECORDINGS_BUCKET, Key: key, Body: mediaBytes('audio', 64) }));
    await aws.putItem({ callId, twilioCallSid: callSid, recordingKey: key, recordingDurationSeconds: 9 });

    expect((await erase(callId, recordingSid)).status).toBe(204);

    expect(await objectGone(key)).toBe(true);
    expect(await aws.getLedger(recordingSid)).toMatchObject({ status: 'erased', callId, callSid, key });
    const item = await aws.getItem(callId);
    expect(item).not.toHaveProperty('recordingKey');
    expect(item?.recordings).toEqual({
      // Its start unknown, the ledger lists it under the time of its erasure; the entry says the same.
      [recordingSid]: { status: 'erased', erasedAt: NOW.toISOString(), erasedBy: CALLER, startedAt: NOW.toISOString() },
    });
    expect((await playback(callId)).status).toBe(404);
  });
});

describe("keys come from the ledger, never from the app's call item", () => {
  test("an entry that names another call's key erases the recording's own object and never that one", async () => {
    const a = await givenCall();
    const b = await givenCall();
    const own = await givenStored(a, '2024-07-22T17:00:00.000Z');
    const others = await givenStored(b, '2024-07-22T17:00:00.000Z');
    const item = await aws.getItem(a.callId);
    const recordings = item?.recordings as Record<string, Record<string, unknown>>;
    await aws.putItem({
      ...item,
      recordings: { [own.recordingSid]: { ...recordings[own.recordingSid], key: others.key } },
      recordingKey: others.key,
    });

    expect((await erase(a.callId, own.recordingSid)).status).toBe(204);

    expect(await objectGone(own.key)).toBe(true);
    expect(await objectGone(others.key)).toBe(false);
    expect(await aws.getLedger(others.recordingSid)).toMatchObject({ status: 'stored', key: others.key });
  });

  test("a call item older than the ledger that names another recording's key never erases that object", async () => {
    const b = await givenCall();
    const others = await givenStored(b, '2024-07-22T17:00:00.000Z');
    const callSid = newCallSid();
    const callId = `legacy-${callSid.slice(2, 10)}`;
    const recordingSid = newRecordingSid();
    await aws.putItem({
      callId,
      twilioCallSid: callSid,
      recordingKey: others.key.replace(others.recordingSid, recordingSid),
      recordings: { [recordingSid]: { status: 'stored', key: others.key, startedAt: others.startedAt } },
    });

    expect((await erase(callId, recordingSid)).status).toBe(204);

    expect(await objectGone(others.key)).toBe(false);
    expect((await aws.getLedger(recordingSid))?.key).toBeUndefined();
  });
});

describe('events never announce an erased recording as stored', () => {
  /** A transfer of a fresh recording whose call projection or event publication runs `during` first. */
  async function transferWith(
    call: { callId: string; callSid: string },
    recordingSid: string,
    hooks: { duringCallProjection?: () => Promise<void>; duringStoredEvent?: () => Promise<void> },
  ) {
    const startedAt = '2024-07-22T17:00:00.000Z';
    const audio = mediaBytes('audio', 4096);
    return transferRecording(job(call, recordingSid, startedAt), randomUUID(), {
      twilio: {
        ...twilio,
        fetchRecordingAudio: async () => ({
          body: Readable.from([audio]),
          contentType: 'audio/mpeg',
          contentLength: audio.length,
        }),
      },
      store,
      ledger,
      lateDays: new LateDays(aws.ddb, LEDGER_TABLE),
      calls: Object.assign(Object.create(calls) as CallsRepository, {
        async markStored(...args: Parameters<CallsRepository['markStored']>) {
          const during = hooks.duringCallProjection;
          hooks.duringCallProjection = undefined;
          await during?.();
          return calls.markStored(...args);
        },
      }),
      events: {
        async publish(event: VaultEvent) {
          const during = hooks.duringStoredEvent;
          if (event.detailType === 'Recording Stored' && during) {
            hooks.duringStoredEvent = undefined;
            await during();
          }
          return events.publish(event);
        },
      },
      format: 'mp3',
      deleteFromTwilioAfterCopy: false,
      leaseSeconds: 300,
      minBytesPerSecond: 0,
      obs,
      now: () => NOW,
    });
  }

  const announced = (recordingSid: string) =>
    published.filter((e) => e.detail.recordingSid === recordingSid).map((e) => e.detailType);

  test("an erasure between the ledger's stored write and the event: Recording Erased only", async () => {
    const call = await givenCall();
    const recordingSid = newRecordingSid();
    let erasure: Awaited<ReturnType<typeof erase>> | undefined;

    await transferWith(call, recordingSid, {
      duringCallProjection: async () => {
        expect((await aws.getLedger(recordingSid))?.status).toBe('stored');
        erasure = await erase(call.callId, recordingSid);
      },
    });

    expect(erasure?.status).toBe(204);
    expect((await aws.getLedger(recordingSid))?.status).toBe('erased');
    expect(announced(recordingSid)).toEqual(['Recording Erased']);
    expect(await entryStatus(call.callId, recordingSid)).toBe('erased');
  });

  test('a DELETE while Recording Stored is being sent waits for it (409); the next one erases', async () => {
    const call = await givenCall();
    const recordingSid = newRecordingSid();
    let during: Awaited<ReturnType<typeof erase>> | undefined;

    await transferWith(call, recordingSid, {
      duringStoredEvent: async () => {
        during = await erase(call.callId, recordingSid);
      },
    });

    expect(during?.status).toBe(409);
    expect((await aws.getLedger(recordingSid))?.status).toBe('stored');
    expect((await erase(call.callId, recordingSid)).status).toBe(204);
    expect(announced(recordingSid)).toEqual(['Recording Stored', 'Recording Erased']);
  });
});

describe('a ledger item the erasure creates is listed', () => {
  async function listed(
    from: string,
    to: string,
  ): Promise<{ recordingSid: string; status: string; startedAt: string }[]> {
    const index = new LedgerDayIndex(aws.ddb, LEDGER_TABLE, { dayIndexName: LEDGER_DAY_INDEX });
    const page = await listRecordings(parseListingQuery({ from, to, limit: '1000' }), { ledger: index });
    return page.recordings;
  }

  async function legacyCall(extra: Record<string, unknown> = {}) {
    const callSid = newCallSid();
    const callId = `legacy-${callSid.slice(2, 10)}`;
    const recordingSid = newRecordingSid();
    const key = `recordings/2023/01/${callId}/${recordingSid}.mp3`;
    await aws.putItem({ callId, twilioCallSid: callSid, recordingKey: key, ...extra });
    return { callId, recordingSid };
  }

  test("under the call's start when the call item knows it", async () => {
    const { callId, recordingSid } = await legacyCall({ callStartedAt: '2023-01-15T10:00:00.000Z' });

    expect((await erase(callId, recordingSid)).status).toBe(204);

    expect(await aws.getLedger(recordingSid)).toMatchObject({
      startedAt: '2023-01-15T10:00:00.000Z',
      day: '2023-01-15',
    });
    expect(await listed('2023-01-15', '2023-01-16')).toEqual([
      expect.objectContaining({ recordingSid, status: 'erased', startedAt: '2023-01-15T10:00:00.000Z' }),
    ]);
  });

  test('under the time of its erasure when nothing tells when it started', async () => {
    const { callId, recordingSid } = await legacyCall();

    expect((await erase(callId, recordingSid)).status).toBe(204);

    expect(await aws.getLedger(recordingSid)).toMatchObject({ startedAt: NOW.toISOString(), day: '2024-07-23' });
    const onThatDay = await listed('2024-07-23', '2024-07-24');
    expect(onThatDay.filter((r) => r.recordingSid === recordingSid)).toEqual([
      expect.objectContaining({ status: 'erased', startedAt: NOW.toISOString() }),
    ]);
  });
});

describe('an erasure cut short', () => {
  test('a Twilio failure answers 503 and leaves `erasing`; no copy gets past it; the next DELETE finishes', async () => {
    const call = await givenCall();
    const keep = await givenStored(call, '2024-07-22T16:00:00.000Z');
    const target = await givenStored(call, '2024-07-22T17:00:00.000Z');
    twilioDeleteFails = 1;

    const failed = await erase(call.callId, target.recordingSid);

    expect(failed.status).toBe(503);
    expect(failed.body).toEqual({
      error:
        'Could not delete the recording at Twilio; the erasure is recorded as in progress: send the same DELETE again to finish it',
    });
    expect(JSON.stringify(failed.body)).not.toMatch(/503|stack|\.ts/);
    expect((await aws.getLedger(target.recordingSid))?.status).toBe('erasing');
    expect(await objectGone(target.key)).toBe(true);
    expect(published).toEqual([]);

    // A replayed callback, a redrive or the reconciler: the claim refuses, nothing is fetched or written.
    const replay = await copyAgain(call, target.recordingSid, target.startedAt);
    expect(replay.outcome.result).toBe('erased');
    expect(replay.fetched).toEqual([]);
    expect(await objectGone(target.key)).toBe(true);

    const finished = await erase(call.callId, target.recordingSid);
    expect(finished.status).toBe(204);
    expect(await aws.getLedger(target.recordingSid)).toMatchObject({ status: 'erased', erasedBy: CALLER });
    expect(twilioDeletes).toEqual([target.recordingSid]);
    expect(published).toHaveLength(1);
    expect(await aws.getItem(call.callId)).toMatchObject({ latestRecordingSid: keep.recordingSid });

    // And after the erasure, too.
    const late = await copyAgain(call, target.recordingSid, target.startedAt);
    expect(late.outcome.result).toBe('erased');
    expect(late.fetched).toEqual([]);
    expect(await objectGone(target.key)).toBe(true);
    expect(await entryStatus(call.callId, target.recordingSid)).toBe('erased');
  });

  test('an S3 failure answers 503 without detail and leaves `erasing`; the next DELETE finishes', async () => {
    const call = await givenCall();
    const target = await givenStored(call, '2024-07-22T17:00:00.000Z');
    const broken = new S3Client({ region: 'us-east-1' });
    const s3 = mockClient(broken);
    s3.on(ListObjectVersionsCommand).resolves({
      Versions: [{ Key: target.key, VersionId: 'v1' }],
      IsTruncated: false,
    });
    s3.on(GetObjectRetentionCommand).rejects(
      Object.assign(new Error('no lock'), { name: 'NoSuchObjectLockConfiguration' }),
    );
    s3.on(DeleteObjectsCommand).rejects(Object.assign(new Error('secret internal detail'), { name: 'InternalError' }));

    const failed = await erase(call.callId, target.recordingSid, { s3: broken });

    expect(failed.status).toBe(503);
    expect(String(failed.body.error)).toMatch(/^Could not delete every version of the recording from S3; /);
    expect(JSON.stringify(failed.body)).not.toMatch(/secret internal detail|InternalError/);
    expect((await aws.getLedger(target.recordingSid))?.status).toBe('erasing');
    expect(await objectGone(target.key)).toBe(false);
    expect(twilioDeletes).toEqual([]);
    s3.restore();

    expect((await erase(call.callId, target.recordingSid)).status).toBe(204);
    expect(await objectGone(target.key)).toBe(true);
    expect((await aws.getLedger(target.recordingSid))?.status).toBe('erased');
  });

  test('an event that could not be sent answers 503; the next DELETE sends it once and answers 204', async () => {
    const call = await givenCall();
    const target = await givenStored(call, '2024-07-22T17:00:00.000Z');
    publishFails = 1;

    expect((await erase(call.callId, target.recordingSid)).status).toBe(503);
    const ledgerItem = (await aws.getLedger(target.recordingSid)) as unknown as LedgerItem & { erasedEventAt?: string };
    expect(ledgerItem.status).toBe('erased');
    expect(ledgerItem.erasedEventAt).toBeUndefined();
    expect(published).toEqual([]);

    expect((await erase(call.callId, target.recordingSid)).status).toBe(204);
    expect(published.map((e) => e.detailType)).toEqual(['Recording Erased']);
    expect((await erase(call.callId, target.recordingSid)).status).toBe(204);
    expect(published).toHaveLength(1);
  });
});

describe('Object Lock retention (store double: s3rver has no Object Lock)', () => {
  /** The real store for reads and writes the double does not take over. */
  function lockedStore(retainUntil: Date | undefined, deleted: ObjectVersion[][]) {
    return {
      bucket: RECORDINGS_BUCKET,
      async listObjectVersions(prefix: string) {
        const listed = await store.listObjectVersions(prefix);
        return {
          versioning: 's3' as const,
          versions: listed.versions.flatMap((v) => [
            { ...v, versionId: 'v2' },
            { ...v, versionId: 'v1' },
          ]),
        };
      },
      async objectRetention(_key: string, versionId?: string) {
        return retainUntil && versionId === 'v1' ? { mode: 'COMPLIANCE', retainUntil } : undefined;
      },
      async deleteObjectVersions(versions: readonly ObjectVersion[]) {
        deleted.push([...versions]);
        await store.deleteObjectVersions(versions.map((v) => ({ key: v.key, versionId: undefined })));
      },
    };
  }

  test('409 { error, retainUntil } while any version is retained, and nothing is erased', async () => {
    const call = await givenCall();
    const target = await givenStored(call, '2024-07-22T17:00:00.000Z');
    const retainUntil = new Date('2025-07-22T17:00:00.000Z');
    const deleted: ObjectVersion[][] = [];

    await expect(
      eraseRecording(
        { callId: call.callId, recordingSid: target.recordingSid, erasedBy: CALLER },
        {
          calls,
          callsErasure,
          ledger,
          ledgerErasure,
          store: lockedStore(retainUntil, deleted),
          twilio,
          events,
          obs,
          now: () => NOW,
        },
      ),
    ).rejects.toMatchObject({ statusCode: 409, retainUntil: '2025-07-22T17:00:00.000Z' });

    expect(deleted).toEqual([]);
    expect(await objectGone(target.key)).toBe(false);
    expect((await aws.getLedger(target.recordingSid))?.status).toBe('stored');
    expect(await entryStatus(call.callId, target.recordingSid)).toBe('stored');
    expect(twilioDeletes).toEqual([]);
    expect(published).toEqual([]);
  });

  test('the handler answers the 409 as JSON with retainUntil', async () => {
    const call = await givenCall();
    const target = await givenStored(call, '2024-07-22T17:00:00.000Z');
    const locked = lockedS3(target.key, '2030-01-01T00:00:00.000Z');
    const handler = erasureHandler({ s3: locked.client });

    const response = await handler(deleteEvent(call.callId, target.recordingSid));

    expect(response.statusCode).toBe(409);
    expect(JSON.parse(response.body ?? '')).toEqual({
      error: 'Object Lock retention forbids erasing this recording until 2030-01-01T00:00:00.000Z',
      retainUntil: '2030-01-01T00:00:00.000Z',
    });
    expect((await aws.getLedger(target.recordingSid))?.status).toBe('stored');
    expect(locked.mock.commandCalls(DeleteObjectsCommand)).toHaveLength(0);
    locked.mock.restore();
  });

  test('an expired retention does not stand in the way: every version goes', async () => {
    const call = await givenCall();
    const target = await givenStored(call, '2024-07-22T17:00:00.000Z');
    const deleted: ObjectVersion[][] = [];

    const result = await eraseRecording(
      { callId: call.callId, recordingSid: target.recordingSid, erasedBy: CALLER },
      {
        calls,
        callsErasure,
        ledger,
        ledgerErasure,
        store: lockedStore(new Date(NOW.getTime() - 1), deleted),
        twilio,
        events,
        obs,
        now: () => NOW,
      },
    );

    expect(result).toMatchObject({ result: 'erased', versionsDeleted: 2 });
    expect(deleted[0]?.map((v) => v.versionId)).toEqual(['v2', 'v1']);
    expect(await objectGone(target.key)).toBe(true);
  });
});

/** An S3 client whose GetObjectRetention says the key's only version is retained until `until`. */
function lockedS3(key: string, until: string) {
  const client = new S3Client({ region: 'us-east-1' });
  const mock = mockClient(client);
  mock.on(ListObjectVersionsCommand).resolves({ Versions: [{ Key: key, VersionId: 'v1' }], IsTruncated: false });
  mock.on(GetObjectRetentionCommand).resolves({ Retention: { Mode: 'GOVERNANCE', RetainUntilDate: new Date(until) } });
  mock.on(DeleteObjectsCommand).rejects(new Error('must not delete'));
  return { client, mock };
}

describe('RecordingStore on a versioned bucket (mocked S3)', () => {
  test('lists every page of versions and delete markers, and deletes them in batches of at most 1,000', async () => {
    const client = new S3Client({ region: 'us-east-1' });
    const s3 = mockClient(client);
    const key = 'recordings/2024/07/call-1/RE0123456789abcdef0123456789abcdef.mp3';
    const versions = Array.from({ length: 1500 }, (_, i) => ({ Key: key, VersionId: `v${i}` }));
    s3.on(ListObjectVersionsCommand, { KeyMarker: undefined })
      .resolves({
        Versions: versions.slice(0, 1000),
        DeleteMarkers: [{ Key: key, VersionId: 'dm1' }],
        IsTruncated: true,
        NextKeyMarker: key,
        NextVersionIdMarker: 'v999',
      })
      .on(ListObjectVersionsCommand, { KeyMarker: key, VersionIdMarker: 'v999' })
      .resolves({
        Versions: [...versions.slice(1000), { Key: `${key}.bak`, VersionId: 'x' }],
        IsTruncated: false,
      });
    s3.on(DeleteObjectsCommand).resolves({});
    const versioned = new RecordingStore(client, RECORDINGS_BUCKET);

    const listed = await versioned.listObjectVersions(key.slice(0, -3));
    expect(listed.versioning).toBe('s3');
    expect(listed.versions).toHaveLength(1502);
    expect(listed.versions.filter((v) => v.deleteMarker)).toEqual([{ key, versionId: 'dm1', deleteMarker: true }]);

    await versioned.deleteObjectVersions(listed.versions.filter((v) => v.key === key));
    const batches = s3.commandCalls(DeleteObjectsCommand).map((c) => c.args[0].input.Delete?.Objects ?? []);
    expect(batches.map((b) => b.length)).toEqual([1000, 501]);
    expect(batches.flat().every((o) => o.Key === key && o.VersionId)).toBe(true);
    s3.restore();
  });

  test('a version S3 refuses to delete (a legal hold) fails the deletion', async () => {
    const client = new S3Client({ region: 'us-east-1' });
    const s3 = mockClient(client);
    s3.on(DeleteObjectsCommand).resolves({
      Errors: [{ Key: 'k', VersionId: 'v1', Code: 'AccessDenied', Message: 'Access Denied' }],
    });
    await expect(
      new RecordingStore(client, RECORDINGS_BUCKET).deleteObjectVersions([{ key: 'k', versionId: 'v1' }]),
    ).rejects.toMatchObject({ name: 'ObjectDeletionError', codes: ['AccessDenied'] });
    s3.restore();
  });

  test('retention: none on a bucket without Object Lock, none on an unlocked object, the date on a locked one', async () => {
    const client = new S3Client({ region: 'us-east-1' });
    const s3 = mockClient(client);
    const versioned = new RecordingStore(client, RECORDINGS_BUCKET);
    s3.on(GetObjectRetentionCommand, { VersionId: 'a' }).rejects(
      Object.assign(new Error('Bucket is missing Object Lock Configuration'), { name: 'InvalidRequest' }),
    );
    s3.on(GetObjectRetentionCommand, { VersionId: 'b' }).rejects(
      Object.assign(new Error('The specified object does not have a ObjectLock configuration'), {
        name: 'NoSuchObjectLockConfiguration',
      }),
    );
    s3.on(GetObjectRetentionCommand, { VersionId: 'c' }).resolves({
      Retention: { Mode: 'COMPLIANCE', RetainUntilDate: new Date('2030-01-01T00:00:00Z') },
    });
    s3.on(GetObjectRetentionCommand, { VersionId: 'd' }).rejects(
      Object.assign(new Error('denied'), { name: 'AccessDenied' }),
    );
    expect(await versioned.objectRetention('k', 'a')).toBeUndefined();
    expect(await versioned.objectRetention('k', 'b')).toBeUndefined();
    expect(await versioned.objectRetention('k', 'c')).toEqual({
      mode: 'COMPLIANCE',
      retainUntil: new Date('2030-01-01T00:00:00Z'),
    });
    // Anything else is not "no retention": the erasure must not go ahead blind.
    await expect(versioned.objectRetention('k', 'd')).rejects.toMatchObject({ name: 'AccessDenied' });
    s3.restore();
  });
});
