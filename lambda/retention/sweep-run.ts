import { AUDIT_WRITE_FAILED } from '../shared/audit/audit-trail';
import { dayOf } from '../shared/ledger/ledger';
import { describeError } from '../shared/runtime/errors';
import type { Observability } from '../shared/runtime/observability';
import {
  lostRunDoubt,
  MAX_PENDING,
  mergeDoubt,
  type PendingRecording,
  type RetentionCheckpoint,
} from './checkpoint-state';

/**
 * One run of the retention sweep: erases, through the erasure path, every recording that started
 * more than `retentionDays` ago, oldest day first, and records where it got to.
 *
 * - **Resumable**: the checkpoint (`nextDay`, the first day not yet swept to its end) moves a day
 *   at a time, only once every recording of that day is expired or passed by; a run cut short
 *   (timeout, crash, a failed erasure) leaves it where the next run picks up.
 * - **Idempotent**: a day swept again finds its expired recordings already expired (the erasure
 *   answers so) and erases nothing twice.
 * - **Bounded**: at most `maxRecordings` erasure attempts, `maxChecks` checks that erase nothing
 *   (a recording still held or retained, one already gone, an earlier expiry finished) and
 *   `maxDays` days per run. A check that erases nothing spends no erasure, so held recordings,
 *   however many, never keep the walk from the free ones after them; the pending list takes at
 *   most half the checks, least recently checked first (a checked entry moves to the end), so the
 *   walk always has room and every entry gets its turn.
 * - **Stoppable**: once `signal` aborts (shutdown, the Lambda's timeout near), the run finishes the
 *   recording it is erasing, starts no other, saves its checkpoint and returns (`stopped`).
 * - **Holds and Object Lock**: a held or Object Lock-retained recording is passed by and kept in
 *   the checkpoint's `pending` list, checked again at the start of every run, and expired once its
 *   hold is released or its retention has ended: nothing is lost behind the checkpoint. A list
 *   full (`MAX_PENDING`) stops the walk at the next recording to pass by and fails the run.
 * - **Nothing left unfinished**: an expiry cut short lives in the pending list only once a save
 *   took it. So the walk does not pass an `expired` recording by unless it expired before
 *   `settledAt` (the last save of a run that knew the outcome of every erasure it started): a
 *   later one may be one a lost run left, and is handed to `expire`, which
 *   finishes it (call item, event) and answers with its `expiredAt`; its audit entry is written
 *   again under its fixed key (adding nothing if it is there). A run marks the checkpoint as it
 *   starts (`runningSince`); the next run finding the mark knows that run was lost, and looks again
 *   at whatever expired in its window until the walk has swept the day it was on (`doubt`), even
 *   if a run in between settled without reaching that day. An erasure that threw is remembered in
 *   `pending` (`unfinished`, no `expiredAt`).
 * - **Audited**: every expiry, and the first time a recording is passed by for a reason, is entered
 *   in the access audit trail after it happened (as the API routes do). An entry that cannot be
 *   written counts as a failure (the run fails, its alarm fires), stops the run (no more erasures
 *   without their entries) and is kept in `pending` (`unaudited`): the next run writes it first.
 *   The expiry's entry has a fixed key, so writing it twice adds nothing.
 */

/** A ledger item due for expiry (as the day index shows it). */
export interface RetentionCandidate {
  readonly recordingSid: string;
  readonly status: string;
  readonly startedAt: string;
  /** Twilio's RecordingSource (the day index projects it); absent where Twilio named none. */
  readonly source?: string;
  /** Set when `expired` (the day index projects it). */
  readonly expiredAt?: string;
}

export type ExpireOutcome =
  /**
   * `expiredAt`: the ledger's. `earlier`: an earlier run expired it (finished now if it was cut
   * short): nothing erased now, its audit entry is still owed or already there.
   */
  | { readonly outcome: 'expired'; readonly expiredAt: string; readonly earlier?: true }
  /** Already erased or expired (by the API, or by an earlier run): nothing done, nothing to enter. */
  | { readonly outcome: 'gone' }
  /** Of a source another walk keeps for another period: not this walk's, nothing done. */
  | { readonly outcome: 'elsewhere' }
  /**
   * Not due under this walk's period (it grew since the recording was remembered): nothing done;
   * remembered until `dueAt`, when the walk's checkpoint may be past its day.
   */
  | { readonly outcome: 'early'; readonly dueAt: string }
  | { readonly outcome: 'held' }
  | { readonly outcome: 'retained'; readonly retainUntil?: string }
  /**
   * A copy is running, or the erasure could not finish now: tried again by the next run.
   * `expiredAt`: it was cut short after the ledger turned `expired` (the call item or the event
   * failed): the recording is gone, and its expiry is entered in the audit trail.
   */
  | { readonly outcome: 'busy'; readonly reason: string; readonly expiredAt?: string };

/** What the sweep enters in the access audit trail about one recording. */
export type SweepAuditEntry =
  | {
      readonly recordingSid: string;
      readonly outcome: 'expired';
      readonly expiredAt: string;
      /** Written by a later run than the one that expired it (the first write failed). */
      readonly late?: boolean;
    }
  | { readonly recordingSid: string; readonly outcome: 'held' }
  | { readonly recordingSid: string; readonly outcome: 'retained'; readonly retainUntil?: string };

export interface SweepDeps {
  /** The recordings of `day` that started at or before `through`, not yet erased or expired. */
  readonly candidates: (day: string, through: string) => AsyncIterable<RetentionCandidate>;
  /** Erases one recording as expired (the erasure path); throws on an unexpected failure. */
  readonly expire: (recordingSid: string) => Promise<ExpireOutcome>;
  /** Enters what the sweep did to a recording in the audit trail; throws when it cannot. */
  readonly audit: (entry: SweepAuditEntry) => Promise<void>;
  readonly checkpoint: {
    read(): Promise<RetentionCheckpoint | undefined>;
    write(checkpoint: RetentionCheckpoint): Promise<void>;
  };
  readonly obs: Observability;
  readonly now?: () => Date;
  /**
   * Stops the run (shutdown of the local stack, the Lambda's timeout near): checked between
   * recordings and days, never during one recording's erasure; the run then saves its checkpoint
   * and returns.
   */
  readonly signal?: AbortSignal;
}

export interface SweepOptions {
  readonly retentionDays: number;
  /** Erasure attempts per run at most. */
  readonly maxRecordings: number;
  /**
   * Checks that erase nothing (still held or retained, already gone, an earlier expiry finished)
   * per run at most, half of them at most for the pending list; default 4 × `maxRecordings`. Each
   * costs a ledger read.
   */
  readonly maxChecks?: number;
  /** Days walked per run at most. */
  readonly maxDays: number;
  /** Where the first run starts: no Twilio recording is older. */
  readonly earliestDay?: string;
  /**
   * `YYYY-MM-DD` days that gained a recording after it started by a day or more (a backfill, a copy
   * retried for days): those behind the checkpoint are swept again (lambda/shared/ledger/late-days.ts).
   */
  readonly lateDays?: readonly string[];
  /** For the logs: the sources this walk covers (`every source but Conference`). */
  readonly walk?: string;
}

export interface SweepReport {
  /** Recordings that started before this are due (now − retention). */
  readonly cutoff: string;
  readonly fromDay: string;
  readonly nextDay: string;
  /**
   * Distinct recordings this run checked through the erasure path (a ledger read each): the pending
   * list's re-checks and the walk's. Every one expired, finished, held or retained is among them.
   */
  readonly examined: number;
  /** Recordings this run expired (not counting earlier expiries it finished). */
  readonly expired: number;
  /** Earlier expiries finished or entered by this run; absent from reports of older runs. */
  readonly finished?: number;
  /** Distinct recordings this run passed by because they are held (each still in `pending`). */
  readonly held: number;
  /** Distinct recordings this run passed by because Object Lock still retains them. */
  readonly retained: number;
  /** Erasures that failed, and audit entries that could not be written. */
  readonly failed: number;
  /**
   * Audit entries that could not be written (kept in `pending` for the next run); absent from the
   * reports of runs before the sweep wrote entries.
   */
  readonly auditFailed?: number;
  readonly pending: number;
  /** Every due day is swept (the checkpoint reached the cutoff's day). */
  readonly caughtUp: boolean;
  /** The stop signal ended the run early (its checkpoint is saved); absent otherwise. */
  readonly stopped?: true;
  /**
   * The pending list is full (`MAX_PENDING`): a recording to pass by could not be remembered, so
   * the walk stopped before it (counted in `failed`). Absent otherwise.
   */
  readonly pendingFull?: true;
  /** Days behind the checkpoint this run swept again because they gained a recording late. */
  readonly lateDaysSwept?: number;
  /** Late days this run could not sweep (not due yet, unfinished): handed back for a later run. */
  readonly lateDaysLeft?: readonly string[];
}

export const EARLIEST_DAY = '2008-01-01';
const DAY_MS = 24 * 60 * 60 * 1000;

export function nextDayOf(day: string): string {
  return new Date(Date.parse(`${day}T00:00:00.000Z`) + DAY_MS).toISOString().slice(0, 10);
}

export async function runRetentionSweep(options: SweepOptions, deps: SweepDeps): Promise<SweepReport> {
  const now = (deps.now ?? (() => new Date()))();
  const cutoff = new Date(now.getTime() - options.retentionDays * DAY_MS);
  const cutoffIso = cutoff.toISOString();
  // Strictly before the cutoff: the index range is inclusive.
  const throughIso = new Date(cutoff.getTime() - 1).toISOString();
  const cutoffDay = dayOf(cutoffIso);
  const saved = await deps.checkpoint.read();
  const fromDay = saved?.nextDay ?? options.earliestDay ?? EARLIEST_DAY;
  const counts = { expired: 0, finished: 0, failed: 0, auditFailed: 0 };
  // Distinct recordings, not checks: a recording checked twice in a run (the pending list, then a
  // day index page that shows it again) is one recording examined, held or retained.
  const examined = new Set<string>();
  const held = new Set<string>();
  const retained = new Set<string>();
  const log = deps.obs.logger;

  // In the saved order: an entry checked in this run moves to the end (delete, then set).
  const pending = new Map<string, PendingRecording>((saved?.pending ?? []).map((p) => [p.recordingSid, p]));
  /** Erasure attempts left. */
  let erasures = options.maxRecordings;
  /** Checks that erase nothing left; the pending list stops while more than `walkChecks` are. */
  let checks = options.maxChecks ?? 4 * options.maxRecordings;
  // At least one, whatever maxChecks: the walk must always be able to move.
  const walkChecks = Math.max(1, Math.floor(checks / 2));
  /** An erasure threw: its outcome is unknown, so `settledAt` stays where it was. */
  let unknown = false;
  let pendingFull = false;
  /** Checked by the pending list in this run: the walk does not check them again. */
  const seen = new Set<string>();
  /** An audit entry could not be written: nothing more is erased in this run. */
  let auditDown = false;
  /** The stop signal left work undone. Only asked where work remains, so a finished run is not `stopped`. */
  let stopped = false;
  const stopping = () => {
    if (deps.signal?.aborted) stopped = true;
    return stopped;
  };

  /** Writes one entry; false (counted, logged with its RecordingSid) when it could not. */
  const audit = async (entry: SweepAuditEntry): Promise<boolean> => {
    try {
      await deps.audit(entry);
      return true;
    } catch (error) {
      counts.failed++;
      counts.auditFailed++;
      auditDown = true;
      log.error('Could not enter the retention sweep in the audit trail; the next run writes it', {
        recordingSid: entry.recordingSid,
        outcome: entry.outcome,
        ...(entry.outcome === 'expired' ? { expiredAt: entry.expiredAt } : {}),
        error: describeError(error),
      });
      return false;
    }
  };

  /**
   * Expires one recording; false when the run must not move past it (a failure, an entry not
   * written, or no room to remember it). `before`: its entry in the pending list, if it had one.
   */
  const expireOne = async (recordingSid: string, before?: PendingRecording): Promise<boolean> => {
    examined.add(recordingSid);
    let result: ExpireOutcome;
    try {
      result = await deps.expire(recordingSid);
    } catch (error) {
      erasures--;
      unknown = true;
      counts.failed++;
      log.error('Could not expire a recording', { recordingSid, error: describeError(error) });
      // In doubt (the ledger may have taken the expiry before the answer was lost): remembered, so
      // that it is looked at again, and finished if it expired, even by a run that does not walk
      // its day, or by a walk that replaces this one. An entry of the pending list keeps its own.
      if (!before && pending.size < MAX_PENDING) pending.set(recordingSid, { recordingSid, why: 'unfinished' });
      return false;
    }
    // An erasure tried spends an erasure; an answer that erased nothing spends a check.
    if ((result.outcome === 'expired' && !result.earlier) || result.outcome === 'busy') erasures--;
    else checks--;
    switch (result.outcome) {
      case 'expired': {
        if (result.earlier) {
          counts.finished++;
          if (before?.why === 'unfinished' && before.audited) return true;
        } else counts.expired++;
        const entry = {
          recordingSid,
          outcome: 'expired',
          expiredAt: result.expiredAt,
          ...(result.earlier ? { late: true } : {}),
        } as const;
        if (await audit(entry)) return true;
        pending.set(recordingSid, { recordingSid, why: 'unaudited', expiredAt: result.expiredAt });
        return false;
      }
      case 'elsewhere':
        return true;
      case 'early':
        pending.set(recordingSid, { ...(before ?? { recordingSid, why: 'held' }), until: result.dueAt });
        return true;
      case 'gone': {
        // An unfinished expiry now finished: its entry, if an earlier run could not write it. One
        // in doubt (no expiredAt) that is gone was erased by another hand: not an expiry to enter.
        if (before?.why !== 'unfinished' || before.audited || before.expiredAt === undefined) return true;
        const written = await audit({
          recordingSid,
          outcome: 'expired',
          expiredAt: before.expiredAt ?? now.toISOString(),
          late: true,
        });
        if (!written) pending.set(recordingSid, before);
        return written;
      }
      case 'busy': {
        counts.failed++;
        log.warn('A recording due for expiry could not be expired now', { recordingSid, reason: result.reason });
        if (!result.expiredAt) return false;
        // Expired all the same: entered now (once), finished by the next run.
        const audited =
          (before?.why === 'unfinished' && before.audited === true) ||
          (await audit({ recordingSid, outcome: 'expired', expiredAt: result.expiredAt }));
        pending.set(recordingSid, { recordingSid, why: 'unfinished', expiredAt: result.expiredAt, audited });
        return false;
      }
      case 'held':
      case 'retained': {
        if (result.outcome === 'held') held.add(recordingSid);
        else retained.add(recordingSid);
        // One already on the list keeps its place; a new one needs room.
        if (!before && pending.size >= MAX_PENDING && !pending.has(recordingSid)) {
          counts.failed++;
          pendingFull = true;
          log.error('The retention sweep cannot remember more recordings it passes by; the walk stops here', {
            recordingSid,
            outcome: result.outcome,
            pending: pending.size,
            max: MAX_PENDING,
          });
          return false;
        }
        const until = result.outcome === 'retained' ? result.retainUntil : undefined;
        const entry: PendingRecording = { recordingSid, why: result.outcome, ...(until ? { until } : {}) };
        // Entered once per reason (and retain-until date), not at every run that checks it again.
        if (before?.audited && before.why === entry.why && (entry.why === 'held' || before.until === entry.until)) {
          pending.set(recordingSid, { ...entry, audited: true });
          return true;
        }
        const written = await audit(
          result.outcome === 'held'
            ? { recordingSid, outcome: 'held' }
            : { recordingSid, outcome: 'retained', ...(until ? { retainUntil: until } : {}) },
        );
        pending.set(recordingSid, { ...entry, audited: written });
        return written;
      }
    }
  };

  let nextDay = fromDay;
  let daysWalked = 0;
  let settledAt = saved?.settledAt;
  const settledUntil = settledAt ? Date.parse(settledAt) : undefined;
  let doubt = lostRunDoubt(saved, now);
  const doubtFrom = doubt ? Date.parse(doubt.from) : undefined;
  const doubtTo = doubt ? Date.parse(doubt.to) : undefined;
  /** Set once this run has swept the day of the doubt to its end. */
  let sweptDoubtDay = false;
  /** A late day behind the checkpoint this run could not sweep: a lost run's expiry there is not looked at. */
  let lateBehind = false;
  let running = true;
  /**
   * Expired by a run that saved `settledAt` after it: finished and entered, or pending. Runs go
   * one at a time, so a lost run started after that save (their clocks are the same Lambda
   * service's, or the same machine's).
   */
  const settled = (candidate: RetentionCandidate) => {
    if (settledUntil === undefined || candidate.expiredAt === undefined) return false;
    const at = Date.parse(candidate.expiredAt);
    if (doubtFrom !== undefined && doubtTo !== undefined && at >= doubtFrom && at <= doubtTo) return false;
    return at <= settledUntil;
  };
  const save = () =>
    deps.checkpoint.write({
      nextDay,
      pending: [...pending.values()],
      ...(settledAt ? { settledAt } : {}),
      ...(running ? { runningSince: now.toISOString() } : {}),
      ...(doubt ? { doubt } : {}),
    });
  // Before anything is touched: a run that dies from here on is known to the next as lost.
  await save();

  // 1. What earlier runs left: entries not yet written, then released holds and ended retention.
  // Every entry stays where it is in `pending` unless checked now (then moved to the end, or gone).
  for (const entry of saved?.pending ?? []) {
    if (stopping()) continue;
    seen.add(entry.recordingSid);
    if (entry.why === 'unaudited') {
      const written =
        !auditDown &&
        (await audit({
          recordingSid: entry.recordingSid,
          outcome: 'expired',
          expiredAt: entry.expiredAt ?? now.toISOString(),
          late: true,
        }));
      if (written) pending.delete(entry.recordingSid);
      continue;
    }
    if (
      auditDown ||
      erasures <= 0 ||
      checks <= walkChecks ||
      (entry.until !== undefined && entry.until > now.toISOString())
    ) {
      continue;
    }
    const before = counts.failed;
    pending.delete(entry.recordingSid);
    const ok = await expireOne(entry.recordingSid, entry);
    // A failure keeps it for the next run (as expireOne left it, or as it was), at the end.
    if (!ok && counts.failed > before && !pending.has(entry.recordingSid)) pending.set(entry.recordingSid, entry);
  }

  /** Every due recording of `day` expired or remembered; false where the walk must stop (budget, stop, a failure). */
  const sweepDay = async (day: string): Promise<boolean> => {
    for await (const candidate of deps.candidates(day, throughIso)) {
      if (candidate.status === 'erased') continue;
      if (candidate.status === 'expired' && settled(candidate)) continue;
      if (candidate.startedAt >= cutoffIso) continue;
      // Remembered: the pending list checks it again (step 1), not the walk.
      if (pending.has(candidate.recordingSid) || seen.has(candidate.recordingSid)) continue;
      // Already checked by the walk in this run (a page of the day index shows it again).
      if (examined.has(candidate.recordingSid)) continue;
      // Between two recordings, never during one: the day stays where it is, unfinished.
      if (erasures <= 0 || checks <= 0 || stopping() || !(await expireOne(candidate.recordingSid))) return false;
    }
    return true;
  };
  const canGoOn = () => !auditDown && erasures > 0 && checks > 0 && !stopping();

  // 2. Days behind the checkpoint that gained recordings after the walk passed them (a backfill, a
  // copy that finished days late): swept again, the checkpoint unmoved. One not finished, not yet
  // due, or the cutoff's own (not over) is handed back for a later run.
  const lateDaysLeft: string[] = [];
  let lateDaysSwept = 0;
  for (const day of options.lateDays ?? []) {
    if (day >= fromDay) continue;
    const swept = day <= cutoffDay && canGoOn() && (await sweepDay(day));
    if (swept) lateDaysSwept++;
    if (!swept) lateBehind = true;
    if (!swept || day === cutoffDay) lateDaysLeft.push(day);
  }

  // 3. The due days, oldest first; the checkpoint moves past a day only once it is done.
  while (nextDay <= cutoffDay && daysWalked < options.maxDays && canGoOn()) {
    daysWalked++;
    const day = nextDay;
    if (!(await sweepDay(day))) break;
    if (day === doubt?.day) sweptDoubtDay = true;
    // The cutoff's own day is not over: recordings later in it fall due in later runs.
    if (day === cutoffDay) break;
    nextDay = nextDayOf(day);
    await save();
  }
  // Every erasure started has a known outcome: whatever expired until now is finished or pending.
  if (!unknown) settledAt = (deps.now ?? (() => new Date()))().toISOString();
  // What lost runs left is looked at once the walk has swept their day and the late days.
  if (doubt && (sweptDoubtDay || nextDay > doubt.day) && !lateBehind) doubt = undefined;
  // An erasure that threw and that the pending list had no room for: this run's window is in doubt
  // as a lost run's would be (the walk stopped on its day).
  if (unknown) {
    const end = (deps.now ?? (() => new Date()))().toISOString();
    doubt = mergeDoubt(doubt, { from: now.toISOString(), to: end, day: nextDay });
  }
  running = false;
  await save();

  const report: SweepReport = {
    cutoff: cutoffIso,
    fromDay,
    nextDay,
    examined: examined.size,
    ...counts,
    held: held.size,
    retained: retained.size,
    pending: pending.size,
    caughtUp: nextDay >= cutoffDay,
    ...(stopped ? { stopped: true as const } : {}),
    ...(pendingFull ? { pendingFull: true as const } : {}),
    ...(lateDaysSwept > 0 ? { lateDaysSwept } : {}),
    ...(lateDaysLeft.length > 0 ? { lateDaysLeft } : {}),
  };
  deps.obs.metric('RecordingsExpired', counts.expired);
  if (counts.failed > 0) deps.obs.metric('RetentionFailed', counts.failed);
  if (counts.auditFailed > 0) deps.obs.metric(AUDIT_WRITE_FAILED, counts.auditFailed);
  log.info(
    stopped ? 'Retention sweep stopped; the next run carries on from its checkpoint' : 'Retention sweep finished',
    {
      ...(options.walk ? { walk: options.walk } : {}),
      retentionDays: options.retentionDays,
      ...report,
    },
  );
  return report;
}
