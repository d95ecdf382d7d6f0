import type { S3Client } from '@aws-sdk/client-s3';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';
import { fixedAuditId } from '../shared/audit/audit-trail';
import { withAuditNote } from '../shared/audit/audited-route';
import type { HoldConfig } from '../shared/config/function-config';
import { type EventPublisher, eventBridgePublisher } from '../shared/ledger/events';
import { RecordingLedger } from '../shared/ledger/ledger';
import { LedgerHold } from '../shared/ledger/ledger-hold';
import { callerOf } from '../shared/runtime/caller';
import { describeError } from '../shared/runtime/errors';
import {
  emptyResponse,
  errorResponse,
  forbidden,
  HttpError,
  type HttpResponse,
  jsonResponse,
  rawBody,
} from '../shared/runtime/http';
import { createObservability, type Observability } from '../shared/runtime/observability';
import { RecordingStore } from '../shared/storage/recording-store';
import { type HoldDeps, parseHoldReason, placeHold, releaseHold } from './hold-recording';

export interface HoldRuntime {
  readonly config: HoldConfig;
  readonly s3: S3Client;
  readonly ddb: DynamoDBDocumentClient;
  /** Default: the stage's EventBridge bus (the local stack passes a file). */
  readonly events?: EventPublisher;
  /** Who acts when the request carries no authorizer context: only the local stack sets it (`local`). */
  readonly defaultPrincipal?: string;
  /** Replaces the S3 store for Object Lock (tests: S3 emulators have no Object Lock). */
  readonly objectLock?: HoldDeps['objectLock'];
  readonly obs?: Observability;
  readonly now?: () => Date;
}

/** Largest PUT body read: a reason is at most 500 characters. */
const MAX_BODY_BYTES = 8 * 1024;

/** PUT /recordings/{recordingSid}/hold (200 with the hold) and DELETE of it (204). */
export function createHoldHandler(runtime: HoldRuntime) {
  const { config } = runtime;
  const obs = runtime.obs ?? createObservability('recording-hold');
  const deps: HoldDeps = {
    ledger: new RecordingLedger(runtime.ddb, config.ledgerTableName),
    holds: new LedgerHold(runtime.ddb, config.ledgerTableName),
    objectLock:
      runtime.objectLock ?? (config.objectLock ? new RecordingStore(runtime.s3, config.bucketName) : undefined),
    events: runtime.events ?? eventBridgePublisher(config.eventBusName),
    obs,
    ...(runtime.now ? { now: runtime.now } : {}),
  };
  return async (event: APIGatewayProxyEventV2, context?: Context): Promise<HttpResponse> => {
    if (context) obs.addContext(context);
    const recordingSid = event.pathParameters?.recordingSid ?? '';
    const log = obs.withKeys({ recordingSid }).logger;
    try {
      const by = callerOf(event, runtime.defaultPrincipal)?.actor;
      if (!by) throw forbidden('No authenticated caller');
      const method = event.requestContext?.http?.method ?? event.routeKey?.split(' ')[0];
      if (method === 'DELETE') {
        const { released, versionsReleased } = await releaseHold({ recordingSid, by }, deps);
        // The one log line of a release (releaseHold logs none).
        log.info(released ? 'Released a legal hold' : 'No legal hold to release', { by, versionsReleased });
        // Clearing S3 legal holds the ledger never knew (set by hand) is a release too.
        return withAuditNote(emptyResponse(204), {
          ...(released || versionsReleased > 0 ? {} : { outcome: 'not-held' }),
          details: { released, objectLockVersionsReleased: versionsReleased },
        });
      }
      if (method !== 'PUT') throw new HttpError(405, 'Use PUT to hold a recording and DELETE to release it');
      const body = rawBody(event);
      if (body.length > MAX_BODY_BYTES) throw new HttpError(413, 'The body is too large for a hold reason');
      const reason = parseHoldReason(body);
      const result = await placeHold({ recordingSid, by, reason }, deps);
      const response = jsonResponse(200, {
        recordingSid: result.recordingSid,
        hold: result.hold,
        placed: result.placed,
        objectLockVersionsHeld: result.versionsHeld,
      });
      // The entry keeps the reason this caller gave (at most 500 code points), even on a repeat
      // whose first hold stands: `placed: false` tells the two apart.
      const given = { reason, placed: result.placed, objectLockVersionsHeld: result.versionsHeld };
      // The hold's one `done` entry, at its time in the ledger: the caller whose PUT was cut short
      // (503 after the ledger took the hold) repeats it and writes the entry then.
      const key = { at: new Date(result.hold.at), id: fixedAuditId('recording.hold', recordingSid) };
      return withAuditNote(
        response,
        result.placed
          ? { details: given, key }
          : result.hold.by === by
            ? {
                details: { ...given, reason: result.hold.reason, placed: true, repeat: true },
                key,
                whenEntered: { outcome: 'already-held', details: given },
              }
            : { outcome: 'already-held', details: given },
      );
    } catch (error) {
      if (error instanceof HttpError) {
        if (error.statusCode >= 500) log.error('Hold failed', { error: error.message });
        return errorResponse(error);
      }
      log.error('Hold failed', { error: describeError(error) });
      return errorResponse(new HttpError(503, 'The hold could not be changed; send the same request again'));
    } finally {
      obs.flush();
    }
  };
}
