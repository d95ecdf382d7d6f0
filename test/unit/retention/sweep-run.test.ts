/**
 * The retention sweep's walk, checkpoint and pending list, with the ledger's days and the erasure
 * as doubles (the erasure path itself runs against the emulators in retention.test.ts).
 */

import {
  MAX_PENDING,
  type PendingRecording,
  type RetentionCheckpoint,
} from '../../../lambda/retention/checkpoint-state';
import { seededCheckpoint } from '../../../lambda/retention/retention-walks';
import {
  type ExpireOutcome,
  type RetentionCandidate,
  runRetentionSweep,
  type SweepAuditEntry,
  type SweepDeps,
} from '../../../lambda/retention/sweep-run';
import { createObservability } from '../../../lambda/shared/runtime/observability';

const NOW = new Date('2024-07-23T12:00:00.000Z');
const obs = createObservability('retention-test');

function world(recordings: RetentionCandidate[], outcomes: Record<string, ExpireOutcome | 'throw'> = {}) {
  const saved: RetentionCheckpoint[] = [];
  let checkpoint: RetentionCheckpoint | undefined;
  const expired: string[] = [];
  const queried: string[] = [];
  const audited: SweepAuditEntry[] = [];
  /** Set: the audit trail refuses every entry. */
  const auditTrail = { down: false };
  /** Set: the checkpoint cannot be saved. */
  const store = { down: false };
  const deps: SweepDeps = {
    async *candidates(day, through) {
      queried.push(day);
      for (const r of recordings) {
        if (r.startedAt.slice(0, 10) === day && r.startedAt <= through) yield r;
      }
    },
    async expire(recordingSid) {
      const outcome = outcomes[recordingSid];
      if (outcome === 'throw') throw new Error('S3 answered 503');
      if (outcome) return outcome;
      const r = recordings.find((x) => x.recordingSid === recordingSid);
      // As expireRecording: an earlier expiry is answered with its own expiredAt, nothing erased again.
      if (r?.status === 'expired')
        return { outcome: 'expired', expiredAt: r.expiredAt ?? NOW.toISOString(), earlier: true };
      expired.push(recordingSid);
      if (r) Object.assign(r, { status: 'expired', expiredAt: NOW.toISOString() });
      return { outcome: 'expired', expiredAt: NOW.toISOString() };
    },
    async audit(entry) {
      if (auditTrail.down) throw new Error('ProvisionedThroughputExceededException');
      audited.push(entry);
    },
    checkpoint: {
      read: async () => checkpoint,
      write: async (cp) => {
        if (store.down) throw new Error('ProvisionedThroughputExceededException');
        checkpoint = cp;
        saved.push(cp);
      },
    },
    obs,
    now: () => NOW,
  };
  return {
    deps,
    saved,
    expired,
    queried,
    audited,
    auditTrail,
    store,
    checkpoint: () => checkpoint,
    set: (cp: RetentionCheckpoint) => (checkpoint = cp),
  };
}

const rec = (recordingSid: string, startedAt: string, status = 'stored'): RetentionCandidate => ({
  recordingSid,
  startedAt,
  status,
});

const options = { retentionDays: 30, maxRecordings: 100, maxDays: 400, earliestDay: '2024-06-20' };

describe('runRetentionSweep', () => {
  test('expires what started before now − retention, oldest day first, and nothing younger', async () => {
    const w = world([
      rec('RE-a', '2024-06-20T10:00:00.000Z'),
      rec('RE-b', '2024-06-22T10:00:00.000Z', 'failed'),
      rec('RE-c', '2024-06-23T11:59:59.999Z'),
      rec('RE-d', '2024-06-23T12:00:00.000Z'),
      rec('RE-e', '2024-07-01T00:00:00.000Z'),
      rec('RE-f', '2024-06-21T00:00:00.000Z', 'erased'),
    ]);

    const report = await runRetentionSweep(options, w.deps);

    expect(w.expired).toEqual(['RE-a', 'RE-b', 'RE-c']);
    expect(report).toMatchObject({ cutoff: '2024-06-23T12:00:00.000Z', expired: 3, failed: 0, caughtUp: true });
    // The cutoff's day is not over: the next run starts there again.
    expect(w.checkpoint()).toEqual({ nextDay: '2024-06-23', pending: [], settledAt: NOW.toISOString() });
  });

  test('is idempotent: a second run expires nothing again', async () => {
    const w = world([rec('RE-a', '2024-06-20T10:00:00.000Z'), rec('RE-c', '2024-06-23T08:00:00.000Z')]);
    await runRetentionSweep(options, w.deps);
    w.expired.length = 0;

    const again = await runRetentionSweep(options, w.deps);

    expect(w.expired).toEqual([]);
    expect(again.expired).toBe(0);
  });

  test('is bounded per run and resumes where the last run stopped', async () => {
    const recordings = Array.from({ length: 5 }, (_, i) => rec(`RE-${i}`, `2024-06-2${i}T10:00:00.000Z`));
    const w = world(recordings);

    const first = await runRetentionSweep({ ...options, maxRecordings: 2 }, w.deps);
    expect(first).toMatchObject({ expired: 2, caughtUp: false });
    // Both of its days were done: the next run starts after them.
    expect(w.checkpoint()?.nextDay).toBe('2024-06-22');

    const second = await runRetentionSweep({ ...options, maxRecordings: 2 }, w.deps);
    const third = await runRetentionSweep({ ...options, maxRecordings: 2 }, w.deps);
    expect(second.expired + third.expired).toBe(2);
    expect(w.expired).toEqual(['RE-0', 'RE-1', 'RE-2', 'RE-3']);
    // RE-4 (06-24) is younger than 30 days.
  });

  test('a failed erasure keeps the checkpoint on its day, and the next run tries it again', async () => {
    const recordings = [rec('RE-a', '2024-06-20T10:00:00.000Z'), rec('RE-b', '2024-06-21T10:00:00.000Z')];
    const outcomes: Record<string, ExpireOutcome | 'throw'> = { 'RE-a': 'throw' };
    const w = world(recordings, outcomes);

    const failed = await runRetentionSweep(options, w.deps);
    expect(failed).toMatchObject({ failed: 1, expired: 0 });
    expect(w.checkpoint()?.nextDay).toBe('2024-06-20');

    delete outcomes['RE-a'];
    const healed = await runRetentionSweep(options, w.deps);
    expect(healed).toMatchObject({ failed: 0, expired: 2 });
  });

  test('a stop signal ends the run after the recording being expired: its checkpoint is saved and the next run carries on from it', async () => {
    const recordings = [
      rec('RE-a', '2024-06-20T10:00:00.000Z'),
      rec('RE-b', '2024-06-20T11:00:00.000Z'),
      rec('RE-c', '2024-06-21T10:00:00.000Z'),
    ];
    const w = world(recordings);
    const stopping = new AbortController();
    const expire = w.deps.expire;
    // The stop arrives while RE-a is being erased: that erasure finishes, nothing after it starts.
    const deps: SweepDeps = {
      ...w.deps,
      signal: stopping.signal,
      expire: async (recordingSid) => {
        stopping.abort();
        return expire(recordingSid);
      },
    };

    const stopped = await runRetentionSweep(options, deps);

    expect(stopped).toMatchObject({ expired: 1, failed: 0, stopped: true, caughtUp: false, nextDay: '2024-06-20' });
    expect(w.expired).toEqual(['RE-a']);
    expect(w.checkpoint()).toEqual({ nextDay: '2024-06-20', pending: [], settledAt: NOW.toISOString() });

    const next = await runRetentionSweep(options, w.deps);

    expect(next).toMatchObject({ fromDay: '2024-06-20', expired: 2, caughtUp: true });
    expect(next.stopped).toBeUndefined();
    expect(w.expired).toEqual(['RE-a', 'RE-b', 'RE-c']);
  });

  test('a run whose stop signal is already aborted erases nothing and keeps its checkpoint and pending list', async () => {
    const w = world([rec('RE-held', '2024-06-20T10:00:00.000Z'), rec('RE-a', '2024-06-22T10:00:00.000Z')]);
    const saved: RetentionCheckpoint = {
      nextDay: '2024-06-21',
      pending: [{ recordingSid: 'RE-held', why: 'held', audited: true }],
    };
    w.set(saved);

    const report = await runRetentionSweep(options, { ...w.deps, signal: AbortSignal.abort() });

    expect(report).toMatchObject({ examined: 0, expired: 0, stopped: true, nextDay: '2024-06-21' });
    expect(w.expired).toEqual([]);
    expect(w.queried).toEqual([]);
    // Nothing left in doubt: only the instant up to which every expiry is accounted for moves.
    expect(w.checkpoint()).toEqual({ ...saved, settledAt: NOW.toISOString() });
  });

  test('passes held and Object Lock-retained recordings by, remembers them, and expires them once free', async () => {
    const recordings = [
      rec('RE-held', '2024-06-20T10:00:00.000Z'),
      rec('RE-locked', '2024-06-20T11:00:00.000Z'),
      rec('RE-free', '2024-06-21T10:00:00.000Z'),
    ];
    const outcomes: Record<string, ExpireOutcome | 'throw'> = {
      'RE-held': { outcome: 'held' },
      'RE-locked': { outcome: 'retained', retainUntil: '2024-07-23T11:00:00.000Z' },
    };
    const w = world(recordings, outcomes);

    const first = await runRetentionSweep(options, w.deps);
    expect(first).toMatchObject({ expired: 1, held: 1, retained: 1, failed: 0, pending: 2 });
    expect(w.checkpoint()?.nextDay).toBe('2024-06-23');
    expect(w.checkpoint()?.pending).toEqual([
      { recordingSid: 'RE-held', why: 'held', audited: true },
      { recordingSid: 'RE-locked', why: 'retained', until: '2024-07-23T11:00:00.000Z', audited: true },
    ]);

    // The hold is released and the lock ran out: the checkpoint is long past their day.
    delete outcomes['RE-held'];
    delete outcomes['RE-locked'];
    const second = await runRetentionSweep(options, w.deps);
    expect(second).toMatchObject({ expired: 2, pending: 0 });
    expect(w.expired).toEqual(['RE-free', 'RE-held', 'RE-locked']);
  });

  test('a pending recording still under Object Lock retention is not asked again before its date', async () => {
    const w = world([]);
    w.set({
      nextDay: '2024-06-23',
      pending: [{ recordingSid: 'RE-locked', why: 'retained', until: '2025-01-01T00:00:00.000Z' }],
    });
    const calls: string[] = [];
    const expire = w.deps.expire;
    const report = await runRetentionSweep(options, {
      ...w.deps,
      expire: async (sid) => {
        calls.push(sid);
        return expire(sid);
      },
    });
    expect(calls).toEqual([]);
    expect(report.pending).toBe(1);
  });

  test('walks at most maxDays days per run', async () => {
    const w = world([]);
    await runRetentionSweep({ ...options, maxDays: 2 }, w.deps);
    expect(w.queried).toEqual(['2024-06-20', '2024-06-21']);
    expect(w.checkpoint()?.nextDay).toBe('2024-06-22');
  });
  test('enters every expiry in the audit trail, and a recording passed by once per reason, not at every run', async () => {
    const recordings = [rec('RE-a', '2024-06-20T10:00:00.000Z'), rec('RE-held', '2024-06-21T10:00:00.000Z')];
    const w = world(recordings, { 'RE-held': { outcome: 'held' } });

    await runRetentionSweep(options, w.deps);
    await runRetentionSweep(options, w.deps);

    expect(w.audited).toEqual([
      { recordingSid: 'RE-a', outcome: 'expired', expiredAt: NOW.toISOString() },
      { recordingSid: 'RE-held', outcome: 'held' },
    ]);
    expect(w.checkpoint()?.pending).toEqual([{ recordingSid: 'RE-held', why: 'held', audited: true }]);
  });

  test('an expiry whose entry cannot be written fails the run, stops it, and the next run writes the entry without erasing again', async () => {
    const recordings = [rec('RE-a', '2024-06-20T10:00:00.000Z'), rec('RE-b', '2024-06-21T10:00:00.000Z')];
    const w = world(recordings);
    w.auditTrail.down = true;

    const failed = await runRetentionSweep(options, w.deps);

    expect(failed).toMatchObject({ expired: 1, failed: 1, auditFailed: 1 });
    // No more erasures without their entries: RE-b waits, the checkpoint stays on RE-a's day.
    expect(w.expired).toEqual(['RE-a']);
    expect(w.checkpoint()).toEqual({
      nextDay: '2024-06-20',
      pending: [{ recordingSid: 'RE-a', why: 'unaudited', expiredAt: NOW.toISOString() }],
      settledAt: NOW.toISOString(),
    });

    w.auditTrail.down = false;
    const healed = await runRetentionSweep(options, w.deps);

    expect(healed).toMatchObject({ expired: 1, failed: 0, auditFailed: 0, pending: 0 });
    expect(w.expired).toEqual(['RE-a', 'RE-b']);
    expect(w.audited).toEqual([
      { recordingSid: 'RE-a', outcome: 'expired', expiredAt: NOW.toISOString(), late: true },
      { recordingSid: 'RE-b', outcome: 'expired', expiredAt: NOW.toISOString() },
    ]);
  });

  test('a pass-by whose entry cannot be written is entered by the next run that still finds it held', async () => {
    const w = world([rec('RE-held', '2024-06-20T10:00:00.000Z')], { 'RE-held': { outcome: 'held' } });
    w.auditTrail.down = true;

    const failed = await runRetentionSweep(options, w.deps);
    expect(failed).toMatchObject({ held: 1, failed: 1, auditFailed: 1 });
    expect(w.checkpoint()?.pending).toEqual([{ recordingSid: 'RE-held', why: 'held', audited: false }]);

    w.auditTrail.down = false;
    await runRetentionSweep(options, w.deps);

    expect(w.audited).toEqual([{ recordingSid: 'RE-held', outcome: 'held' }]);
    expect(w.checkpoint()?.pending).toEqual([{ recordingSid: 'RE-held', why: 'held', audited: true }]);
  });
  test('an expiry cut short after the ledger said expired is entered, kept as unfinished, and finished by the next run', async () => {
    const cutShort: ExpireOutcome = {
      outcome: 'busy',
      reason: 'the event could not be sent',
      expiredAt: NOW.toISOString(),
    };
    const outcomes: Record<string, ExpireOutcome | 'throw'> = { 'RE-a': cutShort };
    const w = world([rec('RE-a', '2024-06-20T10:00:00.000Z')], outcomes);
    w.auditTrail.down = true;

    const failed = await runRetentionSweep(options, w.deps);

    expect(failed).toMatchObject({ failed: 2, auditFailed: 1 });
    expect(w.checkpoint()?.pending).toEqual([
      { recordingSid: 'RE-a', why: 'unfinished', expiredAt: NOW.toISOString(), audited: false },
    ]);

    // Still cut short, the trail back: entered once; then finished (gone): nothing entered again.
    w.auditTrail.down = false;
    await runRetentionSweep(options, w.deps);
    outcomes['RE-a'] = { outcome: 'gone' };
    const finished = await runRetentionSweep(options, w.deps);

    expect(finished).toMatchObject({ failed: 0, pending: 0 });
    expect(w.audited).toEqual([{ recordingSid: 'RE-a', outcome: 'expired', expiredAt: NOW.toISOString() }]);
  });

  test('held recordings as many as the erasure budget do not stall the sweep: a run still expires the free ones after them', async () => {
    const held = Array.from({ length: 5 }, (_, i) => rec(`RE-held-${i}`, `2024-06-20T1${i}:00:00.000Z`));
    const free = Array.from({ length: 5 }, (_, i) => rec(`RE-free-${i}`, `2024-06-21T1${i}:00:00.000Z`));
    const outcomes: Record<string, ExpireOutcome | 'throw'> = Object.fromEntries(
      held.map((r) => [r.recordingSid, { outcome: 'held' } as ExpireOutcome]),
    );
    const w = world([...held, ...free], outcomes);
    w.set({
      nextDay: '2024-06-20',
      pending: held.map((r) => ({ recordingSid: r.recordingSid, why: 'held' as const, audited: true })),
    });

    const report = await runRetentionSweep({ ...options, maxRecordings: 5 }, w.deps);

    // Checking a hold again erases nothing, so it spends none of the erasures.
    expect(report).toMatchObject({ expired: 5, held: 5, failed: 0, pending: 5 });
    expect(w.expired).toEqual(free.map((r) => r.recordingSid));
    expect(w.checkpoint()?.nextDay).toBe('2024-06-22');
    const next = await runRetentionSweep({ ...options, maxRecordings: 5 }, w.deps);
    expect(next).toMatchObject({ failed: 0, caughtUp: true, nextDay: '2024-06-23' });
  });

  test('more held recordings than one run re-checks: each run checks the ones least recently checked, so a released one is expired within a few runs', async () => {
    const held = Array.from({ length: 12 }, (_, i) => `RE-held-${String(i).padStart(2, '0')}`);
    const outcomes: Record<string, ExpireOutcome | 'throw'> = Object.fromEntries(
      held.map((sid) => [sid, { outcome: 'held' } as ExpireOutcome]),
    );
    const w = world([rec('RE-free', '2024-06-21T10:00:00.000Z')], outcomes);
    w.set({
      nextDay: '2024-06-21',
      pending: held.map((recordingSid) => ({ recordingSid, why: 'held', audited: true })),
    });
    const checked: string[][] = [];
    const expire = w.deps.expire;
    const run = async () => {
      const calls: string[] = [];
      checked.push(calls);
      return runRetentionSweep(
        { ...options, maxRecordings: 2, maxChecks: 8 },
        {
          ...w.deps,
          expire: async (sid) => {
            calls.push(sid);
            return expire(sid);
          },
        },
      );
    };
    // The last one on the list is released.
    delete outcomes['RE-held-11'];

    const first = await run();
    const second = await run();
    const third = await run();

    // Half the checks at most go to the pending list, the rest stay for the day walk.
    expect(checked[0]).toEqual(['RE-held-00', 'RE-held-01', 'RE-held-02', 'RE-held-03', 'RE-free']);
    expect(first).toMatchObject({ expired: 1, failed: 0, caughtUp: true });
    expect(checked[1]).toEqual(['RE-held-04', 'RE-held-05', 'RE-held-06', 'RE-held-07']);
    // The released one spends an erasure, not a check: room for one more.
    expect(checked[2]).toEqual(['RE-held-08', 'RE-held-09', 'RE-held-10', 'RE-held-11', 'RE-held-00']);
    expect(second.expired).toBe(0);
    expect(third).toMatchObject({ expired: 1, pending: 11 });
    expect(w.expired).toEqual(['RE-free', 'RE-held-11']);
    // The next run starts again with those checked longest ago.
    expect(
      w
        .checkpoint()
        ?.pending.slice(0, 2)
        .map((p) => p.recordingSid),
    ).toEqual(['RE-held-01', 'RE-held-02']);
  });

  test('a full pending list fails the run (its alarm fires) and says so, instead of stopping silently', async () => {
    const full: PendingRecording[] = Array.from({ length: MAX_PENDING }, (_, i) => ({
      recordingSid: `RE-locked-${i}`,
      why: 'retained',
      until: '2030-01-01T00:00:00.000Z',
      audited: true,
    }));
    const w = world([rec('RE-held', '2024-06-20T10:00:00.000Z'), rec('RE-a', '2024-06-21T10:00:00.000Z')], {
      'RE-held': { outcome: 'held' },
    });
    w.set({ nextDay: '2024-06-20', pending: full });

    const report = await runRetentionSweep(options, w.deps);

    expect(report).toMatchObject({ failed: 1, pendingFull: true, caughtUp: false, pending: MAX_PENDING });
    // It cannot be remembered, so the walk does not move past it.
    expect(w.checkpoint()?.nextDay).toBe('2024-06-20');
    expect(w.expired).toEqual([]);
  });

  test('an expiry cut short whose checkpoint could not be saved is finished and entered by the next run walking its day', async () => {
    const recordings = [rec('RE-a', '2024-06-20T10:00:00.000Z')];
    // The ledger turned expired, then the event failed: kept only in the run's memory…
    const outcomes: Record<string, ExpireOutcome | 'throw'> = {
      'RE-a': { outcome: 'busy', reason: 'the event could not be sent', expiredAt: NOW.toISOString() },
    };
    const w = world(recordings, outcomes);
    Object.assign(recordings[0] as object, { status: 'expired', expiredAt: NOW.toISOString() });
    w.auditTrail.down = true;
    w.store.down = true;

    // …and the save fails (or the run dies before it).
    await expect(runRetentionSweep(options, w.deps)).rejects.toThrow();
    expect(w.checkpoint()).toBeUndefined();

    w.auditTrail.down = false;
    w.store.down = false;
    delete outcomes['RE-a'];
    const later = new Date(NOW.getTime() + 3_600_000);
    const next = await runRetentionSweep(options, { ...w.deps, now: () => later });

    // Not passed by as already expired: finished (by expire) and entered at its own expiredAt.
    expect(next).toMatchObject({ expired: 0, finished: 1, failed: 0, pending: 0 });
    expect(w.audited).toEqual([{ recordingSid: 'RE-a', outcome: 'expired', expiredAt: NOW.toISOString(), late: true }]);
  });

  test('an expired recording settled before the last saved run is not checked again: the walk costs no read for it', async () => {
    const w = world([rec('RE-old', '2024-06-23T08:00:00.000Z', 'expired')]);
    const candidate = {
      recordingSid: 'RE-old',
      status: 'expired',
      startedAt: '2024-06-23T08:00:00.000Z',
      expiredAt: '2024-07-23T10:00:00.000Z',
    };
    const calls: string[] = [];
    const deps: SweepDeps = {
      ...w.deps,
      async *candidates() {
        yield candidate;
      },
      expire: async (sid) => {
        calls.push(sid);
        return { outcome: 'gone' };
      },
    };
    w.set({ nextDay: '2024-06-23', pending: [], settledAt: '2024-07-23T11:00:00.000Z' });

    await runRetentionSweep(options, deps);
    expect(calls).toEqual([]);

    // Expired after the last save that accounted for everything: it may be one a lost run left unfinished.
    w.set({ nextDay: '2024-06-23', pending: [], settledAt: '2024-07-23T09:59:59.999Z' });
    await runRetentionSweep(options, deps);
    expect(calls).toEqual(['RE-old']);
  });

  test('an erasure that failed in an unknown way keeps the settled instant where it was, so the next run looks again', async () => {
    const w = world([rec('RE-a', '2024-06-20T10:00:00.000Z')], { 'RE-a': 'throw' });
    w.set({ nextDay: '2024-06-20', pending: [], settledAt: '2024-07-01T00:00:00.000Z' });

    await runRetentionSweep(options, w.deps);

    expect(w.checkpoint()?.settledAt).toBe('2024-07-01T00:00:00.000Z');
  });
  test('an expiry left in doubt is looked at again by the first run that walks its day, even after a run that could not reach it', async () => {
    const recordings = [rec('RE-a', '2024-06-20T10:00:00.000Z'), rec('RE-p', '2024-06-01T10:00:00.000Z')];
    const w = world(recordings);
    const hour = (n: number) => new Date(NOW.getTime() + n * 3_600_000);
    // RE-p: a hold released meanwhile, checked again from hour 1: it spends that run's one erasure.
    w.set({
      nextDay: '2024-06-20',
      pending: [{ recordingSid: 'RE-p', why: 'held', until: hour(1).toISOString() }],
      settledAt: '2024-07-01T00:00:00.000Z',
    });
    // The ledger took RE-a's expiry, then the answer was lost: the run cannot tell.
    let lost = true;
    const answerLost = async (sid: string) => {
      if (sid !== 'RE-a' || !lost) return w.deps.expire(sid);
      lost = false;
      Object.assign(recordings[0] as object, { status: 'expired', expiredAt: NOW.toISOString() });
      throw new Error('socket hang up');
    };
    await runRetentionSweep(options, { ...w.deps, expire: answerLost });

    await runRetentionSweep({ ...options, maxRecordings: 1 }, { ...w.deps, now: () => hour(1) });
    const walked = await runRetentionSweep(options, { ...w.deps, now: () => hour(2) });

    expect(walked).toMatchObject({ finished: 1, failed: 0 });
    expect(w.audited).toContainEqual({
      recordingSid: 'RE-a',
      outcome: 'expired',
      expiredAt: NOW.toISOString(),
      late: true,
    });
  });

  test('an expiry a lost run cut short is finished by the first run that walks its day, even after a run that could not reach it', async () => {
    const recordings = [rec('RE-a', '2024-06-20T10:00:00.000Z'), rec('RE-p', '2024-06-01T10:00:00.000Z')];
    const w = world(recordings);
    const hour = (n: number) => new Date(NOW.getTime() + n * 3_600_000);
    // RE-p: a hold released meanwhile, checked again from hour 1: it spends that run's one erasure.
    w.set({
      nextDay: '2024-06-20',
      pending: [{ recordingSid: 'RE-p', why: 'held', until: hour(1).toISOString() }],
      settledAt: '2024-07-01T00:00:00.000Z',
    });
    // The ledger takes RE-a's expiry, the event fails, and the run dies before it saves anything.
    const dying = async (): Promise<ExpireOutcome> => {
      Object.assign(recordings[0] as object, { status: 'expired', expiredAt: NOW.toISOString() });
      w.auditTrail.down = true;
      w.store.down = true;
      return { outcome: 'busy', reason: 'the event could not be sent', expiredAt: NOW.toISOString() };
    };
    await expect(runRetentionSweep(options, { ...w.deps, expire: dying })).rejects.toThrow();
    w.auditTrail.down = false;
    w.store.down = false;

    await runRetentionSweep({ ...options, maxRecordings: 1 }, { ...w.deps, now: () => hour(1) });
    const walked = await runRetentionSweep(options, { ...w.deps, now: () => hour(2) });

    expect(walked).toMatchObject({ finished: 1, failed: 0 });
    expect(w.audited).toContainEqual({
      recordingSid: 'RE-a',
      outcome: 'expired',
      expiredAt: NOW.toISOString(),
      late: true,
    });
  });

  test('a walk new to the stage finishes an expiry a lost run of the walk it replaced cut short, however many runs it takes to reach its day', async () => {
    const recordings = [rec('RE-a', '2024-06-22T10:00:00.000Z', 'expired')];
    Object.assign(recordings[0] as object, { expiredAt: NOW.toISOString() });
    const w = world(recordings);
    const hour = (n: number) => new Date(NOW.getTime() + n * 3_600_000);
    // The replaced walk's last run started before RE-a's expiry and was lost.
    const replaced = {
      nextDay: '2024-06-22',
      pending: [],
      settledAt: '2024-07-01T00:00:00.000Z',
      runningSince: new Date(NOW.getTime() - 60_000).toISOString(),
    };
    w.set(seededCheckpoint([replaced], '2024-06-01', hour(1)));

    await runRetentionSweep({ ...options, maxDays: 5 }, { ...w.deps, now: () => hour(1) });
    const reached = await runRetentionSweep(options, { ...w.deps, now: () => hour(2) });

    expect(reached).toMatchObject({ finished: 1, failed: 0 });
    expect(w.audited).toContainEqual({
      recordingSid: 'RE-a',
      outcome: 'expired',
      expiredAt: NOW.toISOString(),
      late: true,
    });
    // Looked at: the walk's own expiries are passed by as settled again.
    expect(w.checkpoint()?.doubt).toBeUndefined();
  });

  test('an expiry left in doubt while the pending list is full is still looked at again by the first run that walks its day', async () => {
    const recordings = [rec('RE-a', '2024-06-20T10:00:00.000Z')];
    const w = world(recordings);
    const hour = (n: number) => new Date(NOW.getTime() + n * 3_600_000);
    const full = Array.from(
      { length: MAX_PENDING },
      (_, i): PendingRecording => ({
        recordingSid: `RE-r${i}`,
        why: 'retained',
        until: '2030-01-01T00:00:00.000Z',
        audited: true,
      }),
    );
    w.set({ nextDay: '2024-06-20', pending: full, settledAt: '2024-07-01T00:00:00.000Z' });
    const answerLost = async (): Promise<ExpireOutcome> => {
      Object.assign(recordings[0] as object, { status: 'expired', expiredAt: NOW.toISOString() });
      throw new Error('socket hang up');
    };
    await runRetentionSweep(options, { ...w.deps, expire: answerLost });

    // A run with no erasure to spend settles without walking the day.
    await runRetentionSweep({ ...options, maxRecordings: 0 }, { ...w.deps, now: () => hour(1) });
    const walked = await runRetentionSweep(options, { ...w.deps, now: () => hour(2) });

    expect(walked).toMatchObject({ finished: 1, failed: 0 });
    expect(w.audited).toContainEqual({
      recordingSid: 'RE-a',
      outcome: 'expired',
      expiredAt: NOW.toISOString(),
      late: true,
    });
  });

  test('an erasure in doubt found erased by another hand is forgotten without an expiry entry', async () => {
    const w = world([], { 'RE-a': { outcome: 'gone' } });
    w.set({ nextDay: '2024-06-23', pending: [{ recordingSid: 'RE-a', why: 'unfinished' }] });

    const report = await runRetentionSweep(options, w.deps);

    expect(report).toMatchObject({ failed: 0, pending: 0 });
    expect(w.audited).toEqual([]);
  });

  test('counts each recording once per run: one held recording is held 1 in every run, and one expired from the pending list is examined', async () => {
    const recordings = [rec('RE-held', '2024-06-21T10:00:00.000Z'), rec('RE-late', '2024-06-23T08:00:00.000Z')];
    const outcomes: Record<string, ExpireOutcome | 'throw'> = {
      'RE-held': { outcome: 'held' },
      'RE-late': { outcome: 'held' },
    };
    const w = world(recordings, outcomes);

    const first = await runRetentionSweep(options, w.deps);
    const second = await runRetentionSweep(options, w.deps);
    const third = await runRetentionSweep(options, w.deps);

    for (const report of [first, second, third]) {
      expect(report).toMatchObject({ examined: 2, held: 2, expired: 0, pending: 2 });
    }

    // Expired from the pending list: examined as well as expired.
    delete outcomes['RE-held'];
    const released = await runRetentionSweep(options, w.deps);
    expect(released).toMatchObject({ examined: 2, expired: 1, held: 1, pending: 1 });
  });

  test('a recording a day index page shows twice is examined and counted once', async () => {
    const held = rec('RE-held', '2024-06-21T10:00:00.000Z');
    const free = rec('RE-free', '2024-06-21T11:00:00.000Z');
    const w = world([held, free, { ...held }, { ...free, status: 'stored' }], { 'RE-held': { outcome: 'held' } });

    const report = await runRetentionSweep(options, w.deps);

    expect(report).toMatchObject({ examined: 2, expired: 1, finished: 0, held: 1, pending: 1 });
    expect(w.expired).toEqual(['RE-free']);
  });
});
