import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';
import type { HttpResponse } from '../runtime/http';
import { jsonResponse } from '../runtime/http';
import type { Observability } from '../runtime/observability';
import { SID } from '../twilio/sids';
import type { AuditAction, AuditDetails } from './audit-record';
import { type AuditEntryKey, type AuditRecorder, auditActorOf, meteredAuditRecorder } from './audit-trail';

/**
 * A route handler whose every answer about a recording is entered in the access audit trail
 * before it leaves: erasure, hold, release, the single-recording read. The entry's outcome is the
 * answer's class (`done`, `refused` for 409, `rejected` for other 4xx, `failed` for 5xx), unless the
 * handler noted a truer one on its answer (withAuditNote: `already-erased` for a 204 that erased
 * nothing), with the details it noted beside `status`. An act a request cut short may leave without
 * its entry (the erasure done, its entry not written) is noted with a fixed key: the repeat of the
 * request writes that one entry, and a further repeat, finding it there, is entered as what it is
 * (`whenEntered`: `already-erased`). When the
 * entry cannot be written the caller gets 503 instead: the action itself is idempotent (the ledger
 * keeps its state), and repeating it writes the entry.
 *
 * Requests that name no valid RecordingSid or no caller did nothing to a recording: the handler
 * answers them (400, 403) and no entry is written.
 */
export interface AuditedRouteOptions {
  readonly recorder: AuditRecorder;
  /** The action of each route key (`DELETE /recordings/{recordingSid}`); other routes pass through. */
  readonly actions: Readonly<Record<string, AuditAction>>;
  /** The local stack's principal for requests without an authorizer context. */
  readonly defaultPrincipal?: string;
  /** Logs an entry that could not be written (never the request's token). */
  readonly onError?: (error: unknown) => void;
  /**
   * The function's logs and metrics: an entry that cannot be written is logged and counted
   * (`AuditWriteFailed`, the `AuditWriteFailures` alarm), and flushed at once, since the handler
   * flushed its own before the entry was tried.
   */
  readonly obs?: Observability;
}

type Handler = (event: APIGatewayProxyEventV2, context?: Context) => Promise<HttpResponse>;

/** What a handler tells the audit entry of its answer that the status code cannot say. */
export interface AuditNote {
  /** Replaces the outcome of the status code: a 2xx that changed nothing is not `done`. */
  readonly outcome?: string;
  /** Small facts beside `status` (bounded like every entry's: audit-record.ts). */
  readonly details?: AuditDetails;
  /**
   * The fixed key of the act's one entry (its time in the ledger, fixedAuditId): a repeat of a
   * request cut short before or after its entry writes it at most once.
   */
  readonly key?: AuditEntryKey;
  /** With `key`: what this request is entered as when the keyed entry is already there (it did nothing). */
  readonly whenEntered?: { readonly outcome: string; readonly details?: AuditDetails };
}

// Beside the answer, never in it: the note is not sent to the caller, and a handler run without
// auditedRoute (a test) answers exactly the same.
const notes = new WeakMap<HttpResponse, AuditNote>();

/** `response`, with `note` for the audit entry auditedRoute writes of it. */
export function withAuditNote(response: HttpResponse, note: AuditNote): HttpResponse {
  notes.set(response, note);
  return response;
}

export function outcomeOf(statusCode: number): string {
  if (statusCode < 400) return 'done';
  if (statusCode === 409) return 'refused';
  if (statusCode === 404) return 'not-found';
  if (statusCode < 500) return 'rejected';
  return 'failed';
}

export function auditedRoute(handler: Handler, options: AuditedRouteOptions): Handler {
  const recorder = options.obs ? meteredAuditRecorder(options.recorder, options.obs) : options.recorder;
  return async (event, context) => {
    const response = await handler(event, context);
    const action = options.actions[event.routeKey ?? ''];
    const recordingSid = event.pathParameters?.recordingSid ?? '';
    if (!action || !SID.RecordingSid.test(recordingSid)) return response;
    const actor = auditActorOf(event, options.defaultPrincipal);
    if (!actor) return response;
    const note = notes.get(response);
    const callId = event.pathParameters?.callId;
    const entry = (noted: Pick<AuditNote, 'outcome' | 'details'> | undefined) => ({
      ...actor,
      recordingSid,
      action,
      outcome: noted?.outcome ?? outcomeOf(response.statusCode),
      details: { ...noted?.details, status: response.statusCode, ...(callId ? { callId } : {}) } as AuditDetails,
    });
    try {
      const written = await recorder.record(entry(note), note?.key);
      if (note?.key && note.whenEntered && written?.existed) await recorder.record(entry(note.whenEntered));
    } catch (error) {
      options.onError?.(error);
      options.obs?.flush();
      return jsonResponse(503, {
        error: 'The request could not be entered in the audit trail; repeat it (it is safe to repeat).',
      });
    }
    return response;
  };
}
