/**
 * The run of `npm run export` (lib/ops/export.ts) against dynalite and s3rver, with the audit
 * trail as a recorder double: a run that is entered as `started` always gets its end —
 * `interrupted` with its counts (within a deadline, even when the trail does not answer) or
 * `failed` with the reason.
 */
import '../../helpers/setup-env';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
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
