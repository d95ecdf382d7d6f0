/**
 * The recordings-read Lambda against dynalite and s3rver: the presigned URL it hands out is
 * fetched for real. Seed case "URL generation fallback" → the object-deleted tests below.
 */
import '../../helpers/setup-env';
import { createHash } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DeleteObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import { createPlaybackHandler } from '../../../lambda/recordings-read/handler';
import { clientOverrides } from '../../../lambda/shared/runtime/endpoints';
import { createObservability } from '../../../lambda/shared/runtime/observability';
import { generateStorageKey } from '../../../lambda/shared/storage/recording-store';
import { mediaBytes } from '../../../lib/simulated-twilio';
import { CALLS_TABLE, type Emulators, LEDGER_TABLE, RECORDINGS_BUCKET, startEmulators } from '../../helpers/emulators';
import { httpApiEvent } from '../../helpers/events';
import { newCallSid, newRecordingSid } from '../../helpers/twilio-fixtures';

const TTL_SECONDS = 600;
let aws: Emulators;

beforeAll(async () => {
  aws = await startEmulators();
});

afterAll(async () => {
  await aws.stop();
});

function playbackHandler(ddb: DynamoDBDocumentClient = aws.ddb) {
  return createPlaybackHandler({
    config: {
      bucketName: RECORDINGS_BUCKET,
      tableName: CALLS_TABLE,
      ledgerTableName: LEDGER_TABLE,
      urlTtlSeconds: TTL_SECONDS,
    },
    s3: aws.s3,
    ddb,
    obs: createObservability('recordings-read-test'),
  });
}

/** The raw path as a client would send it; a lone surrogate cannot be percent-encoded. */
const pathSegment = (callId: string) => encodeURIComponent(callId.replace(/\p{Cs}/gu, '\ufffd'));

function latestEvent(callId: string, query?: Record<string, string>) {
  return httpApiEvent({
    path: `/calls/${pathSegment(callId)}/recording`,
    routeKey: 'GET /calls/{callId}/recording',
    pathParameters: { callId },
    queryStringParameters: query,
    rawQueryString: query ? new URLSearchParams(query).toString() : '',
  });
}

function listEvent(callId: string) {
  return httpApiEvent({
    path: `/calls/${pathSegment(callId)}/recordings`,
    routeKey: 'GET /calls/{callId}/recordings',
    pathParameters: { callId },
  });
}

interface StoredRecording {
  readonly recordingSid: string;
  readonly key: string;
  readonly audio: Buffer;
  readonly startedAt: string;
}

/** Puts the object in S3 and returns the `recordings` entry the transfer would have written. */
async function storeObject(callId: string, startedAt: string, size: number, seed = 0): Promise<StoredRecording> {
  const recordingSid = newRecordingSid();
  const key = generateStorageKey(callId, recordingSid, startedAt, 'mp3');
  const audio = mediaBytes(`${recordingSid}:${seed}`, size);
  await aws.s3.send(
    new PutObjectCommand({
      Bucket: RECORDINGS_BUCKET,
      Key: key,
      Body: audio,
      ContentType: 'audio/mpeg',
      Metadata: { 'recording-sid': recordingSid },
    }),
  );
  return { recordingSid, key, audio, startedAt };
}

function entry(recording: StoredRecording, durationSeconds = 42) {
  return {
    status: 'stored',
    bucket: RECORDINGS_BUCKET,
    key: recording.key,
    contentType: 'audio/mpeg',
    sizeBytes: recording.audio.length,
    sha256: createHash('sha256').update(recording.audio).digest('hex'),
    durationSeconds,
    channels: 2,
    startedAt: recording.startedAt,
    storedAt: recording.startedAt,
  };
}

/** The ledger item the transfer writes for a stored recording (`entry` is its call entry). */
async function putLedger(recordingSid: string, callId: string, callSid: string, entry: Record<string, unknown>) {
  const startedAt = String(entry.startedAt);
  await aws.ddb.send(
    new PutCommand({
      TableName: LEDGER_TABLE,
      Item: { ...entry, recordingSid, callId, callSid, day: startedAt.slice(0, 10), updatedAt: startedAt },
    }),
  );
}

/** The call item and, for each stored entry, its ledger item: what the transfer leaves behind. */
async function putCall(
  callId: string,
  recordings: Record<string, Record<string, unknown>>,
  extra: Record<string, unknown> = {},
) {
  const callSid = newCallSid();
  await aws.putItem({ callId, twilioCallSid: callSid, recordings, ...extra });
  for (const [recordingSid, recorded] of Object.entries(recordings)) {
    if (recorded.status === 'stored') await putLedger(recordingSid, callId, callSid, recorded);
  }
}

function body(response: { body?: string }): Record<string, unknown> {
  return JSON.parse(response.body ?? '{}') as Record<string, unknown>;
}

async function download(url: string): Promise<{ status: number; bytes: Buffer; contentType: string | null }> {
  const response = await fetch(url);
  return {
    status: response.status,
    bytes: Buffer.from(await response.arrayBuffer()),
    contentType: response.headers.get('content-type'),
  };
}

const newCallId = () => `call-${newCallSid().slice(2, 14)}`;

describe('GET /calls/{callId}/recording', () => {
  it('answers a presigned URL that downloads the stored bytes, with the recording details', async () => {
    const callId = newCallId();
    const recording = await storeObject(callId, '2024-07-22T17:00:00.000Z', 4096);
    await putCall(callId, { [recording.recordingSid]: entry(recording) });
    const before = Date.now();

    const response = await playbackHandler()(latestEvent(callId));

    expect(response.statusCode).toBe(200);
    expect(response.headers).toMatchObject({ 'content-type': 'application/json', 'cache-control': 'no-store' });
    const payload = body(response);
    expect(payload).toEqual({
      callId,
      recordingSid: recording.recordingSid,
      url: expect.any(String),
      expiresAt: expect.any(String),
      contentType: 'audio/mpeg',
      durationSeconds: 42,
      sizeBytes: 4096,
      sha256: createHash('sha256').update(recording.audio).digest('hex'),
      startedAt: recording.startedAt,
      encryption: null,
    });
    const expiresAt = Date.parse(String(payload.expiresAt));
    expect(expiresAt).toBeGreaterThanOrEqual(before + TTL_SECONDS * 1000 - 1000);
    expect(expiresAt).toBeLessThanOrEqual(Date.now() + TTL_SECONDS * 1000 + 1000);
    const url = new URL(String(payload.url));
    expect(url.searchParams.get('X-Amz-Expires')).toBe(String(TTL_SECONDS));
    const downloaded = await download(url.toString());
    expect(downloaded.status).toBe(200);
    expect(downloaded.bytes.equals(recording.audio)).toBe(true);
  });

  it('answers the recording that started last', async () => {
    const callId = newCallId();
    const earlier = await storeObject(callId, '2024-07-22T17:00:00.000Z', 100);
    const later = await storeObject(callId, '2024-07-22T17:30:00.000Z', 200);
    await putCall(callId, { [later.recordingSid]: entry(later), [earlier.recordingSid]: entry(earlier) });

    const payload = body(await playbackHandler()(latestEvent(callId)));

    expect(payload.recordingSid).toBe(later.recordingSid);
    expect((await download(String(payload.url))).bytes.equals(later.audio)).toBe(true);
  });

  it('redirects to the presigned URL with ?redirect=true', async () => {
    const callId = newCallId();
    const recording = await storeObject(callId, '2024-07-22T17:00:00.000Z', 256);
    await putCall(callId, { [recording.recordingSid]: entry(recording) });

    const response = await playbackHandler()(latestEvent(callId, { redirect: 'true' }));

    expect(response.statusCode).toBe(302);
    expect(response.body).toBe('');
    const location = String(response.headers?.location);
    expect(location).toContain(recording.key);
    expect((await download(location)).bytes.equals(recording.audio)).toBe(true);
  });

  it('still plays a legacy item that has only recordingKey, by its ledger item', async () => {
    const callId = newCallId();
    const callSid = newCallSid();
    const recording = await storeObject(callId, '2023-01-05T09:00:00.000Z', 512);
    await aws.putItem({ callId, twilioCallSid: callSid, recordingKey: recording.key, recordingDurationSeconds: 30 });
    await putLedger(recording.recordingSid, callId, callSid, { ...entry(recording, 30), sizeBytes: undefined });

    const response = await playbackHandler()(latestEvent(callId));

    expect(response.statusCode).toBe(200);
    const payload = body(response);
    expect(payload).toMatchObject({
      callId,
      recordingSid: recording.recordingSid,
      durationSeconds: 30,
      sizeBytes: 512,
      contentType: 'audio/mpeg',
    });
    expect((await download(String(payload.url))).bytes.equals(recording.audio)).toBe(true);
  });

  it('presigns the key the ledger holds, whatever key the call entry names', async () => {
    const callId = newCallId();
    const own = await storeObject(callId, '2024-07-22T17:00:00.000Z', 100, 1);
    const otherCall = newCallId();
    const other = await storeObject(otherCall, '2024-07-22T17:00:00.000Z', 200, 2);
    await putCall(otherCall, { [other.recordingSid]: entry(other) });
    await putCall(callId, { [own.recordingSid]: entry(own) });
    await aws.putItem({
      ...(await aws.getItem(callId)),
      recordings: { [own.recordingSid]: { ...entry(own), key: other.key } },
      recordingKey: other.key,
    });

    const payload = body(await playbackHandler()(latestEvent(callId)));

    expect(payload.recordingSid).toBe(own.recordingSid);
    expect((await download(String(payload.url))).bytes.equals(own.audio)).toBe(true);
  });

  it('plays no recording the ledger does not hold as stored for this call', async () => {
    const callId = newCallId();
    const unledgered = await storeObject(callId, '2024-07-22T17:00:00.000Z', 100, 1);
    const otherCall = newCallId();
    const others = await storeObject(otherCall, '2024-07-22T17:10:00.000Z', 200, 2);
    await putCall(otherCall, { [others.recordingSid]: entry(others) });
    await aws.putItem({
      callId,
      twilioCallSid: newCallSid(),
      recordings: { [unledgered.recordingSid]: entry(unledgered), [others.recordingSid]: entry(others) },
    });

    const latest = await playbackHandler()(latestEvent(callId));
    const listed = await playbackHandler()(listEvent(callId));

    expect(latest.statusCode).toBe(404);
    expect(body(listed)).toEqual({ callId, recordings: [] });
  });

  it('plays no ledger key that is not the form the transfer writes for this call and recording', async () => {
    const callId = newCallId();
    const recording = await storeObject(callId, '2024-07-22T17:00:00.000Z', 100);
    const callSid = newCallSid();
    await aws.putItem({ callId, twilioCallSid: callSid, recordings: { [recording.recordingSid]: entry(recording) } });
    const otherCall = newCallId();
    const other = await storeObject(otherCall, '2024-07-22T17:00:00.000Z', 200, 2);
    await putLedger(recording.recordingSid, callId, callSid, { ...entry(recording), key: other.key });

    const response = await playbackHandler()(latestEvent(callId));

    expect(response.statusCode).toBe(404);
  });

  it('answers 404 for an unknown call', async () => {
    const response = await playbackHandler()(latestEvent(newCallId()));

    expect(response.statusCode).toBe(404);
    expect(body(response)).toEqual({ error: 'Call not found' });
  });

  it('answers 404 for a call without a stored recording', async () => {
    const callId = newCallId();
    await putCall(callId, {
      [newRecordingSid()]: { status: 'absent', errorCode: '16102', error: 'silent', startedAt: '2024-07-22T17:00:00Z' },
      [newRecordingSid()]: { status: 'transferring', claimId: 'x', leaseExpiresAt: 1 },
    });

    const response = await playbackHandler()(latestEvent(callId));

    expect(response.statusCode).toBe(404);
    expect(body(response)).toEqual({ error: 'No stored recording for this call' });
  });

  it('answers 404 when the stored object was deleted from S3', async () => {
    const callId = newCallId();
    const recording = await storeObject(callId, '2024-07-22T17:00:00.000Z', 64);
    await putCall(callId, { [recording.recordingSid]: entry(recording) });
    await aws.s3.send(new DeleteObjectCommand({ Bucket: RECORDINGS_BUCKET, Key: recording.key }));

    const response = await playbackHandler()(latestEvent(callId));

    expect(response.statusCode).toBe(404);
    expect(body(response)).toEqual({ error: 'No stored recording for this call' });
  });

  it('falls back to an earlier recording when the latest object is gone', async () => {
    const callId = newCallId();
    const earlier = await storeObject(callId, '2024-07-22T17:00:00.000Z', 100);
    const later = await storeObject(callId, '2024-07-22T17:30:00.000Z', 200);
    await putCall(callId, { [earlier.recordingSid]: entry(earlier), [later.recordingSid]: entry(later) });
    await aws.s3.send(new DeleteObjectCommand({ Bucket: RECORDINGS_BUCKET, Key: later.key }));

    const payload = body(await playbackHandler()(latestEvent(callId)));

    expect(payload.recordingSid).toBe(earlier.recordingSid);
    expect((await download(String(payload.url))).bytes.equals(earlier.audio)).toBe(true);
  });

  it.each([
    ['a space', 'call 1'],
    ['an accented letter', 'café-1'],
    ['braces', '{3f2504e0-4f89-11d3-9a0c-0305e82c3301}'],
    ['a plus', 'call+1'],
    ['delimiters', 'a,b;c=d'],
    ['an emoji', '📞 call'],
    ['a slash', 'a/b'],
    ['a percent sign', '100%'],
    ['200 characters', 'x'.repeat(200)],
  ])('plays a recording stored under a call id with %s', async (_case, callId) => {
    const recording = await storeObject(callId, '2024-07-22T17:00:00.000Z', 128);
    await putCall(callId, { [recording.recordingSid]: entry(recording) });

    const latest = await playbackHandler()(latestEvent(callId));
    const listed = await playbackHandler()(listEvent(callId));

    expect(latest.statusCode).toBe(200);
    expect(body(latest)).toMatchObject({ callId, recordingSid: recording.recordingSid });
    expect((await download(String(body(latest).url))).bytes.equals(recording.audio)).toBe(true);
    expect(listed.statusCode).toBe(200);
    expect((body(listed).recordings as unknown[]).length).toBe(1);
  });

  it('looks up a call id of exactly 512 bytes of UTF-8', async () => {
    // Too long for an S3 key once encoded (the transfer refuses it), but a valid call to look up.
    const callId = 'é'.repeat(256);
    await putCall(callId, {});

    const response = await playbackHandler()(listEvent(callId));

    expect(response.statusCode).toBe(200);
    expect(body(response)).toEqual({ callId, recordings: [] });
  });

  it.each([
    ['an empty id', ''],
    ['more than 512 bytes', 'x'.repeat(513)],
    ['more than 512 bytes of UTF-8', 'é'.repeat(257)],
    ['a NUL', 'call\u00001'],
    ['a newline', 'call\n1'],
    ['a DEL', 'call\u007f'],
    ['a C1 control', 'call\u0085'],
    ['a lone surrogate', 'call\ud800'],
  ])('answers 404 to a call id with %s, without looking it up', async (_case, callId) => {
    const lookups = jest.fn();
    const watched = DynamoDBDocumentClient.from(new DynamoDBClient({ ...clientOverrides('DYNAMODB', aws.env) }));
    watched.middlewareStack.add(
      (next) => async (args) => {
        lookups();
        return next(args);
      },
      { step: 'initialize', name: 'watch' },
    );

    const response = await playbackHandler(watched)(latestEvent(callId));
    watched.destroy();

    expect(response.statusCode).toBe(404);
    expect(body(response)).toEqual({ error: 'Call not found' });
    expect(lookups).not.toHaveBeenCalled();
  });

  it.each([
    ['a path traversal', '../etc/passwd'],
    ['a slash', 'no/such/call'],
  ])('answers 404 to an unknown call id with %s', async (_case, callId) => {
    const response = await playbackHandler()(latestEvent(callId));

    expect(response.statusCode).toBe(404);
    expect(body(response)).toEqual({ error: 'Call not found' });
  });

  it('answers 500 without details when DynamoDB fails', async () => {
    const broken = new DynamoDBClient({ ...clientOverrides('DYNAMODB', aws.env) });
    broken.middlewareStack.add(
      () => async () => {
        throw new Error(`AccessDeniedException: arn:aws:iam::123456789012:role/secret-role`);
      },
      { step: 'initialize', name: 'fail' },
    );

    const response = await playbackHandler(DynamoDBDocumentClient.from(broken))(latestEvent(newCallId()));
    broken.destroy();

    expect(response.statusCode).toBe(500);
    expect(body(response)).toEqual({ error: 'Internal error' });
  });
});

describe('GET /calls/{callId}/recordings', () => {
  it('lists every stored recording, oldest first, each with a working URL', async () => {
    const callId = newCallId();
    const first = await storeObject(callId, '2024-07-22T17:00:00.000Z', 100);
    const second = await storeObject(callId, '2024-07-22T17:10:00.000Z', 200);
    const third = await storeObject(callId, '2024-07-22T17:20:00.000Z', 300);
    await putCall(callId, {
      [third.recordingSid]: entry(third, 30),
      [first.recordingSid]: entry(first, 10),
      [newRecordingSid()]: { status: 'failed', errorCode: 'twilio-500', error: 'x', startedAt: '2024-07-22T17:05:00Z' },
      [second.recordingSid]: entry(second, 20),
    });

    const response = await playbackHandler()(listEvent(callId));

    expect(response.statusCode).toBe(200);
    const payload = body(response) as { callId: string; recordings: Array<Record<string, unknown>> };
    expect(payload.callId).toBe(callId);
    expect(payload.recordings.map((r) => [r.recordingSid, r.durationSeconds, r.sizeBytes])).toEqual([
      [first.recordingSid, 10, 100],
      [second.recordingSid, 20, 200],
      [third.recordingSid, 30, 300],
    ]);
    for (const [index, recording] of [first, second, third].entries()) {
      const listed = payload.recordings[index];
      expect(listed).toMatchObject({ callId, contentType: 'audio/mpeg', expiresAt: expect.any(String) });
      expect((await download(String(listed?.url))).bytes.equals(recording.audio)).toBe(true);
    }
  });

  it('gives each listed recording its SHA-256, and none for an entry that lacks one', async () => {
    const callId = newCallId();
    const hashed = await storeObject(callId, '2024-07-22T17:00:00.000Z', 100, 1);
    const unhashed = await storeObject(callId, '2024-07-22T17:10:00.000Z', 200, 2);
    const { sha256: _none, ...withoutHash } = entry(unhashed);
    await putCall(callId, { [hashed.recordingSid]: entry(hashed), [unhashed.recordingSid]: withoutHash });

    const payload = body(await playbackHandler()(listEvent(callId))) as { recordings: Array<Record<string, unknown>> };

    expect(payload.recordings.map((r) => [r.recordingSid, r.sha256])).toEqual([
      [hashed.recordingSid, createHash('sha256').update(hashed.audio).digest('hex')],
      [unhashed.recordingSid, undefined],
    ]);
  });

  it('answers an empty list for a known call with nothing stored', async () => {
    const callId = newCallId();
    await putCall(callId, {});

    const response = await playbackHandler()(listEvent(callId));

    expect(response.statusCode).toBe(200);
    expect(body(response)).toEqual({ callId, recordings: [] });
  });

  it('leaves out a recording whose object was deleted from S3', async () => {
    const callId = newCallId();
    const kept = await storeObject(callId, '2024-07-22T17:00:00.000Z', 100);
    const deleted = await storeObject(callId, '2024-07-22T17:30:00.000Z', 200);
    await putCall(callId, { [kept.recordingSid]: entry(kept), [deleted.recordingSid]: entry(deleted) });
    await aws.s3.send(new DeleteObjectCommand({ Bucket: RECORDINGS_BUCKET, Key: deleted.key }));

    const payload = body(await playbackHandler()(listEvent(callId))) as { recordings: Array<{ recordingSid: string }> };

    expect(payload.recordings.map((r) => r.recordingSid)).toEqual([kept.recordingSid]);
  });

  it('answers 404 for an unknown call', async () => {
    const response = await playbackHandler()(listEvent(newCallId()));

    expect(response.statusCode).toBe(404);
    expect(body(response)).toEqual({ error: 'Call not found' });
  });
});
