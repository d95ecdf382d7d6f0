/**
 * The recording-transfer Lambda end to end in-process: the real handler factory with dynalite
 * (DynamoDB) and s3rver (S3) through the emulator client settings, the simulated Twilio,
 * and SQS mocked (ChangeMessageVisibility only). Each test uses fresh SIDs, so tests share
 * one table and one bucket.
 *
 * Seed cases (recording webhook test suite) and where they live: successful processing,
 * duration parsing, call not found, Twilio fetch failures, S3 upload failures, failed recording
 * status, unexpected errors, minimal payload, non-numeric duration → here; signature validation
 * → webhook.test.ts; URL generation fallback → playback.test.ts.
 */
import '../../helpers/setup-env';
import { createHash, randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { ChangeMessageVisibilityCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import type { RecordingJob } from '../../../lambda/shared/job/recording-job';
import type { VaultEvent } from '../../../lambda/shared/ledger/events';
import { LateDays } from '../../../lambda/shared/ledger/late-days';
import { type RecordingFacts, RecordingLedger } from '../../../lambda/shared/ledger/ledger';
import { clientOverrides } from '../../../lambda/shared/runtime/endpoints';
import { createObservability } from '../../../lambda/shared/runtime/observability';
import { createTwilioApi, type TwilioApi } from '../../../lambda/shared/twilio/rest-api';
import { staticTokens } from '../../../lambda/shared/twilio/signature';
import { createTransferHandler, type TransferRuntime } from '../../../lambda/transfer/handler';
import { parseRecordingCallback } from '../../../lambda/webhook/recording-callback';
import { deferred, mediaBytes, type SimulatedTwilio } from '../../../lib/simulated-twilio';
import { type Emulators, LEDGER_TABLE, RECORDINGS_BUCKET } from '../../helpers/emulators';
import { sqsEvent, sqsRecord } from '../../helpers/events';
import {
  resetTransferSqs,
  startTransferDoubles,
  TRANSFER_TEST_CONFIG,
  transferTestConfig,
} from '../../helpers/transfer-suite';
import {
  type CallbackOptions,
  minimalCallbackParams,
  newCallSid,
  newRecordingSid,
  recordingCallbackParams,
  TEST_ACCOUNT_SID,
  TEST_AUTH_TOKEN,
  withCallSid,
} from '../../helpers/twilio-fixtures';

const {
  transferQueueUrl: QUEUE_URL,
  deadLetterQueueUrl: DLQ_URL,
  maxAttempts: MAX_ATTEMPTS,
  retryBaseSeconds: RETRY_BASE_SECONDS,
} = TRANSFER_TEST_CONFIG;
const RECEIVED_AT = new Date('2024-07-22T17:05:00.000Z');

const sqs = mockClient(SQSClient);
const published: VaultEvent[] = [];
let aws: Emulators;
let stub: SimulatedTwilio;

beforeAll(async () => {
  [aws, stub] = await startTransferDoubles();
});

afterAll(async () => {
  sqs.restore();
  await Promise.all([aws.stop(), stub.close()]);
});

beforeEach(() => {
  published.length = 0;
  stub.reset();
  resetTransferSqs(sqs);
});

type ConfigOverrides = Partial<TransferRuntime['config']>;

function transferHandler(overrides: ConfigOverrides = {}, runtime: { s3?: S3Client; twilio?: TwilioApi } = {}) {
  return createTransferHandler({
    config: transferTestConfig(stub.baseUrl, overrides),
    tokens: staticTokens(TEST_AUTH_TOKEN),
    s3: runtime.s3 ?? aws.s3,
    ddb: aws.ddb,
    sqs: new SQSClient({ region: 'us-east-1' }),
    twilio: runtime.twilio,
    events: { publish: async (event) => void published.push(event) },
    // The fake audio here is a few bytes for a 42 s recording; the size floor has tests of its own.
    minBytesPerSecond: 0,
    obs: createObservability('recording-transfer-test'),
  });
}

/** A job exactly as the webhook would queue it for this callback (with its own jobId). */
function jobFor(options: CallbackOptions = {}, minimal = false): RecordingJob & { readonly callSid: string } {
  const params = minimal ? minimalCallbackParams(options) : recordingCallbackParams(options);
  return withCallSid(parseRecordingCallback(params, RECEIVED_AT, randomUUID()));
}

function keyFor(callId: string, job: RecordingJob, extension = 'mp3'): string {
  const started = new Date(job.startedAt);
  const month = String(started.getUTCMonth() + 1).padStart(2, '0');
  return `recordings/${started.getUTCFullYear()}/${month}/${callId}/${job.recordingSid}.${extension}`;
}

/** An app-owned call item, as the product writes it before any recording arrives. */
async function givenCall(callSid: string, extra: Record<string, unknown> = {}): Promise<string> {
  const callId = `call-${callSid.slice(2, 14)}`;
  await aws.putItem({ callId, twilioCallSid: callSid, from: '+14155550100', status: 'completed', ...extra });
  return callId;
}

function serve(job: RecordingJob, audio: Buffer): void {
  stub.addRecording({ sid: job.recordingSid, callSid: job.callSid, media: audio });
}

/** The media request the transfer sends: both channels asked of a two-channel recording. */
function mediaPath(job: RecordingJob, extension: 'mp3' | 'wav' = 'mp3'): string {
  return `${stub.recordingPath(job.recordingSid, extension)}${job.channels === 2 ? '?RequestedChannels=2' : ''}`;
}

function visibilityChanges() {
  return sqs.commandCalls(ChangeMessageVisibilityCommand).map((c) => c.args[0].input);
}

/** Jobs sent to the dead-letter queue, with the reason attributes. */
function deadLettered() {
  return sqs.commandCalls(SendMessageCommand).map((c) => c.args[0].input);
}

function failures(messageIds: string[]) {
  return { batchItemFailures: messageIds.map((itemIdentifier) => ({ itemIdentifier })) };
}

/** The keys stored under the call's folder for July 2024 (where these jobs' recordings go). */
async function storedKeys(callId: string): Promise<string[]> {
  const page = await aws.s3.send(
    new ListObjectsV2Command({ Bucket: RECORDINGS_BUCKET, Prefix: `recordings/2024/07/${callId}/` }),
  );
  return (page.Contents ?? []).map((o) => o.Key ?? '');
}

type Item = Record<string, unknown> & { recordings?: Record<string, Record<string, unknown>>; notes?: string[] };

async function item(callId: string): Promise<Item> {
  const found = (await aws.getItem(callId)) as Item | undefined;
  if (!found) throw new Error(`no item ${callId}`);
  return found;
}

describe('conference recordings', () => {
  /** A conference recording as Twilio calls back about it: ConferenceSid, no CallSid. */
  function conferenceJob(audio: Buffer, fields: Parameters<SimulatedTwilio['addRecording']>[0] = {}) {
    const recording = stub.addRecording({
      source: 'Conference',
      media: audio,
      startTime: new Date('2024-07-22T17:00:00.000Z'),
      ...fields,
    });
    return parseRecordingCallback(stub.callbackParams(recording), RECEIVED_AT, randomUUID());
  }

  it('stores one without a CallSid under its ConferenceSid, in the ledger only: no call item', async () => {
    const audio = mediaBytes('conference', 50_000);
    const job = conferenceJob(audio);
    const conferenceSid = job.conferenceSid as string;
    expect(job.callSid).toBeUndefined();

    const result = await transferHandler()(sqsEvent(sqsRecord(job)));

    expect(result).toEqual(failures([]));
    const key = keyFor(conferenceSid, job);
    const object = await aws.getObject(key);
    expect(object?.bytes.equals(audio)).toBe(true);
    expect(object?.metadata).toMatchObject({ 'conference-sid': conferenceSid, 'recording-sid': job.recordingSid });
    expect(object?.metadata).not.toHaveProperty('call-sid');
    const ledger = await aws.getLedger(job.recordingSid);
    expect(ledger).toMatchObject({ status: 'stored', conferenceSid, key, source: 'Conference' });
    expect(ledger).not.toHaveProperty('callSid');
    expect(ledger).not.toHaveProperty('callId');
    expect(await aws.getItem(conferenceSid)).toBeUndefined();
    expect(published).toEqual([
      {
        detailType: 'Recording Stored',
        detail: expect.objectContaining({ recordingSid: job.recordingSid, conferenceSid, key, callId: undefined }),
      },
    ]);
  });

  it('keeps a later job that names a CallSid from copying it again or calling it another call', async () => {
    const audio = mediaBytes('conference-twice', 20_000);
    const job = conferenceJob(audio);
    await transferHandler()(sqsEvent(sqsRecord(job)));
    const laterWithCall = { ...job, callSid: newCallSid(), jobId: randomUUID(), origin: 'reconciler' as const };

    const result = await transferHandler()(sqsEvent(sqsRecord(laterWithCall)));

    expect(result).toEqual(failures([]));
    expect(stub.requestsTo(job.recordingSid)).toHaveLength(1);
    const ledger = await aws.getLedger(job.recordingSid);
    expect(ledger).toMatchObject({ status: 'stored', key: keyFor(job.conferenceSid as string, job) });
    expect(ledger).not.toHaveProperty('callSid');
    expect(ledger?.notes).toBeUndefined();
  });

  it('stores one that names its call too under that call, keeping the ConferenceSid', async () => {
    const audio = mediaBytes('conference-with-call', 20_000);
    const callSid = newCallSid();
    const callId = await givenCall(callSid);
    const job = conferenceJob(audio, { callSid });

    await transferHandler()(sqsEvent(sqsRecord(job)));

    const key = keyFor(callId, job);
    expect((await aws.getObject(key))?.bytes.equals(audio)).toBe(true);
    expect(await aws.getLedger(job.recordingSid)).toMatchObject({
      callSid,
      callId,
      conferenceSid: job.conferenceSid,
      key,
    });
    expect((await item(callId)).recordings?.[job.recordingSid]).toMatchObject({ status: 'stored', key });
  });

  it('keeps both channels of a two-channel conference recording: asks RequestedChannels=2, stores those bytes', async () => {
    const twoChannels = mediaBytes('two-channel-conference', 40_000);
    const job = conferenceJob(twoChannels, { channels: 2 });
    expect(job.channels).toBe(2);
    const monoMix = stub.monoMixFor(job.recordingSid, 'mp3');
    expect(monoMix.equals(twoChannels)).toBe(false);

    await transferHandler()(sqsEvent(sqsRecord(job)));

    const stored = await aws.getObject(keyFor(job.conferenceSid as string, job));
    expect(stored?.bytes.equals(twoChannels)).toBe(true);
    expect(stored?.metadata.channels).toBe('2');
    expect(stub.requestsTo(job.recordingSid).map((r) => r.path)).toEqual([
      `${stub.recordingPath(job.recordingSid, 'mp3')}?RequestedChannels=2`,
    ]);
  });

  it('asks no RequestedChannels of a mono recording (Twilio refuses stereo of it, 16113)', async () => {
    const mono = mediaBytes('mono-conference', 20_000);
    const job = conferenceJob(mono, { channels: 1 });

    await transferHandler()(sqsEvent(sqsRecord(job)));

    expect((await aws.getObject(keyFor(job.conferenceSid as string, job)))?.bytes.equals(mono)).toBe(true);
    expect(stub.requestsTo(job.recordingSid).map((r) => r.path)).toEqual([stub.recordingPath(job.recordingSid, 'mp3')]);
  });

  it('enters an absent conference recording in the ledger and announces it, with no call item', async () => {
    const recording = stub.addRecording({
      source: 'Conference',
      status: 'absent',
      size: 0,
      startTime: new Date('2024-07-22T17:00:00.000Z'),
    });
    const job = parseRecordingCallback(stub.callbackParams(recording), RECEIVED_AT, randomUUID());

    const result = await transferHandler()(sqsEvent(sqsRecord(job)));

    expect(result).toEqual(failures([]));
    expect(await aws.getLedger(job.recordingSid)).toMatchObject({
      status: 'absent',
      conferenceSid: recording.conferenceSid,
      errorCode: '16101',
    });
    expect(published).toEqual([
      {
        detailType: 'Recording Failed',
        detail: expect.objectContaining({ status: 'absent', conferenceSid: recording.conferenceSid }),
      },
    ]);
  });
});

describe('successful processing', () => {
  it('streams the recording into S3 and records it on the call item', async () => {
    const job = jobFor();
    const callId = await givenCall(job.callSid);
    const audio = mediaBytes('audio', 300_000);
    serve(job, audio);
    const record = sqsRecord(job);

    const result = await transferHandler()(sqsEvent(record));

    expect(result).toEqual(failures([]));
    const key = `recordings/2024/07/${callId}/${job.recordingSid}.mp3`;
    const object = await aws.getObject(key);
    expect(object?.bytes.equals(audio)).toBe(true);
    expect(object?.contentType).toBe('audio/mpeg');
    expect(object?.metadata).toEqual({
      'call-sid': job.callSid,
      'recording-sid': job.recordingSid,
      sha256: createHash('sha256').update(audio).digest('hex'),
      'duration-seconds': '42',
      channels: '2',
    });
    const saved = await item(callId);
    expect(saved.recordings?.[job.recordingSid]).toEqual({
      status: 'stored',
      bucket: RECORDINGS_BUCKET,
      key,
      contentType: 'audio/mpeg',
      sha256: createHash('sha256').update(audio).digest('hex'),
      sizeBytes: audio.length,
      durationSeconds: 42,
      channels: 2,
      source: 'DialVerb',
      startedAt: '2024-07-22T17:00:00.000Z',
      storedAt: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T/),
    });
    expect(saved).toMatchObject({
      callId,
      twilioCallSid: job.callSid,
      from: '+14155550100',
      status: 'completed',
      recordingKey: key,
      recordingDurationSeconds: 42,
      recordingStatus: 'stored',
      updatedAt: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T/),
    });
    expect(JSON.stringify(saved)).not.toMatch(/X-Amz-Signature|https?:\/\//);
    expect(saved.notes).toBeUndefined();
    expect(stub.requestsTo(job.recordingSid)).toHaveLength(1);
  });

  it('files the object under the year and month the recording started (UTC)', async () => {
    const job = withCallSid(
      parseRecordingCallback(
        recordingCallbackParams({ extra: { RecordingStartTime: 'Tue, 31 Dec 2024 23:30:00 -0100' } }),
        new Date('2025-01-01T00:35:00.000Z'),
        randomUUID(),
      ),
    );
    const callId = await givenCall(job.callSid);
    serve(job, mediaBytes('audio', 100));

    await transferHandler()(sqsEvent(sqsRecord(job)));

    expect((await item(callId)).recordingKey).toBe(`recordings/2025/01/${callId}/${job.recordingSid}.mp3`);
  });

  it('stores the parsed duration in the item and the object metadata', async () => {
    const job = jobFor({ extra: { RecordingDuration: '1834' } });
    const callId = await givenCall(job.callSid);
    serve(job, mediaBytes('audio', 100));

    await transferHandler()(sqsEvent(sqsRecord(job)));

    expect((await item(callId)).recordingDurationSeconds).toBe(1834);
    expect((await aws.getObject(keyFor(callId, job)))?.metadata['duration-seconds']).toBe('1834');
  });

  it('stores a recording whose duration was not a number, without a duration', async () => {
    const job = jobFor({ extra: { RecordingDuration: 'abc' } });
    const callId = await givenCall(job.callSid);
    serve(job, mediaBytes('audio', 100));

    const result = await transferHandler()(sqsEvent(sqsRecord(job)));

    expect(result).toEqual(failures([]));
    const saved = await item(callId);
    expect(saved.recordingStatus).toBe('stored');
    expect(saved).not.toHaveProperty('recordingDurationSeconds');
    expect(saved.recordings?.[job.recordingSid]).not.toHaveProperty('durationSeconds');
    expect((await aws.getObject(keyFor(callId, job)))?.metadata).not.toHaveProperty('duration-seconds');
  });

  it('stores a recording from a minimal callback under the month it arrived', async () => {
    const job = jobFor({}, true);
    const callId = await givenCall(job.callSid);
    const audio = mediaBytes('audio', 64);
    serve(job, audio);

    await transferHandler()(sqsEvent(sqsRecord(job)));

    const key = `recordings/2024/07/${callId}/${job.recordingSid}.mp3`;
    expect((await aws.getObject(key))?.metadata).toEqual({
      'call-sid': job.callSid,
      'recording-sid': job.recordingSid,
      sha256: createHash('sha256').update(audio).digest('hex'),
    });
    expect((await item(callId)).recordingKey).toBe(key);
  });

  it('stores WAV media with its own extension and content type when the stage asks for wav', async () => {
    const job = jobFor();
    const callId = await givenCall(job.callSid);
    const audio = mediaBytes('audio', 2048);
    serve(job, audio);

    await transferHandler({ recordingFormat: 'wav' })(sqsEvent(sqsRecord(job)));

    const key = keyFor(callId, job, 'wav');
    const object = await aws.getObject(key);
    expect(object?.bytes.equals(audio)).toBe(true);
    expect(object?.contentType).toBe('audio/wav');
    expect((await item(callId)).recordings?.[job.recordingSid]).toMatchObject({ key, contentType: 'audio/wav' });
    expect(stub.requests.map((r) => r.path)).toEqual([mediaPath(job, 'wav')]);
  });

  it('sends Basic auth for the media and fetches it from the configured base only', async () => {
    const job = jobFor({ extra: { RecordingUrl: 'https://evil.example.com/steal' } });
    await givenCall(job.callSid);
    serve(job, mediaBytes('audio', 10));

    await transferHandler()(sqsEvent(sqsRecord(job)));

    expect(stub.requests).toEqual([
      {
        method: 'GET',
        path: mediaPath(job),
        headers: expect.objectContaining({
          authorization: `Basic ${Buffer.from(`${TEST_ACCOUNT_SID}:${TEST_AUTH_TOKEN}`).toString('base64')}`,
        }),
      },
    ]);
  });
});

describe('recordings stored a day or more after they started', () => {
  const rfc2822 = (at: Date) => at.toUTCString().replace('GMT', '+0000');

  it("notes the recording's day for the retention sweep, which may have passed it", async () => {
    const job = jobFor();
    await givenCall(job.callSid);
    serve(job, mediaBytes('audio', 100));

    await transferHandler()(sqsEvent(sqsRecord(job)));

    expect((await aws.getLedger(job.recordingSid))?.status).toBe('stored');
    expect((await new LateDays(aws.ddb, LEDGER_TABLE).read()).noted).toContain(job.startedAt.slice(0, 10));
  });

  it('notes nothing for a recording stored the day it started', async () => {
    const now = new Date();
    const job = withCallSid(
      parseRecordingCallback(
        recordingCallbackParams({ extra: { RecordingStartTime: rfc2822(new Date(now.getTime() - 60_000)) } }),
        now,
        randomUUID(),
      ),
    );
    await givenCall(job.callSid);
    serve(job, mediaBytes('audio', 100));

    await transferHandler()(sqsEvent(sqsRecord(job)));

    expect((await aws.getLedger(job.recordingSid))?.status).toBe('stored');
    expect((await new LateDays(aws.ddb, LEDGER_TABLE).read()).noted).not.toContain(job.startedAt.slice(0, 10));
  });
});

describe('call not found', () => {
  it('keeps the audio and creates a call item keyed by the CallSid', async () => {
    const job = jobFor();
    const audio = mediaBytes('audio', 1000);
    serve(job, audio);

    const result = await transferHandler()(sqsEvent(sqsRecord(job)));

    expect(result).toEqual(failures([]));
    const saved = await item(job.callSid);
    expect(saved).toMatchObject({
      callId: job.callSid,
      twilioCallSid: job.callSid,
      origin: 'recording-callback',
      recordingStatus: 'stored',
      recordingKey: keyFor(job.callSid, job),
    });
    expect((await aws.getObject(keyFor(job.callSid, job)))?.bytes.equals(audio)).toBe(true);
  });

  it('adds the recordings map to an existing call item that has none', async () => {
    const job = jobFor();
    const callId = await givenCall(job.callSid, { notes: ['app note'] });
    serve(job, mediaBytes('audio', 10));

    await transferHandler()(sqsEvent(sqsRecord(job)));

    const saved = await item(callId);
    expect(Object.keys(saved.recordings ?? {})).toEqual([job.recordingSid]);
    expect(saved.notes).toEqual(['app note']);
  });
});

describe('Twilio fetch failures', () => {
  it('stores the recording when Twilio answers 404 first and 200 on the next attempt', async () => {
    const job = jobFor();
    const callId = await givenCall(job.callSid);
    const audio = mediaBytes('audio', 5000);
    serve(job, audio);
    stub.respond('GET', mediaPath(job), { status: 404, body: '{"code":20404}' });
    const first = sqsRecord(job, { receiveCount: 1 });

    const firstResult = await transferHandler()(sqsEvent(first));

    expect(firstResult).toEqual(failures([first.messageId]));
    expect(visibilityChanges()).toEqual([
      { QueueUrl: QUEUE_URL, ReceiptHandle: first.receiptHandle, VisibilityTimeout: RETRY_BASE_SECONDS },
    ]);
    expect(await aws.getObject(keyFor(callId, job))).toBeUndefined();
    expect((await item(callId)).recordings?.[job.recordingSid]?.status).toBe('transferring');

    const second = sqsRecord(job, { messageId: first.messageId, receiveCount: 2 });
    const secondResult = await transferHandler()(sqsEvent(second));

    expect(secondResult).toEqual(failures([]));
    expect((await aws.getObject(keyFor(callId, job)))?.bytes.equals(audio)).toBe(true);
    expect((await item(callId)).recordings?.[job.recordingSid]?.status).toBe('stored');
  });

  it('doubles the retry delay with each attempt', async () => {
    const job = jobFor();
    await givenCall(job.callSid);
    stub.respond('GET', mediaPath(job), { status: 429 });

    await transferHandler()(sqsEvent(sqsRecord(job, { receiveCount: 2 })));

    expect(visibilityChanges()[0]?.VisibilityTimeout).toBe(RETRY_BASE_SECONDS * 2);
  });

  it('marks the recording failed and dead-letters the job when Twilio still answers 500 at the last attempt', async () => {
    const job = jobFor();
    const callId = await givenCall(job.callSid);
    stub.respond('GET', mediaPath(job), { status: 500 });
    const record = sqsRecord(job, { receiveCount: MAX_ATTEMPTS });

    const result = await transferHandler()(sqsEvent(record));

    expect(result).toEqual(failures([]));
    expect(visibilityChanges()).toEqual([]);
    expect(deadLettered()).toEqual([
      expect.objectContaining({
        QueueUrl: DLQ_URL,
        MessageBody: record.body,
        MessageAttributes: expect.objectContaining({
          errorCode: { DataType: 'String', StringValue: 'twilio-500' },
          attempts: { DataType: 'Number', StringValue: String(MAX_ATTEMPTS) },
        }),
      }),
    ]);
    const saved = await item(callId);
    expect(saved.recordings?.[job.recordingSid]).toMatchObject({
      status: 'failed',
      errorCode: 'twilio-500',
      error: `Twilio answered 500 to GET Recordings/${job.recordingSid}.mp3`,
      startedAt: job.startedAt,
    });
    expect(saved.recordingStatus).toBe('failed');
    expect(saved).not.toHaveProperty('recordingKey');
    expect(saved.notes).toEqual([expect.stringContaining(`recording ${job.recordingSid} failed (twilio-500)`)]);
    expect(await aws.getObject(keyFor(callId, job))).toBeUndefined();
  });

  it('fails at once on 401 and sends the job straight on to the dead-letter queue', async () => {
    const job = jobFor();
    const callId = await givenCall(job.callSid);
    stub.respond('GET', mediaPath(job), { status: 401, body: '{"code":20003}' });
    const record = sqsRecord(job, { receiveCount: 1 });

    const result = await transferHandler()(sqsEvent(record));

    expect(result).toEqual(failures([]));
    expect(visibilityChanges()).toEqual([]);
    expect(deadLettered()).toEqual([expect.objectContaining({ QueueUrl: DLQ_URL, MessageBody: record.body })]);
    expect((await item(callId)).notes).toHaveLength(1);
    expect((await item(callId)).recordings?.[job.recordingSid]).toMatchObject({
      status: 'failed',
      errorCode: 'twilio-401',
    });
    expect(stub.requestsTo(job.recordingSid)).toHaveLength(1);
  });

  it('retries when the download is cut off mid-stream and leaves no partial object', async () => {
    const job = jobFor();
    const callId = await givenCall(job.callSid);
    stub.respond('GET', mediaPath(job), {
      headers: { 'content-type': 'audio/mpeg' },
      body: mediaBytes('audio', 100_000),
      cutAfterBytes: 10_000,
    });
    const record = sqsRecord(job);

    const result = await transferHandler()(sqsEvent(record));

    expect(result).toEqual(failures([record.messageId]));
    expect(visibilityChanges()[0]?.VisibilityTimeout).toBe(RETRY_BASE_SECONDS);
    expect(await aws.getObject(keyFor(callId, job))).toBeUndefined();
  });

  it('retries when Twilio sends an empty body', async () => {
    const job = jobFor();
    await givenCall(job.callSid);
    stub.respond('GET', mediaPath(job), { headers: { 'content-type': 'audio/mpeg' }, body: '' });
    const record = sqsRecord(job);

    expect(await transferHandler()(sqsEvent(record))).toEqual(failures([record.messageId]));
    expect(visibilityChanges()[0]?.VisibilityTimeout).toBe(RETRY_BASE_SECONDS);
  });
});

describe('size verification', () => {
  /** A Twilio API whose media announces `announced` bytes but streams what `audio()` gives. */
  function twilioAnnouncing(audio: () => Buffer, announced: number): TwilioApi {
    const real = createTwilioApi({ baseUrl: stub.baseUrl, accountSid: TEST_ACCOUNT_SID, tokens: staticTokens('x') });
    return {
      ...real,
      fetchRecordingAudio: async () => ({
        body: Readable.from([audio()]),
        contentType: 'audio/mpeg',
        contentLength: announced,
      }),
    };
  }

  it('retries when fewer bytes arrive than Twilio announced', async () => {
    const job = jobFor();
    await givenCall(job.callSid);
    const audio = mediaBytes('audio', 1000);
    const record = sqsRecord(job);

    const result = await transferHandler({}, { twilio: twilioAnnouncing(() => audio, 2000) })(sqsEvent(record));

    expect(result).toEqual(failures([record.messageId]));
    expect(visibilityChanges()[0]?.VisibilityTimeout).toBe(RETRY_BASE_SECONDS);
  });

  it('does not keep a short object: the next attempt fetches the media again', async () => {
    const job = jobFor();
    const callId = await givenCall(job.callSid);
    const full = mediaBytes('audio', 2000);
    let sent = full.subarray(0, 1500);
    const handler = transferHandler({}, { twilio: twilioAnnouncing(() => sent, full.length) });
    const first = sqsRecord(job, { receiveCount: 1 });
    expect(await handler(sqsEvent(first))).toEqual(failures([first.messageId]));

    sent = full;
    const result = await handler(sqsEvent(sqsRecord(job, { messageId: first.messageId, receiveCount: 2 })));

    expect(result).toEqual(failures([]));
    expect((await item(callId)).recordings?.[job.recordingSid]).toMatchObject({ status: 'stored', sizeBytes: 2000 });
    expect((await aws.getObject(keyFor(callId, job)))?.bytes.equals(full)).toBe(true);
  });
});

describe('S3 upload failures', () => {
  it('fails permanently when the bucket does not exist, and says so on the call item', async () => {
    const job = jobFor();
    const callId = await givenCall(job.callSid);
    serve(job, mediaBytes('audio', 100));
    const record = sqsRecord(job);

    const result = await transferHandler({ bucketName: 'no-such-bucket' })(sqsEvent(record));

    expect(result).toEqual(failures([]));
    expect(deadLettered()).toEqual([expect.objectContaining({ QueueUrl: DLQ_URL, MessageBody: record.body })]);
    expect((await item(callId)).recordings?.[job.recordingSid]).toMatchObject({
      status: 'failed',
      errorCode: 's3-404',
      error: 'The recordings bucket does not exist',
    });
  });

  it('retries when S3 answers 503 SlowDown, and stores the recording on the next attempt', async () => {
    const job = jobFor();
    const callId = await givenCall(job.callSid);
    const audio = mediaBytes('audio', 1000);
    serve(job, audio);
    const flaky = new S3Client({ ...clientOverrides('S3', aws.env) });
    flaky.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === 'PutObjectCommand') {
          throw Object.assign(new Error('Please reduce your request rate.'), {
            name: 'SlowDown',
            $metadata: { httpStatusCode: 503 },
          });
        }
        return next(args);
      },
      { step: 'initialize', name: 'injectSlowDown' },
    );
    const first = sqsRecord(job);

    const firstResult = await transferHandler({}, { s3: flaky })(sqsEvent(first));
    flaky.destroy();

    expect(firstResult).toEqual(failures([first.messageId]));
    expect(visibilityChanges()[0]?.VisibilityTimeout).toBe(RETRY_BASE_SECONDS);
    expect((await item(callId)).recordings?.[job.recordingSid]?.status).toBe('transferring');

    const second = await transferHandler()(sqsEvent(sqsRecord(job, { messageId: first.messageId, receiveCount: 2 })));

    expect(second).toEqual(failures([]));
    expect((await aws.getObject(keyFor(callId, job)))?.bytes.equals(audio)).toBe(true);
  });
});

describe('failed and absent recordings', () => {
  it.each([
    ['absent', '16102', 'Twilio recorded nothing: the recording was silent'],
    ['absent', '16101', 'Twilio recorded nothing: the recording was too short'],
    ['absent', undefined, 'Twilio reported the recording absent'],
    ['failed', undefined, 'Twilio reported the recording failed'],
  ])('records an %s recording (ErrorCode %s) without fetching anything', async (status, errorCode, error) => {
    const job = jobFor({ status, extra: { ErrorCode: errorCode ?? '0' } });
    const callId = await givenCall(job.callSid);

    const result = await transferHandler()(sqsEvent(sqsRecord(job)));

    expect(result).toEqual(failures([]));
    const saved = await item(callId);
    expect(saved.recordings?.[job.recordingSid]).toEqual({
      status,
      ...(errorCode ? { errorCode } : {}),
      error,
      durationSeconds: 42,
      channels: 2,
      source: 'DialVerb',
      startedAt: job.startedAt,
    });
    expect(saved.recordingStatus).toBe(status);
    expect(saved.notes).toEqual([
      expect.stringMatching(
        new RegExp(`^\\d{4}-.+Z recording ${job.recordingSid} ${status}${errorCode ? ` \\(${errorCode}\\)` : ''}: `),
      ),
    ]);
    expect(stub.requests).toEqual([]);
    expect(await aws.getObject(keyFor(callId, job))).toBeUndefined();
  });

  it('adds no second note when the same failure is delivered again', async () => {
    const job = jobFor({ status: 'absent', extra: { ErrorCode: '16101' } });
    const callId = await givenCall(job.callSid);
    const handler = transferHandler();

    await handler(sqsEvent(sqsRecord(job)));
    const again = await handler(sqsEvent(sqsRecord(job)));

    expect(again).toEqual(failures([]));
    expect((await item(callId)).notes).toHaveLength(1);
  });

  it('never marks a stored recording failed', async () => {
    const completed = jobFor();
    const callId = await givenCall(completed.callSid);
    serve(completed, mediaBytes('audio', 10));
    await transferHandler()(sqsEvent(sqsRecord(completed)));

    const late = { ...completed, status: 'failed' as const };
    await transferHandler()(sqsEvent(sqsRecord(late)));

    const saved = await item(callId);
    expect(saved.recordings?.[completed.recordingSid]?.status).toBe('stored');
    expect(saved.recordingStatus).toBe('stored');
    expect(saved.notes).toBeUndefined();
  });

  it('ignores an in-progress job', async () => {
    const job = jobFor({ status: 'in-progress' });

    expect(await transferHandler()(sqsEvent(sqsRecord(job)))).toEqual(failures([]));
    expect(await aws.getItem(job.callSid)).toBeUndefined();
    expect(stub.requests).toEqual([]);
  });
});

describe('unexpected errors', () => {
  it('dead-letters a malformed job at once and still processes the rest of the batch', async () => {
    const good = jobFor();
    const callId = await givenCall(good.callSid);
    serve(good, mediaBytes('audio', 10));
    const garbage = sqsRecord('{"version":1,"callSid":"nope"');
    const wrongShape = sqsRecord({ version: 1, recordingSid: '../../etc/passwd' });
    const valid = sqsRecord(good);

    const result = await transferHandler()(sqsEvent(garbage, valid, wrongShape));

    expect(result).toEqual(failures([]));
    expect(deadLettered().map((m) => m.MessageBody)).toEqual(expect.arrayContaining([garbage.body, wrongShape.body]));
    expect(deadLettered()).toHaveLength(2);
    expect((await item(callId)).recordingStatus).toBe('stored');
  });

  it('reports each concurrent batch its own failures when one handler runs two batches at once', async () => {
    const slow = jobFor();
    const failing = jobFor();
    await Promise.all([givenCall(slow.callSid), givenCall(failing.callSid)]);
    const release = deferred();
    stub.respond('GET', mediaPath(slow), {
      headers: { 'content-type': 'audio/mpeg' },
      body: mediaBytes('audio', 100),
      waitFor: release.promise,
    });
    stub.respond('GET', mediaPath(failing), { status: 503 });
    const handler = transferHandler();
    const slowRecord = sqsRecord(slow);
    const failingRecord = sqsRecord(failing);

    const running = handler(sqsEvent(slowRecord));
    await stub.waitForRequest((r) => r.path === mediaPath(slow));
    const failed = await handler(sqsEvent(failingRecord));
    release.resolve();
    const succeeded = await running;

    expect(failed).toEqual(failures([failingRecord.messageId]));
    expect(succeeded).toEqual(failures([]));
  });

  it('reports every record of a batch that failed entirely instead of throwing', async () => {
    const jobs = [jobFor(), jobFor()];
    await Promise.all(jobs.map((job) => givenCall(job.callSid)));
    for (const job of jobs) stub.respond('GET', mediaPath(job), { status: 503 });
    const records = jobs.map((job) => sqsRecord(job));

    const result = await transferHandler()(sqsEvent(...records));

    // Reported in the order the records finished, which SQS does not care about: compared as sets.
    expect(new Set(result.batchItemFailures.map((f) => f.itemIdentifier))).toEqual(
      new Set(records.map((r) => r.messageId)),
    );
    expect(result.batchItemFailures).toHaveLength(records.length);
  });

  it('leaves a job on the queue for a retry when the dead-letter queue cannot take it', async () => {
    sqs.on(SendMessageCommand).rejects(new Error('ServiceUnavailable'));
    const record = sqsRecord('not a job');

    expect(await transferHandler()(sqsEvent(record))).toEqual(failures([record.messageId]));
  });

  it('still reports the failure when the visibility change fails', async () => {
    sqs.on(ChangeMessageVisibilityCommand).rejects(new Error('ReceiptHandleIsInvalid'));
    const job = jobFor();
    await givenCall(job.callSid);
    stub.respond('GET', mediaPath(job), { status: 503 });
    const record = sqsRecord(job);

    expect(await transferHandler()(sqsEvent(record))).toEqual(failures([record.messageId]));
  });
});

describe('idempotency', () => {
  it('stores one object and one entry when the same job is delivered twice', async () => {
    const job = jobFor();
    const callId = await givenCall(job.callSid);
    const audio = mediaBytes('audio', 4096);
    serve(job, audio);
    const handler = transferHandler();

    const first = await handler(sqsEvent(sqsRecord(job)));
    const before = await item(callId);
    const second = await handler(sqsEvent(sqsRecord(job)));

    expect(first).toEqual(failures([]));
    expect(second).toEqual(failures([]));
    const after = await item(callId);
    expect(Object.keys(after.recordings ?? {})).toEqual([job.recordingSid]);
    expect(after.recordings).toEqual(before.recordings);
    expect(stub.requestsTo(job.recordingSid)).toHaveLength(1);
    expect((await aws.getObject(keyFor(callId, job)))?.bytes.equals(audio)).toBe(true);
  });

  it('lets only one of two concurrent duplicate callbacks transfer; the other yields without failing', async () => {
    const callbackA = jobFor();
    const callbackB = { ...callbackA, jobId: randomUUID() };
    const callId = await givenCall(callbackA.callSid);
    const audio = mediaBytes('audio', 10_000);
    serve(callbackA, audio);
    const release = deferred();
    stub.respond('GET', mediaPath(callbackA), {
      headers: { 'content-type': 'audio/mpeg' },
      body: audio,
      waitFor: release.promise,
    });
    const handler = transferHandler();
    const a = sqsRecord(callbackA, { messageId: 'dup-a' });
    const b = sqsRecord(callbackB, { messageId: 'dup-b' });

    const running = handler(sqsEvent(a));
    await stub.waitForRequest((r) => r.path === mediaPath(callbackA));
    const duplicate = await handler(sqsEvent(b));
    const whileCopying = await item(callId);
    const ledgerWhileCopying = await aws.getLedger(callbackA.recordingSid);
    release.resolve();
    const original = await running;

    expect(duplicate).toEqual(failures([]));
    expect(whileCopying.recordings?.[callbackA.recordingSid]).toMatchObject({ status: 'transferring' });
    expect(ledgerWhileCopying).toMatchObject({
      status: 'transferring',
      claimId: callbackA.jobId,
    });
    expect(original).toEqual(failures([]));
    expect(stub.requestsTo(callbackA.recordingSid)).toHaveLength(1);
    const saved = await item(callId);
    expect(Object.keys(saved.recordings ?? {})).toEqual([callbackA.recordingSid]);
    expect(saved.recordings?.[callbackA.recordingSid]).toMatchObject({ status: 'stored', sizeBytes: audio.length });
    expect(saved.notes).toBeUndefined();
  });

  it('answers a duplicate that arrives after the copy with already-stored and fetches nothing', async () => {
    const job = jobFor();
    const callId = await givenCall(job.callSid);
    serve(job, mediaBytes('audio', 10));
    const handler = transferHandler();
    await handler(sqsEvent(sqsRecord(job)));

    const late = await handler(sqsEvent(sqsRecord({ ...job, jobId: randomUUID() })));

    expect(late).toEqual(failures([]));
    expect(stub.requestsTo(job.recordingSid)).toHaveLength(1);
    expect((await item(callId)).recordings?.[job.recordingSid]?.status).toBe('stored');
  });

  it('lets a redriven message (same job, new message id) resume its own claim before the lease runs out', async () => {
    const job = jobFor();
    const callId = await givenCall(job.callSid);
    const audio = mediaBytes('audio', 321);
    serve(job, audio);
    stub.respond('GET', mediaPath(job), { status: 503 });
    const handler = transferHandler();
    await handler(sqsEvent(sqsRecord(job, { messageId: 'original' })));

    const redriven = await handler(sqsEvent(sqsRecord(job, { messageId: 'redriven-from-dlq' })));

    expect(redriven).toEqual(failures([]));
    expect((await item(callId)).recordings?.[job.recordingSid]).toMatchObject({ status: 'stored', sizeBytes: 321 });
  });

  /** What the ledger is told when a job claims this recording. */
  function factsOf(job: RecordingJob, callId: string): RecordingFacts {
    return {
      recordingSid: job.recordingSid,
      callId,
      callSid: job.callSid,
      accountSid: job.accountSid,
      startedAt: job.startedAt,
      durationSeconds: job.durationSeconds,
      channels: job.channels,
      source: job.source,
      origin: 'callback',
    };
  }

  it('lets a job with another id take over a ledger claim whose worker died once its lease ran out', async () => {
    const job = jobFor();
    const callId = await givenCall(job.callSid);
    const audio = mediaBytes('audio', 600);
    serve(job, audio);
    const ledger = new RecordingLedger(aws.ddb, LEDGER_TABLE);
    // A worker claimed it 301 s ago with a 300 s lease and died: nothing renewed the lease.
    await ledger.claim(factsOf(job, callId), 'dead-worker', 300, new Date(Date.now() - 301_000));
    const duplicate = { ...job, jobId: randomUUID() };

    const result = await transferHandler()(sqsEvent(sqsRecord(duplicate)));

    expect(result).toEqual(failures([]));
    expect(stub.requestsTo(job.recordingSid)).toHaveLength(1);
    expect(await storedKeys(callId)).toEqual([keyFor(callId, job)]);
    expect((await aws.getObject(keyFor(callId, job)))?.bytes.equals(audio)).toBe(true);
    const after = await aws.getLedger(job.recordingSid);
    expect(after).toMatchObject({ status: 'stored', sha256: createHash('sha256').update(audio).digest('hex') });
    expect(after).not.toHaveProperty('claimId');
    expect((await item(callId)).recordings?.[job.recordingSid]?.status).toBe('stored');
  });

  it('leaves a live ledger claim of another job alone: nothing fetched, nothing stored, the claim kept', async () => {
    const job = jobFor();
    const callId = await givenCall(job.callSid);
    serve(job, mediaBytes('audio', 600));
    const ledger = new RecordingLedger(aws.ddb, LEDGER_TABLE);
    const held = await ledger.claim(factsOf(job, callId), 'live-worker', 300, new Date());
    const duplicate = { ...job, jobId: randomUUID() };

    const result = await transferHandler()(sqsEvent(sqsRecord(duplicate)));

    expect(result).toEqual(failures([]));
    expect(stub.requests).toEqual([]);
    expect(await storedKeys(callId)).toEqual([]);
    expect(await aws.getLedger(job.recordingSid)).toMatchObject({
      status: 'transferring',
      claimId: 'live-worker',
      leaseExpiresAt: held.item?.leaseExpiresAt,
    });
  });

  it('records an object already in S3 from a crashed attempt without fetching it again', async () => {
    const job = jobFor();
    const callId = await givenCall(job.callSid);
    const audio = mediaBytes('audio', 777);
    const key = keyFor(callId, job);
    await aws.s3.send(
      new PutObjectCommand({
        Bucket: RECORDINGS_BUCKET,
        Key: key,
        Body: audio,
        ContentType: 'audio/mpeg',
        Metadata: {
          'call-sid': job.callSid,
          'recording-sid': job.recordingSid,
          sha256: createHash('sha256').update(audio).digest('hex'),
        },
      }),
    );

    const result = await transferHandler()(sqsEvent(sqsRecord(job)));

    expect(result).toEqual(failures([]));
    expect(stub.requests).toEqual([]);
    const saved = await item(callId);
    expect(saved.recordings?.[job.recordingSid]).toMatchObject({ status: 'stored', key, sizeBytes: 777 });
    expect(saved.recordingKey).toBe(key);
  });

  it('overwrites an object at the key that belongs to another recording', async () => {
    const job = jobFor();
    const callId = await givenCall(job.callSid);
    const audio = mediaBytes('audio-9', 500);
    serve(job, audio);
    await aws.s3.send(
      new PutObjectCommand({
        Bucket: RECORDINGS_BUCKET,
        Key: keyFor(callId, job),
        Body: Buffer.from('stale'),
        Metadata: { 'recording-sid': newRecordingSid() },
      }),
    );

    await transferHandler()(sqsEvent(sqsRecord(job)));

    expect((await aws.getObject(keyFor(callId, job)))?.bytes.equals(audio)).toBe(true);
  });
});

describe('several recordings on one call', () => {
  function twoRecordings(callSid: string) {
    const earlier = jobFor({
      callSid,
      extra: { RecordingStartTime: 'Mon, 22 Jul 2024 17:00:00 +0000', RecordingDuration: '10' },
    });
    const later = jobFor({
      callSid,
      extra: { RecordingStartTime: 'Mon, 22 Jul 2024 17:30:00 +0000', RecordingDuration: '20' },
    });
    serve(earlier, mediaBytes('audio-1', 100));
    serve(later, mediaBytes('audio-2', 200));
    return { earlier, later };
  }

  it.each([
    ['in order', false],
    ['later one first', true],
  ])('keeps both, and the latest fields follow the later start (%s)', async (_case, reversed) => {
    const callSid = newCallSid();
    const callId = await givenCall(callSid);
    const { earlier, later } = twoRecordings(callSid);
    const handler = transferHandler();

    for (const job of reversed ? [later, earlier] : [earlier, later]) {
      expect(await handler(sqsEvent(sqsRecord(job)))).toEqual(failures([]));
    }

    const saved = await item(callId);
    expect(Object.keys(saved.recordings ?? {}).sort()).toEqual([earlier.recordingSid, later.recordingSid].sort());
    expect(saved.recordings?.[earlier.recordingSid]).toMatchObject({ status: 'stored', sizeBytes: 100 });
    expect(saved.recordings?.[later.recordingSid]).toMatchObject({ status: 'stored', sizeBytes: 200 });
    expect(saved).toMatchObject({
      recordingKey: keyFor(callId, later),
      recordingDurationSeconds: 20,
      recordingStatus: 'stored',
      latestRecordingSid: later.recordingSid,
    });
  });

  it('handles both recordings arriving in one batch', async () => {
    const callSid = newCallSid();
    const { earlier, later } = twoRecordings(callSid);

    const result = await transferHandler()(sqsEvent(sqsRecord(later), sqsRecord(earlier)));

    expect(result).toEqual(failures([]));
    const saved = await item(callSid);
    expect(Object.keys(saved.recordings ?? {})).toHaveLength(2);
    expect(saved.recordingKey).toBe(keyFor(callSid, later));
  });
});

describe('deleting at Twilio after the copy', () => {
  it('deletes the recording at Twilio once it is stored, when the stage asks for it', async () => {
    const job = jobFor();
    const callId = await givenCall(job.callSid);
    serve(job, mediaBytes('audio', 100));

    const result = await transferHandler({ deleteFromTwilioAfterCopy: true })(sqsEvent(sqsRecord(job)));

    expect(result).toEqual(failures([]));
    expect(stub.requests.map((r) => `${r.method} ${r.path}`)).toEqual([
      `GET ${mediaPath(job)}`,
      `DELETE ${stub.recordingPath(job.recordingSid, 'json')}`,
    ]);
    expect(await aws.getObject(keyFor(callId, job))).toBeDefined();
  });

  it('does not delete at Twilio by default', async () => {
    const job = jobFor();
    await givenCall(job.callSid);
    serve(job, mediaBytes('audio', 100));

    await transferHandler()(sqsEvent(sqsRecord(job)));

    expect(stub.requestsTo(job.recordingSid, 'DELETE')).toEqual([]);
  });

  it('still succeeds when the deletion at Twilio fails', async () => {
    const job = jobFor();
    const callId = await givenCall(job.callSid);
    serve(job, mediaBytes('audio', 100));
    stub.respond('DELETE', stub.recordingPath(job.recordingSid, 'json'), { status: 500 });

    const result = await transferHandler({ deleteFromTwilioAfterCopy: true })(sqsEvent(sqsRecord(job)));

    expect(result).toEqual(failures([]));
    expect((await item(callId)).recordingStatus).toBe('stored');
    expect(await aws.getObject(keyFor(callId, job))).toBeDefined();
  });

  it('never deletes at Twilio when the copy failed', async () => {
    const job = jobFor();
    await givenCall(job.callSid);
    stub.respond('GET', mediaPath(job), { status: 500 });

    await transferHandler({ deleteFromTwilioAfterCopy: true })(sqsEvent(sqsRecord(job)));

    expect(stub.requestsTo(job.recordingSid, 'DELETE')).toEqual([]);
  });
});
