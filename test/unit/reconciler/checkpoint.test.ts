/**
 * The reconciler's checkpoint (lambda/reconciler/checkpoint.ts) on dynalite, and the window
 * each run lists.
 */
import '../../helpers/setup-env';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { ReconcileCheckpoint, reconcileWindow } from '../../../lambda/reconciler/checkpoint';
import { RECONCILER_CHECKPOINT_KEY } from '../../../lambda/shared/config/env-names';
import type { ReconcileCounts } from '../../../lambda/shared/job/reconcile';
import { SID } from '../../../lambda/shared/twilio/sids';
import { type Emulators, LEDGER_TABLE, startEmulators } from '../../helpers/emulators';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const NOW = new Date('2024-07-22T12:00:00Z');
const SETTINGS = { lookbackMs: 120 * MINUTE, settleMs: 5 * MINUTE };
const COUNTS: ReconcileCounts = { listed: 10, alreadyStored: 7, queued: 2, skipped: 1, invalid: 0 };
const minus = (ms: number) => new Date(NOW.getTime() - ms);

describe('reconcileWindow', () => {
  it('lists from now − lookback to now − settle on a first run', () => {
    expect(reconcileWindow(NOW, undefined, SETTINGS)).toEqual({ from: minus(2 * HOUR), to: minus(5 * MINUTE) });
  });

  it('lists from the checkpoint − lookback afterwards', () => {
    expect(reconcileWindow(NOW, minus(20 * MINUTE), SETTINGS)).toEqual({
      from: minus(140 * MINUTE),
      to: minus(5 * MINUTE),
    });
  });

  it('catches up after a long gap a capped window at a time, oldest first, each run moving on', () => {
    let checkpoint = minus(3 * 24 * HOUR);
    const windows = [];
    for (let run = 0; run < 5; run++) {
      const window = reconcileWindow(NOW, checkpoint, SETTINGS);
      if (!window) break;
      windows.push(window);
      checkpoint = window.to;
    }
    expect(windows[0]).toEqual({ from: minus(74 * HOUR), to: minus(50 * HOUR) });
    expect(windows.map((w) => w.to.getTime())).toEqual([...windows.map((w) => w.to.getTime())].sort((a, b) => a - b));
    expect(windows.at(-1)?.to).toEqual(minus(5 * MINUTE));
  });

  it('keeps every window longer than twice the lookback, so a run always moves on', () => {
    const settings = { ...SETTINGS, lookbackMs: 10 * HOUR, maxWindowMs: HOUR };
    const window = reconcileWindow(NOW, minus(48 * HOUR), settings);
    expect(window && window.to.getTime() - window.from.getTime()).toBe(20 * HOUR);
  });

  it('has nothing to list when settle reaches back past the start', () => {
    expect(reconcileWindow(NOW, undefined, { lookbackMs: MINUTE, settleMs: 5 * MINUTE })).toBeUndefined();
  });
});

describe('ReconcileCheckpoint', () => {
  let aws: Emulators;
  let checkpoint: ReconcileCheckpoint;

  beforeAll(async () => {
    aws = await startEmulators();
    checkpoint = new ReconcileCheckpoint(aws.ddb, LEDGER_TABLE);
  });

  afterAll(async () => {
    await aws.stop();
  });

  it('is nothing before the first finished run, then the end of its window', async () => {
    expect(await checkpoint.get()).toBeUndefined();
    const window = { from: minus(2 * HOUR), to: minus(5 * MINUTE) };
    expect(await checkpoint.advance(window, COUNTS, NOW)).toBe(true);
    expect(await checkpoint.get()).toEqual(window.to);
  });

  it('only ever moves forward', async () => {
    const later = { from: minus(HOUR), to: minus(MINUTE) };
    const earlier = { from: minus(3 * HOUR), to: minus(30 * MINUTE) };
    await checkpoint.advance(later, COUNTS, NOW);

    expect(await checkpoint.advance(earlier, COUNTS, NOW)).toBe(false);
    expect(await checkpoint.get()).toEqual(later.to);
  });

  it('lives in the ledger under a key no recording has, out of the ledger indexes and with no status', async () => {
    const { Item } = await aws.ddb.send(
      new GetCommand({ TableName: LEDGER_TABLE, Key: { recordingSid: RECONCILER_CHECKPOINT_KEY } }),
    );

    expect(SID.RecordingSid.test(RECONCILER_CHECKPOINT_KEY)).toBe(false);
    expect(Item).toMatchObject({ windowEnd: expect.any(String), lastRun: expect.objectContaining({ listed: 10 }) });
    expect(Item).not.toHaveProperty('day');
    expect(Item).not.toHaveProperty('status');
  });
});
