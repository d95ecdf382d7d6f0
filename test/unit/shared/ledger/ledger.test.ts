/**
 * The ledger as the source of truth: what the transfer writes there, in S3, on the call item and
 * as events, for stored, absent and failed recordings, under duplicates, crashes, takeovers and a
 * Twilio that answers with something other than the recording. Real dynalite and s3rver, a stub
 * Twilio on loopback.
 */
import '../../../helpers/setup-env';
import { createHash, randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetObjectTaggingCommand, S3Client } from '@aws-sdk/client-s3';
import { CallsRepository, type RecordingEntry } from '../../../../lambda/shared/calls/calls';
import type { RecordingJob } from '../../../../lambda/shared/job/recording-job';
import { fileEventPublisher, type VaultEvent } from '../../../../lambda/shared/ledger/events';
import { LateDays } from '../../../../lambda/shared/ledger/late-days';
import { type LedgerItem, RecordingLedger } from '../../../../lambda/shared/ledger/ledger';
import { clientOverrides } from '../../../../lambda/shared/runtime/endpoints';
import { createObservability } from '../../../../lambda/shared/runtime/observability';
import { generateStorageKey, RecordingStore } from '../../../../lambda/shared/storage/recording-store';
import { createTwilioApi } from '../../../../lambda/shared/twilio/rest-api';
import { staticTokens } from '../../../../lambda/shared/twilio/signature';
import { type TransferDeps, transferRecording } from '../../../../lambda/transfer/transfer-recording';
import { parseRecordingCallback } from '../../../../lambda/webhook/recording-callback';
import { deferred, mediaBytes, SimulatedTwilio } from '../../../../lib/simulated-twilio';
import { captureObs } from '../../../helpers/capture-obs';
import { CALL_SID_INDEX, CALLS_TABLE, type Emulators, LEDGER_TABLE, startEmulators } from '../../../helpers/emulators';
import {
  newCallSid,
  newRecordingSid,
  recordingCallbackParams,
  TEST_ACCOUNT_SID,
  TEST_AUTH_TOKEN,
  withCallSid,
} from '../../../helpers/twilio-fixtures';

const RECEIVED_AT = new Date('2024-07-22T17:05:00.000Z');

let aws: Emulators;
let stub: SimulatedTwilio;
const published: VaultEvent[] = [];

beforeAll(async () => {
  [aws, stub] = await Promise.all([
    startEmulators(),
    SimulatedTwilio.start({ accountSid: TEST_ACCOUNT_SID, authToken: TEST_AUTH_TOKEN }),
  ]);
});

afterAll(async () => {
  await Promise.all([aws.stop(), stub.close()]);
});

beforeEach(() => {
  stub.reset();
  published.length = 0;
});

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

function deps(overrides: Partial<TransferDeps> = {}): TransferDeps {
  return {
    twilio: createTwilioApi({
      baseUrl: stub.baseUrl,
      accountSid: TEST_ACCOUNT_SID,
      tokens: staticTokens(TEST_AUTH_TOKEN),
    }),
    store: new RecordingStore(aws.s3, 'recordings'),
    ledger: new RecordingLedger(aws.ddb, LEDGER_TABLE),
    lateDays: new LateDays(aws.ddb, LEDGER_TABLE),
    calls: new CallsRepository(aws.ddb, CALLS_TABLE, CALL_SID_INDEX),
    events: { publish: async (event) => void published.push(event) },
    format: 'mp3',
    deleteFromTwilioAfterCopy: false,
    leaseSeconds: 300,
    obs: createObservability('ledger-test'),
    ...overrides,
  };
}

/** A `completed` (or other) job as the webhook queues it; duration 0 unless given, so tiny fake audio is plausible. */
function job(
  options: { status?: RecordingJob['status']; duration?: string; callSid?: string; errorCode?: string } = {},
) {
  return withCallSid(
    parseRecordingCallback(
      recordingCallbackParams({
        callSid: options.callSid ?? newCallSid(),
        recordingSid: newRecordingSid(),
        status: options.status ?? 'completed',
        extra: { RecordingDuration: options.duration ?? '0', ErrorCode: options.errorCode ?? '0' },
      }),
      RECEIVED_AT,
      randomUUID(),
    ),
  );
}

async function givenCall(callSid: string): Promise<string> {
  const callId = `call-${callSid.slice(2, 14)}`;
  await aws.putItem({ callId, twilioCallSid: callSid });
  return callId;
}

async function ledger(recordingSid: string): Promise<LedgerItem> {
  const item = (await aws.getLedger(recordingSid)) as LedgerItem | undefined;
  if (!item) throw new Error(`no ledger item for ${recordingSid}`);
  return item;
}

async function entry(callId: string, recordingSid: string): Promise<RecordingEntry | undefined> {
  const item = (await aws.getItem(callId)) as { recordings?: Record<string, RecordingEntry> } | undefined;
  return item?.recordings?.[recordingSid];
}

function serveAudio(recordingSid: string, audio: Buffer): void {
  stub.addRecording({ sid: recordingSid, media: audio });
}

const mediaPath = (recordingSid: string) => stub.recordingPath(recordingSid, 'mp3');

/** The next media request for the recording is answered with `audio` only once the test releases it. */
function holdMedia(recordingSid: string, audio: Buffer): { resolve: () => void } {
  const release = deferred();
  stub.respond('GET', mediaPath(recordingSid), {
    headers: { 'content-type': 'audio/mpeg' },
    body: audio,
    waitFor: release.promise,
  });
  return release;
}

describe('a stored recording', () => {
  test.each([
    ['1 B', 1],
    ['200 KiB', 200 * 1024],
    ['over 10 MiB (multipart)', 10 * 1024 * 1024 + 12_345],
  ])(
    'of %s has the SHA-256 of its bytes on the object (metadata, or tag over one part), in the ledger and the call entry',
    async (_, size) => {
      const recording = job();
      const callId = await givenCall(recording.callSid);
      const audio = mediaBytes('seed-7', size);
      serveAudio(recording.recordingSid, audio);

      const outcome = await transferRecording(recording, recording.jobId ?? 'claim', deps());

      expect(outcome).toMatchObject({ result: 'stored', sizeBytes: size });
      const key = (await ledger(recording.recordingSid)).key ?? '';
      const object = await aws.getObject(key);
      expect(object?.bytes.equals(audio)).toBe(true);
      expect(object?.metadata.sha256 ?? (await tagsOf(key)).sha256).toBe(sha256(audio));
      expect(await ledger(recording.recordingSid)).toMatchObject({
        status: 'stored',
        callId,
        callSid: recording.callSid,
        sha256: sha256(audio),
        sizeBytes: size,
        day: '2024-07-22',
        startedAt: '2024-07-22T17:00:00.000Z',
        origin: 'callback',
      });
      expect((await ledger(recording.recordingSid)).claimId).toBeUndefined();
      expect(await entry(callId, recording.recordingSid)).toMatchObject({ status: 'stored', sha256: sha256(audio) });
    },
  );

  test.each([
    ['of one part carries it as metadata, set by its one PutObject', 200 * 1024, 'metadata'],
    ['over one part carries it as a tag, set without rewriting the object', 10 * 1024 * 1024 + 1, 'tag'],
  ] as const)('%s: its bytes are written once', async (_, size, where) => {
    const recording = job();
    await givenCall(recording.callSid);
    const audio = mediaBytes('once', size);
    serveAudio(recording.recordingSid, audio);
    const s3 = new S3Client({ ...clientOverrides('S3', aws.env) });
    const commands: string[] = [];
    s3.middlewareStack.add(
      (next, context) => (args) => {
        commands.push(context.commandName ?? '?');
        return next(args);
      },
      { step: 'initialize', name: 'countCommands' },
    );

    try {
      await transferRecording(recording, 'claim', deps({ store: new RecordingStore(s3, 'recordings') }));
    } finally {
      s3.destroy();
    }

    const key = (await ledger(recording.recordingSid)).key ?? '';
    const object = await aws.getObject(key);
    const tags = await tagsOf(key);
    expect(where === 'metadata' ? object?.metadata.sha256 : tags.sha256).toBe(sha256(audio));
    expect(commands).not.toContain('CopyObjectCommand');
    expect(commands.filter((c) => /^(PutObject|UploadPart)Command$/.test(c))).toHaveLength(
      Math.ceil(size / (5 * 1024 * 1024)),
    );
  });

  it('is announced once as Recording Stored, with no URL or token in the event', async () => {
    const recording = job();
    const callId = await givenCall(recording.callSid);
    serveAudio(recording.recordingSid, mediaBytes('audio', 2048));

    await transferRecording(recording, 'claim-1', deps());
    await transferRecording({ ...recording, jobId: randomUUID() }, 'claim-2', deps());

    expect(published).toEqual([
      {
        detailType: 'Recording Stored',
        detail: expect.objectContaining({ recordingSid: recording.recordingSid, callId, origin: 'callback' }),
      },
    ]);
    const text = JSON.stringify(published);
    expect(text).not.toMatch(/https?:|X-Amz|Signature|Credential/i);
    expect(text).not.toContain(TEST_AUTH_TOKEN);
  });

  it('heals a call item left behind by a crash between the ledger write and the call write', async () => {
    const recording = job();
    const callId = await givenCall(recording.callSid);
    serveAudio(recording.recordingSid, mediaBytes('audio', 4096));
    const crashingCalls = new CallsRepository(aws.ddb, CALLS_TABLE, CALL_SID_INDEX);
    crashingCalls.markStored = async () => {
      throw new Error('process killed');
    };

    await expect(transferRecording(recording, 'claim-1', deps({ calls: crashingCalls }))).rejects.toThrow(
      'process killed',
    );
    const afterCrash = await entry(callId, recording.recordingSid);
    const redelivered = await transferRecording(recording, 'claim-1', deps());

    expect(afterCrash?.status).toBe('transferring');
    expect(redelivered).toMatchObject({ result: 'already-stored' });
    expect(await entry(callId, recording.recordingSid)).toMatchObject({ status: 'stored', sizeBytes: 4096 });
    expect(stub.requestsTo(`${recording.recordingSid}.mp3`)).toHaveLength(1);
    expect(published.map((e) => e.detailType)).toEqual(['Recording Stored']);
  });

  it('is copied once when a second CallSid names the same RecordingSid after the copy', async () => {
    const recording = job();
    await givenCall(recording.callSid);
    serveAudio(recording.recordingSid, mediaBytes('audio', 1000));
    await transferRecording(recording, 'claim-1', deps());

    const other = await transferRecording({ ...recording, callSid: newCallSid(), jobId: randomUUID() }, 'c2', deps());

    expect(other).toMatchObject({ result: 'already-stored' });
    expect(stub.requestsTo(`${recording.recordingSid}.mp3`)).toHaveLength(1);
  });

  test.each(['erasing', 'erased'] as const)('is never copied again once the ledger says %s', async (status) => {
    const recording = job();
    await givenCall(recording.callSid);
    serveAudio(recording.recordingSid, mediaBytes('audio', 1000));
    await aws.ddb.send(
      new (await import('@aws-sdk/lib-dynamodb')).PutCommand({
        TableName: LEDGER_TABLE,
        Item: {
          recordingSid: recording.recordingSid,
          callSid: recording.callSid,
          status,
          startedAt: recording.startedAt,
          day: '2024-07-22',
          updatedAt: RECEIVED_AT.toISOString(),
        },
      }),
    );

    const outcome = await transferRecording(recording, 'claim', deps());

    expect(outcome).toMatchObject({ result: 'erased' });
    expect(stub.requestsTo(recording.recordingSid)).toHaveLength(0);
  });
});

describe('a RecordingSid first seen under one CallSid and then another', () => {
  it('is copied only under the first, and the second is noted on the ledger', async () => {
    const recording = job();
    await givenCall(recording.callSid);
    serveAudio(recording.recordingSid, mediaBytes('audio', 1000));
    const release = holdMedia(recording.recordingSid, mediaBytes('audio', 1000));
    const first = transferRecording(recording, 'claim-1', deps());
    await stub.waitForRequest((r) => r.path.startsWith(mediaPath(recording.recordingSid)));
    const otherCallSid = newCallSid();

    const second = await transferRecording({ ...recording, callSid: otherCallSid, jobId: randomUUID() }, 'c2', deps());
    release.resolve();
    await first;

    expect(second).toMatchObject({ result: 'other-call' });
    expect(stub.requestsTo(`${recording.recordingSid}.mp3`)).toHaveLength(1);
    const item = await ledger(recording.recordingSid);
    expect(item).toMatchObject({ status: 'stored', callSid: recording.callSid });
    expect(item.notes?.join('\n')).toContain(otherCallSid);
  });
});

describe('absent and failed recordings', () => {
  test.each([
    ['absent', '16102'],
    ['failed', undefined],
  ] as const)('are entered %s in the ledger and on the call, and announced', async (status, errorCode) => {
    const recording = job({ status, ...(errorCode ? { errorCode } : {}) });
    const callId = await givenCall(recording.callSid);

    await transferRecording(recording, 'claim', deps());

    expect(await ledger(recording.recordingSid)).toMatchObject({ status, callId, day: '2024-07-22' });
    expect(await entry(callId, recording.recordingSid)).toMatchObject({ status });
    expect(published).toEqual([
      {
        detailType: 'Recording Failed',
        detail: expect.objectContaining({ status, recordingSid: recording.recordingSid }),
      },
    ]);
    expect(stub.requests).toEqual([]);
  });

  it('never replace a live claim: an absent callback mid-copy adds a note, and a duplicate fetches nothing', async () => {
    const recording = job();
    const callId = await givenCall(recording.callSid);
    const audio = mediaBytes('audio', 3000);
    serveAudio(recording.recordingSid, audio);
    const release = holdMedia(recording.recordingSid, audio);
    const copying = transferRecording(recording, 'claim-1', deps());
    await stub.waitForRequest((r) => r.path.startsWith(mediaPath(recording.recordingSid)));

    await transferRecording({ ...recording, status: 'absent', errorCode: '16102', jobId: randomUUID() }, 'c2', deps());
    const duplicate = await transferRecording({ ...recording, jobId: randomUUID() }, 'claim-3', deps());
    release.resolve();
    await copying;

    expect(duplicate).toMatchObject({ result: 'claimed-elsewhere' });
    expect(stub.requestsTo(`${recording.recordingSid}.mp3`)).toHaveLength(1);
    const item = await ledger(recording.recordingSid);
    expect(item.status).toBe('stored');
    expect(item.notes?.join('\n')).toContain('absent');
    expect(await entry(callId, recording.recordingSid)).toMatchObject({ status: 'stored', sizeBytes: 3000 });
    expect(published.map((e) => e.detailType)).toEqual(['Recording Stored']);
  });

  it('never replace a stored copy', async () => {
    const recording = job();
    const callId = await givenCall(recording.callSid);
    serveAudio(recording.recordingSid, mediaBytes('audio', 500));
    await transferRecording(recording, 'claim', deps());

    await transferRecording({ ...recording, status: 'failed', jobId: randomUUID() }, 'c2', deps());

    expect((await ledger(recording.recordingSid)).status).toBe('stored');
    expect((await entry(callId, recording.recordingSid))?.status).toBe('stored');
  });
});

describe('the lease', () => {
  it('is renewed while a copy outlasts it, so a duplicate cannot take the recording over', async () => {
    const recording = job();
    await givenCall(recording.callSid);
    const audio = mediaBytes('audio', 2000);
    serveAudio(recording.recordingSid, audio);
    const release = holdMedia(recording.recordingSid, audio);
    const copying = transferRecording(recording, 'claim-1', deps({ leaseSeconds: 1 }));
    await stub.waitForRequest((r) => r.path.startsWith(mediaPath(recording.recordingSid)));
    const firstLease = (await ledger(recording.recordingSid)).leaseExpiresAt ?? 0;
    await waitUntil(async () => ((await ledger(recording.recordingSid)).leaseExpiresAt ?? 0) > firstLease);

    // The duplicate's clock is just past the first lease: only the renewal keeps the claim, however
    // slowly this machine ran the copy's timer.
    const duplicate = await transferRecording(
      { ...recording, jobId: randomUUID() },
      'claim-2',
      deps({ leaseSeconds: 1, now: () => new Date(firstLease + 1) }),
    );
    release.resolve();
    const original = await copying;

    expect(duplicate).toMatchObject({ result: 'claimed-elsewhere' });
    expect(original).toMatchObject({ result: 'stored' });
    expect(stub.requestsTo(`${recording.recordingSid}.mp3`)).toHaveLength(1);
  });
});

describe('a claim whose worker died', () => {
  /** What the dead worker told the ledger when it claimed the recording, `ago` ms before now. */
  async function deadClaim(recording: RecordingJob, callId: string, claimId: string, agoMs: number) {
    const claimed = await new RecordingLedger(aws.ddb, LEDGER_TABLE).claim(
      {
        recordingSid: recording.recordingSid,
        callId,
        callSid: recording.callSid,
        accountSid: recording.accountSid,
        startedAt: recording.startedAt,
        origin: 'callback',
      },
      claimId,
      300,
      new Date(Date.now() - agoMs),
    );
    expect(claimed.result).toBe('claimed');
    return claimed.item as LedgerItem;
  }

  test.each([
    ['a duplicate callback', 'callback'],
    ['the reconciler', 'reconciler'],
  ] as const)('is taken over by %s once its lease ran out, and the recording is stored once', async (_, origin) => {
    const recording = job();
    const callId = await givenCall(recording.callSid);
    const audio = mediaBytes('audio', 3000);
    serveAudio(recording.recordingSid, audio);
    // 301 s ago with a 300 s lease: expired, and nothing will ever renew it.
    await deadClaim(recording, callId, 'dead-worker', 301_000);

    const outcome = await transferRecording({ ...recording, jobId: randomUUID(), origin }, 'takeover', deps());

    expect(outcome).toMatchObject({ result: 'stored', sizeBytes: 3000 });
    const item = await ledger(recording.recordingSid);
    expect(item).toMatchObject({ status: 'stored', sha256: sha256(audio), callId });
    expect(item.claimId).toBeUndefined();
    expect(stub.requestsTo(`${recording.recordingSid}.mp3`)).toHaveLength(1);
    expect((await aws.getObject(item.key ?? ''))?.bytes.equals(audio)).toBe(true);
    expect(published.map((e) => e.detailType)).toEqual(['Recording Stored']);
  });

  it('can no longer renew nor record a copy once another job has taken its claim over', async () => {
    const recording = job();
    const callId = await givenCall(recording.callSid);
    serveAudio(recording.recordingSid, mediaBytes('audio', 1000));
    const dead = await deadClaim(recording, callId, 'dead-worker', 301_000);
    const ledgerOf = new RecordingLedger(aws.ddb, LEDGER_TABLE);
    const taken = await ledgerOf.claim(
      {
        recordingSid: recording.recordingSid,
        callId,
        callSid: recording.callSid,
        accountSid: recording.accountSid,
        startedAt: recording.startedAt,
        origin: 'callback',
      },
      'takeover',
      300,
      new Date(),
    );

    const renewed = await ledgerOf.renewLease(recording.recordingSid, 'dead-worker', 300, new Date());
    const recorded = await ledgerOf.markStored(
      recording.recordingSid,
      'dead-worker',
      {
        bucket: 'recordings',
        key: 'elsewhere',
        contentType: 'audio/mpeg',
        sizeBytes: 1,
        sha256: sha256(Buffer.from('x')),
      },
      new Date(),
    );

    expect(taken.result).toBe('claimed');
    expect(renewed).toBe(false);
    expect(recorded).toBeUndefined();
    expect(await ledger(recording.recordingSid)).toMatchObject({
      status: 'transferring',
      claimId: 'takeover',
      startedAt: dead.startedAt,
    });
  });

  it('is not taken over while its lease runs: the other job fetches nothing and the claim stays', async () => {
    const recording = job();
    const callId = await givenCall(recording.callSid);
    serveAudio(recording.recordingSid, mediaBytes('audio', 1000));
    // 100 s into a 300 s lease: far from its end however slow the machine.
    const live = await deadClaim(recording, callId, 'live-worker', 100_000);

    const outcome = await transferRecording({ ...recording, jobId: randomUUID() }, 'duplicate', deps());

    expect(outcome).toMatchObject({ result: 'claimed-elsewhere' });
    expect(stub.requests).toEqual([]);
    expect(await ledger(recording.recordingSid)).toMatchObject({
      status: 'transferring',
      claimId: 'live-worker',
      leaseExpiresAt: live.leaseExpiresAt,
    });
  });
});

describe('a lease that cannot be renewed', () => {
  it('stops the copy before the claim lapses, so nothing is stored after another job could take over', async () => {
    const recording = job();
    await givenCall(recording.callSid);
    const audio = mediaBytes('unrenewable', 2000);
    serveAudio(recording.recordingSid, audio);
    const release = holdMedia(recording.recordingSid, audio);
    const unreachable = new RecordingLedger(aws.ddb, LEDGER_TABLE);
    unreachable.renewLease = async () => {
      throw Object.assign(new Error('throttled'), { name: 'ThrottlingException' });
    };
    // The copy's clock, moved by the test: the timer's real pace does not matter.
    let clock = Date.now();
    const captured = captureObs();

    const copying = transferRecording(
      recording,
      'claim-1',
      deps({ ledger: unreachable, leaseSeconds: 1, now: () => new Date(clock), obs: captured.obs }),
    );
    const outcome = copying.then(
      () => 'finished',
      (error: { code?: string }) => error.code,
    );
    await stub.waitForRequest((r) => r.path.startsWith(mediaPath(recording.recordingSid)));
    const claimed = await ledger(recording.recordingSid);
    // Within one renewal interval of the lease's end, never past it.
    clock = (claimed.leaseExpiresAt ?? 0) - 100;
    await waitUntil(async () => captured.logs.some((l) => l.message.includes('before it lapses')));
    release.resolve();

    expect(await outcome).toBe('lost-claim');
    expect(clock).toBeLessThan(claimed.leaseExpiresAt ?? 0);
    const key = generateStorageKey(claimed.callId ?? '', recording.recordingSid, recording.startedAt, 'mp3');
    expect(await aws.getObject(key)).toBeUndefined();
    expect((await ledger(recording.recordingSid)).status).toBe('transferring');
  });
});

describe('a failure report racing a stored copy', () => {
  it('leaves the latest-recording fields to the copy stored between its two writes', async () => {
    const recording = job();
    const callId = await givenCall(recording.callSid);
    const calls = new CallsRepository(aws.ddb, CALLS_TABLE, CALL_SID_INDEX);
    await calls.resolveCall(recording.callSid, RECEIVED_AT);
    const key = generateStorageKey(callId, recording.recordingSid, recording.startedAt, 'mp3');
    const stored: RecordingEntry = { status: 'stored', key, sizeBytes: 10, startedAt: recording.startedAt };
    const send = aws.ddb.send.bind(aws.ddb);
    let writes = 0;
    const spy = jest.spyOn(aws.ddb, 'send').mockImplementation((async (command: never) => {
      const result = await send(command);
      // Right after the failure's entry write, a redriven copy lands.
      if (++writes === 1) await calls.markStored(callId, recording.recordingSid, stored, RECEIVED_AT);
      return result;
    }) as never);

    try {
      await calls.markFailed(
        callId,
        recording.recordingSid,
        { status: 'failed', error: 'gave up', startedAt: recording.startedAt },
        RECEIVED_AT,
      );
    } finally {
      spy.mockRestore();
    }

    expect(await aws.getItem(callId)).toMatchObject({
      recordings: { [recording.recordingSid]: { status: 'stored' } },
      recordingStatus: 'stored',
      recordingKey: key,
    });
  });
});

describe('media that is not the recording', () => {
  it('is never stored nor followed by a DELETE at Twilio when it is a page served as audio, too small for the duration', async () => {
    const recording = job({ duration: '42' });
    const callId = await givenCall(recording.callSid);
    stub.respond('GET', mediaPath(recording.recordingSid), {
      headers: { 'content-type': 'audio/mpeg' },
      body: '<html>Service Unavailable</html>',
    });

    await expect(
      transferRecording(recording, 'claim', deps({ deleteFromTwilioAfterCopy: true })),
    ).rejects.toMatchObject({ code: 'implausible-size' });

    expect(
      await aws.getObject(generateStorageKey(callId, recording.recordingSid, recording.startedAt, 'mp3')),
    ).toBeUndefined();
    expect(stub.requestsTo(recording.recordingSid, 'DELETE')).toHaveLength(0);
    expect((await entry(callId, recording.recordingSid))?.status).toBe('transferring');
  });

  it('is deleted at Twilio only after the copy is verified and recorded', async () => {
    const recording = job({ duration: '1' });
    await givenCall(recording.callSid);
    serveAudio(recording.recordingSid, mediaBytes('audio', 5000));

    await transferRecording(recording, 'claim', deps({ deleteFromTwilioAfterCopy: true }));

    expect(stub.requestsTo(recording.recordingSid, 'DELETE')).toHaveLength(1);
    expect(await ledger(recording.recordingSid)).toMatchObject({
      status: 'stored',
      deletedAtTwilioAt: expect.any(String),
    });
  });
});

describe('a CallSid that matches no call', () => {
  it('gets an item carrying the numbers in E.164, the direction and the start from Twilio', async () => {
    const recording = job();
    serveAudio(recording.recordingSid, mediaBytes('audio', 800));
    stub.respond('GET', stub.callPath(recording.callSid), {
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        sid: recording.callSid,
        from: '+1 (415) 555-0100',
        to: '4155550199',
        direction: 'inbound',
        start_time: 'Mon, 22 Jul 2024 16:58:00 +0000',
      }),
    });

    await transferRecording(recording, 'claim', deps());

    expect(await aws.getItem(recording.callSid)).toMatchObject({
      callId: recording.callSid,
      origin: 'recording-callback',
      from: '+14155550100',
      to: '+14155550199',
      direction: 'inbound',
      callStartedAt: '2024-07-22T16:58:00.000Z',
      recordings: { [recording.recordingSid]: { status: 'stored' } },
    });
  });

  it('still gets the recording stored when Twilio does not answer for the call', async () => {
    const recording = job();
    serveAudio(recording.recordingSid, mediaBytes('audio', 800));

    await transferRecording(recording, 'claim', deps());

    const item = await aws.getItem(recording.callSid);
    expect(item).toMatchObject({ recordings: { [recording.recordingSid]: { status: 'stored' } } });
    expect(item?.from).toBeUndefined();
  });
});

describe('the local event bus', () => {
  it('appends one JSON line per event with source, detail-type, detail and time', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'rv-events-'));
    const path = join(dir, 'events.ndjson');
    const publisher = fileEventPublisher(path, () => RECEIVED_AT);
    try {
      await publisher.publish({
        detailType: 'Recording Erased',
        detail: { recordingSid: 'RE1', callId: 'c', callSid: 'CA1', erasedAt: 'x', erasedBy: 'local' },
      });
      await publisher.publish({
        detailType: 'Recording Failed',
        detail: { recordingSid: 'RE2', callId: 'c', callSid: 'CA1', status: 'absent', error: 'silent' },
      });

      const lines = (await readFile(path, 'utf8'))
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l));
      expect(lines).toEqual([
        {
          source: 'recording-vault',
          'detail-type': 'Recording Erased',
          detail: expect.objectContaining({ recordingSid: 'RE1' }),
          time: RECEIVED_AT.toISOString(),
        },
        expect.objectContaining({ 'detail-type': 'Recording Failed' }),
      ]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

/** The object's tags, read straight from S3. */
async function tagsOf(key: string): Promise<Record<string, string>> {
  const { TagSet = [] } = await aws.s3.send(new GetObjectTaggingCommand({ Bucket: 'recordings', Key: key }));
  return Object.fromEntries(TagSet.map((t) => [t.Key ?? '', t.Value ?? '']));
}

/** Polls a condition (bounded), for waiting on the clock to pass a lease without a fixed sleep. */
async function waitUntil(condition: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
