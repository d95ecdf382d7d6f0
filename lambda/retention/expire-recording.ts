import {
  type ErasureDeps,
  ErasureIncompleteError,
  eraseRecordingBySid,
  HoldConflictError,
  ObjectLegalHoldConflictError,
  RETENTION_ACTOR,
  RetentionConflictError,
} from '../shared/erasure/recording-erasure';
import type { LedgerDayIndex } from '../shared/ledger/day-index';
import type { LedgerItem } from '../shared/ledger/ledger';
import type { ErasureFields } from '../shared/ledger/ledger-erasure';
import { HttpError } from '../shared/runtime/http';
import type { ExpireOutcome, RetentionCandidate } from './sweep-run';

export { RETENTION_ACTOR };

/**
 * Erases one recording as expired through the erasure path (S3 versions, Twilio, ledger `expired`
 * with `expiredAt`, call item, `Recording Expired`), and says what stopped it when something did.
 */
export async function expireRecording(
  recordingSid: string,
  deps: ErasureDeps & { readonly ledger: Pick<ErasureDeps['ledger'], 'get'> },
  /**
   * The walk asking: `elsewhere` for a recording of a source another walk keeps, `early` for one
   * not due under its period; undefined: its to expire.
   */
  judge: (item: Pick<LedgerItem, 'source' | 'startedAt' | 'status'>) => ExpireOutcome | undefined = () => undefined,
): Promise<ExpireOutcome> {
  const item = (await deps.ledger.get(recordingSid)) as (LedgerItem & ErasureFields) | undefined;
  // Erased through the API (which entered it in the audit trail): not the sweep's to enter.
  if (!item || item.status === 'erased') return { outcome: 'gone' };
  // Remembered under an earlier policy (a pending list carried over, a period grown since).
  const verdict = judge(item);
  if (verdict) return verdict;
  // Only the sweep expires. An earlier run's expiry is answered with its expiredAt, so that its
  // audit entry is written if that run could not (its fixed key makes a repeat add nothing).
  const earlier = item.status === 'expired';
  const expiredAt = item.expiredAt ?? '';
  // Its event went out (the erasure path's last step, after the call item): nothing left to do.
  if (earlier && item.erasedEventAt && expiredAt) return { outcome: 'expired', expiredAt, earlier };
  if (item.hold && !earlier) return { outcome: 'held' };
  try {
    // By RecordingSid: a recording without a call item (a conference recording) expires too. An
    // expiry cut short after the ledger said `expired` is finished (call item, event) the same way.
    const result = await eraseRecordingBySid({ recordingSid, erasedBy: RETENTION_ACTOR, expire: true }, deps);
    if (result.result === 'already-erased') {
      if (earlier) return { outcome: 'expired', expiredAt: expiredAt || result.erasedAt, earlier };
      // Erased meanwhile (by the API): not this run's act.
      return { outcome: 'gone' };
    }
    return { outcome: 'expired', expiredAt: result.erasedAt };
  } catch (error) {
    if (error instanceof HoldConflictError || error instanceof ObjectLegalHoldConflictError) return { outcome: 'held' };
    if (error instanceof RetentionConflictError) return { outcome: 'retained', retainUntil: error.retainUntil };
    if (error instanceof ErasureIncompleteError) {
      // Cut short after the ledger turned `expired` (the call item or the event failed): the
      // recording is gone all the same, and the sweep enters the expiry in the audit trail.
      const after = (await deps.ledger.get(recordingSid)) as LedgerItem | undefined;
      if (after?.status === 'expired' && after.expiredAt) {
        return { outcome: 'busy', reason: error.message, expiredAt: after.expiredAt };
      }
    }
    if (error instanceof HttpError) return { outcome: 'busy', reason: error.message };
    throw error;
  }
}

/**
 * Every recording of `day` that started at or before `through`: each shard of the day in the
 * ledger's day index, page by page (the order across shards does not matter to the sweep).
 */
export async function* dayCandidates(
  index: Pick<LedgerDayIndex, 'queryPartition' | 'dayPartitions'>,
  day: string,
  through: string,
): AsyncIterable<RetentionCandidate> {
  for (const partition of index.dayPartitions(day)) {
    let exclusiveStartKey: Record<string, unknown> | undefined;
    do {
      const page = await index.queryPartition({
        index: 'day',
        partition,
        from: `${day}T00:00:00.000Z`,
        through,
        limit: 500,
        exclusiveStartKey,
      });
      for (const item of page.items) yield item;
      exclusiveStartKey = page.lastEvaluatedKey;
    } while (exclusiveStartKey);
  }
}
