/**
 * What the retention sweep remembers between runs, kept in each walk's checkpoint
 * (lambda/retention/checkpoint.ts stores it; lambda/retention/sweep-run.ts reads and moves it on):
 * where the walk got to, the recordings it passed by or must come back to, and what lost runs may
 * have left unfinished.
 */

/**
 * The checkpoint's pending list stays inside one 400 KB ledger item with the last run's report: the
 * largest entry (`unfinished`, RecordingSid, `expiredAt`, `audited`) is 108 bytes as DynamoDB
 * counts them, so 3,000 take 324 KB (checkpoint.test.ts writes them).
 */
export const MAX_PENDING = 3000;

export interface PendingRecording {
  readonly recordingSid: string;
  /**
   * `unaudited`: expired, but its audit entry is still to be written. `unfinished`: expired (the
   * ledger says so), but the erasure path was cut short before the call item or the event: the
   * next run finishes it; without `expiredAt`, an erasure in doubt (it threw: the ledger may or
   * may not have taken the expiry): the next run looks at it again.
   */
  readonly why: 'held' | 'retained' | 'unaudited' | 'unfinished';
  /**
   * Not checked again before this: `retained`, the Object Lock retain-until date; any other (held),
   * when the recording falls due under the walk's period.
   */
  readonly until?: string;
  /** `unaudited`, `unfinished`: when it expired (the ledger's `expiredAt`). */
  readonly expiredAt?: string;
  /** `held`, `retained`: the audit trail says the sweep passed it by for this reason; `unfinished`: says it expired. */
  readonly audited?: boolean;
}

export interface RetentionCheckpoint {
  /** `YYYY-MM-DD`: the first day not yet swept to its end. */
  readonly nextDay: string;
  readonly pending: readonly PendingRecording[];
  /**
   * Every expiry before this instant is finished and entered, or in `pending` (saved by a run that
   * knew the outcome of every erasure it started). Absent before the first such save.
   */
  readonly settledAt?: string;
  /** Set by a run as it starts, removed by its last save: found set, the run that set it was lost. */
  readonly runningSince?: string;
  /** Expiries lost runs may have left unfinished, looked at again until the walk has passed their day. */
  readonly doubt?: RetentionDoubt;
}

/**
 * What lost runs (they died, or could not save their end) may have left unfinished: expiries made
 * from `from` to `to`, on the day they were walking (`day`, the saved `nextDay`: the checkpoint
 * moves past a day only once it is done) or on a late day (noted until swept). Such an expiry is
 * handed to the erasure path again even if it expired before `settledAt`, until a run has swept
 * `day` to its end and every late day behind the checkpoint. A bounded window in the past, so the
 * walk's own later expiries are never read twice for it.
 */
export interface RetentionDoubt {
  readonly from: string;
  readonly to: string;
  readonly day: string;
}

/** Both windows, and the later day: the walk passes the earlier on its way. */
export function mergeDoubt(a: RetentionDoubt | undefined, b: RetentionDoubt | undefined): RetentionDoubt | undefined {
  if (!a || !b) return a ?? b;
  return {
    from: a.from < b.from ? a.from : b.from,
    to: a.to > b.to ? a.to : b.to,
    day: a.day > b.day ? a.day : b.day,
  };
}

/** A checkpoint found with `runningSince` set: the window of the run that was lost, up to `now`. */
export function lostRunDoubt(checkpoint: RetentionCheckpoint | undefined, now: Date): RetentionDoubt | undefined {
  if (!checkpoint?.runningSince) return checkpoint?.doubt;
  const lost = { from: checkpoint.runningSince, to: now.toISOString(), day: checkpoint.nextDay };
  return mergeDoubt(checkpoint.doubt, lost);
}
