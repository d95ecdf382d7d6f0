/**
 * `npm run status -- --retention`: where the retention sweep of a target stands — whether it is
 * configured (a stage's `retention` in cdk.json, the local stack's RETENTION_DAYS as `npm start`
 * reads it), the cutoff now, the next day to sweep and how far behind that is, the recordings it
 * passes by (held, Object Lock-retained) and what its last run did. The sweep's checkpoint
 * (lambda/retention/checkpoint.ts) is the only source read: the report is the sweep's own view.
 */
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { RetentionCheckpointStore } from '../../lambda/retention/checkpoint';
import { type RetentionWalk, retentionWalks, walkLabel } from '../../lambda/retention/retention-walks';
import { MAX_PENDING, type PendingRecording, type SweepReport } from '../../lambda/retention/sweep-run';
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

export interface RetentionStatusSources {
  readonly ddb: Pick<DynamoDBDocumentClient, 'send'>;
  readonly ledgerTableName: string;
  /** `the local stack`, `stage dev (RecordingVault-dev)`. */
  readonly targetName: string;
  /** For the local stack: the issues name `npm start` rather than a schedule. */
  readonly local: boolean;
}

/** Where one walk of the sweep stands (lambda/retention/retention-walks.ts). */
export interface RetentionWalkStatus {
  /** `every source`, `every source but Conference`, `Conference, Trunking`. */
  readonly sources: string;
  /** Null: retention is off for this target. */
  readonly days: number | null;
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
  const registered = await new RetentionCheckpointStore(db, sources.ledgerTableName).readWalkKeys();
  // Without a policy in this shell: the walks the sweep last made.
  const walks: { readonly walk: RetentionWalk; readonly days: number | null }[] = policy
    ? retentionWalks(policy).map((walk) => ({ walk, days: walk.days }))
    : (registered ?? [RETENTION_CHECKPOINT_KEY]).map((key) => ({ walk: walkOfKey(key), days: null }));
  const statuses = await Promise.all(
    walks.map(({ walk, days }) =>
      walkStatus(sources, walk, days, (registered ?? [RETENTION_CHECKPOINT_KEY]).includes(walk.checkpointKey), now),
    ),
  );
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
  for (const walk of statuses) {
    const found = findRetentionIssues(sources, policy, walk, now);
    issues.push(...(statuses.length > 1 ? found.map((issue) => `${walk.sources}: ${issue}`) : found));
  }
  return {
    target: sources.targetName,
    policy: policy ?? null,
    cutoff: main.cutoff,
    checkpoint: main.checkpoint,
    lastRun: main.lastRun,
    ...(statuses.length > 1 ? { walks: statuses } : {}),
    lateDays,
    issues,
  };
}

/** The walk a checkpoint key names (retentionWalks makes the keys), for a shell that knows no policy. */
function walkOfKey(key: string): RetentionWalk {
  const [, kind, list = ''] = /#(except|sources):(.*)$/.exec(key) ?? [];
  const named = list.split(',').filter(Boolean) as RetentionWalk['except'] & string[];
  if (kind === 'sources') return { checkpointKey: key, days: 0, sources: named };
  if (kind === 'except') return { checkpointKey: key, days: 0, except: named };
  return { checkpointKey: key, days: 0 };
}

async function walkStatus(
  sources: RetentionStatusSources,
  walk: RetentionWalk,
  days: number | null,
  current: boolean,
  now: Date,
): Promise<RetentionWalkStatus> {
  const store = new RetentionCheckpointStore(
    sources.ddb as DynamoDBDocumentClient,
    sources.ledgerTableName,
    walk.checkpointKey,
  );
  // A checkpoint of a walk the sweep no longer makes is not where the next run starts.
  const saved = current ? await store.describe() : undefined;
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
  return { sources: walkLabel(walk), days, cutoff, checkpoint, lastRun };
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
    rows.push(...walkRows(report, report, false));
  }
  if (report.lateDays.length > 0) {
    const shown = report.lateDays.slice(0, PENDING_SHOWN).join(', ');
    const more = report.lateDays.length > PENDING_SHOWN ? ` and ${report.lateDays.length - PENDING_SHOWN} more` : '';
    rows.push([
      'late days',
      `${shown}${more}: gained a recording after the sweep passed them; the next run sweeps them again`,
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
  walk: Pick<RetentionWalkStatus, 'cutoff' | 'checkpoint' | 'lastRun'>,
  report: RetentionStatus,
  indent: boolean,
): Array<[string, string]> {
  const rows: Array<[string, string]> = [];
  const label = (text: string) => (indent ? `  ${text}` : text);
  const { checkpoint, lastRun } = walk;
  if (walk.cutoff) {
    rows.push([
      label('cutoff'),
      `${walk.cutoff}${report.policy ? '' : ' (the last run’s)'}: recordings that started before it are due`,
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
      }, held ${lastRun.held}, retained ${lastRun.retained}, failed ${lastRun.failed} (days ${lastRun.fromDay} to ${lastRun.nextDay})${lastRun.stopped ? ', stopped before its end' : ''}`,
    ]);
  } else if (checkpoint?.runningSince) {
    rows.push([label('last run'), `none finished yet (one started at ${checkpoint.runningSince})`]);
  } else if (checkpoint) {
    rows.push([label('last run'), 'none finished (a run was cut short before its report)']);
  } else if (indent) {
    rows.push([
      label('last run'),
      'not yet for these sources: the next run starts them from the first day, with what the sweep remembered',
    ]);
  } else {
    const first = report.policy ? ` yet; it runs every ${duration(report.policy.intervalSeconds)}` : '';
    rows.push([label('last run'), `never: the retention sweep has not run on ${report.target}${first}`]);
  }
  return rows;
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
