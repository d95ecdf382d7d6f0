import { type DynamoDBDocumentClient, GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { RETENTION_LATE_DAYS_KEY } from '../config/env-names';

/**
 * Days that gained a recording a day or more after it started: a backfill, the reconciler finding
 * an old one, a copy retried for days. The retention sweep walks each day once, so a recording
 * stored on a day it has passed would be kept past its period; the transfer notes the day before
 * it records the copy, and the sweep takes the days and walks them again
 * (lambda/retention/sweep-run.ts). String sets on an item of their own in the ledger table
 * (RETENTION_LATE_DAYS_KEY): adding a day twice adds nothing.
 */
export const LATE_AFTER_MS = 24 * 60 * 60 * 1000;

/** Whether a recording that started at `startedAt`, stored at `now`, may fall behind the sweep. */
export function isLate(startedAt: string, now: Date): boolean {
  const started = Date.parse(startedAt);
  return Number.isFinite(started) && now.getTime() - started >= LATE_AFTER_MS;
}

export class LateDays {
  constructor(
    private readonly db: Pick<DynamoDBDocumentClient, 'send'>,
    private readonly tableName: string,
    private readonly key: string = RETENTION_LATE_DAYS_KEY,
  ) {}

  /** Notes `days` (`YYYY-MM-DD`); the item is made if there is none. */
  async note(...days: string[]): Promise<void> {
    await this.update('ADD lateDays :days', days);
  }

  /**
   * The days noted since the sweep last took them, and the days it swept once: each is swept a
   * second time by the next run, so that a recording stored just as a run read its day (the day
   * index lags the table by a moment) is not missed for good.
   */
  async read(): Promise<{ readonly noted: string[]; readonly sweptOnce: string[] }> {
    const result = await this.db.send(
      new GetCommand({ TableName: this.tableName, Key: { recordingSid: this.key }, ConsistentRead: true }),
    );
    return { noted: days(result.Item?.lateDays), sweptOnce: days(result.Item?.lateDaysSweptOnce) };
  }

  /**
   * After a run: the days it swept move from noted to swept once, and those it swept a second time
   * are forgotten; `unswept` (not due yet, or not finished) stay as they are. A day noted again
   * while the run went on is taken off the noted list too, but swept once more by the next run,
   * which sees whatever was stored meanwhile.
   */
  async settle(run: {
    readonly noted: readonly string[];
    readonly sweptOnce: readonly string[];
    readonly unswept: ReadonlySet<string>;
  }): Promise<void> {
    const swept = run.noted.filter((day) => !run.unswept.has(day));
    await this.update('ADD lateDaysSweptOnce :days', swept);
    await this.update('DELETE lateDays :days', swept);
    await this.update(
      'DELETE lateDaysSweptOnce :days',
      run.sweptOnce.filter((day) => !run.unswept.has(day) && !run.noted.includes(day)),
    );
  }

  private async update(expression: string, list: readonly string[]): Promise<void> {
    if (list.length === 0) return;
    await this.db.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: { recordingSid: this.key },
        UpdateExpression: expression,
        ExpressionAttributeValues: { ':days': new Set(list) },
      }),
    );
  }
}

function days(value: unknown): string[] {
  return value instanceof Set ? [...value].filter((d): d is string => typeof d === 'string').sort() : [];
}
