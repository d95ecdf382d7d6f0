import type { S3Client } from '@aws-sdk/client-s3';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';
import { type AuditRecorder, meteredAuditRecorder } from '../shared/audit/audit-trail';
import { CallsRepository } from '../shared/calls/calls';
import type { PlaybackConfig, RecordingsReadConfig } from '../shared/config/function-config';
import { RecordingLedger } from '../shared/ledger/ledger';
import { errorResponse, type HttpResponse, jsonResponse, notFound, redirectResponse } from '../shared/runtime/http';
import { createObservability, type Observability } from '../shared/runtime/observability';
import { RecordingStore } from '../shared/storage/recording-store';
import { accessAudit } from './access-audit';
import { createListRecordingsRoute, isListRecordingsRoute } from './list-route';
import { allRecordingUrls, latestRecordingUrl } from './playback';
import { RECORDING_BY_SID_ROUTE, recordingUrlBySid } from './recording-by-sid';

export interface PlaybackRuntime {
  readonly config: PlaybackConfig;
  readonly s3: S3Client;
  readonly ddb: DynamoDBDocumentClient;
  readonly obs?: Observability;
  /** The ledger, for GET /recordings and GET /recordings/{recordingSid}; unset: those routes answer 404. */
  readonly listing?: RecordingsReadConfig;
  /** The access audit trail: every URL issued and every listing page is entered before it leaves. */
  readonly audit?: AuditRecorder;
  /** Who calls when the request carries no authorizer context: the local stack only (`local`). */
  readonly defaultPrincipal?: string;
}

/** GET /calls/{callId}/recording, GET /calls/{callId}/recordings, GET /recordings, GET /recordings/{recordingSid}. */
export function createPlaybackHandler(runtime: PlaybackRuntime) {
  const obs = runtime.obs ?? createObservability('recordings-read');
  const deps = {
    calls: new CallsRepository(runtime.ddb, runtime.config.tableName, ''),
    ledger: new RecordingLedger(runtime.ddb, runtime.config.ledgerTableName),
    store: new RecordingStore(runtime.s3, runtime.config.bucketName),
    urlTtlSeconds: runtime.config.urlTtlSeconds,
  };
  const listRecordings = runtime.listing ? createListRecordingsRoute(runtime.listing, runtime.ddb) : undefined;
  const ledger = runtime.listing ? new RecordingLedger(runtime.ddb, runtime.listing.ledgerTableName) : undefined;
  // An entry that cannot be written answers 503 (no URL leaves) and is counted for the alarm.
  const audit = accessAudit(runtime.audit && meteredAuditRecorder(runtime.audit, obs), runtime.defaultPrincipal);
  return async (event: APIGatewayProxyEventV2, context?: Context): Promise<HttpResponse> => {
    if (context) obs.addContext(context);
    const callId = event.pathParameters?.callId ?? '';
    const log = obs.withKeys({ callId }).logger;
    try {
      if (isListRecordingsRoute(event)) {
        if (!listRecordings) throw notFound('Not found');
        return await listRecordings(event, obs, audit);
      }
      if (event.routeKey === RECORDING_BY_SID_ROUTE) {
        if (!ledger) throw notFound('Not found');
        const recording = await recordingUrlBySid(event.pathParameters?.recordingSid ?? '', { ...deps, ledger });
        await audit.urlsIssued(event, [{ ...recording, callId: recording.callId ?? '' }]);
        obs.withKeys({ recordingSid: recording.recordingSid }).logger.info('Issued a playback URL', {
          expiresAt: recording.expiresAt,
        });
        obs.metric('PlaybackUrlIssued');
        return event.queryStringParameters?.redirect === 'true'
          ? redirectResponse(recording.url)
          : jsonResponse(200, recording);
      }
      if (event.routeKey?.endsWith('/recordings') || event.rawPath?.endsWith('/recordings')) {
        // A known call with nothing stored answers an empty list; an unknown call is a 404.
        const recordings = await allRecordingUrls(callId, deps);
        await audit.urlsIssued(event, recordings);
        obs.metric('PlaybackListed');
        return jsonResponse(200, { callId, recordings });
      }
      if (!callId) throw notFound('Call not found');
      const recording = await latestRecordingUrl(callId, deps);
      await audit.urlsIssued(event, [recording]);
      log.info('Issued a playback URL', {
        recordingSid: recording.recordingSid,
        expiresAt: recording.expiresAt,
      });
      obs.metric('PlaybackUrlIssued');
      return event.queryStringParameters?.redirect === 'true'
        ? redirectResponse(recording.url)
        : jsonResponse(200, recording);
    } catch (error) {
      const response = errorResponse(error);
      if (response.statusCode >= 500) log.error('Playback failed', { error: (error as Error).message });
      return response;
    } finally {
      obs.flush();
    }
  };
}
