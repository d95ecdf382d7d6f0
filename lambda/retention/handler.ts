import type { Context } from 'aws-lambda';
import type { AuditDetails, AuditEntryInput } from '../shared/audit/audit-record';
import { type AuditRecorder, AuditWriter, fixedAuditId } from '../shared/audit/audit-trail';
import type { RetentionConfig } from '../shared/config/function-config';
import { type ErasureDepsRuntime, erasureDeps } from '../shared/erasure/erasure-deps';
import { LedgerDayIndex } from '../shared/ledger/day-index';
import { createObservability, type Observability } from '../shared/runtime/observability';
import { RetentionCheckpointStore } from './checkpoint';
import { dayCandidates, expireRecording, RETENTION_ACTOR } from './expire-recording';
import { runRetentionSweep, type SweepAuditEntry, type SweepReport } from './sweep-run';

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

/** The scheduled retention sweep (lambda/retention/sweep-run.ts). */
export function createRetentionHandler(runtime: RetentionRuntime) {
  const { config } = runtime;
  const obs = runtime.obs ?? createObservability('recording-retention');
  const erasure = erasureDeps(runtime, obs);
  const index = new LedgerDayIndex(runtime.ddb, config.ledgerTableName, {
    dayIndexName: config.ledgerDayIndexName,
    indexShards: config.ledgerIndexShards,
  });
  const checkpoint = new RetentionCheckpointStore(runtime.ddb, config.ledgerTableName);
  const recorder = runtime.audit ?? new AuditWriter(runtime.ddb, config.auditTableName, runtime.now);
  const marginMs = runtime.safetyMarginMs ?? 30_000;
  return async (_event?: unknown, context?: Context): Promise<SweepReport> => {
    if (context) obs.addContext(context);
    const audit = (entry: SweepAuditEntry) => auditSweep(recorder, entry, config, context);
    const stop = stopSignal(runtime.signal, context ? context.getRemainingTimeInMillis() - marginMs : undefined);
    try {
      const report = await runRetentionSweep(
        {
          retentionDays: config.retentionDays,
          maxRecordings: config.maxRecordingsPerRun,
          maxDays: config.maxDaysPerRun,
          ...(runtime.earliestDay ? { earliestDay: runtime.earliestDay } : {}),
        },
        {
          candidates: (day, through) => dayCandidates(index, day, through),
          expire: (recordingSid) => expireRecording(recordingSid, erasure),
          audit,
          checkpoint: {
            read: () => checkpoint.read(),
            write: (cp) => checkpoint.write(cp, (runtime.now ?? (() => new Date()))()),
          },
          obs,
          ...(runtime.now ? { now: runtime.now } : {}),
          signal: stop.signal,
        },
      );
      await checkpoint.recordRun(report, (runtime.now ?? (() => new Date()))());
      if (report.failed > 0) throw new RetentionRunError(report);
      return report;
    } finally {
      stop.dispose();
      obs.flush();
    }
  };
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
  config: Pick<RetentionConfig, 'retentionDays' | 'auditPrincipalArn'>,
  context: Context | undefined,
): Promise<void> {
  const details: Record<string, string | number | boolean> = {
    reason: entry.outcome,
    retentionDays: config.retentionDays,
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
