/**
 * The retention checkpoint as the sweep saves it, against dynalite (which counts an item's size as
 * DynamoDB does and refuses one over 400 KB): the pending list at its bound, of its largest
 * entries, fits with the last run's report.
 */
import { RetentionCheckpointStore } from '../../../lambda/retention/checkpoint';
import { MAX_PENDING, type PendingRecording } from '../../../lambda/retention/checkpoint-state';
import type { SweepReport } from '../../../lambda/retention/sweep-run';
import { type Emulators, LEDGER_TABLE, startEmulators } from '../../helpers/emulators';
import { newRecordingSid } from '../../helpers/twilio-fixtures';

let aws: Emulators;

beforeAll(async () => {
  aws = await startEmulators();
});

afterAll(async () => {
  await aws.stop();
});

/** The largest entry the sweep writes: `unfinished`, with `expiredAt` and `audited`. */
const largest = (): PendingRecording => ({
  recordingSid: newRecordingSid(),
  why: 'unfinished',
  expiredAt: '2024-09-01T12:00:00.000Z',
  audited: false,
});

const report: SweepReport = {
  cutoff: '2024-08-02T12:00:00.000Z',
  fromDay: '2024-07-01',
  nextDay: '2024-08-02',
  examined: 123_456,
  expired: 123_456,
  finished: 123_456,
  held: 123_456,
  retained: 123_456,
  failed: 123_456,
  auditFailed: 123_456,
  pending: MAX_PENDING,
  caughtUp: false,
  stopped: true,
  pendingFull: true,
};

test('a checkpoint with MAX_PENDING of the largest pending entries and the last run report fits in one ledger item', async () => {
  const store = new RetentionCheckpointStore(aws.ddb, LEDGER_TABLE, '~checkpoint:retention-at-bound');
  const pending = Array.from({ length: MAX_PENDING }, largest);
  const at = new Date('2024-09-01T12:05:00.000Z');

  await store.write({ nextDay: '2024-08-02', pending, settledAt: at.toISOString() }, at);
  await store.recordRun(report, at);

  const read = await store.describe();
  expect(read?.pending).toHaveLength(MAX_PENDING);
  expect(read?.lastRun).toMatchObject({ pendingFull: true });
});

test('the bound is what keeps it in: the former 5,000 entries were refused as too large', async () => {
  const store = new RetentionCheckpointStore(aws.ddb, LEDGER_TABLE, '~checkpoint:retention-over-bound');
  const pending = Array.from({ length: 5000 }, largest);

  await expect(store.write({ nextDay: '2024-08-02', pending })).rejects.toThrow(/exceeded the maximum allowed size/);
});

test('a checkpoint saved without a settled instant over one with it claims none: a walk seeded anew under a key an earlier policy used inherits nothing', async () => {
  const store = new RetentionCheckpointStore(aws.ddb, LEDGER_TABLE, `~retention-test#${newRecordingSid()}`);
  await store.write({ nextDay: '2024-07-01', pending: [], settledAt: '2024-07-02T00:00:00.000Z' });

  await store.write({ nextDay: '2008-01-01', pending: [] });

  expect(await store.read()).toEqual({ nextDay: '2008-01-01', pending: [] });
});
