/**
 * The run's erasure budget shared by the walks of `retention.bySource`, through the erasure path
 * against dynalite and s3rver: a walk with more due than the budget does not starve the others.
 */
import '../../helpers/setup-env';
import { createRetentionHandler } from '../../../lambda/retention/handler';
import { type Emulators, startEmulators } from '../../helpers/emulators';
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

/** Stored as the transfer stores it, of `source`. */
const givenStored = (startedAt: string, source?: string) =>
  storedRecording(aws, startedAt, { shards: SHARDS, ...(source ? { source } : {}) });

function sweep(now: Date, maxRecordingsPerRun = 100, ddb: Pick<Emulators['ddb'], 'send'> = aws.ddb) {
  return createRetentionHandler(
    retentionRuntime(aws, now, '2025-01-01', {
      config: retentionTestConfig({
        ledgerIndexShards: SHARDS,
        retentionDaysBySource: { RecordVerb: 7 },
        maxRecordingsPerRun,
      }),
      ddb: ddb as Emulators['ddb'],
    }),
  )();
}

const status = async (recordingSid: string) => (await aws.getLedger(recordingSid))?.status;

test('a walk with more due than the run can erase leaves the other walks their share of the budget', async () => {
  // RecordVerb kept 7 days, with a backlog larger than a run's budget; every other source 30 days.
  const backlog = [];
  for (let i = 0; i < 5; i++) backlog.push(await givenStored(`2025-01-20T0${i}:00:00.000Z`, 'RecordVerb'));
  const dialed = await givenStored('2025-01-10T09:00:00.000Z', 'DialVerb');

  const report = await sweep(new Date('2025-03-01T12:00:00.000Z'), 4);

  expect(report.expired).toBe(4);
  expect(await status(dialed.recordingSid)).toBe('expired');
});
