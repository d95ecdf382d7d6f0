import { type DynamoDBDocumentClient, GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
/**
 * Where the scheduled reconciler got to: the end of the window of its last finished run, kept in
 * the ledger table under a key that can never be a RecordingSid (`~`, and no `RE` prefix). The
 * item has no `day` (so no listing through the `byDayShard` index ever sees it) and no `status`.
 */
import { RECONCILER_CHECKPOINT_KEY } from '../shared/config/env-names';
import type { ReconcileCounts } from '../shared/job/reconcile';
import { isConditionFailed } from '../shared/runtime/dynamo-conditions';
import type { ListWindow } from '../shared/twilio/recording-list';

export interface ReconcileWindowSettings {
  /** How far before the last checkpoint a run lists again (recordings that completed late, runs that overlapped). */
  readonly lookbackMs: number;
  /** Recordings younger than this are left to their callback. */
  readonly settleMs: number;
  /** At most this much per run (catching up after an outage); at least twice the lookback so every run moves on. */
  readonly maxWindowMs?: number;
  /** A run takes its window in chunks of at most this, oldest first, moving the checkpoint after each. */
  readonly chunkMs?: number;
}

export const DEFAULT_MAX_WINDOW_MS = 24 * 60 * 60 * 1000;
// Twilio lists whole UTC days newest first, so a chunk also reads the newer part of its day: six hours
// keeps an ordinary run (interval + lookback) to one chunk and a day of catch-up to four.
export const DEFAULT_CHUNK_MS = 6 * 60 * 60 * 1000;

/**
 * The window cut into consecutive chunks of at most `chunkMs`, oldest first: a run that cannot
 * finish its window still keeps what it finished, and the oldest part is never the one left.
 */
export function windowChunks(window: ListWindow, chunkMs: number = DEFAULT_CHUNK_MS): ListWindow[] {
  const size = Math.max(60_000, chunkMs);
  const chunks: ListWindow[] = [];
  for (let from = window.from.getTime(); from < window.to.getTime(); from += size) {
    chunks.push({ from: new Date(from), to: new Date(Math.min(from + size, window.to.getTime())) });
  }
  return chunks;
}

/**
 * The window of the next run: from (checkpoint − lookback), on a first run (now − lookback), to
 * (now − settle), capped in length so that a long gap is caught up over several runs, oldest first.
 * Undefined when there is nothing to list yet.
 */
export function reconcileWindow(
  now: Date,
  checkpoint: Date | undefined,
  settings: ReconcileWindowSettings,
): ListWindow | undefined {
  const from = (checkpoint ?? now).getTime() - settings.lookbackMs;
  const maxWindowMs = Math.max(settings.maxWindowMs ?? DEFAULT_MAX_WINDOW_MS, 2 * settings.lookbackMs);
  const to = Math.min(now.getTime() - settings.settleMs, from + maxWindowMs);
  return to > from ? { from: new Date(from), to: new Date(to) } : undefined;
}

export class ReconcileCheckpoint {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    readonly tableName: string,
    readonly key: string = RECONCILER_CHECKPOINT_KEY,
  ) {}

  /** The window end of the last finished run, or undefined before the first. */
  async get(): Promise<Date | undefined> {
    const result = await this.db.send(
      new GetCommand({
        TableName: this.tableName,
        Key: { recordingSid: this.key },
        ConsistentRead: true,
        ProjectionExpression: 'windowEnd',
      }),
    );
    const windowEnd = result.Item?.windowEnd;
    const time = typeof windowEnd === 'string' ? Date.parse(windowEnd) : Number.NaN;
    return Number.isNaN(time) ? undefined : new Date(time);
  }

  /** Recordings a finished run left to be looked at again (long calls still in progress). */
  async getPending(): Promise<string[]> {
    const result = await this.db.send(
      new GetCommand({
        TableName: this.tableName,
        Key: { recordingSid: this.key },
        ConsistentRead: true,
        ProjectionExpression: 'pending',
      }),
    );
    const pending = result.Item?.pending;
    return Array.isArray(pending) ? pending.filter((sid): sid is string => typeof sid === 'string') : [];
  }

  /**
   * Records a finished run. Only ever forward: a slower run that overlapped a later one never
   * moves the checkpoint back. Returns whether it moved.
   */
  async advance(
    window: ListWindow,
    counts: ReconcileCounts,
    now: Date,
    pending: readonly string[] = [],
  ): Promise<boolean> {
    try {
      await this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { recordingSid: this.key },
          UpdateExpression:
            'SET windowEnd = :end, windowStart = :start, finishedAt = :now, updatedAt = :now, lastRun = :counts, pending = :pending',
          ConditionExpression: 'attribute_not_exists(windowEnd) OR windowEnd < :end',
          ExpressionAttributeValues: {
            ':end': window.to.toISOString(),
            ':start': window.from.toISOString(),
            ':now': now.toISOString(),
            ':pending': [...pending],
            ':counts': {
              listed: counts.listed,
              alreadyStored: counts.alreadyStored,
              queued: counts.queued,
              skipped: counts.skipped,
              invalid: counts.invalid,
            },
          },
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailed(error)) return false;
      throw error;
    }
  }
}
