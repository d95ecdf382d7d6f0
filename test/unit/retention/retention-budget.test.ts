/**
 * The run's erasure budget shared by the walks of `retention.bySource`, through the erasure path
 * against dynalite and s3rver: a walk with more due than the budget does not starve the others.
 */
import '../../helpers/setup-env';
import { createRetentionHandler } from '../../../lambda/retention/handler';
import { createObservability } from '../../../lambda/shared/runtime/observability';
import type { TwilioApi } from '../../../lambda/shared/twilio/rest-api';
import { staticTokens } from '../../../lambda/shared/twilio/signature';
import { type Emulators, startEmulators } from '../../helpers/emulators';
import { retentionTestConfig, givenStored as storedRecording } from '../../helpers/retention-fixtures';

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
  return createRetentionHandler({
    config: retentionTestConfig({
      ledgerIndexShards: SHARDS,
      retentionDaysBySource: { RecordVerb: 7 },
      maxRecordingsPerRun,
    }),
    tokens: staticTokens('unused'),
    s3: aws.s3,
    ddb: ddb as Emulators['ddb'],
    twilio: { async deleteRecording() {} } as unknown as TwilioApi,
    events: { publish: async () => undefined },
    obs: createObservability('retention-budget-test'),
    now: () => now,
    earliestDay: '2025-01-01',
  })();
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
