import { createHash } from 'node:crypto';
import { type DynamoDBDocumentClient, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { callerOf } from '../runtime/caller';
import { isConditionFailed } from '../runtime/dynamo-conditions';
import {
  AUDIT_BY_ACTOR_DAY_INDEX,
  type AuditActor,
  type AuditEntry,
  type AuditEntryInput,
  actorDayKey,
  auditItem,
} from './audit-record';

/**
 * The audit table, written append-only: every entry is a put on a key no entry has
 * (`attribute_not_exists`), so an entry is never overwritten, and the functions hold
 * `dynamodb:PutItem` on the table and nothing else (stack tests assert it). An entry that cannot
 * be written is an error the caller must not swallow: no URL leaves without its entry.
 */
export class AuditWriter {
  constructor(
    private readonly ddb: Pick<DynamoDBDocumentClient, 'send'>,
    private readonly tableName: string,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /**
   * Appends an entry. With `key` (the time of the act and an id of the caller's choosing) the
   * entry has a fixed key: writing it again, after a put whose answer was lost, finds it there and
   * adds nothing (the stored entry is kept as it is).
   */
  async record(input: AuditEntryInput, key?: AuditEntryKey): Promise<AuditEntry> {
    if (key) {
      const item = auditItem(input, key.at, key.id);
      try {
        await this.put(item);
      } catch (error) {
        if (!isConditionFailed(error)) throw error;
      }
      return item;
    }
    // A random 64-bit id makes a collision practically impossible; a retry covers the impossible.
    for (let attempt = 0; ; attempt++) {
      const item = auditItem(input, this.now());
      try {
        await this.put(item);
        return item;
      } catch (error) {
        if (!isConditionFailed(error) || attempt >= 2) throw error;
      }
    }
  }

  private async put(item: AuditEntry): Promise<void> {
    await this.ddb.send(
      new PutCommand({
        TableName: this.tableName,
        Item: item,
        ConditionExpression: 'attribute_not_exists(recordingSid)',
      }),
    );
  }
}

/** A fixed key for an entry that may be written twice (see AuditWriter.record). */
export interface AuditEntryKey {
  readonly at: Date;
  /** Hex, at most 32 digits (the form every entry id has). */
  readonly id: string;
}

/** A fixed entry id for `action` on `recordingSid`: with the act's time, the key of its one entry. */
export function fixedAuditId(action: string, recordingSid: string): string {
  return createHash('sha256').update(`${action}#${recordingSid}`).digest('hex').slice(0, 16);
}

/** What records an entry; a handler without one (a test that does not look at the trail) records nothing. */
export type AuditRecorder = Pick<AuditWriter, 'record'>;

/** The actor of an API request, as its authorizer vouches for it; undefined when it names none. */
export function auditActorOf(event: APIGatewayProxyEventV2, defaultPrincipal?: string): AuditActor | undefined {
  const caller = callerOf(event, defaultPrincipal);
  if (!caller) return undefined;
  return {
    actor: caller.actor,
    kind: caller.kind,
    ...(caller.clientId ? { clientId: caller.clientId } : {}),
    ...(caller.sourceIp ? { sourceIp: caller.sourceIp } : {}),
    ...(caller.userAgent ? { userAgent: caller.userAgent } : {}),
  };
}

/* ---- reading ------------------------------------------------------------------------------- */

export interface AuditPage {
  readonly entries: AuditEntry[];
  /** Opaque; null on the last page. */
  readonly nextCursor: string | null;
}

export class InvalidAuditCursorError extends Error {
  override name = 'InvalidAuditCursorError';
}

const AT_ID = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z#[0-9a-f]{1,32}$/;

function encodeCursor(key: Record<string, unknown> | undefined): string | null {
  const atId = key?.atId;
  return typeof atId === 'string' ? Buffer.from(atId, 'utf8').toString('base64url') : null;
}

function decodeCursor(cursor: string): string {
  const atId = /^[A-Za-z0-9_-]{1,200}$/.test(cursor) ? Buffer.from(cursor, 'base64url').toString('utf8') : '';
  if (!AT_ID.test(atId)) throw new InvalidAuditCursorError('"cursor" is not a cursor this API issued');
  return atId;
}

/** Reads the trail: a recording's entries, or an actor's of one day, oldest first. Query only. */
export class AuditReader {
  constructor(
    private readonly ddb: Pick<DynamoDBDocumentClient, 'send'>,
    private readonly tableName: string,
  ) {}

  async forRecording(recordingSid: string, options: { limit: number; cursor?: string }): Promise<AuditPage> {
    const after = options.cursor === undefined ? undefined : decodeCursor(options.cursor);
    const result = await this.ddb.send(
      new QueryCommand({
        TableName: this.tableName,
        KeyConditionExpression: 'recordingSid = :sid',
        ExpressionAttributeValues: { ':sid': recordingSid },
        Limit: options.limit,
        ...(after ? { ExclusiveStartKey: { recordingSid, atId: after } } : {}),
      }),
    );
    return { entries: (result.Items ?? []) as AuditEntry[], nextCursor: encodeCursor(result.LastEvaluatedKey) };
  }

  /** Every entry of `actor` on `day` (YYYY-MM-DD, UTC), all pages. */
  async forActorDay(actor: string, day: string): Promise<AuditEntry[]> {
    const entries: AuditEntry[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const result = await this.ddb.send(
        new QueryCommand({
          TableName: this.tableName,
          IndexName: AUDIT_BY_ACTOR_DAY_INDEX,
          KeyConditionExpression: 'actorDay = :key',
          ExpressionAttributeValues: { ':key': actorDayKey(actor, day) },
          ...(start ? { ExclusiveStartKey: start } : {}),
        }),
      );
      entries.push(...((result.Items ?? []) as AuditEntry[]));
      start = result.LastEvaluatedKey;
    } while (start);
    return entries;
  }

  /** Every entry of a recording (or pseudo partition), all pages. */
  async allForRecording(recordingSid: string): Promise<AuditEntry[]> {
    const entries: AuditEntry[] = [];
    let cursor: string | undefined;
    do {
      const page = await this.forRecording(recordingSid, { limit: 1000, ...(cursor ? { cursor } : {}) });
      entries.push(...page.entries);
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    return entries;
  }
}
