import { type DynamoDBDocumentClient, GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { RETENTION_CHECKPOINT_KEY } from '../shared/config/env-names';
import type { PendingRecording, RetentionCheckpoint, RetentionDoubt } from './checkpoint-state';
import type { SweepReport } from './sweep-run';

/**
 * Where the retention sweep got to, kept in the ledger table under a key that can never be a
 * RecordingSid (`~`, no `RE`), like the reconciler's: no `day` and no `status`, so no listing or
 * index ever sees it. `npm run status -- --retention` reads it.
 */
export class RetentionCheckpointStore {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    readonly tableName: string,
    readonly key: string = RETENTION_CHECKPOINT_KEY,
  ) {}

  async read(): Promise<RetentionCheckpoint | undefined> {
    const result = await this.db.send(
      new GetCommand({ TableName: this.tableName, Key: { recordingSid: this.key }, ConsistentRead: true }),
    );
    const item = result.Item;
    if (!item || typeof item.nextDay !== 'string' || !/^\d{4}-\d{2}-\d{2}$/.test(item.nextDay)) return undefined;
    const pending = Array.isArray(item.pending) ? (item.pending as PendingRecording[]) : [];
    return {
      nextDay: item.nextDay,
      pending: pending.filter((p) => typeof p?.recordingSid === 'string'),
      ...(typeof item.settledAt === 'string' ? { settledAt: item.settledAt } : {}),
      ...(typeof item.runningSince === 'string' ? { runningSince: item.runningSince } : {}),
      ...(isDoubt(item.doubt) ? { doubt: item.doubt } : {}),
    };
  }

  async write(checkpoint: RetentionCheckpoint, now = new Date()): Promise<void> {
    const optional = {
      settledAt: checkpoint.settledAt,
      runningSince: checkpoint.runningSince,
      doubt: checkpoint.doubt,
    };
    const set = Object.entries(optional).filter(([, value]) => value !== undefined);
    // Removed when absent: a walk seeded anew under a key an earlier policy used (it saves none
    // until a run settles) must not inherit that walk's settled instant; a run's end clears its mark.
    const removed = Object.entries(optional).filter(([, value]) => value === undefined);
    await this.db.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: { recordingSid: this.key },
        UpdateExpression: `SET ${['nextDay = :nextDay', 'pending = :pending', 'updatedAt = :now', ...set.map(([name]) => `${name} = :${name}`)].join(', ')}${
          removed.length > 0 ? ` REMOVE ${removed.map(([name]) => name).join(', ')}` : ''
        }`,
        ExpressionAttributeValues: {
          ':nextDay': checkpoint.nextDay,
          ':pending': checkpoint.pending,
          ':now': now.toISOString(),
          ...Object.fromEntries(set.map(([name, value]) => [`:${name}`, value])),
        },
      }),
    );
  }

  /**
   * The checkpoint keys of the walks the last complete run made (lambda/retention/retention-walks.ts),
   * kept on the first walk's item; absent before any run recorded them: the one walk of a stage
   * without `retention.bySource`.
   */
  async readWalkKeys(): Promise<readonly string[] | undefined> {
    const result = await this.db.send(
      new GetCommand({ TableName: this.tableName, Key: { recordingSid: this.key }, ConsistentRead: true }),
    );
    const keys = result.Item?.walkKeys;
    return Array.isArray(keys) && keys.every((k) => typeof k === 'string') ? (keys as string[]) : undefined;
  }

  async writeWalkKeys(keys: readonly string[]): Promise<void> {
    await this.db.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: { recordingSid: this.key },
        UpdateExpression: 'SET walkKeys = :keys',
        ExpressionAttributeValues: { ':keys': keys },
      }),
    );
  }

  /** What the last run did, for `npm run status -- --retention`. */
  async recordRun(report: SweepReport, now = new Date()): Promise<void> {
    await this.db.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: { recordingSid: this.key },
        UpdateExpression: 'SET lastRun = :run',
        ExpressionAttributeValues: { ':run': { ...report, at: now.toISOString() } },
      }),
    );
  }

  /** The checkpoint with the last run's report, as `npm run status` shows it. */
  async describe(): Promise<(RetentionCheckpoint & { lastRun?: SweepReport & { at: string } }) | undefined> {
    const result = await this.db.send(
      new GetCommand({ TableName: this.tableName, Key: { recordingSid: this.key }, ConsistentRead: true }),
    );
    const checkpoint = await this.read();
    if (!checkpoint) return undefined;
    const lastRun = result.Item?.lastRun as (SweepReport & { at: string }) | undefined;
    return { ...checkpoint, ...(lastRun ? { lastRun } : {}) };
  }
}

function isDoubt(value: unknown): value is RetentionDoubt {
  const doubt = value as Partial<RetentionDoubt> | undefined;
  return typeof doubt?.from === 'string' && typeof doubt.to === 'string' && typeof doubt.day === 'string';
}
