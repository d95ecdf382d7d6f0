/**
 * The run's erasure budget shared by the walks of `retention.bySource`, through the erasure path
 * against dynalite and s3rver: a walk with more due than the budget does not starve the others.
 */
import '../../helpers/setup-env';
import { randomUUID } from 'node:crypto';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { createRetentionHandler } from '../../../lambda/retention/handler';
import { CallsRepository } from '../../../lambda/shared/calls/calls';
import { RecordingLedger } from '../../../lambda/shared/ledger/ledger';
import { createObservability } from '../../../lambda/shared/runtime/observability';
import { generateStorageKey } from '../../../lambda/shared/storage/recording-store';
import type { TwilioApi } from '../../../lambda/shared/twilio/rest-api';
import { staticTokens } from '../../../lambda/shared/twilio/signature';
import { AUDIT_TABLE_NAME } from '../../../lib/local/config';
import {
  CALL_SID_INDEX,
  CALLS_TABLE,
  type Emulators,
  LEDGER_TABLE,
  RECORDINGS_BUCKET,
  startEmulators,
} from '../../helpers/emulators';
import { newCallSid, newRecordingSid, TEST_ACCOUNT_SID } from '../../helpers/twilio-fixtures';

let aws: Emulators;
const SHARDS = 2;

beforeAll(async () => {
  aws = await startEmulators();
});

afterAll(async () => {
  await aws.stop();
});

/** Stored as the transfer stores it, of `source`. */
async function givenStored(startedAt: string, source?: string) {
  const recordingSid = newRecordingSid();
  const callSid = newCallSid();
  const callId = `call-${callSid.slice(2, 14)}`;
  const key = generateStorageKey(callId, recordingSid, startedAt, 'mp3');
  await aws.putItem({ callId, twilioCallSid: callSid, recordings: {} });
  await aws.s3.send(new PutObjectCommand({ Bucket: RECORDINGS_BUCKET, Key: key, Body: 'audio' }));
  const claimId = randomUUID();
  const ledger = new RecordingLedger(aws.ddb, LEDGER_TABLE, { indexShards: SHARDS });
  const facts = {
    recordingSid,
    callId,
    callSid,
    accountSid: TEST_ACCOUNT_SID,
    startedAt,
    source,
    origin: 'backfill' as const,
  };
  await ledger.claim(facts, claimId, 300, new Date(startedAt));
  const copy = { bucket: RECORDINGS_BUCKET, key, contentType: 'audio/mpeg', sizeBytes: 5, sha256: 'a'.repeat(64) };
  await ledger.markStored(recordingSid, claimId, copy, new Date(startedAt));
  await new CallsRepository(aws.ddb, CALLS_TABLE, CALL_SID_INDEX).markStored(
    callId,
    recordingSid,
    { status: 'stored', ...copy, startedAt, storedAt: startedAt },
    new Date(startedAt),
  );
  return { recordingSid, key };
}

function sweep(now: Date, maxRecordingsPerRun = 100, ddb: Pick<Emulators['ddb'], 'send'> = aws.ddb) {
  return createRetentionHandler({
    config: {
      accountSid: TEST_ACCOUNT_SID,
      bucketName: RECORDINGS_BUCKET,
      tableName: CALLS_TABLE,
      ledgerTableName: LEDGER_TABLE,
      ledgerDayIndexName: 'byDayShard',
      ledgerIndexShards: SHARDS,
      eventBusName: 'test',
      twilioApiBaseUrl: 'http://127.0.0.1:9',
      retentionDays: 30,
      retentionDaysBySource: { RecordVerb: 7 },
      maxRecordingsPerRun,
      maxDaysPerRun: 400,
      auditTableName: AUDIT_TABLE_NAME,
    },
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
