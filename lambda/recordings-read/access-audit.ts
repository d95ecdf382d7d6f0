import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { LISTING_PARTITION } from '../shared/audit/audit-record';
import { type AuditRecorder, auditActorOf } from '../shared/audit/audit-trail';
import { describeError } from '../shared/runtime/errors';
import { forbidden, HttpError } from '../shared/runtime/http';
import type { ListingQuery } from './listing';

/**
 * The read side's entries in the access audit trail: one per presigned URL issued (before the
 * answer leaves: no entry, no URL) and one per listing page. Without a recorder (tests that do not
 * look at the trail) nothing is written.
 */
export interface AccessAudit {
  urlsIssued(
    event: APIGatewayProxyEventV2,
    recordings: readonly { recordingSid: string; callId?: string | null; expiresAt: string }[],
  ): Promise<void>;
  pageListed(event: APIGatewayProxyEventV2, query: ListingQuery, count: number): Promise<void>;
}

/** The trail could not be written: the caller gets 503 and no URL. */
export class AuditUnavailableError extends HttpError {
  constructor(cause: unknown) {
    super(503, 'The access could not be entered in the audit trail; nothing was issued. Try again.');
    this.name = 'AuditUnavailableError';
    this.cause = describeError(cause);
  }
}

export function accessAudit(recorder: AuditRecorder | undefined, defaultPrincipal?: string): AccessAudit {
  const actorOf = (event: APIGatewayProxyEventV2) => {
    const actor = auditActorOf(event, defaultPrincipal);
    if (!actor) throw forbidden('No authenticated caller');
    return actor;
  };
  const write = async (entries: Parameters<AuditRecorder['record']>[0][]) => {
    try {
      await Promise.all(entries.map((entry) => recorder?.record(entry)));
    } catch (error) {
      throw new AuditUnavailableError(error);
    }
  };
  return {
    async urlsIssued(event, recordings) {
      if (!recorder || recordings.length === 0) return;
      const actor = actorOf(event);
      const redirect = event.queryStringParameters?.redirect === 'true';
      await write(
        recordings.map((r) => ({
          ...actor,
          recordingSid: r.recordingSid,
          action: 'playback.url' as const,
          outcome: 'issued',
          details: {
            ...(r.callId ? { callId: r.callId } : {}),
            expiresAt: r.expiresAt,
            route: event.routeKey ?? '',
            redirect,
          },
        })),
      );
    },
    async pageListed(event, query, count) {
      if (!recorder) return;
      const actor = actorOf(event);
      await write([
        {
          ...actor,
          recordingSid: LISTING_PARTITION,
          action: 'recordings.list',
          outcome: 'listed',
          details: {
            // The bounds as asked: a listing of every hold (hold=true, no range) has none.
            ...(query.given.from !== null ? { from: query.given.from } : {}),
            ...(query.given.to !== null ? { to: query.given.to } : {}),
            ...(query.status ? { status: query.status } : {}),
            // A page of holds says so: without it the entry reads as an ordinary listing.
            ...(query.hold ? { hold: true } : {}),
            limit: query.limit,
            count,
            ...(query.after ? { after: `${query.after.startedAt}#${query.after.recordingSid}` } : {}),
          },
        },
      ]);
    },
  };
}
