import { createHash } from 'node:crypto';
import { type DynamoDBDocumentClient, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { callerOf } from '../runtime/caller';
import { isConditionFailed } from '../runtime/dynamo-conditions';
import { describeError } from '../runtime/errors';
import type { Observability } from '../runtime/observability';
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
   * adds nothing (the stored entry is kept as it is) and answers `existed: true`.
   */
  async record(input: AuditEntryInput, key?: AuditEntryKey): Promise<RecordedAuditEntry> {
    if (key) {
      const item = auditItem(input, key.at, key.id);
      try {
        await this.put(item);
      } catch (error) {
        if (!isConditionFailed(error)) throw error;
        return { ...item, existed: true };
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

/** An entry as AuditWriter.record put it; `existed` when its fixed key already held an entry (nothing was added). */
export type RecordedAuditEntry = AuditEntry & { readonly existed?: true };

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

/**
 * The metric every function counts an audit entry it could not write under (the
 * `AuditWriteFailures` alarm, docs/operations.md): the caller was answered 503, or the retention
 * run failed, and an operator must find out why the table refuses puts.
 */
export const AUDIT_WRITE_FAILED = 'AuditWriteFailed';

/**
 * `recorder`, counting each entry it could not write (`AuditWriteFailed`) and logging it with its
 * RecordingSid, action and outcome (never the caller's token: an entry holds none); the error is
 * thrown on, for the caller to refuse or fail as it must. The caller flushes `obs`.
 */
export function meteredAuditRecorder(recorder: AuditRecorder, obs: Observability): AuditRecorder {
  return {
    async record(input, key) {
      try {
        return await recorder.record(input, key);
      } catch (error) {
        obs.metric(AUDIT_WRITE_FAILED);
        obs.withKeys({ recordingSid: input.recordingSid }).logger.error('Could not write an audit entry', {
          action: input.action,
          outcome: input.outcome,
          actor: input.actor,
          error: describeError(error),
        });
        throw error;
      }
    },
  };
}

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
const CURSOR_CHECK_CONTEXT = 'recording-vault/audit-cursor/v1\n';
const MAX_CURSOR_LENGTH = 600;

/**
 * The cursor is opaque but not secret: base64url JSON `{ v, sid, atId }` (the partition it was
 * issued for and the last entry read), then `.` and a checksum of it. The partition binds it to
 * its recording: another recording's cursor is refused, not read from an entry it never named.
 * The checksum catches a corrupted or hand-edited cursor (an appended character too, which
 * base64url decoding alone would drop); it is not a MAC: a cursor gives no access the route does not.
 */
function checksum(payload: string): string {
  return createHash('sha256')
    .update(CURSOR_CHECK_CONTEXT + payload)
    .digest()
    .subarray(0, 12)
    .toString('base64url');
}

function encodeCursor(partition: string, key: Record<string, unknown> | undefined): string | null {
  const atId = key?.atId;
  if (typeof atId !== 'string') return null;
  const payload = Buffer.from(JSON.stringify({ v: 1, sid: partition, atId }), 'utf8').toString('base64url');
  return `${payload}.${checksum(payload)}`;
}

function decodeCursor(cursor: string, partition: string): string {
  const malformed = () =>
    new InvalidAuditCursorError('"cursor" is not a cursor this API issued; start again without one');
  if (cursor.length > MAX_CURSOR_LENGTH || !/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{16}$/.test(cursor)) throw malformed();
  const [payload = '', check = ''] = cursor.split('.');
  if (check !== checksum(payload)) throw malformed();
  let body: { v?: unknown; sid?: unknown; atId?: unknown };
  try {
    body = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) ?? {};
  } catch {
    throw malformed();
  }
  if (body.v !== 1 || typeof body.sid !== 'string' || typeof body.atId !== 'string' || !AT_ID.test(body.atId)) {
    throw malformed();
  }
  if (body.sid !== partition) {
    throw new InvalidAuditCursorError(
      '"cursor" belongs to another recording: use it only with the recording whose page it came from',
    );
  }
  return body.atId;
}

/** Reads the trail: a recording's entries, or an actor's of one day, oldest first. Query only. */
export class AuditReader {
  constructor(
    private readonly ddb: Pick<DynamoDBDocumentClient, 'send'>,
    private readonly tableName: string,
  ) {}

  async forRecording(recordingSid: string, options: { limit: number; cursor?: string }): Promise<AuditPage> {
    const after = options.cursor === undefined ? undefined : decodeCursor(options.cursor, recordingSid);
    const result = await this.ddb.send(
      new QueryCommand({
        TableName: this.tableName,
        KeyConditionExpression: 'recordingSid = :sid',
        ExpressionAttributeValues: { ':sid': recordingSid },
        Limit: options.limit,
        ...(after ? { ExclusiveStartKey: { recordingSid, atId: after } } : {}),
      }),
    );
    return {
      entries: (result.Items ?? []) as AuditEntry[],
      nextCursor: encodeCursor(recordingSid, result.LastEvaluatedKey),
    };
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
