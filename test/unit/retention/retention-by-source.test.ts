/**
 * Retention by recording source (`retention.bySource`), through the erasure path against dynalite
 * and s3rver: each period is a walk of its own, and a stage that names a source later keeps
 * everything the one walk remembered. The tests are one story in time order: each one's `now`
 * is after the last one's, on the same ledger.
 */
import '../../helpers/setup-env';
import { RetentionCheckpointStore } from '../../../lambda/retention/checkpoint';
import { createRetentionHandler, type RetentionRuntime } from '../../../lambda/retention/handler';
import { retentionWalks } from '../../../lambda/retention/retention-walks';
import { AuditReader } from '../../../lambda/shared/audit/audit-trail';
import { RETENTION_CHECKPOINT_KEY } from '../../../lambda/shared/config/env-names';
import type { DaysBySource } from '../../../lambda/shared/config/retention-by-source';
import { LedgerHold } from '../../../lambda/shared/ledger/ledger-hold';
import type { TwilioApi } from '../../../lambda/shared/twilio/rest-api';
import { AUDIT_TABLE_NAME } from '../../../lib/local/config';
import { type Emulators, LEDGER_TABLE, startEmulators } from '../../helpers/emulators';
import {
  retentionRuntime,
  retentionTestConfig,
  givenStored as storedRecording,
} from '../../helpers/retention-fixtures';

let aws: Emulators;
/** Fewer day-index queries per day than the default 8: the walks here cover years of days. */
const SHARDS = 2;

const _twilio = { async deleteRecording() {} } as unknown as TwilioApi;

beforeAll(async () => {
  aws = await startEmulators();
});

afterAll(async () => {
  await aws.stop();
});

/** A stored recording of `source` (none: Twilio named none) that started at `startedAt`. */
const givenStored = (startedAt: string, source?: string) =>
  storedRecording(aws, startedAt, { shards: SHARDS, ...(source ? { source } : {}) });

/** One run of the sweep at `now`: 30 days, except the sources `bySource` names. */
function sweep(now: Date, bySource: DaysBySource = {}, extra: Partial<RetentionRuntime['config']> = {}) {
  return createRetentionHandler(
    retentionRuntime(aws, now, '2024-12-01', {
      config: retentionTestConfig({
        ledgerIndexShards: SHARDS,
        retentionDaysBySource: bySource,
        maxDaysPerRun: 2000,
        ...extra,
      }),
    }),
  )();
}

const status = async (recordingSid: string) => (await aws.getLedger(recordingSid))?.status;
const auditDays = async (recordingSid: string) =>
  (await new AuditReader(aws.ddb, AUDIT_TABLE_NAME).allForRecording(recordingSid))
    .filter((entry) => entry.outcome === 'done')
    .map((entry) => (entry.details as { retentionDays?: number } | undefined)?.retentionDays);

const CONFERENCE_YEAR: DaysBySource = { Conference: 365 };
const holds = () => new LedgerHold(aws.ddb, LEDGER_TABLE);

let expiredBefore: { recordingSid: string; key: string };
let heldConference: { recordingSid: string; key: string };
let youngConference: { recordingSid: string; key: string };

test('a stage without bySource sweeps every source in one walk, under the checkpoint it always had', async () => {
  const now = new Date('2025-03-01T12:00:00.000Z');
  expiredBefore = await givenStored('2025-01-10T09:00:00.000Z', 'DialVerb');
  heldConference = await givenStored('2025-01-11T09:00:00.000Z', 'Conference');
  youngConference = await givenStored('2025-02-20T09:00:00.000Z', 'Conference');
  await holds().placeHold(heldConference.recordingSid, { by: 'legal', at: now.toISOString(), reason: 'Case 7' }, now);

  const report = await sweep(now);

  expect(report).toMatchObject({ expired: 1, held: 1, failed: 0 });
  expect(report.walks).toBeUndefined();
  expect(await status(expiredBefore.recordingSid)).toBe('expired');
  expect(await new RetentionCheckpointStore(aws.ddb, LEDGER_TABLE).read()).toMatchObject({
    pending: [expect.objectContaining({ recordingSid: heldConference.recordingSid, why: 'held' })],
  });
});

test('naming a source later: each walk starts with what the one walk remembered, reads no expired recording again, and expires nothing not due under its period', async () => {
  const now = new Date('2025-03-02T12:00:00.000Z');

  const report = await sweep(now, CONFERENCE_YEAR);

  expect(report).toMatchObject({ expired: 0, finished: 0, failed: 0 });
  expect(report.walks?.map((walk) => [walk.days, walk.sources])).toEqual([
    [30, 'every source but Conference'],
    [365, 'Conference'],
  ]);
  // The held recording is the year walk's now, remembered until it falls due; the 30-day walk forgot it.
  const [, yearWalk] = retentionWalks({ days: 30, bySource: CONFERENCE_YEAR });
  const yearCheckpoint = await new RetentionCheckpointStore(aws.ddb, LEDGER_TABLE, yearWalk?.checkpointKey).read();
  expect(yearCheckpoint?.pending).toEqual([
    expect.objectContaining({ recordingSid: heldConference.recordingSid, until: '2026-01-11T09:00:00.000Z' }),
  ]);
  expect(await status(heldConference.recordingSid)).toBe('stored');
  expect(await new RetentionCheckpointStore(aws.ddb, LEDGER_TABLE).readWalkKeys()).toEqual(
    retentionWalks({ days: 30, bySource: CONFERENCE_YEAR }).map((walk) => walk.checkpointKey),
  );
});

test('a recording released from its hold is not expired before its source period ends', async () => {
  const now = new Date('2025-03-03T12:00:00.000Z');
  await holds().releaseHold(heldConference.recordingSid, 'legal', now);

  const report = await sweep(now, CONFERENCE_YEAR);

  expect(report).toMatchObject({ expired: 0, failed: 0 });
  expect(await status(heldConference.recordingSid)).toBe('stored');
  expect(await aws.getObject(heldConference.key)).toBeDefined();
});

test('each walk expires its own sources at their own period, and each expiry is entered with its period', async () => {
  const now = new Date('2026-01-12T12:00:00.000Z');
  const dial = await givenStored('2025-12-01T09:00:00.000Z', 'DialVerb');
  const sourceless = await givenStored('2025-12-02T09:00:00.000Z');
  const recentConference = await givenStored('2025-12-01T10:00:00.000Z', 'Conference');

  const report = await sweep(now, CONFERENCE_YEAR);

  expect(report).toMatchObject({ expired: 3, failed: 0 });
  expect(await status(dial.recordingSid)).toBe('expired');
  expect(await status(sourceless.recordingSid)).toBe('expired');
  expect(await status(heldConference.recordingSid)).toBe('expired');
  expect(await aws.getObject(heldConference.key)).toBeUndefined();
  expect(await status(recentConference.recordingSid)).toBe('stored');
  expect(await status(youngConference.recordingSid)).toBe('stored');
  expect(await auditDays(dial.recordingSid)).toEqual([30]);
  expect(await auditDays(heldConference.recordingSid)).toEqual([365]);
});

test("the walks share the run's erasure budget, and the next run carries on", async () => {
  const now = new Date('2026-03-01T12:00:00.000Z');
  const dial = await givenStored('2026-01-20T09:00:00.000Z', 'DialVerb');

  const first = await sweep(now, CONFERENCE_YEAR, { maxRecordingsPerRun: 1 });
  const second = await sweep(now, CONFERENCE_YEAR, { maxRecordingsPerRun: 1 });

  // Due now: the dial recording (30 days) and the young conference one (365 days from 2025-02-20).
  expect([first.expired, second.expired]).toEqual([1, 1]);
  expect(await status(dial.recordingSid)).toBe('expired');
  expect(await status(youngConference.recordingSid)).toBe('expired');
});

test('dropping bySource: the one walk does not trust its checkpoint from before, and starts from the first day with what the walks remembered', async () => {
  const now = new Date('2026-03-02T12:00:00.000Z');
  const conference = await givenStored('2026-01-05T09:00:00.000Z', 'Conference');
  const stale = await new RetentionCheckpointStore(aws.ddb, LEDGER_TABLE).read();

  const report = await sweep(now);

  expect(stale?.nextDay).toBe('2025-01-30');
  // From the first day again, yet no expired recording read again (the walks' settledAt carried over).
  // This conference recording, and the one of 2025-12-01: 30 days is every source's period again.
  expect(report).toMatchObject({ fromDay: '2024-12-01', expired: 2, finished: 0, failed: 0 });
  expect(await status(conference.recordingSid)).toBe('expired');
  expect(await new RetentionCheckpointStore(aws.ddb, LEDGER_TABLE).readWalkKeys()).toEqual([RETENTION_CHECKPOINT_KEY]);
});
