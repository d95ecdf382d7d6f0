import type { Context } from 'aws-lambda';
import type { AuditDetails, AuditEntryInput } from '../shared/audit/audit-record';
import { type AuditRecorder, AuditWriter, fixedAuditId } from '../shared/audit/audit-trail';
import { RETENTION_CHECKPOINT_KEY } from '../shared/config/env-names';
import type { RetentionConfig } from '../shared/config/function-config';
import { type ErasureDepsRuntime, erasureDeps } from '../shared/erasure/erasure-deps';
import { LedgerDayIndex } from '../shared/ledger/day-index';
import { LateDays } from '../shared/ledger/late-days';
import { createObservability, type Observability } from '../shared/runtime/observability';
import { RetentionCheckpointStore } from './checkpoint';
import type { RetentionCheckpoint } from './checkpoint-state';
import { dayCandidates, expireRecording, RETENTION_ACTOR } from './expire-recording';
import {
  type RetentionRunReport,
  type RetentionWalk,
  retentionWalks,
  runReport,
  seededCheckpoint,
  walkCandidates,
  walkJudge,
  walkLabel,
} from './retention-walks';
import { EARLIEST_DAY, runRetentionSweep, type SweepAuditEntry, type SweepReport } from './sweep-run';

export interface RetentionRuntime extends ErasureDepsRuntime {
  readonly config: Omit<RetentionConfig, 'secretId'>;
  readonly obs?: Observability;
  /** Default: the audit table of `config`. */
  readonly audit?: AuditRecorder;
  /** Where a first run starts (tests); default: 2008-01-01, before any Twilio recording. */
  readonly earliestDay?: string;
  /** Stops a run between recordings (the local stack passes its shutdown). */
  readonly signal?: AbortSignal;
  /** A run stops once less than this is left before its timeout; default 30 s. */
  readonly safetyMarginMs?: number;
}

/** A run that could not expire some recordings fails (after saving its progress), so its alarm fires. */
export class RetentionRunError extends Error {
  constructor(readonly report: SweepReport) {
    super(`The retention sweep could not expire ${report.failed} recording(s); the next run tries them again`);
    this.name = 'RetentionRunError';
  }
}

/**
 * The scheduled retention sweep: one walk per retention period (lambda/retention/retention-walks.ts),
 * shortest first, each through lambda/retention/sweep-run.ts with its own checkpoint, sharing the
 * run's erasure budget and stop signal.
 */
export function createRetentionHandler(runtime: RetentionRuntime) {
  const { config } = runtime;
  const obs = runtime.obs ?? createObservability('recording-retention');
  const erasure = erasureDeps(runtime, obs);
  const index = new LedgerDayIndex(runtime.ddb, config.ledgerTableName, {
    dayIndexName: config.ledgerDayIndexName,
    indexShards: config.ledgerIndexShards,
  });
  const walks = retentionWalks({ days: config.retentionDays, bySource: config.retentionDaysBySource });
  const stores = new Map(
    walks.map((walk) => [
      walk.checkpointKey,
      new RetentionCheckpointStore(runtime.ddb, config.ledgerTableName, walk.checkpointKey),
    ]),
  );
  const registry = new RetentionCheckpointStore(runtime.ddb, config.ledgerTableName);
  const late = new LateDays(runtime.ddb, config.ledgerTableName);
  const recorder = runtime.audit ?? new AuditWriter(runtime.ddb, config.auditTableName, runtime.now);
  const clock = runtime.now ?? (() => new Date());
  const firstDay = runtime.earliestDay ?? EARLIEST_DAY;
  // Room for the erasure under way to finish: Twilio's answer alone may take its 20 s idle timeout.
  const marginMs = runtime.safetyMarginMs ?? 30_000;
  return async (_event?: unknown, context?: Context): Promise<RetentionRunReport> => {
    if (context) obs.addContext(context);
    const stop = stopSignal(runtime.signal, context ? context.getRemainingTimeInMillis() - marginMs : undefined);
    try {
      const previousKeys = (await registry.readWalkKeys()) ?? [RETENTION_CHECKPOINT_KEY];
      // Left noted until the run has swept them: a run that dies half-way leaves them to the next.
      const { noted, sweptOnce } = await late.read();
      const lateDays = [...new Set([...noted, ...sweptOnce])].sort();
      const reports: { walk: RetentionWalk; report: SweepReport }[] = [];
      let erasuresLeft = config.maxRecordingsPerRun;
      // Each later walk keeps half an equal share of the budget: a walk with a backlog (a source
      // given a shorter period) would otherwise spend it all, run after run, and no other walk
      // would expire anything meanwhile. What a walk leaves unspent goes to the next.
      const reserve = Math.floor(config.maxRecordingsPerRun / (2 * walks.length));
      for (const [i, walk] of walks.entries()) {
        const store = stores.get(walk.checkpointKey) as RetentionCheckpointStore;
        const audit = (entry: SweepAuditEntry) => auditSweep(recorder, entry, walk.days, config, context);
        const report = await runRetentionSweep(
          {
            retentionDays: walk.days,
            maxRecordings: Math.max(0, erasuresLeft - reserve * (walks.length - 1 - i)),
            maxDays: config.maxDaysPerRun,
            earliestDay: firstDay,
            lateDays,
            walk: walkLabel(walk),
          },
          {
            candidates: (day, through) => walkCandidates(walk, dayCandidates(index, day, through)),
            // Judged at the time of the check: never a cutoff before the run's own.
            expire: (recordingSid) => expireRecording(recordingSid, erasure, walkJudge(walk, clock())),
            audit,
            checkpoint: {
              read: () =>
                previousKeys.includes(walk.checkpointKey)
                  ? store.read()
                  : startingCheckpoint(runtime, config.ledgerTableName, previousKeys, firstDay, store, clock()),
              write: (cp) => store.write(cp, clock()),
            },
            obs,
            ...(runtime.now ? { now: runtime.now } : {}),
            signal: stop.signal,
          },
        );
        await store.recordRun(report, clock());
        reports.push({ walk, report });
        // Erasures tried: each one expired, plus each failure (a failed audit write too: conservative).
        erasuresLeft -= report.expired + report.failed;
      }
      const unswept = new Set(reports.flatMap(({ report }) => report.lateDaysLeft ?? []));
      await late.settle({ noted, sweptOnce, unswept });
      const keys = walks.map((walk) => walk.checkpointKey);
      if (keys.join('\n') !== previousKeys.join('\n')) await registry.writeWalkKeys(keys);
      const report = runReport(reports);
      if (report.failed > 0) throw new RetentionRunError(report);
      return report;
    } finally {
      stop.dispose();
      obs.flush();
    }
  };
}

/** A walk new to the stage starts from the first day with what the walks it replaces remembered. */
async function startingCheckpoint(
  runtime: RetentionRuntime,
  tableName: string,
  previousKeys: readonly string[],
  firstDay: string,
  own: RetentionCheckpointStore,
  now: Date,
): Promise<RetentionCheckpoint> {
  const replaced = await Promise.all(
    previousKeys.map((key) => new RetentionCheckpointStore(runtime.ddb, tableName, key).read()),
  );
  return seededCheckpoint(replaced, firstDay, now, await own.read());
}

/**
 * Aborts when `signal` does or once `timeLeftMs` has passed: a run cut by the Lambda's timeout
 * would lose the checkpoint of the days it finished, and its report.
 */
function stopSignal(
  signal: AbortSignal | undefined,
  timeLeftMs: number | undefined,
): { readonly signal: AbortSignal; dispose(): void } {
  const deadline = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  if (timeLeftMs !== undefined) {
    // Already too late: aborted now, not on a later tick, so the run starts nothing.
    if (timeLeftMs <= 0) deadline.abort(new Error('the run is near its timeout'));
    else timer = setTimeout(() => deadline.abort(new Error('the run is near its timeout')), timeLeftMs).unref();
  }
  return {
    signal: signal ? AbortSignal.any([signal, deadline.signal]) : deadline.signal,
    dispose: () => clearTimeout(timer),
  };
}

/**
 * One entry of the sweep in the access audit trail. The actor is the sweep itself (`retention`):
 * on AWS as its function's IAM role (`iam`, the role's ARN and the function's in the details),
 * locally as the local stack (`local`). An expiry is entered at the ledger's `expiredAt` under a
 * fixed key, so that writing it again after a lost answer adds nothing; a recording passed by
 * (held, or retained by Object Lock) is `refused` with the reason.
 */
async function auditSweep(
  recorder: AuditRecorder,
  entry: SweepAuditEntry,
  retentionDays: number,
  config: Pick<RetentionConfig, 'auditPrincipalArn'>,
  context: Context | undefined,
): Promise<void> {
  const details: Record<string, string | number | boolean> = {
    reason: entry.outcome,
    retentionDays,
  };
  if (entry.outcome === 'expired') {
    details.expiredAt = entry.expiredAt;
    if (entry.late) details.late = true;
  }
  if (entry.outcome === 'retained' && entry.retainUntil) details.retainUntil = entry.retainUntil;
  if (config.auditPrincipalArn) {
    details.principalArn = config.auditPrincipalArn;
    // Only on AWS: the local stack's context carries a made-up ARN.
    if (context?.invokedFunctionArn) details.functionArn = context.invokedFunctionArn;
  }
  if (context?.awsRequestId) details.runId = context.awsRequestId;
  const input: AuditEntryInput = {
    actor: RETENTION_ACTOR,
    kind: config.auditPrincipalArn ? 'iam' : 'local',
    recordingSid: entry.recordingSid,
    action: 'recording.expire',
    outcome: entry.outcome === 'expired' ? 'done' : 'refused',
    details: details as AuditDetails,
  };
  if (entry.outcome !== 'expired') {
    await recorder.record(input);
    return;
  }
  const at = new Date(entry.expiredAt);
  // An expiredAt that is not a date (never written so) would make no key: the entry still goes in.
  await recorder.record(
    input,
    Number.isNaN(at.getTime()) ? undefined : { at, id: fixedAuditId('recording.expire', entry.recordingSid) },
  );
}
