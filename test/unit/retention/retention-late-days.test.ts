/**
 * A recording stored on a day the retention sweep has already passed (a backfill, a copy retried
 * for days): the transfer notes its day (lambda/shared/ledger/late-days.ts), and the next runs
 * sweep that day again, through the erasure path against dynalite and s3rver.
 */
import '../../helpers/setup-env';
import { RetentionCheckpointStore } from '../../../lambda/retention/checkpoint';
import { createRetentionHandler } from '../../../lambda/retention/handler';
import { LateDays } from '../../../lambda/shared/ledger/late-days';
import { type Emulators, LEDGER_TABLE, startEmulators } from '../../helpers/emulators';
import {
  retentionRuntime,
  retentionTestConfig,
  givenStored as storedRecording,
} from '../../helpers/retention-fixtures';

let aws: Emulators;
const SHARDS = 2;

beforeAll(async () => {
  aws = await startEmulators();
});

afterAll(async () => {
  await aws.stop();
});

/** Stored as the transfer stores it, `late` noting its day as the transfer does for an old recording. */
const givenStored = (startedAt: string, late = false) => storedRecording(aws, startedAt, { shards: SHARDS, late });

function sweep(now: Date, maxRecordingsPerRun = 100, ddb: Pick<Emulators['ddb'], 'send'> = aws.ddb) {
  return createRetentionHandler(
    retentionRuntime(aws, now, '2025-01-01', {
      config: retentionTestConfig({ ledgerIndexShards: SHARDS, maxRecordingsPerRun }),
      ddb: ddb as Emulators['ddb'],
    }),
  )();
}

const status = async (recordingSid: string) => (await aws.getLedger(recordingSid))?.status;
const lateDays = () => new LateDays(aws.ddb, LEDGER_TABLE).read();

test('a recording stored on a day the sweep has passed is expired by the next run, and its day swept once more, then forgotten', async () => {
  await sweep(new Date('2025-03-01T12:00:00.000Z'));
  expect((await new RetentionCheckpointStore(aws.ddb, LEDGER_TABLE).read())?.nextDay).toBe('2025-01-30');
  // Backfilled today, from a day the checkpoint is well past.
  const backfilled = await givenStored('2025-01-10T09:00:00.000Z', true);

  const next = await sweep(new Date('2025-03-01T13:00:00.000Z'));

  expect(next).toMatchObject({ expired: 1, failed: 0, lateDaysSwept: 1 });
  expect(await status(backfilled.recordingSid)).toBe('expired');
  expect(await aws.getObject(backfilled.key)).toBeUndefined();
  expect(await lateDays()).toEqual({ noted: [], sweptOnce: ['2025-01-10'] });

  await sweep(new Date('2025-03-01T14:00:00.000Z'));

  expect(await lateDays()).toEqual({ noted: [], sweptOnce: [] });
});

test('a late day ahead of the checkpoint is left to the walk, which reaches it when it falls due', async () => {
  const young = await givenStored('2025-02-20T09:00:00.000Z', true);

  await sweep(new Date('2025-03-01T15:00:00.000Z'));

  expect(await status(young.recordingSid)).toBe('stored');
  expect((await lateDays()).noted).toEqual([]);
  expect((await new RetentionCheckpointStore(aws.ddb, LEDGER_TABLE).read())?.nextDay).toBe('2025-01-30');
});

test('a late day a run could not finish is handed back, and the next run finishes it', async () => {
  const first = await givenStored('2025-01-12T09:00:00.000Z', true);
  const second = await givenStored('2025-01-12T10:00:00.000Z', true);

  const cut = await sweep(new Date('2025-03-01T16:00:00.000Z'), 1);

  expect(cut.expired).toBe(1);
  expect((await lateDays()).noted).toEqual(['2025-01-12']);

  const next = await sweep(new Date('2025-03-01T17:00:00.000Z'), 1);

  expect(next.expired).toBe(1);
  expect([await status(first.recordingSid), await status(second.recordingSid)]).toEqual(['expired', 'expired']);
});

test('a run that dies before its end leaves the late days noted for the next', async () => {
  const backfilled = await givenStored('2025-01-14T09:00:00.000Z', true);
  // Every save of a checkpoint fails: the run throws after its erasures, before it settles anything.
  const checkpointDown = {
    send: (command: { input?: { UpdateExpression?: string } }) =>
      command.input?.UpdateExpression?.startsWith('SET nextDay')
        ? Promise.reject(new Error('ProvisionedThroughputExceededException'))
        : aws.ddb.send(command as never),
  };

  await expect(sweep(new Date('2025-03-01T18:00:00.000Z'), 100, checkpointDown)).rejects.toThrow(
    'ProvisionedThroughputExceededException',
  );

  expect((await lateDays()).noted).toContain('2025-01-14');
  await sweep(new Date('2025-03-01T19:00:00.000Z'));
  expect(await status(backfilled.recordingSid)).toBe('expired');
  expect((await lateDays()).noted).toEqual([]);
});
