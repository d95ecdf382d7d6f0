/**
 * The retention sweep's walk, checkpoint and pending list, with the ledger's days and the erasure
 * as doubles (the erasure path itself runs against the emulators in retention.test.ts).
 */

import {
  type ExpireOutcome,
  type RetentionCandidate,
  type RetentionCheckpoint,
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
      expired.push(recordingSid);
      const r = recordings.find((x) => x.recordingSid === recordingSid);
      if (r) Object.assign(r, { status: 'expired' });
      return { outcome: 'expired', expiredAt: NOW.toISOString() };
    },
    async audit(entry) {
      if (auditTrail.down) throw new Error('ProvisionedThroughputExceededException');
      audited.push(entry);
    },
    checkpoint: {
      read: async () => checkpoint,
      write: async (cp) => {
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
    expect(w.checkpoint()).toEqual({ nextDay: '2024-06-23', pending: [] });
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
    expect(w.checkpoint()).toEqual({ nextDay: '2024-06-20', pending: [] });

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
    expect(w.checkpoint()).toEqual(saved);
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
});
