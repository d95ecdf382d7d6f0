import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import type { RecordingsReadConfig } from '../shared/config/function-config';
import { LedgerDayIndex } from '../shared/ledger/day-index';
import { type HttpResponse, jsonResponse } from '../shared/runtime/http';
import type { Observability } from '../shared/runtime/observability';
import type { AccessAudit } from './access-audit';
import { listRecordings, parseListingQuery } from './listing';

/** The route key of the ledger listing; the same function serves the playback routes. */
export const LIST_RECORDINGS_ROUTE = 'GET /recordings';

export function isListRecordingsRoute(event: Pick<APIGatewayProxyEventV2, 'routeKey'>): boolean {
  return event.routeKey === LIST_RECORDINGS_ROUTE;
}

/**
 * GET /recordings: a page of the ledger (`lambda/recordings-read/listing.ts`). Reads only: the
 * function holds Query on the ledger's `byDayShard`, `byOpenStatus` and `byHold` indexes and no
 * write or delete permission anywhere.
 */
export function createListRecordingsRoute(config: RecordingsReadConfig, ddb: DynamoDBDocumentClient) {
  const ledger = new LedgerDayIndex(ddb, config.ledgerTableName, {
    dayIndexName: config.ledgerDayIndexName,
    openStatusIndexName: config.ledgerOpenStatusIndexName,
    holdIndexName: config.ledgerHoldIndexName,
    indexShards: config.ledgerIndexShards,
  });
  return async (event: APIGatewayProxyEventV2, obs: Observability, audit?: AccessAudit): Promise<HttpResponse> => {
    const query = parseListingQuery(event.rawQueryString || event.queryStringParameters || {});
    const page = await listRecordings(query, { ledger });
    await audit?.pageListed(event, query, page.recordings.length);
    obs.logger.info('Listed recordings', {
      from: query.given.from,
      to: query.given.to,
      status: query.status,
      hold: query.hold,
      count: page.recordings.length,
      more: page.nextCursor !== null,
    });
    obs.metric('RecordingsListed');
    return jsonResponse(200, page);
  };
}
