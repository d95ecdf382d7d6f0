import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';
import { fixedAuditId } from '../shared/audit/audit-trail';
import { withAuditNote } from '../shared/audit/audited-route';
import { type ErasureDepsRuntime, erasureDeps } from '../shared/erasure/erasure-deps';
import {
  ErasureIncompleteError,
  eraseRecording,
  eraseRecordingBySid,
  HoldConflictError,
  RetentionConflictError,
} from '../shared/erasure/recording-erasure';
import { callerOf } from '../shared/runtime/caller';
import { describeError } from '../shared/runtime/errors';
import {
  emptyResponse,
  errorResponse,
  forbidden,
  HttpError,
  type HttpResponse,
  jsonResponse,
} from '../shared/runtime/http';
import { createObservability, type Observability } from '../shared/runtime/observability';

export interface ErasureRuntime extends ErasureDepsRuntime {
  /**
   * Who erases when the request carries no authorizer context. Only the local stack sets it
   * (`local`, behind its bearer token); on AWS every route has an IAM or JWT authorizer.
   */
  readonly defaultPrincipal?: string;
  readonly obs?: Observability;
}

/** DELETE /calls/{callId}/recordings/{recordingSid} and DELETE /recordings/{recordingSid}. */
export function createErasureHandler(runtime: ErasureRuntime) {
  const obs = runtime.obs ?? createObservability('recording-erasure');
  const deps = erasureDeps(runtime, obs);
  return async (event: APIGatewayProxyEventV2, context?: Context): Promise<HttpResponse> => {
    if (context) obs.addContext(context);
    // DELETE /recordings/{recordingSid} names no call: the ledger says which, if any.
    const callId = event.pathParameters?.callId;
    const recordingSid = event.pathParameters?.recordingSid ?? '';
    const log = obs.withKeys({ callId, recordingSid }).logger;
    try {
      const erasedBy = callerOf(event, runtime.defaultPrincipal)?.actor;
      if (!erasedBy) throw forbidden('No authenticated caller');
      const result =
        callId === undefined
          ? await eraseRecordingBySid({ recordingSid, erasedBy }, deps)
          : await eraseRecording({ callId, recordingSid, erasedBy }, deps);
      log.info(result.result === 'erased' ? 'Erased a recording' : 'Recording was already erased', {
        erasedBy,
        versionsDeleted: result.versionsDeleted,
      });
      // 204 either way (idempotent), but the trail must not say this caller erased what was gone.
      const alreadyErased = {
        outcome: 'already-erased',
        details: {
          versionsDeleted: result.versionsDeleted,
          ...(result.erasedBy ? { erasedBy: result.erasedBy } : {}),
          ...(result.erasedAt ? { erasedAt: result.erasedAt } : {}),
        },
      };
      // The erasure's one `done` entry, at the ledger's erasedAt: the caller whose request was cut
      // short (503: its entry, the call item or the event failed) repeats it and writes the entry then.
      // A request that lost the race to a concurrent one (lostRace) is already-erased, whoever sent it.
      const key = result.erasedAt
        ? { at: new Date(result.erasedAt), id: fixedAuditId('recording.erase', recordingSid) }
        : undefined;
      return withAuditNote(
        emptyResponse(204),
        result.result === 'erased'
          ? { details: { versionsDeleted: result.versionsDeleted }, ...(key ? { key } : {}) }
          : key && result.erasedBy === erasedBy && !result.lostRace
            ? { details: { repeat: true, erasedAt: result.erasedAt }, key, whenEntered: alreadyErased }
            : alreadyErased,
      );
    } catch (error) {
      if (error instanceof HoldConflictError) {
        log.warn('A legal hold forbids the erasure', { heldBy: error.hold.by, heldAt: error.hold.at });
        obs.metric('ErasureRefusedHold');
        return jsonResponse(409, { error: error.message, hold: error.hold });
      }
      if (error instanceof RetentionConflictError) {
        log.warn('Object Lock retention forbids the erasure', { retainUntil: error.retainUntil });
        return jsonResponse(409, { error: error.message, retainUntil: error.retainUntil });
      }
      if (error instanceof HttpError) {
        if (error instanceof ErasureIncompleteError) obs.metric('ErasureIncomplete');
        if (error.statusCode >= 500) log.error('Erasure failed', { error: error.message });
        return errorResponse(error);
      }
      // Never a stack trace or an SDK message to the caller; the ledger keeps `erasing` for the retry.
      log.error('Erasure failed', { error: describeError(error) });
      obs.metric('ErasureIncomplete');
      return errorResponse(new ErasureIncompleteError('The erasure could not be completed'));
    } finally {
      obs.flush();
    }
  };
}
