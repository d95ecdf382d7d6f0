/**
 * `npm run status` logic (lib/ops/status.ts) against dynalite, s3rver and fauxqs: what the
 * ledger, the call entry, the S3 object and the dead-letter queue say of a recording, where they
 * disagree, and that looking at the DLQ consumes nothing.
 */
import { createHash, randomBytes } from 'node:crypto';
import { DeleteObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { PurgeQueueCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { DeleteCommand, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { RetentionCheckpointStore } from '../../../lambda/retention/checkpoint';
import { retentionWalks } from '../../../lambda/retention/retention-walks';
import { RETENTION_CHECKPOINT_KEY } from '../../../lambda/shared/config/env-names';
import type { LedgerItem } from '../../../lambda/shared/ledger/ledger';
import {
  findIssues,
  formatStatus,
  NotFoundError,
  peekDeadLetters,
  recordingStatus,
  type StatusSources,
} from '../../../lib/ops/status';
import {
  CALL_SID_INDEX,
  CALLS_TABLE,
  type Emulators,
  LEDGER_TABLE,
  RECORDINGS_BUCKET,
  startEmulators,
} from '../../helpers/emulators';
import { type SqsEmulator, startSqsEmulator } from '../../helpers/sqs-emulator';

const DLQ = 'recording-transfer-dlq';

let aws: Emulators;
let sqs: SqsEmulator;
let sources: StatusSources;

beforeAll(async () => {
  [aws, sqs] = await Promise.all([startEmulators(), startSqsEmulator([DLQ])]);
  sources = {
    ddb: aws.ddb,
    s3: aws.s3,
    sqs: sqs.client,
    ledgerTableName: LEDGER_TABLE,
    callsTableName: CALLS_TABLE,
    callSidIndexName: CALL_SID_INDEX,
    bucketName: RECORDINGS_BUCKET,
    deadLetterQueueUrl: sqs.queueUrl(DLQ),
    waitTimeSeconds: 0,
  };
});

afterAll(async () => {
  await Promise.all([aws?.stop(), sqs?.stop()]);
});

beforeEach(async () => {
  await sqs.client.send(new PurgeQueueCommand({ QueueUrl: sqs.queueUrl(DLQ) }));
});

const hex = (n: number) => randomBytes(n).toString('hex');
const sha = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

interface Seeded {
  readonly callId: string;
  readonly callSid: string;
}

async function call(recordings: Record<string, Record<string, unknown>> = {}): Promise<Seeded> {
  const seeded = { callId: `call-${hex(4)}`, callSid: `CA${hex(16)}` };
  await aws.putItem({ callId: seeded.callId, twilioCallSid: seeded.callSid, recordings });
  return seeded;
}

async function ledger(
  item: Partial<LedgerItem> & { recordingSid: string; callSid: string; status: LedgerItem['status'] },
) {
  const startedAt = item.startedAt ?? '2024-07-22T17:00:00.000Z';
  await aws.ddb.send(
    new PutCommand({
      TableName: LEDGER_TABLE,
      Item: { startedAt, day: startedAt.slice(0, 10), updatedAt: '2024-07-22T17:01:00.000Z', ...item },
    }),
  );
}

async function object(key: string, bytes: Buffer, sha256 = sha(bytes)): Promise<void> {
  await aws.s3.send(
    new PutObjectCommand({
      Bucket: RECORDINGS_BUCKET,
      Key: key,
      Body: bytes,
      ContentType: 'audio/mpeg',
      Metadata: { sha256 },
    }),
  );
}

async function deadLetter(recordingSid: string, callSid: string, code = 'twilio-500', attempts = 4): Promise<void> {
  await sqs.client.send(
    new SendMessageCommand({
      QueueUrl: sqs.queueUrl(DLQ),
      MessageBody: JSON.stringify({
        version: 1,
        recordingSid,
        callSid,
        accountSid: `AC${hex(16)}`,
        status: 'completed',
      }),
      MessageAttributes: {
        errorCode: { DataType: 'String', StringValue: code },
        error: { DataType: 'String', StringValue: `Twilio answered ${code.slice(7)} for the media` },
        attempts: { DataType: 'Number', StringValue: String(attempts) },
      },
    }),
  );
}

/** A stored recording, consistent everywhere. */
async function stored(seeded?: Seeded, startedAt = '2024-07-22T17:00:00.000Z') {
  const recordingSid = `RE${hex(16)}`;
  const bytes = randomBytes(2048);
  const c = seeded ?? (await call());
  const key = `recordings/2024/07/${c.callId}/${recordingSid}.mp3`;
  const copy = { bucket: RECORDINGS_BUCKET, key, sizeBytes: bytes.length, sha256: sha(bytes) };
  await ledger({
    recordingSid,
    callSid: c.callSid,
    callId: c.callId,
    status: 'stored',
    storedAt: '2024-07-22T17:01:00.000Z',
    startedAt,
    claimId: 'job-1',
    ...copy,
  });
  await aws.putItem({
    ...(await aws.getItem(c.callId)),
    recordings: {
      ...((await aws.getItem(c.callId))?.recordings as object),
      [recordingSid]: { status: 'stored', startedAt, ...copy },
    },
  });
  await object(key, bytes);
  return { ...c, recordingSid, key, bytes };
}

test('a stored recording: ledger, call entry, object and no dead letter agree', async () => {
  const r = await stored();

  const report = await recordingStatus(sources, { recordingSid: r.recordingSid });

  expect(report.call).toEqual({ callId: r.callId, twilioCallSid: r.callSid });
  expect(report.recordings).toHaveLength(1);
  const [status] = report.recordings;
  expect(status).toMatchObject({
    recordingSid: r.recordingSid,
    callId: r.callId,
    callSid: r.callSid,
    ledger: { status: 'stored', sizeBytes: r.bytes.length, sha256: sha(r.bytes) },
    callEntry: { status: 'stored' },
    object: { bucket: RECORDINGS_BUCKET, key: r.key, present: true, sizeBytes: r.bytes.length, sha256: sha(r.bytes) },
    deadLetters: [],
    issues: [],
  });
  // The claim is internal: not shown.
  expect(JSON.stringify(report)).not.toContain('claimId');

  const text = formatStatus(report);
  expect(text).toContain(`recording ${r.recordingSid}`);
  expect(text).toMatch(/ledger +stored at 2024-07-22T17:01:00.000Z, 2048 B, sha256 [0-9a-f]{64}\n/);
  expect(text).toMatch(/times +started 2024-07-22T17:00:00.000Z, updated 2024-07-22T17:01:00.000Z/);
  expect(text).toContain(`s3://${RECORDINGS_BUCKET}/${r.key}: present, 2048 B, size matches, sha256 matches`);
  expect(text).toMatch(/dead letters +none/);
  // Aligned: every value starts in the same column.
  const columns = text
    .split('\n')
    .filter((l) => l.startsWith('  '))
    .map((l) => l.search(/(?<=\S {2,})\S/));
  expect(new Set(columns).size).toBe(1);
});

test('a failed recording: the reason from the ledger, the call entry and the DLQ job, which stays in the DLQ', async () => {
  const recordingSid = `RE${hex(16)}`;
  const failure = { errorCode: 'twilio-500', error: 'Twilio answered 500 for the media' };
  const c = await call({ [recordingSid]: { status: 'failed', ...failure } });
  await ledger({ recordingSid, callSid: c.callSid, callId: c.callId, status: 'failed', ...failure });
  await deadLetter(recordingSid, c.callSid);
  await deadLetter(`RE${hex(16)}`, `CA${hex(16)}`); // someone else's

  const report = await recordingStatus(sources, { recordingSid });

  const [status] = report.recordings;
  expect(status?.ledger).toMatchObject({ status: 'failed', ...failure });
  expect(status?.callEntry).toMatchObject({ status: 'failed', ...failure });
  expect(status?.object).toBeNull();
  expect(status?.deadLetters).toEqual([
    expect.objectContaining({
      recordingSid,
      callSid: c.callSid,
      errorCode: 'twilio-500',
      attempts: 4,
      error: failure.error,
    }),
  ]);
  expect(status?.deadLetters[0]?.queuedAt).toMatch(/^\d{4}-\d\d-\d\dT/);
  expect(status?.issues).toEqual([
    expect.stringMatching(/1 job\(s\) for it in the dead-letter queue: fix the cause, then npm run redrive/),
  ]);
  expect(report.deadLettersScanned).toBe(2);

  const text = formatStatus(report);
  expect(text).toMatch(/ledger +failed \(twilio-500: Twilio answered 500 for the media\)/);
  expect(text).toMatch(/dead letter +twilio-500 after 4 attempt\(s\): Twilio answered 500 for the media · queued /);

  // Looked at, not consumed: both jobs are visible again at once.
  expect(await sqs.visibleMessages(DLQ)).toHaveLength(2);
});

test('disagreements are named: object missing, size or sha256 off, call entry behind the ledger', async () => {
  const missing = await stored();
  await aws.s3.send(new DeleteObjectCommand({ Bucket: RECORDINGS_BUCKET, Key: missing.key }));
  expect((await recordingStatus(sources, { recordingSid: missing.recordingSid })).recordings[0]?.issues).toEqual([
    'the ledger says stored, but the object is missing',
  ]);

  const changed = await stored();
  await object(changed.key, Buffer.concat([changed.bytes, Buffer.from('x')]), 'f'.repeat(64));
  const issues = (await recordingStatus(sources, { recordingSid: changed.recordingSid })).recordings[0]?.issues;
  expect(issues).toEqual([
    `the object is ${changed.bytes.length + 1} B, the ledger says ${changed.bytes.length} B`,
    'the object’s sha256 (metadata or tag) differs from the ledger’s',
  ]);

  const behind = await stored();
  await aws.putItem({
    callId: behind.callId,
    twilioCallSid: behind.callSid,
    recordings: { [behind.recordingSid]: { status: 'transferring' } },
  });
  expect((await recordingStatus(sources, { recordingSid: behind.recordingSid })).recordings[0]?.issues).toEqual([
    'the call entry says transferring, the ledger stored: the ledger is right; the next job for it rewrites the entry',
  ]);
});

test('a recording known only from its dead-lettered job: the call is found by its CallSid', async () => {
  const recordingSid = `RE${hex(16)}`;
  const c = await call();
  await deadLetter(recordingSid, c.callSid, 'twilio-401', 1);

  const report = await recordingStatus(sources, { recordingSid });

  expect(report.call).toEqual({ callId: c.callId, twilioCallSid: c.callSid });
  expect(report.recordings[0]).toMatchObject({ ledger: null, callEntry: null, object: null });
  expect(report.recordings[0]?.issues).toEqual([
    expect.stringMatching(/the ledger has no entry for it/),
    expect.stringMatching(/1 job\(s\) for it in the dead-letter queue/),
  ]);
});

test('--call: every recording of the call, oldest first, the dead-lettered one included; by callId or CallSid', async () => {
  const c = await call();
  const later = await stored(c, '2024-07-22T17:30:00.000Z');
  const earlier = await stored(c, '2024-07-22T17:00:00.000Z');
  const lost = `RE${hex(16)}`;
  await deadLetter(lost, c.callSid);

  for (const callId of [c.callId, c.callSid]) {
    const report = await recordingStatus(sources, { callId });
    expect(report.call).toEqual({ callId: c.callId, twilioCallSid: c.callSid });
    expect(report.recordings.map((r) => r.recordingSid)).toEqual([lost, earlier.recordingSid, later.recordingSid]);
    expect(report.recordings.map((r) => r.ledger?.status ?? null)).toEqual([null, 'stored', 'stored']);
  }
  const text = formatStatus(await recordingStatus(sources, { callId: c.callId }));
  expect(text.split('\n')[0]).toBe(`call ${c.callId} (CallSid ${c.callSid})`);
  expect(text.match(/^recording RE/gm)).toHaveLength(3);
});

test('unknown recording or call: NotFoundError', async () => {
  await expect(recordingStatus(sources, { recordingSid: `RE${hex(16)}` })).rejects.toThrow(NotFoundError);
  await expect(recordingStatus(sources, { callId: 'no-such-call' })).rejects.toThrow(
    'call no-such-call is unknown: no item in the calls table',
  );
});

test('the DLQ scan stops at its limit and says so', async () => {
  for (let i = 0; i < 12; i++) await deadLetter(`RE${hex(16)}`, `CA${hex(16)}`);
  const scan = await peekDeadLetters({ ...sources, maxDeadLetters: 10 });
  expect(scan.truncated).toBe(true);
  expect(scan.scanned).toBeGreaterThanOrEqual(10);
  expect(await sqs.visibleMessages(DLQ)).toHaveLength(12);
});

test('an expired claim and a stored recording still in the DLQ are called out', () => {
  const base = { recordingSid: 'RE1', callSid: 'CA1', startedAt: '', day: '', updatedAt: '' };
  expect(
    findIssues({ ...base, status: 'transferring', leaseExpiresAt: 1_000 }, { status: 'transferring' }, null, [], 2_000),
  ).toEqual([
    'its copy stopped: the claim ran out at 1970-01-01T00:00:01.000Z; the next delivery of its job takes it over',
  ]);
  expect(
    findIssues({ ...base, status: 'stored' }, { status: 'stored' }, null, [{ messageId: 'm', errorCode: 'network' }]),
  ).toEqual(['1 job(s) for it in the dead-letter queue though it is stored: redriving them does nothing']);
});

test('an encrypted recording: the status names the key Twilio used and the command that decrypts it', async () => {
  const recordingSid = `RE${hex(16)}`;
  const c = await call();
  const encryption = {
    type: 'rsa-aes',
    publicKeySid: `CR${hex(16)}`,
    encryptedCek: 'QUJD'.repeat(86),
    iv: 'AAAAAAAAAAAAAAAA',
  };
  await ledger({ recordingSid, callSid: c.callSid, callId: c.callId, status: 'stored', encryption });

  const text = formatStatus(await recordingStatus(sources, { recordingSid }));

  expect(text).toMatch(
    new RegExp(
      `encrypted +rsa-aes for public key ${encryption.publicKeySid}: npm run decrypt -- --recording ${recordingSid} --private-key <key\\.pem> --out <file\\.wav>`,
    ),
  );
});

/** The ledger's RecordingSource of a recording (stored() leaves it unset). */
async function givenSource(recordingSid: string, source: string) {
  await aws.ddb.send(
    new UpdateCommand({
      TableName: LEDGER_TABLE,
      Key: { recordingSid },
      UpdateExpression: 'SET #source = :source',
      ExpressionAttributeNames: { '#source': 'source' },
      ExpressionAttributeValues: { ':source': source },
    }),
  );
}

describe('retention and holds', () => {
  const NOW = new Date('2024-09-01T12:00:00.000Z');
  const withRetention = (days: number): StatusSources => ({ ...sources, retentionDays: days, now: () => NOW });

  test('a kept recording of a target with retention: its due date, then the sweep that expires it', async () => {
    const r = await stored(undefined, '2024-08-20T10:00:00.000Z');

    const report = await recordingStatus(withRetention(30), { recordingSid: r.recordingSid });

    expect(report.recordings[0]).toMatchObject({ retentionDueAt: '2024-09-19T10:00:00.000Z', issues: [] });
    expect(formatStatus(report, NOW.getTime())).toMatch(
      /^ {2}retention +expired by the sweep after 2024-09-19T10:00:00.000Z$/m,
    );
    // Without retention: no due date, no line.
    const kept = await recordingStatus(sources, { recordingSid: r.recordingSid });
    expect(kept.recordings[0]?.retentionDueAt).toBeUndefined();
    expect(formatStatus(kept)).not.toMatch(/retention/);
  });

  test('a recording of a source kept for its own period is due at the end of that period', async () => {
    const r = await stored(undefined, '2024-08-20T10:00:00.000Z');
    await givenSource(r.recordingSid, 'Conference');

    const report = await recordingStatus(
      { ...withRetention(30), retentionDaysBySource: { Conference: 365, Trunking: 7 } },
      { recordingSid: r.recordingSid },
    );

    expect(report.recordings[0]).toMatchObject({ retentionDueAt: '2025-08-20T10:00:00.000Z' });
  });

  test('past its retention and not held, days later: the sweep has not reached it', async () => {
    const r = await stored();

    const report = await recordingStatus(withRetention(30), { recordingSid: r.recordingSid });

    expect(report.recordings[0]?.issues).toEqual([
      'past its retention since 2024-08-21T17:00:00.000Z and not held: the sweep has not reached it (npm run status -- --retention)',
    ]);
    expect(formatStatus(report, NOW.getTime())).toMatch(
      /^ {2}retention +due since 2024-08-21T17:00:00.000Z: the next sweep expires it$/m,
    );
  });

  test('periods given here that differ from the sweep’s: no due date and no "past its retention" issue, but one line saying why', async () => {
    const r = await stored(undefined, '2023-08-20T10:00:00.000Z');
    await givenSource(r.recordingSid, 'Conference');
    // The sweep runs with Conference kept 365 days; this shell gives RETENTION_DAYS=30 alone.
    const walks = retentionWalks({ days: 30, bySource: { Conference: 365 } });
    const registry = new RetentionCheckpointStore(aws.ddb, LEDGER_TABLE);
    try {
      await registry.writeWalkKeys(walks.map((walk) => walk.checkpointKey));
      for (const walk of walks) {
        await new RetentionCheckpointStore(aws.ddb, LEDGER_TABLE, walk.checkpointKey).write({
          nextDay: '2024-08-02',
          pending: [],
        });
      }

      const report = await recordingStatus(withRetention(30), { recordingSid: r.recordingSid });

      expect(report.recordings[0]?.retentionDueAt).toBeUndefined();
      expect(report.recordings[0]?.issues).toEqual([]);
      const lines = formatStatus(report, NOW.getTime())
        .split('\n')
        .filter((line) => /^ {2}retention /.test(line));
      expect(lines).toEqual([
        expect.stringMatching(
          /^ {2}retention +unknown: the retention periods given here differ from those of the sweep’s last run/,
        ),
      ]);
      // The sweep's own periods: the Conference period's date.
      const same = await recordingStatus(
        { ...withRetention(30), retentionDaysBySource: { Conference: 365 } },
        { recordingSid: r.recordingSid },
      );
      expect(same.recordings[0]).toMatchObject({ retentionDueAt: '2024-08-19T10:00:00.000Z' });
      expect(same.recordings[0]?.retentionUnknown).toBeUndefined();
    } finally {
      for (const key of [RETENTION_CHECKPOINT_KEY, ...walks.map((walk) => walk.checkpointKey)]) {
        await aws.ddb.send(new DeleteCommand({ TableName: LEDGER_TABLE, Key: { recordingSid: key } }));
      }
    }
  });

  test('a held recording: who held it and why, and that the sweep passes it by', async () => {
    const r = await stored();
    const hold = { by: 'arn:aws:iam::123456789012:user/legal', at: '2024-08-01T09:00:00.000Z', reason: 'case 42' };
    await aws.ddb.send(
      new PutCommand({
        TableName: LEDGER_TABLE,
        Item: { ...(await getLedgerItem(r.recordingSid)), hold, holdState: 'held' },
      }),
    );

    const report = await recordingStatus(withRetention(30), { recordingSid: r.recordingSid });

    expect(report.recordings[0]?.issues).toEqual([]);
    const text = formatStatus(report, NOW.getTime());
    expect(text).toMatch(
      /^ {2}hold +held since 2024-08-01T09:00:00.000Z by arn:aws:iam::123456789012:user\/legal: case 42$/m,
    );
    expect(text).toMatch(/^ {2}retention +due 2024-08-21T17:00:00.000Z; passed by while held/m);
  });

  test('an expired recording: when, by the sweep; the call entry saying erased agrees', async () => {
    const c = await call();
    const recordingSid = `RE${hex(16)}`;
    await aws.putItem({
      callId: c.callId,
      twilioCallSid: c.callSid,
      recordings: { [recordingSid]: { status: 'erased' } },
    });
    await ledger({
      recordingSid,
      callSid: c.callSid,
      callId: c.callId,
      status: 'expired',
      expiredAt: '2024-08-30T03:00:00.000Z',
    });

    const report = await recordingStatus(withRetention(30), { recordingSid });

    expect(report.recordings[0]).toMatchObject({ issues: [] });
    expect(report.recordings[0]?.retentionDueAt).toBeUndefined();
    expect(formatStatus(report, NOW.getTime())).toMatch(
      /^ {2}ledger +expired at 2024-08-30T03:00:00.000Z by the retention sweep$/m,
    );
  });
});

async function getLedgerItem(recordingSid: string): Promise<Record<string, unknown>> {
  const { Item } = await aws.ddb.send(new GetCommand({ TableName: LEDGER_TABLE, Key: { recordingSid } }));
  return Item as Record<string, unknown>;
}

test('a conference recording without a call has no call entry, and that is no issue; a call recording without one is', () => {
  const base = { recordingSid: 'RE1', startedAt: '', day: '', updatedAt: '' };
  const conference = { ...base, conferenceSid: 'CF1', status: 'expired' as const };
  expect(findIssues(conference, undefined, null, [])).toEqual([]);
  const onCall = { ...base, callSid: 'CA1', callId: 'call-1', status: 'expired' as const };
  expect(findIssues(onCall, undefined, null, [])).toEqual(['the call item has no entry for it']);
});
