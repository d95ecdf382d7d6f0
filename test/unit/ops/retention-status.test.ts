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
import { MAX_PENDING } from '../../../lambda/retention/checkpoint-state';
import { type RetentionWalk, retentionWalks } from '../../../lambda/retention/retention-walks';
import type { SweepReport } from '../../../lambda/retention/sweep-run';
import { RETENTION_CHECKPOINT_KEY } from '../../../lambda/shared/config/env-names';
import { LateDays } from '../../../lambda/shared/ledger/late-days';
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
const THIRTY_DAYS: RetentionPolicy = { days: 30, setIn: 'RETENTION_DAYS', bySource: {}, intervalSeconds: 3600 };

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

test('an erasure whose answer was lost is named as in doubt, not as an expiry still to finish', async () => {
  const inDoubt = newRecordingSid();
  await store.write({ nextDay: '2024-08-02', pending: [{ recordingSid: inDoubt, why: 'unfinished' }] });

  const report = await retentionStatus(sources, THIRTY_DAYS, NOW);

  expect(report.checkpoint?.pending).toMatchObject({ total: 1, unfinished: 0, inDoubt: 1 });
  const text = formatRetentionStatus(report);
  expect(text).toMatch(/^ {2}pending +1 passed by: 0 held, 0 retained by Object Lock, 1 erasure\(s\) in doubt/m);
  expect(text).toContain(`${inDoubt} erasure in doubt (its answer was lost): looked at again by the next run`);
});

test('a run under way is said to be, and one that started longer ago than a run may last and never ended is an issue', async () => {
  const started = new Date(NOW.getTime() - 60_000).toISOString();
  await store.write({ nextDay: '2024-08-02', pending: [], runningSince: started });

  const underWay = await retentionStatus(sources, THIRTY_DAYS, NOW);

  expect(underWay.issues).toEqual([]);
  expect(formatRetentionStatus(underWay)).toMatch(
    new RegExp(`^ {2}last run +none finished yet \\(one started at ${started}\\)$`, 'm'),
  );

  const lost = await retentionStatus(sources, THIRTY_DAYS, new Date(NOW.getTime() + 3_600_000));

  expect(lost.issues).toEqual([expect.stringContaining(`a run that started at ${started} never ended`)]);
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

describe('sources kept for other periods', () => {
  const BY_SOURCE: RetentionPolicy = { ...THIRTY_DAYS, bySource: { Conference: 365 } };
  const [mainWalk, conferenceWalk] = retentionWalks(BY_SOURCE);
  const storeOf = (walk: RetentionWalk | undefined) =>
    new RetentionCheckpointStore(aws.ddb, LEDGER_TABLE, walk?.checkpointKey);

  afterEach(async () => {
    for (const walk of [mainWalk, conferenceWalk]) {
      await aws.ddb.send(
        new DeleteCommand({ TableName: LEDGER_TABLE, Key: { recordingSid: String(walk?.checkpointKey) } }),
      );
    }
  });

  test('each walk is shown with its sources, period, cutoff, next day and last run', async () => {
    await store.writeWalkKeys([String(mainWalk?.checkpointKey), String(conferenceWalk?.checkpointKey)]);
    await storeOf(mainWalk).write({ nextDay: '2024-08-02', pending: [] });
    await storeOf(mainWalk).recordRun(run(), NOW);
    await storeOf(conferenceWalk).write({ nextDay: '2023-09-01', pending: [] });

    const report = await retentionStatus(sources, BY_SOURCE, NOW);

    expect(report.walks?.map((walk) => [walk.sources, walk.days, walk.cutoff, walk.checkpoint?.nextDay])).toEqual([
      ['every source but Conference', 30, '2024-08-02T12:00:00.000Z', '2024-08-02'],
      ['Conference', 365, '2023-09-02T12:00:00.000Z', '2023-09-01'],
    ]);
    expect(report).toMatchObject({ cutoff: '2024-08-02T12:00:00.000Z', checkpoint: { nextDay: '2024-08-02' } });
    const text = formatRetentionStatus(report);
    expect(text).toMatch(
      /^ {2}kept +30 day\(s\) \(RETENTION_DAYS\); Conference 365 day\(s\) \(RETENTION_DAYS_BY_SOURCE\), a sweep every 60 min$/m,
    );
    expect(text).toMatch(/^ {2}walk +Conference: 365 day\(s\)$/m);
    expect(text).toMatch(/^ {4}next day +2023-09-01: 1 day\(s\) behind$/m);
    expect(text).toMatch(/^ {4}last run +none finished/m);
  });

  test('a walk the sweep has not made yet is said to start from the first day it names, whatever an old checkpoint at its key says', async () => {
    // No run yet; a checkpoint an earlier policy left at the Conference walk's key.
    await storeOf(conferenceWalk).write({ nextDay: '2020-01-01', pending: [] });

    const report = await retentionStatus(sources, BY_SOURCE, NOW);

    expect(report.walks?.map((walk) => [walk.checkpoint, walk.startsFrom])).toEqual([
      [null, '2008-01-01'],
      [null, '2008-01-01'],
    ]);
    expect(report.issues).toEqual([]);
    expect(formatRetentionStatus(report)).toMatch(
      /^ {4}last run +not yet for these sources: the next run starts them from the first day \(2008-01-01\), with what the sweep remembered$/m,
    );
    const local = await retentionStatus({ ...sources, earliestDay: '2024-01-01' }, BY_SOURCE, NOW);
    expect(formatRetentionStatus(local)).toMatch(/the next run starts them from the first day \(2024-01-01\)/);
  });

  test('a new walk whose first run has saved its checkpoint and last run shows them, though the run has not registered it yet', async () => {
    // Runs without bySource, then one with it: its first walk has ended, the second is under way.
    await store.write({ nextDay: '2024-07-01', pending: [] }, new Date('2024-08-31T12:00:00.000Z'));
    await store.recordRun(run(), new Date('2024-08-31T12:00:00.000Z'));
    await storeOf(mainWalk).write({ nextDay: '2024-08-02', pending: [] });
    await storeOf(mainWalk).recordRun(run(), new Date('2024-09-01T11:58:00.000Z'));
    await storeOf(conferenceWalk).write({
      nextDay: '2008-01-01',
      pending: [],
      runningSince: '2024-09-01T11:58:01.000Z',
    });

    const report = await retentionStatus(sources, BY_SOURCE, NOW);

    expect(report.issues).toEqual([]);
    expect(report.periodsDiffer).toBeUndefined();
    expect(report.walks?.map((walk) => [walk.sources, walk.checkpoint?.nextDay, walk.lastRun?.at])).toEqual([
      ['every source but Conference', '2024-08-02', '2024-09-01T11:58:00.000Z'],
      ['Conference', '2008-01-01', undefined],
    ]);
    const text = formatRetentionStatus(report);
    expect(text).toMatch(
      /^ {4}note +new walk: its first run started from 2008-01-01; the sweep registers it when that run ends \(it may still be under way\)$/m,
    );
    expect(text).toMatch(/^ {4}last run +2024-09-01T11:58:00.000Z: examined 7/m);
    expect(text).not.toMatch(/not yet for these sources/);
  });

  test('periods here that make other walks than the sweep’s last run: its walks are shown, with an issue saying what to do', async () => {
    await store.writeWalkKeys([String(mainWalk?.checkpointKey), String(conferenceWalk?.checkpointKey)]);
    await storeOf(mainWalk).write({ nextDay: '2024-08-02', pending: [] });
    await storeOf(mainWalk).recordRun(run(), new Date('2024-09-01T11:00:00.000Z'));
    await storeOf(conferenceWalk).write({ nextDay: '2023-09-01', pending: [] });
    await storeOf(conferenceWalk).recordRun(
      run({ cutoff: '2023-09-02T11:00:00.000Z', nextDay: '2023-09-01' }),
      new Date('2024-09-01T11:00:01.000Z'),
    );

    // RETENTION_DAYS=30 alone, where npm start has Conference=365 too.
    const report = await retentionStatus(sources, THIRTY_DAYS, NOW);

    expect(report.periodsDiffer).toBe(true);
    expect(report.walks?.map((walk) => [walk.sources, walk.days, walk.cutoff, walk.lastRun?.at])).toEqual([
      ['every source but Conference', null, '2024-08-02T12:00:00.000Z', '2024-09-01T11:00:00.000Z'],
      ['Conference', null, '2023-09-02T11:00:00.000Z', '2024-09-01T11:00:01.000Z'],
    ]);
    expect(report.issues).toEqual([
      'the retention periods given here (RETENTION_DAYS, RETENTION_DAYS_BY_SOURCE) differ from those of the sweep’s last run: give this command the same RETENTION_DAYS and RETENTION_DAYS_BY_SOURCE as npm start (if npm start was just given these, its next run takes them up); the walks the sweep made are shown, with their last run’s cutoff',
    ]);
    const text = formatRetentionStatus(report);
    expect(text).not.toMatch(/never/);
    expect(text).toMatch(/^ {4}cutoff +2023-09-02T11:00:00.000Z \(the last run’s\)/m);

    const stage = await retentionStatus({ ...sources, local: false, targetName: 'stage dev' }, THIRTY_DAYS, NOW);
    expect(stage.issues).toEqual([
      expect.stringMatching(/^the retention periods in cdk.json differ .*: cdk.json differs from what is deployed/),
    ]);

    // The same periods as the sweep's: no issue.
    expect((await retentionStatus(sources, BY_SOURCE, NOW)).issues).toEqual([]);
  });

  test('each walk names its sources for scripts as well as for people', async () => {
    const report = await retentionStatus(sources, { ...BY_SOURCE, bySource: { Conference: 365, Trunking: 365 } }, NOW);

    expect(report.walks?.map(({ sources, only, except }) => ({ sources, only, except }))).toEqual([
      { sources: 'every source but Conference, Trunking', only: undefined, except: ['Conference', 'Trunking'] },
      { sources: 'Conference, Trunking', only: ['Conference', 'Trunking'], except: undefined },
    ]);
  });

  test('a run that swept late days again says how many', async () => {
    await store.write({ nextDay: '2024-08-02', pending: [] });
    await store.recordRun(run({ lateDaysSwept: 2 }), new Date('2024-09-01T11:30:00.000Z'));

    const text = formatRetentionStatus(await retentionStatus(sources, THIRTY_DAYS, NOW));

    expect(text).toMatch(
      /^ {2}last run +.*failed 0 \(days 2024-07-30 to 2024-08-02, and 2 late day\(s\) swept again\)$/m,
    );
  });

  test('late days are named in words true before any run as after: stored late, swept again if the walk is past them', async () => {
    await new LateDays(aws.ddb, LEDGER_TABLE).note('2024-07-02', '2024-07-01');

    const report = await retentionStatus(sources, THIRTY_DAYS, NOW);

    expect(report.lastRun).toBeNull();
    expect(report.lateDays).toEqual(['2024-07-01', '2024-07-02']);
    expect(formatRetentionStatus(report)).toMatch(
      /^ {2}late days +2024-07-01, 2024-07-02: recordings stored a day or more after they started; the next run sweeps these days again if the walk is past them$/m,
    );
  });
});

describe('retentionPolicy', () => {
  test('the local stack: RETENTION_DAYS and RETENTION_SWEEP_SECONDS as npm start reads them', () => {
    expect(retentionPolicy({ env: { RETENTION_DAYS: '7', RETENTION_SWEEP_SECONDS: '60' } })).toEqual({
      days: 7,
      setIn: 'RETENTION_DAYS',
      bySource: {},
      intervalSeconds: 60,
    });
    expect(
      retentionPolicy({ env: { RETENTION_DAYS: '7', RETENTION_DAYS_BY_SOURCE: 'Conference=365' } })?.bySource,
    ).toEqual({ Conference: 365 });
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
            bySource: { ...dev, retention: { days: 90, bySource: { Trunking: 30 } } },
            forever: { ...dev, retention: undefined },
          },
        },
      }),
    );

    expect(retentionPolicy({ stage: 'kept', cdkJsonPath })).toEqual({
      days: 90,
      setIn: 'cdk.json stages.kept.retention.days',
      bySource: {},
      intervalSeconds: 900,
    });
    expect(retentionPolicy({ stage: 'bySource', cdkJsonPath })?.bySource).toEqual({ Trunking: 30 });
    expect(retentionPolicy({ stage: 'forever', cdkJsonPath })).toBeUndefined();
    expect(() => retentionPolicy({ stage: 'nosuch', cdkJsonPath })).toThrow(
      /unknown stage; known stages: bySource, forever, kept/,
    );
  });
});
