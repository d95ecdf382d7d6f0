/**
 * `npm run status -- --retention` logic (lib/ops/retention-status.ts) against dynalite: the
 * checkpoint as the sweep's own RetentionCheckpointStore writes it, then the report an operator
 * reads — configured or not, the cutoff, the next day and how far behind, what is passed by, the
 * last run, and a sweep that never ran.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DeleteCommand } from '@aws-sdk/lib-dynamodb';
import { RetentionCheckpointStore } from '../../../lambda/retention/checkpoint';
import { MAX_PENDING, type SweepReport } from '../../../lambda/retention/sweep-run';
import { RETENTION_CHECKPOINT_KEY } from '../../../lambda/shared/config/env-names';
import {
  formatRetentionStatus,
  type RetentionPolicy,
  type RetentionStatusSources,
  retentionPolicy,
  retentionStatus,
} from '../../../lib/ops/retention-status';
import { TargetError } from '../../../lib/ops/target';
import { type Emulators, LEDGER_TABLE, startEmulators } from '../../helpers/emulators';
import { newRecordingSid } from '../../helpers/twilio-fixtures';

const NOW = new Date('2024-09-01T12:00:00.000Z');
const THIRTY_DAYS: RetentionPolicy = { days: 30, setIn: 'RETENTION_DAYS', intervalSeconds: 3600 };

let aws: Emulators;
let store: RetentionCheckpointStore;
let sources: RetentionStatusSources;

beforeAll(async () => {
  aws = await startEmulators();
  store = new RetentionCheckpointStore(aws.ddb, LEDGER_TABLE);
  sources = { ddb: aws.ddb, ledgerTableName: LEDGER_TABLE, targetName: 'the local stack', local: true };
});

afterAll(async () => {
  await aws.stop();
});

beforeEach(async () => {
  await aws.ddb.send(new DeleteCommand({ TableName: LEDGER_TABLE, Key: { recordingSid: RETENTION_CHECKPOINT_KEY } }));
});

function run(overrides: Partial<SweepReport> = {}): SweepReport {
  return {
    cutoff: '2024-08-02T12:00:00.000Z',
    fromDay: '2024-07-30',
    nextDay: '2024-08-02',
    examined: 7,
    expired: 5,
    held: 1,
    retained: 1,
    failed: 0,
    pending: 2,
    caughtUp: true,
    ...overrides,
  };
}

test('a sweep that never ran is said in one line, with the policy and the cutoff', async () => {
  const report = await retentionStatus(sources, THIRTY_DAYS, NOW);

  expect(report).toMatchObject({
    policy: THIRTY_DAYS,
    cutoff: '2024-08-02T12:00:00.000Z',
    checkpoint: null,
    lastRun: null,
    issues: [],
  });
  const text = formatRetentionStatus(report);
  expect(text).toMatch(/^ {2}kept +30 day\(s\) \(RETENTION_DAYS\), a sweep every 60 min$/m);
  expect(text).toMatch(/^ {2}last run +never: the retention sweep has not run on the local stack yet/m);
  expect(text).not.toMatch(/next day/);
});

test('a caught-up sweep: the next day is the cutoff’s, the pending list counted, the last run’s figures', async () => {
  const held = newRecordingSid();
  const retainedLater = newRecordingSid();
  const retainedSooner = newRecordingSid();
  await store.write(
    {
      nextDay: '2024-08-02',
      pending: [
        { recordingSid: held, why: 'held' },
        { recordingSid: retainedLater, why: 'retained', until: '2025-03-01T00:00:00.000Z' },
        { recordingSid: retainedSooner, why: 'retained', until: '2024-12-24T00:00:00.000Z' },
      ],
    },
    new Date('2024-09-01T11:30:00.000Z'),
  );
  await store.recordRun(run({ pending: 3 }), new Date('2024-09-01T11:30:00.000Z'));

  const report = await retentionStatus(sources, THIRTY_DAYS, NOW);

  expect(report.checkpoint).toMatchObject({
    nextDay: '2024-08-02',
    caughtUp: true,
    daysBehind: 0,
    pending: { total: 3, held: 1, retained: 2, unaudited: 0, earliestUntil: '2024-12-24T00:00:00.000Z' },
  });
  expect(report.lastRun).toMatchObject({ at: '2024-09-01T11:30:00.000Z', expired: 5, examined: 7 });
  expect(report.issues).toEqual([]);
  const text = formatRetentionStatus(report);
  expect(text).toMatch(/^ {2}next day +2024-08-02: caught up$/m);
  expect(text).toMatch(
    /^ {2}pending +3 passed by: 1 held, 2 retained by Object Lock \(earliest until 2024-12-24T00:00:00.000Z\)$/m,
  );
  expect(text).toContain(`${held} held`);
  expect(text).toContain(`${retainedSooner} retained until 2024-12-24T00:00:00.000Z`);
  expect(text).toMatch(
    /^ {2}last run +2024-09-01T11:30:00.000Z: examined 7, expired 5, held 1, retained 1, failed 0 \(days 2024-07-30 to 2024-08-02\)$/m,
  );
});

test('a run stopped before its end (shutdown, its timeout near) says so in its last-run line', async () => {
  await store.write({ nextDay: '2024-07-31', pending: [] }, new Date('2024-09-01T11:30:00.000Z'));
  await store.recordRun(
    run({ nextDay: '2024-07-31', caughtUp: false, stopped: true }),
    new Date('2024-09-01T11:30:00.000Z'),
  );

  const text = formatRetentionStatus(await retentionStatus(sources, THIRTY_DAYS, NOW));

  expect(text).toMatch(
    /^ {2}last run +2024-09-01T11:30:00.000Z: examined 7, expired 5, held 1, retained 1, failed 0 \(days 2024-07-30 to 2024-07-31\), stopped before its end$/m,
  );
});

test('an expiry whose audit entry a run could not write is named as such, not as retained', async () => {
  const owed = newRecordingSid();
  await store.write({
    nextDay: '2024-08-02',
    pending: [{ recordingSid: owed, why: 'unaudited', expiredAt: '2024-09-01T11:00:00.000Z' }],
  });

  const report = await retentionStatus(sources, THIRTY_DAYS, NOW);

  expect(report.checkpoint?.pending).toMatchObject({ total: 1, held: 0, retained: 0, unaudited: 1 });
  const text = formatRetentionStatus(report);
  expect(text).toMatch(
    /^ {2}pending +1 passed by: 0 held, 0 retained by Object Lock, 1 expired with the audit entry still to write$/m,
  );
  expect(text).toContain(`${owed} expired at 2024-09-01T11:00:00.000Z, audit entry still to write`);
});

test('an expiry a run was cut short in (call item or event not finished) is named as such', async () => {
  const unfinished = newRecordingSid();
  await store.write({
    nextDay: '2024-08-02',
    pending: [{ recordingSid: unfinished, why: 'unfinished', expiredAt: '2024-09-01T11:30:00.000Z', audited: true }],
  });

  const report = await retentionStatus(sources, THIRTY_DAYS, NOW);

  expect(report.checkpoint?.pending).toMatchObject({ total: 1, held: 0, retained: 0, unaudited: 0, unfinished: 1 });
  const text = formatRetentionStatus(report);
  expect(text).toMatch(
    /^ {2}pending +1 passed by: 0 held, 0 retained by Object Lock, 1 expired with the call item or event still to finish$/m,
  );
  expect(text).toContain(`${unfinished} expired at 2024-09-01T11:30:00.000Z, call item or event still to finish`);
});

test('a sweep still catching up says how many due days are left', async () => {
  await store.write({ nextDay: '2024-07-20', pending: [] });
  await store.recordRun(run({ nextDay: '2024-07-20', caughtUp: false, pending: 0 }), new Date('2024-09-01T11:00:00Z'));

  const report = await retentionStatus(sources, THIRTY_DAYS, NOW);

  expect(report.checkpoint).toMatchObject({ caughtUp: false, daysBehind: 13, pending: { total: 0 } });
  const text = formatRetentionStatus(report);
  expect(text).toMatch(/^ {2}next day +2024-07-20: 13 day\(s\) behind$/m);
  expect(text).toMatch(/^ {2}pending +none passed by$/m);
});

test('a run that failed, and a schedule that stopped, are issues', async () => {
  await store.write({ nextDay: '2024-08-01', pending: [] });
  await store.recordRun(run({ failed: 2 }), new Date('2024-08-31T12:00:00.000Z'));

  const report = await retentionStatus(sources, THIRTY_DAYS, NOW);

  expect(report.issues).toEqual([
    expect.stringMatching(/^the last run could not expire 2 recording\(s\).*RetentionErrors runbook/),
    expect.stringMatching(/^no run for 24 h though the sweep runs every 60 min: is npm start running/),
  ]);
  expect(formatRetentionStatus(report)).toMatch(/^ {2}issue +the last run could not expire 2/m);
});

test('a pending list that is full is an issue of its own: the sweep stops at the next recording it would pass by', async () => {
  await store.write({ nextDay: '2024-08-01', pending: [] });
  await store.recordRun(run({ failed: 1, pendingFull: true, pending: MAX_PENDING }), new Date('2024-09-01T11:30:00Z'));

  const report = await retentionStatus(sources, THIRTY_DAYS, NOW);

  expect(report.issues).toContainEqual(
    expect.stringMatching(
      /^the pending list is full \(3000 recordings\): the sweep stops at the next recording it would pass by/,
    ),
  );
  expect(formatRetentionStatus(report)).toMatch(/^ {2}issue +the pending list is full/m);
});

test('without a policy here, a checkpoint is still shown, with the last run’s cutoff', async () => {
  await store.write({ nextDay: '2024-08-02', pending: [] });
  await store.recordRun(run(), NOW);

  const report = await retentionStatus(sources, undefined, NOW);

  expect(report).toMatchObject({ policy: null, cutoff: '2024-08-02T12:00:00.000Z' });
  expect(report.checkpoint).toMatchObject({ nextDay: '2024-08-02', caughtUp: true });
  expect(report.issues).toEqual([expect.stringMatching(/^RETENTION_DAYS is not set in this shell/)]);
  const text = formatRetentionStatus(report);
  expect(text).toMatch(/^ {2}kept +until erased: retention is not configured$/m);
  expect(text).toMatch(/^ {2}cutoff +2024-08-02T12:00:00.000Z \(the last run’s\)/m);
});

test('a checkpoint whose run was cut short before its report says so', async () => {
  await store.write({ nextDay: '2024-08-02', pending: [] });

  const text = formatRetentionStatus(await retentionStatus(sources, THIRTY_DAYS, NOW));

  expect(text).toMatch(/^ {2}last run +none finished/m);
});

describe('retentionPolicy', () => {
  test('the local stack: RETENTION_DAYS and RETENTION_SWEEP_SECONDS as npm start reads them', () => {
    expect(retentionPolicy({ env: { RETENTION_DAYS: '7', RETENTION_SWEEP_SECONDS: '60' } })).toEqual({
      days: 7,
      setIn: 'RETENTION_DAYS',
      intervalSeconds: 60,
    });
    expect(retentionPolicy({ env: {} })).toBeUndefined();
    expect(() => retentionPolicy({ env: { RETENTION_DAYS: '0' } })).toThrow(
      new TargetError(
        `the local stack's retention settings: RETENTION_DAYS must be a whole number from 1 to 36500 (got "0")`,
      ),
    );
  });

  test('a stage: its retention in cdk.json, validated as cdk deploy does', () => {
    const repoCdkJson = JSON.parse(readFileSync(join(__dirname, '../../../cdk.json'), 'utf8')) as {
      context: { stages: Record<string, Record<string, unknown>> };
    };
    const dev = repoCdkJson.context.stages.dev as Record<string, unknown>;
    const cdkJsonPath = join(mkdtempSync(join(tmpdir(), 'rv-cdk-')), 'cdk.json');
    writeFileSync(
      cdkJsonPath,
      JSON.stringify({
        context: {
          stages: {
            kept: { ...dev, retention: { days: 90, intervalMinutes: 15 } },
            forever: { ...dev, retention: undefined },
          },
        },
      }),
    );

    expect(retentionPolicy({ stage: 'kept', cdkJsonPath })).toEqual({
      days: 90,
      setIn: 'cdk.json stages.kept.retention.days',
      intervalSeconds: 900,
    });
    expect(retentionPolicy({ stage: 'forever', cdkJsonPath })).toBeUndefined();
    expect(() => retentionPolicy({ stage: 'nosuch', cdkJsonPath })).toThrow(
      /unknown stage; known stages: forever, kept/,
    );
  });
});
