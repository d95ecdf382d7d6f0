import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';
import { auditView } from '../shared/audit/audit-record';
import { AuditReader, InvalidAuditCursorError } from '../shared/audit/audit-trail';
import type { AuditConfig } from '../shared/config/function-config';
import { badRequest, errorResponse, type HttpResponse, jsonResponse } from '../shared/runtime/http';
import { createObservability, type Observability } from '../shared/runtime/observability';
import { MALFORMED_RECORDING_SID, SID } from '../shared/twilio/sids';

export const DEFAULT_AUDIT_LIMIT = 100;
export const MAX_AUDIT_LIMIT = 1000;
const PARAMETERS = ['limit', 'cursor'];

export interface AuditReadRuntime {
  readonly config: AuditConfig;
  readonly ddb: Pick<DynamoDBDocumentClient, 'send'>;
  readonly obs?: Observability;
}

/**
 * GET /recordings/{recordingSid}/audit: the recording's entries in the access audit trail, oldest
 * first, a page at a time (`limit` 1–1000, default 100; `cursor` from the previous page). The
 * function can Query the audit table and nothing else: it writes nowhere.
 */
export function createAuditReadHandler(runtime: AuditReadRuntime) {
  const obs = runtime.obs ?? createObservability('audit-read');
  const reader = new AuditReader(runtime.ddb, runtime.config.auditTableName);
  return async (event: APIGatewayProxyEventV2, context?: Context): Promise<HttpResponse> => {
    if (context) obs.addContext(context);
    const recordingSid = event.pathParameters?.recordingSid ?? '';
    const log = obs.withKeys({ recordingSid }).logger;
    try {
      if (!SID.RecordingSid.test(recordingSid)) throw badRequest(MALFORMED_RECORDING_SID);
      const { limit, cursor } = parseQuery(event.rawQueryString ?? '');
      const page = await reader.forRecording(recordingSid, { limit, ...(cursor !== undefined ? { cursor } : {}) });
      obs.metric('AuditRead');
      return jsonResponse(200, {
        recordingSid,
        entries: page.entries.map(auditView).map(({ recordingSid: _sid, ...entry }) => entry),
        nextCursor: page.nextCursor,
      });
    } catch (error) {
      if (error instanceof InvalidAuditCursorError) return errorResponse(badRequest(error.message));
      const response = errorResponse(error);
      if (response.statusCode >= 500) log.error('Audit read failed', { error: (error as Error).message });
      return response;
    } finally {
      obs.flush();
    }
  };
}

function parseQuery(raw: string): { limit: number; cursor: string | undefined } {
  const given = new Map<string, string>();
  for (const [name, value] of new URLSearchParams(raw)) {
    if (!PARAMETERS.includes(name)) {
      throw badRequest(
        `Unknown parameter "${name.replace(/[^\x20-\x7e]/g, '?').slice(0, 40)}"; the parameters are ${PARAMETERS.join(', ')}`,
      );
    }
    if (given.has(name)) throw badRequest(`Parameter "${name}" is given more than once`);
    given.set(name, value);
  }
  let limit = DEFAULT_AUDIT_LIMIT;
  const rawLimit = given.get('limit');
  if (rawLimit !== undefined) {
    limit = /^\d{1,7}$/.test(rawLimit) ? Number(rawLimit) : Number.NaN;
    if (!(limit >= 1 && limit <= MAX_AUDIT_LIMIT)) {
      throw badRequest(`"limit" must be a whole number from 1 to ${MAX_AUDIT_LIMIT}`);
    }
  }
  return { limit, cursor: given.get('cursor') };
}
