import { RETENTION_CHECKPOINT_KEY } from '../shared/config/env-names';
import type { DaysBySource } from '../shared/config/retention-by-source';
import { RECORDING_SOURCES, type RecordingSource } from '../shared/job/recording-job';
import {
  lostRunDoubt,
  MAX_PENDING,
  mergeDoubt,
  type PendingRecording,
  type RetentionCheckpoint,
} from './checkpoint-state';
import type { RetentionCandidate, SweepReport } from './sweep-run';

/** A stage's retention: `days` for every recording, except the sources `bySource` names. */
export interface RetentionPolicy {
  readonly days: number;
  readonly bySource?: DaysBySource;
}

/**
 * One walk of the retention sweep over the ledger's day index: the recordings of some sources,
 * kept `days`, each walk with its own checkpoint (where it got to, what it passed by). Sources with
 * the same period share a walk, so a stage with one period reads the day index once per run.
 */
export interface RetentionWalk {
  /** Where its checkpoint lives in the ledger table (never a RecordingSid). */
  readonly checkpointKey: string;
  readonly days: number;
  /** The sources it sweeps; absent: every source but `except`, and recordings with no source. */
  readonly sources?: readonly RecordingSource[];
  readonly except?: readonly RecordingSource[];
}

/**
 * The walks of a policy, shortest period first. A walk's checkpoint key names the sources it
 * covers: a checkpoint says "every due recording of these sources before `nextDay` is expired or
 * remembered", so when the sources a walk covers change, its walk starts again from the first day
 * (reading the days again, expiring only what is due) rather than trust a checkpoint that skipped
 * recordings it did not cover. A stage without `bySource` keeps the one checkpoint it always had.
 */
export function retentionWalks(policy: RetentionPolicy): RetentionWalk[] {
  const bySource = policy.bySource ?? {};
  const periods = new Map<number, RecordingSource[]>();
  for (const source of RECORDING_SOURCES) {
    const days = bySource[source];
    if (days === undefined || days === policy.days) continue;
    periods.set(days, [...(periods.get(days) ?? []), source]);
  }
  const except = inSourceOrder([...periods.values()].flat());
  const walks: RetentionWalk[] = [
    {
      checkpointKey: except.length === 0 ? RETENTION_CHECKPOINT_KEY : `${RETENTION_CHECKPOINT_KEY}#except:${except}`,
      days: policy.days,
      ...(except.length > 0 ? { except } : {}),
    },
  ];
  for (const [days, sources] of periods) {
    walks.push({ checkpointKey: `${RETENTION_CHECKPOINT_KEY}#sources:${sources}`, days, sources });
  }
  return walks.sort((a, b) => a.days - b.days);
}

/**
 * The walk a checkpoint key names (`retentionWalks` makes the keys), its period unknown (0): for
 * `status` in a shell that knows no policy, or other periods than the sweep's.
 */
export function walkOfCheckpointKey(key: string): RetentionWalk {
  const [, kind, list = ''] = /#(except|sources):(.*)$/.exec(key) ?? [];
  const named = list.split(',').filter(Boolean) as RecordingSource[];
  if (kind === 'sources') return { checkpointKey: key, days: 0, sources: named };
  if (kind === 'except') return { checkpointKey: key, days: 0, except: named };
  return { checkpointKey: key, days: 0 };
}

/** Whether `walk` sweeps a recording of `source` (the ledger's; absent for a recording Twilio named none for). */
export function walkCovers(walk: RetentionWalk, source: string | undefined): boolean {
  if (walk.sources) return source !== undefined && (walk.sources as readonly string[]).includes(source);
  return source === undefined || !(walk.except as readonly string[] | undefined)?.includes(source);
}

/** For people: `every source`, `every source but Conference`, `Conference, Trunking`. */
export function walkLabel(walk: RetentionWalk): string {
  if (walk.sources) return walk.sources.join(', ');
  return walk.except ? `every source but ${walk.except.join(', ')}` : 'every source';
}

function inSourceOrder(sources: readonly RecordingSource[]): RecordingSource[] {
  return RECORDING_SOURCES.filter((source) => sources.includes(source));
}

/**
 * Where a walk new to the stage (its sources changed, or `bySource` was set) starts: the first
 * day, with what the walks it replaces remembered. Every expiry before their earliest `settledAt`
 * is finished or in one of their pending lists, so the new walk passes those by without a ledger
 * read each (a walk over years of expired recordings would otherwise take months of runs); an
 * entry of a source it does not cover is dropped at its first check (`elsewhere`). Too many
 * entries to carry: none, and no `settledAt` (the walk finds each again, slower but whole).
 */
export function seededCheckpoint(
  replaced: readonly (RetentionCheckpoint | undefined)[],
  firstDay: string,
  now = new Date(),
  /**
   * What is saved under the new walk's own key: an earlier attempt of it (a run that failed in a
   * later walk, or died, never recorded it as made), or a walk of an earlier policy. Its expiries
   * still to enter or finish are carried too (a stale one is checked once and dropped), and a lost
   * run's window; never its day or settled instant.
   */
  own?: RetentionCheckpoint,
): RetentionCheckpoint {
  // What their lost runs may have left unfinished: the new walk looks again until it has passed it.
  const doubt = [...replaced, own].reduce<RetentionCheckpoint['doubt']>(
    (merged, checkpoint) => mergeDoubt(merged, lostRunDoubt(checkpoint, now)),
    undefined,
  );
  const doubtful = doubt ? { doubt } : {};
  // Of its own, only expiries still to enter or finish: a recording passed by is found again by the walk.
  const ownExpiries = (own?.pending ?? []).filter((entry) => entry.why === 'unaudited' || entry.why === 'unfinished');
  const pending = new Map<string, PendingRecording>();
  for (const entries of [...replaced.map((checkpoint) => checkpoint?.pending ?? []), ownExpiries]) {
    for (const entry of entries) if (!pending.has(entry.recordingSid)) pending.set(entry.recordingSid, entry);
  }
  const settled = replaced.map((checkpoint) => checkpoint?.settledAt);
  if (pending.size > MAX_PENDING || settled.length === 0 || settled.some((at) => at === undefined)) {
    return { nextDay: firstDay, pending: pending.size > MAX_PENDING ? [] : [...pending.values()], ...doubtful };
  }
  const settledAt = (settled as string[]).reduce((a, b) => (a < b ? a : b));
  return { nextDay: firstDay, pending: [...pending.values()], settledAt, ...doubtful };
}

/** A run with more than one walk (`retention.bySource`): the walks' reports summed, and each one's. */
export interface RetentionRunReport extends SweepReport {
  readonly walks?: readonly (SweepReport & {
    readonly checkpointKey: string;
    readonly days: number;
    readonly sources: string;
  })[];
}

const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * What a walk says of a recording it is asked to expire before anything is touched: another walk's
 * (a pending list carried over from an earlier set of walks), or not yet due under its period (which
 * grew since the recording was remembered). An expired one is finished whatever its due day.
 */
export function walkJudge(walk: RetentionWalk, now: Date) {
  const cutoff = now.getTime() - walk.days * DAY_MS;
  return (item: { readonly source?: string | undefined; readonly startedAt?: string; readonly status?: string }) => {
    if (!walkCovers(walk, item.source)) return { outcome: 'elsewhere' } as const;
    const started = Date.parse(item.startedAt ?? '');
    if (item.status !== 'expired' && Number.isFinite(started) && started >= cutoff) {
      return { outcome: 'early', dueAt: new Date(started + walk.days * DAY_MS).toISOString() } as const;
    }
    return undefined;
  };
}

/** The candidates of a day that are the walk's (of the sources it covers). */
export async function* walkCandidates(
  walk: RetentionWalk,
  candidates: AsyncIterable<RetentionCandidate>,
): AsyncIterable<RetentionCandidate> {
  for await (const candidate of candidates) if (walkCovers(walk, candidate.source)) yield candidate;
}

/** One report of a run: the walk's own, or with several walks their counts summed and each one's. */
export function runReport(reports: readonly { walk: RetentionWalk; report: SweepReport }[]): RetentionRunReport {
  const [first] = reports;
  if (!first) throw new Error('a retention policy has at least one walk');
  if (reports.length === 1) return first.report;
  const all = reports.map((r) => r.report);
  const sum = (pick: (report: SweepReport) => number | undefined) => all.reduce((n, r) => n + (pick(r) ?? 0), 0);
  const earliest = (pick: (report: SweepReport) => string) => all.map(pick).reduce((a, b) => (a < b ? a : b));
  // The walk of every source the stage did not name (there is always one): its cutoff is the stage's `retention.days`.
  const main = reports.find((r) => !r.walk.sources) ?? first;
  return {
    cutoff: main.report.cutoff,
    fromDay: earliest((r) => r.fromDay),
    nextDay: earliest((r) => r.nextDay),
    examined: sum((r) => r.examined),
    expired: sum((r) => r.expired),
    finished: sum((r) => r.finished),
    held: sum((r) => r.held),
    retained: sum((r) => r.retained),
    failed: sum((r) => r.failed),
    auditFailed: sum((r) => r.auditFailed),
    pending: sum((r) => r.pending),
    caughtUp: all.every((r) => r.caughtUp),
    ...(all.some((r) => r.stopped) ? { stopped: true as const } : {}),
    ...(all.some((r) => r.pendingFull) ? { pendingFull: true as const } : {}),
    walks: reports.map(({ walk, report }) => ({
      ...report,
      checkpointKey: walk.checkpointKey,
      days: walk.days,
      sources: walkLabel(walk),
    })),
  };
}
