/**
 * `npm run status -- --retention`: where the retention sweep of a target stands — whether it is
 * configured (a stage's `retention` in cdk.json, the local stack's RETENTION_DAYS as `npm start`
 * reads it), the cutoff now, the next day to sweep and how far behind that is, the recordings it
 * passes by (held, Object Lock-retained) and what its last run did. The sweep's checkpoint
 * (lambda/retention/checkpoint.ts) is the only source read: the report is the sweep's own view.
 */
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { RetentionCheckpointStore } from '../../lambda/retention/checkpoint';
import { MAX_PENDING, type PendingRecording } from '../../lambda/retention/checkpoint-state';
import {
  type RetentionWalk,
  retentionWalks,
  walkLabel,
  walkOfCheckpointKey,
} from '../../lambda/retention/retention-walks';
import { EARLIEST_DAY, type SweepReport } from '../../lambda/retention/sweep-run';
import { RETENTION_CHECKPOINT_KEY } from '../../lambda/shared/config/env-names';
import { type DaysBySource, formatDaysBySource } from '../../lambda/shared/config/retention-by-source';
import { LateDays } from '../../lambda/shared/ledger/late-days';
import { dayOf } from '../../lambda/shared/ledger/ledger';
import { type Env, EnvReader } from '../../lambda/shared/runtime/env-reader';
import { localRetention } from '../local/config';
import { stageSettings, TargetError } from './target';

const DAY_MS = 24 * 60 * 60 * 1000;
/** A run may take this long (the function's timeout) before the next one is late. */
const RUN_BUDGET_MS = 5 * 60_000;
/** Pending recordings named one by one in the text form (the JSON form has them all). */
const PENDING_SHOWN = 10;

/** The retention a target is configured with. */
export interface RetentionPolicy {
  readonly days: number;
  /** Where it is set: `RETENTION_DAYS`, or `cdk.json stages.<name>.retention.days`. */
  readonly setIn: string;
  /** Sources kept for other periods (`retention.bySource`, RETENTION_DAYS_BY_SOURCE); empty: none. */
  readonly bySource: DaysBySource;
  /** Seconds between two runs of the sweep. */
  readonly intervalSeconds: number;
}

/**
 * The target's retention: a stage's from cdk.json (as `cdk deploy` validates it), the local
 * stack's from the same RETENTION_DAYS / RETENTION_SWEEP_SECONDS `npm start` reads. Undefined
 * when retention is off.
 */
export function retentionPolicy(options: {
  readonly stage?: string | undefined;
  readonly env?: Env;
  readonly cdkJsonPath?: string;
}): RetentionPolicy | undefined {
  if (options.stage !== undefined) {
    const retention = stageSettings(options.stage, options.cdkJsonPath).retention;
    if (!retention) return undefined;
    return {
      days: retention.days,
      setIn: `cdk.json stages.${options.stage}.retention.days`,
      bySource: retention.bySource ?? {},
      intervalSeconds: retention.intervalMinutes * 60,
    };
  }
  const r = new EnvReader(options.env ?? process.env);
  const local = localRetention(r);
  if (r.problems.length > 0) throw new TargetError(`the local stack's retention settings: ${r.problems.join('; ')}`);
  if (local.retentionDays === undefined) return undefined;
  return {
    days: local.retentionDays,
    setIn: 'RETENTION_DAYS',
    bySource: local.retentionDaysBySource,
    intervalSeconds: local.retentionSweepSeconds,
  };
}

/**
 * The retention periods for `npm run status -- --recording|--call`, where they only add a due date:
 * a cdk.json or environment the command cannot read leaves the date out rather than failing it.
 */
export function knownRetention(
  options: Parameters<typeof retentionPolicy>[0],
): Pick<RetentionPolicy, 'days' | 'bySource'> | undefined {
  try {
    const policy = retentionPolicy(options);
    return policy ? { days: policy.days, bySource: policy.bySource } : undefined;
  } catch (error) {
    if (error instanceof TargetError) return undefined;
    throw error;
  }
}

/** The local stack's RETENTION_EARLIEST_DAY, as `npm start` reads it (where a walk's first run starts). */
export function localEarliestDay(env: Env): { earliestDay?: string } {
  const day = new EnvReader(env).day('RETENTION_EARLIEST_DAY');
  return day ? { earliestDay: day } : {};
}

export interface RetentionStatusSources {
  readonly ddb: Pick<DynamoDBDocumentClient, 'send'>;
  readonly ledgerTableName: string;
  /** `the local stack`, `stage dev (RecordingVault-dev)`. */
  readonly targetName: string;
  /** For the local stack: the issues name `npm start` rather than a schedule. */
  readonly local: boolean;
  /** Where a walk's first run starts (the local RETENTION_EARLIEST_DAY); default 2008-01-01. */
  readonly earliestDay?: string;
}

/** Where one walk of the sweep stands (lambda/retention/retention-walks.ts). */
export interface RetentionWalkStatus {
  /** `every source`, `every source but Conference`, `Conference, Trunking`. */
  readonly sources: string;
  /** The sources it sweeps, when it names them (`Conference, Trunking`). */
  readonly only?: readonly string[];
  /** The sources it leaves to other walks (`every source but Conference`); neither: every source. */
  readonly except?: readonly string[];
  /** Null: the periods given here are not the sweep's (retention off here, or other periods). */
  readonly days: number | null;
  /**
   * A walk of these periods the sweep has not registered (its first run with them has not ended):
   * the day its first run starts from. Its checkpoint and last run are shown when that run has
   * made them (it may still be under way).
   */
  readonly startsFrom?: string;
  /** Recordings of these sources that started before this are due now (now − days); else the last run's cutoff; else null. */
  readonly cutoff: string | null;
  /**
   * Null: this walk has not run (on this target, or since the sources it covers changed: it then
   * starts from the first day with what the walks before it remembered).
   */
  readonly checkpoint: {
    /** The first day not yet swept to its end. */
    readonly nextDay: string;
    /** Every due day is swept (the next day is the cutoff's own day). */
    readonly caughtUp: boolean;
    /** Due days not yet swept (0 when caught up). */
    readonly daysBehind: number;
    /**
     * When the run under way started; one older than a run may last never ended (it died, or could
     * not save its end): the next run looks again at what it expired.
     */
    readonly runningSince?: string;
    readonly pending: {
      readonly total: number;
      readonly held: number;
      readonly retained: number;
      /** Expired, but the run could not write the audit entry: the next run writes it first. */
      readonly unaudited: number;
      /** Expired, but a run was cut short before the call item or the event: the next run finishes it. */
      readonly unfinished: number;
      /** An erasure whose answer was lost (it may or may not have expired): the next run looks again. */
      readonly inDoubt: number;
      /** The earliest Object Lock retain-until among the retained ones, when known. */
      readonly earliestUntil?: string;
      readonly recordings: readonly PendingRecording[];
    };
  } | null;
  readonly lastRun: (SweepReport & { readonly at: string }) | null;
}

export interface RetentionStatus {
  readonly target: string;
  /** Null: retention is off for this target (recordings are kept until erased). */
  readonly policy: RetentionPolicy | null;
  /** The policy makes other walks than the sweep's last run did: the sweep's walks are shown, without periods. */
  readonly periodsDiffer?: true;
  /** The walk of every source `bySource` does not name (the only one without `bySource`). */
  readonly cutoff: RetentionWalkStatus['cutoff'];
  readonly checkpoint: RetentionWalkStatus['checkpoint'];
  readonly lastRun: RetentionWalkStatus['lastRun'];
  /** Every walk, shortest period first, when sources are kept for more than one period. */
  readonly walks?: readonly RetentionWalkStatus[];
  /** Days behind the sweep that gained a recording after it passed them: the next runs sweep them again. */
  readonly lateDays: readonly string[];
  /** What needs a person, one sentence each. */
  readonly issues: readonly string[];
}

export async function retentionStatus(
  sources: RetentionStatusSources,
  policy: RetentionPolicy | undefined,
  now = new Date(),
): Promise<RetentionStatus> {
  const db = sources.ddb as DynamoDBDocumentClient;
  const sweep = await readSweepWalks(db, sources.ledgerTableName, policy);
  const firstDay = sources.earliestDay ?? EARLIEST_DAY;
  // Periods here that make other walks than the sweep's last run: its walks, as without a policy.
  const shown = policy && !sweep.differs ? policy : undefined;
  const walks: { readonly walk: RetentionWalk; readonly days: number | null }[] = shown
    ? retentionWalks(shown).map((walk) => ({ walk, days: walk.days }))
    : sweep.registered.map((key) => ({ walk: walkOfCheckpointKey(key), days: null }));
  const statuses = walks.map(({ walk, days }) => {
    const registered = sweep.registered.includes(walk.checkpointKey);
    // A checkpoint of a walk the sweep does not make (yet) is not where the next run starts,
    // unless the run under way (with these periods) made it: the registry is written at its end.
    const saved = registered || sweep.fresh.has(walk.checkpointKey) ? sweep.saved.get(walk.checkpointKey) : undefined;
    return walkStatus(walk, days, saved, registered ? undefined : firstDay, now);
  });
  const main = statuses[walks.findIndex(({ walk }) => !walk.sources)] ?? (statuses[0] as RetentionWalkStatus);
  const lateDays = (await new LateDays(db, sources.ledgerTableName).read()).noted;
  const issues: string[] = [];
  if (!policy && statuses.some((walk) => walk.lastRun)) {
    issues.push(
      sources.local
        ? 'RETENTION_DAYS is not set in this shell, yet the sweep has run here: set it as for npm start to see the current cutoff (the last run’s is shown)'
        : 'the stage has no retention in cdk.json, yet the sweep has run: the deployed stack may differ from cdk.json (the last run’s cutoff is shown)',
    );
  }
  if (sweep.differs) issues.push(periodsDifferIssue(sources.local));
  for (const walk of statuses) {
    const found = findRetentionIssues(sources, shown, walk, now);
    issues.push(...(statuses.length > 1 ? found.map((issue) => `${walk.sources}: ${issue}`) : found));
  }
  return {
    target: sources.targetName,
    policy: policy ?? null,
    ...(sweep.differs ? { periodsDiffer: true as const } : {}),
    cutoff: main.cutoff,
    checkpoint: main.checkpoint,
    lastRun: main.lastRun,
    ...(statuses.length > 1 ? { walks: statuses } : {}),
    lateDays,
    issues,
  };
}

function periodsDifferIssue(local: boolean): string {
  return local
    ? 'the retention periods given here (RETENTION_DAYS, RETENTION_DAYS_BY_SOURCE) differ from those of the sweep’s last run: give this command the same RETENTION_DAYS and RETENTION_DAYS_BY_SOURCE as npm start (if npm start was just given these, its next run takes them up); the walks the sweep made are shown, with their last run’s cutoff'
    : 'the retention periods in cdk.json differ from those of the sweep’s last run: cdk.json differs from what is deployed (a deploy just made takes effect at the next run); the walks the sweep made are shown, with their last run’s cutoff';
}

type SavedWalk = Awaited<ReturnType<RetentionCheckpointStore['describe']>>;

/** What the sweep has made, against the walks the periods given here make. */
interface SweepWalks {
  /** The checkpoint keys of the walks of the sweep's last complete run (the registry on the base item). */
  readonly registered: readonly string[];
  /** Each walk's checkpoint and last run, registered or the policy's. */
  readonly saved: ReadonlyMap<string, SavedWalk>;
  /**
   * Walks of the policy not yet registered that a run newer than any of the registered walks only
   * it does not make has touched: the sweep runs with these periods, its first run with them not
   * ended (or it ended before it could register them).
   */
  readonly fresh: ReadonlySet<string>;
  /** The sweep has run, with other periods than the policy's (and is not running with these). */
  readonly differs: boolean;
}

async function readSweepWalks(
  db: DynamoDBDocumentClient,
  tableName: string,
  policy: Pick<RetentionPolicy, 'days' | 'bySource'> | undefined,
): Promise<SweepWalks> {
  const registered = (await new RetentionCheckpointStore(db, tableName).readWalkKeys()) ?? [RETENTION_CHECKPOINT_KEY];
  const policyKeys = policy ? retentionWalks(policy).map((walk) => walk.checkpointKey) : [];
  const keys = [...new Set([...registered, ...policyKeys])];
  const saved = new Map(
    await Promise.all(
      keys.map(async (key) => [key, await new RetentionCheckpointStore(db, tableName, key).describe()] as const),
    ),
  );
  const touched = (key: string) => {
    const walk = saved.get(key);
    return [walk?.lastRun?.at, walk?.runningSince]
      .filter((at): at is string => at !== undefined)
      .sort()
      .at(-1);
  };
  // Only the old walks the policy does not make: a walk of both may have run in the new run.
  const oldOnly = registered.filter((key) => !policyKeys.includes(key));
  const lastOld = oldOnly
    .map(touched)
    .filter((at): at is string => at !== undefined)
    .sort()
    .at(-1);
  const fresh = new Set(
    policyKeys.filter((key) => {
      if (registered.includes(key)) return false;
      const at = touched(key);
      return at !== undefined && (lastOld === undefined || at > lastOld);
    }),
  );
  const sameWalks = registered.length === policyKeys.length && registered.every((key) => policyKeys.includes(key));
  const hasRun = registered.some((key) => saved.get(key) !== undefined);
  const differs = policy !== undefined && !sameWalks && hasRun && oldOnly.length > 0 && fresh.size === 0;
  return { registered, saved, fresh, differs };
}

/**
 * Whether the periods given to `npm run status -- --recording|--call` make other walks than the
 * sweep's last run did: its due dates would then be those of periods the sweep does not use.
 */
export async function retentionDiffersFromSweep(
  db: Pick<DynamoDBDocumentClient, 'send'>,
  tableName: string,
  retention: Pick<RetentionPolicy, 'days' | 'bySource'>,
): Promise<boolean> {
  return (await readSweepWalks(db as DynamoDBDocumentClient, tableName, retention)).differs;
}

function walkStatus(
  walk: RetentionWalk,
  days: number | null,
  saved: SavedWalk,
  startsFrom: string | undefined,
  now: Date,
): RetentionWalkStatus {
  const lastRun = saved?.lastRun ?? null;
  const cutoff = days !== null ? new Date(now.getTime() - days * DAY_MS).toISOString() : (lastRun?.cutoff ?? null);

  let checkpoint: RetentionWalkStatus['checkpoint'] = null;
  if (saved) {
    const cutoffDay = cutoff ? dayOf(cutoff) : saved.nextDay;
    const daysBehind = Math.max(0, Math.round((Date.parse(cutoffDay) - Date.parse(saved.nextDay)) / DAY_MS));
    const retained = saved.pending.filter((p) => p.why === 'retained');
    const untils = retained.flatMap((p) => (p.until ? [p.until] : [])).sort();
    checkpoint = {
      nextDay: saved.nextDay,
      caughtUp: daysBehind === 0,
      daysBehind,
      ...(saved.runningSince ? { runningSince: saved.runningSince } : {}),
      pending: {
        total: saved.pending.length,
        held: saved.pending.filter((p) => p.why === 'held').length,
        retained: retained.length,
        unaudited: saved.pending.filter((p) => p.why === 'unaudited').length,
        unfinished: saved.pending.filter((p) => p.why === 'unfinished' && p.expiredAt).length,
        inDoubt: saved.pending.filter((p) => p.why === 'unfinished' && !p.expiredAt).length,
        ...(untils[0] ? { earliestUntil: untils[0] } : {}),
        recordings: saved.pending,
      },
    };
  }
  return {
    sources: walkLabel(walk),
    ...(walk.sources ? { only: [...walk.sources] } : {}),
    ...(walk.except ? { except: [...walk.except] } : {}),
    days,
    ...(startsFrom ? { startsFrom } : {}),
    cutoff,
    checkpoint,
    lastRun,
  };
}

function findRetentionIssues(
  sources: RetentionStatusSources,
  policy: RetentionPolicy | undefined,
  walk: Pick<RetentionWalkStatus, 'lastRun' | 'checkpoint'>,
  now: Date,
): string[] {
  const { lastRun } = walk;
  const issues: string[] = [];
  const runningSince = walk.checkpoint?.runningSince;
  if (runningSince && now.getTime() - Date.parse(runningSince) > RUN_BUDGET_MS) {
    issues.push(
      `a run that started at ${runningSince} never ended (it died, or could not save its end): the next run looks again at what it expired; see the ${
        sources.local ? 'npm start output' : 'recording-retention log'
      }`,
    );
  }
  if (lastRun && lastRun.failed > 0) {
    issues.push(
      `the last run could not expire ${lastRun.failed} recording(s); the next run tries them again: see the RetentionErrors runbook (docs/compliance-hold-and-retention.md)`,
    );
  }
  if (lastRun?.pendingFull) {
    issues.push(
      `the pending list is full (${MAX_PENDING} recordings): the sweep stops at the next recording it would pass by (held or retained) until holds are released or retention ends: see the RetentionErrors runbook (docs/compliance-hold-and-retention.md)`,
    );
  }
  if (policy && lastRun) {
    const lateAfterMs = 2 * policy.intervalSeconds * 1000 + RUN_BUDGET_MS;
    const sinceMs = now.getTime() - Date.parse(lastRun.at);
    if (sinceMs > lateAfterMs) {
      issues.push(
        `no run for ${duration(sinceMs / 1000)} though the sweep runs every ${duration(policy.intervalSeconds)}: ${
          sources.local
            ? 'is npm start running with RETENTION_DAYS?'
            : 'check its schedule and the recording-retention log'
        }`,
      );
    }
  }
  return issues;
}

/* ---------------------------------------------------------------------------------------------
 * For a person
 * ------------------------------------------------------------------------------------------- */

/** Aligned `label  value` lines; the JSON form is the report itself. */
export function formatRetentionStatus(report: RetentionStatus): string {
  const rows: Array<[string, string]> = [];
  const { policy } = report;
  rows.push(['kept', policy ? keptLine(policy) : 'until erased: retention is not configured']);
  if (report.walks) {
    for (const walk of report.walks) {
      rows.push(['walk', `${walk.sources}${walk.days !== null ? `: ${walk.days} day(s)` : ''}`]);
      rows.push(...walkRows(walk, report, true));
    }
  } else {
    rows.push(...walkRows({ ...report, days: report.policy && !report.periodsDiffer ? 0 : null }, report, false));
  }
  if (report.lateDays.length > 0) {
    const shown = report.lateDays.slice(0, PENDING_SHOWN).join(', ');
    const more = report.lateDays.length > PENDING_SHOWN ? ` and ${report.lateDays.length - PENDING_SHOWN} more` : '';
    rows.push([
      'late days',
      `${shown}${more}: recordings stored a day or more after they started; the next run sweeps these days again if the walk is past them`,
    ]);
  }
  for (const issue of report.issues) rows.push(['issue', issue]);
  const width = Math.max(...rows.map(([label]) => label.length));
  return [`retention of ${report.target}`, ...rows.map(([label, value]) => `  ${label.padEnd(width)}  ${value}`)].join(
    '\n',
  );
}

function keptLine(policy: RetentionPolicy): string {
  const named = formatDaysBySource(policy.bySource)
    .split(',')
    .filter(Boolean)
    .map((entry) => `${entry.replace('=', ' ')} day(s)`);
  const bySource = named.length > 0 ? `; ${named.join(', ')} (${bySourceSetIn(policy)})` : '';
  return `${policy.days} day(s) (${policy.setIn})${bySource}, a sweep every ${duration(policy.intervalSeconds)}`;
}

function bySourceSetIn(policy: RetentionPolicy): string {
  return policy.setIn === 'RETENTION_DAYS' ? 'RETENTION_DAYS_BY_SOURCE' : policy.setIn.replace(/\.days$/, '.bySource');
}

/** A walk's cutoff, next day, pending list and last run; `indent` under its `walk` row. */
function walkRows(
  walk: Pick<RetentionWalkStatus, 'cutoff' | 'checkpoint' | 'lastRun' | 'days' | 'startsFrom'>,
  report: RetentionStatus,
  indent: boolean,
): Array<[string, string]> {
  const rows: Array<[string, string]> = [];
  const label = (text: string) => (indent ? `  ${text}` : text);
  const { checkpoint, lastRun } = walk;
  if (walk.cutoff) {
    rows.push([
      label('cutoff'),
      `${walk.cutoff}${walk.days === null ? ' (the last run’s)' : ''}: recordings that started before it are due`,
    ]);
  }
  if (walk.startsFrom && (checkpoint || lastRun)) {
    rows.push([
      label('note'),
      `new walk: its first run started from ${walk.startsFrom}; the sweep registers it when that run ends (it may still be under way)`,
    ]);
  }
  if (checkpoint) {
    rows.push([
      label('next day'),
      `${checkpoint.nextDay}: ${checkpoint.caughtUp ? 'caught up' : `${checkpoint.daysBehind} day(s) behind`}`,
    ]);
    const { pending } = checkpoint;
    rows.push([label('pending'), pendingLine(pending)]);
    for (const p of pending.recordings.slice(0, PENDING_SHOWN)) {
      rows.push(['', `${p.recordingSid} ${pendingWhy(p)}`]);
    }
    if (pending.total > PENDING_SHOWN)
      rows.push(['', `… and ${pending.total - PENDING_SHOWN} more (--json lists all)`]);
  }
  if (lastRun) {
    rows.push([
      label('last run'),
      `${lastRun.at}: examined ${lastRun.examined}, expired ${lastRun.expired}${
        lastRun.finished ? ` (and ${lastRun.finished} earlier expiries finished)` : ''
      }, held ${lastRun.held}, retained ${lastRun.retained}, failed ${lastRun.failed} (days ${lastRun.fromDay} to ${lastRun.nextDay}${lateSwept(lastRun)})${lastRun.stopped ? ', stopped before its end' : ''}`,
    ]);
  } else if (checkpoint?.runningSince) {
    rows.push([label('last run'), `none finished yet (one started at ${checkpoint.runningSince})`]);
  } else if (checkpoint) {
    rows.push([label('last run'), 'none finished (a run was cut short before its report)']);
  } else if (indent) {
    rows.push([
      label('last run'),
      `not yet for these sources: the next run starts them from the first day (${walk.startsFrom ?? EARLIEST_DAY}), with what the sweep remembered`,
    ]);
  } else {
    const first = report.policy ? ` yet; it runs every ${duration(report.policy.intervalSeconds)}` : '';
    rows.push([label('last run'), `never: the retention sweep has not run on ${report.target}${first}`]);
  }
  return rows;
}

/** `, and 2 late day(s) swept again`: days a run walked again because they gained a late recording. */
function lateSwept(lastRun: SweepReport): string {
  // A report saved before the sweep counted them has none.
  return lastRun.lateDaysSwept ? `, and ${lastRun.lateDaysSwept} late day(s) swept again` : '';
}

function pendingLine(pending: NonNullable<RetentionStatus['checkpoint']>['pending']): string {
  if (pending.total === 0) return 'none passed by';
  const retained = `${pending.retained} retained by Object Lock${
    pending.earliestUntil ? ` (earliest until ${pending.earliestUntil})` : ''
  }`;
  const { unaudited, unfinished, inDoubt } = pending;
  return `${pending.total} passed by: ${pending.held} held, ${retained}${
    unaudited > 0 ? `, ${unaudited} expired with the audit entry still to write` : ''
  }${unfinished > 0 ? `, ${unfinished} expired with the call item or event still to finish` : ''}${
    inDoubt > 0 ? `, ${inDoubt} erasure(s) in doubt (the answer was lost)` : ''
  }`;
}

function pendingWhy(p: PendingRecording): string {
  if (p.why === 'held') return p.until ? `held when last checked; due ${p.until} under its source's period` : 'held';
  if (p.why === 'unaudited') return `expired${p.expiredAt ? ` at ${p.expiredAt}` : ''}, audit entry still to write`;
  if (p.why === 'unfinished') {
    if (!p.expiredAt) return 'erasure in doubt (its answer was lost): looked at again by the next run';
    return `expired at ${p.expiredAt}, call item or event still to finish`;
  }
  return `retained${p.until ? ` until ${p.until}` : ''}`;
}

/** `90 s`, `15 min`, `2 h`, `3 d`: rounded down, for a person. */
function duration(seconds: number): string {
  if (seconds < 120) return `${Math.floor(seconds)} s`;
  if (seconds < 2 * 3600) return `${Math.floor(seconds / 60)} min`;
  if (seconds < 2 * 86_400) return `${Math.floor(seconds / 3600)} h`;
  return `${Math.floor(seconds / 86_400)} d`;
}
