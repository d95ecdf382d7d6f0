import { randomUUID } from 'node:crypto';
import { hasJobSids, NOT_FINAL_STATUSES, toJob } from '../shared/job/reconcile';
import type { RecordingJob } from '../shared/job/recording-job';
import type { LedgerStatus } from '../shared/ledger/ledger';
import type { Observability } from '../shared/runtime/observability';
import type { RecordingDetails } from '../shared/twilio/rest-api';

/**
 * Recordings the reconciler saw still in progress. A call recorded for longer than the lookback
 * is never `completed` in any listing that covers its creation, so if its one callback is lost
 * only a look at the recording itself, run after run until it is final, can catch it.
 */

/** The checkpoint holds at most this many; beyond it the oldest are dropped (and counted). */
export const MAX_PENDING = 2000;
/** Requests to Twilio at once, well under its per-account concurrency. */
const DETAILS_CONCURRENCY = 4;

export interface PendingDeps {
  /** Twilio's recording resource; undefined when Twilio no longer has it (404). */
  readonly details: (recordingSid: string) => Promise<RecordingDetails | undefined>;
  readonly statuses: (recordingSids: readonly string[]) => Promise<ReadonlyMap<string, LedgerStatus>>;
  readonly enqueue: (job: RecordingJob) => Promise<void>;
  readonly accountSid: string;
  readonly obs: Pick<Observability, 'logger' | 'metric'>;
  readonly now?: () => Date;
  readonly newJobId?: () => string;
}

export interface PendingResult {
  /** Still not final at Twilio, or not looked at (an error): looked at again next run. */
  readonly stillPending: string[];
  readonly queued: number;
}

/** Looks at each pending recording once; queues those now `completed` that the ledger lacks. */
export async function recheckPending(recordingSids: readonly string[], deps: PendingDeps): Promise<PendingResult> {
  const now = deps.now ?? (() => new Date());
  const newJobId = deps.newJobId ?? randomUUID;
  const stillPending: string[] = [];
  const completed: RecordingDetails[] = [];
  let next = 0;
  const lookAt = async () => {
    while (next < recordingSids.length) {
      const sid = recordingSids[next++] as string;
      try {
        const details = await deps.details(sid);
        if (!details) continue;
        if (details.status === 'completed') completed.push(details);
        else if (details.status !== undefined && NOT_FINAL_STATUSES.includes(details.status)) stillPending.push(sid);
      } catch (error) {
        // Twilio throttling or down: keep it for the next run rather than lose it.
        stillPending.push(sid);
        deps.obs.logger.warn('Could not look at a pending recording; will look again', {
          recordingSid: sid,
          error: error instanceof Error ? error.message : String(error),
        });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(DETAILS_CONCURRENCY, recordingSids.length) }, lookAt));
  if (completed.length === 0) return { stillPending, queued: 0 };
  const known = await deps.statuses(completed.map((d) => d.sid));
  let queued = 0;
  for (const details of completed) {
    if (known.has(details.sid) || !hasJobSids(details)) continue;
    const job = toJob(
      {
        sid: details.sid,
        accountSid: deps.accountSid,
        callSid: details.callSid,
        conferenceSid: details.conferenceSid,
        status: details.status,
        dateCreated: undefined,
        startTime: details.startTime,
        duration: details.duration,
        channels: details.channels,
        source: details.source,
      },
      { accountSid: deps.accountSid, origin: 'reconciler', jobId: newJobId(), now: now() },
    );
    await deps.enqueue(job);
    queued++;
    deps.obs.metric('MissedCallback');
    deps.obs.logger.info('Queued a long recording that completed after the listings and that the ledger lacks', {
      recordingSid: job.recordingSid,
      callSid: job.callSid,
      conferenceSid: job.conferenceSid,
    });
  }
  return { stillPending, queued };
}

/** The pending set after a run: what is still pending plus what the run saw in progress, newest kept. */
export function mergePending(stillPending: readonly string[], seen: readonly string[]): string[] {
  const merged = [...new Set([...stillPending, ...seen])];
  return merged.slice(Math.max(0, merged.length - MAX_PENDING));
}
