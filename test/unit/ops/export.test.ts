/**
 * The run of `npm run export` (lib/ops/export.ts) against dynalite and s3rver, with the audit
 * trail as a recorder double: a run that is entered as `started` always gets its end —
 * `interrupted` with its counts (within a deadline, even when the trail does not answer) or
 * `failed` with the reason.
 */
import '../../helpers/setup-env';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CopyObjectCommand, CreateBucketCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import type { AuditDetails } from '../../../lambda/shared/audit/audit-record';
import { dayShardKey, shardOf } from '../../../lambda/shared/ledger/index-shards';
import { LEDGER_DAY_INDEX, LEDGER_INDEX_SHARDS } from '../../../lib/local/config';
import type { CommandAudit } from '../../../lib/ops/command-audit';
import {
  type ExportProgress,
  type ExportSources,
  exportRecordings,
  openExportTarget,
  parseDestination,
} from '../../../lib/ops/export';
import { type Emulators, LEDGER_TABLE, RECORDINGS_BUCKET, startEmulators } from '../../helpers/emulators';

let aws: Emulators;
let scratch: string;

beforeAll(async () => {
  aws = await startEmulators();
  scratch = await mkdtemp(join(tmpdir(), 'rv-export-run-'));
});

afterAll(async () => {
  await aws.stop();
  await rm(scratch, { recursive: true, force: true });
});

const sources = (): ExportSources => ({
  ddb: aws.ddb,
  s3: aws.s3,
  ledgerTableName: LEDGER_TABLE,
  ledgerDayIndexName: LEDGER_DAY_INDEX,
  ledgerIndexShards: LEDGER_INDEX_SHARDS,
  name: 'the test emulators',
});

interface Entered {
  readonly recordingSid: string;
  readonly outcome: string;
  readonly details?: AuditDetails;
}

/** The trail as a list; `hang` names outcomes whose put never answers. */
function recorder(hang: readonly string[] = []): { audit: CommandAudit; entered: Entered[] } {
  const entered: Entered[] = [];
  return {
    entered,
    audit: {
      actor: { actor: 'alice', kind: 'local', userAgent: 'npm run export (test)' },
      async record(recordingSid, _action, outcome, details) {
        if (hang.includes(outcome)) return new Promise<void>(() => undefined);
        entered.push({ recordingSid, outcome, ...(details ? { details } : {}) });
      },
    },
  };
}

const progress = (onTick: () => void, notes: string[] = []): ExportProgress => ({
  start: () => undefined,
  tick: onTick,
  note: (line) => notes.push(line),
  stop: () => undefined,
});

async function storeDay(day: string, count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    const recordingSid = `RE${randomBytes(16).toString('hex')}`;
    const startedAt = `${day}T0${i}:00:00.000Z`;
    const key = `recordings/${day.slice(0, 4)}/${day.slice(5, 7)}/call-${i}/${recordingSid}.mp3`;
    const bytes = randomBytes(1024);
    await aws.s3.send(new PutObjectCommand({ Bucket: RECORDINGS_BUCKET, Key: key, Body: bytes }));
    await aws.ddb.send(
      new PutCommand({
        TableName: LEDGER_TABLE,
        Item: {
          recordingSid,
          status: 'stored',
          bucket: RECORDINGS_BUCKET,
          key,
          contentType: 'audio/mpeg',
          sizeBytes: bytes.length,
          sha256: createHash('sha256').update(bytes).digest('hex'),
          startedAt,
          day,
          dayShard: dayShardKey(day, shardOf(recordingSid, LEDGER_INDEX_SHARDS)),
        },
      }),
    );
  }
}

const range = (day: string) => ({ from: new Date(`${day}T00:00:00.000Z`), to: new Date(`${day}T23:59:59.999Z`) });

async function target(name: string) {
  return openExportTarget(parseDestination(join(scratch, name)), { s3: aws.s3, vaultBucketName: RECORDINGS_BUCKET });
}

test('interrupted after the first recording: the run is entered as interrupted with its counts and signal', async () => {
  await storeDay('2025-10-01', 3);
  const { audit, entered } = recorder();
  const interrupt = new AbortController();

  const result = await exportRecordings(
    { ...range('2025-10-01'), out: await target('interrupted') },
    sources(),
    audit,
    {
      signal: interrupt.signal,
      progress: progress(() => interrupt.abort('SIGTERM')),
    },
  );

  expect(result).toMatchObject({ finished: false, listed: 3, copied: 1 });
  const runs = entered.filter((e) => e.recordingSid === '~export');
  expect(runs.map((e) => e.outcome)).toEqual(['started', 'interrupted']);
  expect(runs[1]?.details).toMatchObject({ listed: 3, copied: 1, alreadyThere: 0, failed: 0, signal: 'SIGTERM' });
});

test('an interrupted entry the trail does not answer: the run still ends within the deadline, and says so', async () => {
  await storeDay('2025-10-02', 2);
  const { audit } = recorder(['interrupted']);
  const interrupt = new AbortController();
  const notes: string[] = [];

  const result = await exportRecordings({ ...range('2025-10-02'), out: await target('hanging') }, sources(), audit, {
    signal: interrupt.signal,
    progress: progress(() => interrupt.abort('SIGINT'), notes),
    interruptedEntryDeadlineMs: 50,
  });

  expect(result.finished).toBe(false);
  expect(notes).toContain('export: the interruption could not be entered in the audit trail: no answer within 50 ms');
});

test('interrupted before anything was entered: no run entry at all', async () => {
  const { audit, entered } = recorder();
  const interrupt = new AbortController();
  interrupt.abort('SIGINT');

  const result = await exportRecordings({ ...range('2025-10-03'), out: await target('early') }, sources(), audit, {
    signal: interrupt.signal,
  });

  expect(result.finished).toBe(false);
  expect(entered).toEqual([]);
});

test('a ledger that cannot be read after the run started: the run is entered as failed, the error passed on', async () => {
  const { audit, entered } = recorder();
  const broken: ExportSources = {
    ...sources(),
    ddb: { send: async () => Promise.reject(new Error('ledger unavailable')) },
  };

  await expect(
    exportRecordings({ ...range('2025-10-04'), out: await target('failed') }, broken, audit),
  ).rejects.toThrow('ledger unavailable');

  expect(entered.map((e) => e.outcome)).toEqual(['started', 'failed']);
  expect(entered[1]?.details).toMatchObject({ listed: 0, copied: 0, reason: 'ledger unavailable' });
});

test('a damaged local copy is copied again and says so: a line naming the recording and why, and its copied entry', async () => {
  await storeDay('2025-10-05', 3);
  const out = await target('damaged');
  await exportRecordings({ ...range('2025-10-05'), out }, sources(), recorder().audit);
  const mp3 = (await readdir(join(scratch, 'damaged'))).filter((f) => f.endsWith('.mp3')).sort();
  const damaged = join(scratch, 'damaged', mp3[0] as string);
  const bytes = await readFile(damaged);
  bytes[0] = (bytes[0] as number) ^ 0xff;
  await writeFile(damaged, bytes);
  const missing = mp3[1] as string;
  await rm(join(scratch, 'damaged', missing));
  const { audit, entered } = recorder();
  const notes: string[] = [];

  const again = await exportRecordings({ ...range('2025-10-05'), out }, sources(), audit, {
    progress: progress(() => undefined, notes),
  });

  const sid = (file: string) => file.replace(/\.mp3$/, '');
  expect(again).toMatchObject({ copied: 2, alreadyThere: 1, recopied: 2, failed: 0 });
  expect(notes).toEqual(
    expect.arrayContaining([
      `export: ${sid(mp3[0] as string)} copied again: the copy there did not match its SHA-256`,
      `export: ${sid(missing)} copied again: its copy was missing`,
    ]),
  );
  expect(entered.find((e) => e.recordingSid === sid(mp3[0] as string))).toMatchObject({
    outcome: 'copied',
    details: expect.objectContaining({ again: 'the copy there did not match its SHA-256' }),
  });
});

test('to s3://: a copy whose size or sha256 metadata do not match the ledger is copied again and says so', async () => {
  await storeDay('2025-10-06', 2);
  const bucket = `export-${randomBytes(4).toString('hex')}`;
  await aws.s3.send(new CreateBucketCommand({ Bucket: bucket }));
  const out = await openExportTarget(parseDestination(`s3://${bucket}/audit`), {
    s3: aws.s3,
    vaultBucketName: RECORDINGS_BUCKET,
  });
  const first = await exportRecordings({ ...range('2025-10-06'), out }, sources(), recorder().audit);
  expect(first.copied).toBe(2);
  const manifest = JSON.parse((await out.readText('manifest.json')) as string) as {
    recordings: { recordingSid: string; file: string }[];
  };
  const [badHash, badSize] = manifest.recordings;
  // Replaced in place with other metadata, and with other bytes.
  await aws.s3.send(
    new CopyObjectCommand({
      Bucket: bucket,
      Key: `audit/${badHash?.file}`,
      CopySource: `${bucket}/audit/${badHash?.file}`,
      Metadata: { sha256: '0'.repeat(64) },
      MetadataDirective: 'REPLACE',
    }),
  );
  await aws.s3.send(
    new PutObjectCommand({
      Bucket: bucket,
      Key: `audit/${badSize?.file}`,
      Body: 'short',
      Metadata: { sha256: '0'.repeat(64) },
    }),
  );
  const notes: string[] = [];

  const again = await exportRecordings({ ...range('2025-10-06'), out }, sources(), recorder().audit, {
    progress: progress(() => undefined, notes),
  });

  expect(again).toMatchObject({ copied: 2, recopied: 2, failed: 0 });
  expect(notes).toEqual(
    expect.arrayContaining([
      `export: ${badHash?.recordingSid} copied again: the copy there did not match its SHA-256 (its sha256 metadata)`,
      `export: ${badSize?.recordingSid} copied again: the copy there has 5 bytes, the ledger says 1024`,
    ]),
  );
});
