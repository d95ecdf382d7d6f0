import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';

/**
 * Domain errors carry the HTTP status they map to, so that each handler maps errors
 * to responses in exactly one place (`errorResponse`). Messages are written for the
 * caller: they never contain secrets, tokens or stack traces.
 */
export class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

export const badRequest = (message: string) => new HttpError(400, message);
export const forbidden = (message: string) => new HttpError(403, message);
export const notFound = (message: string) => new HttpError(404, message);
export const payloadTooLarge = (message: string) => new HttpError(413, message);
export const unsupportedMediaType = (message: string) => new HttpError(415, message);

export type HttpResponse = APIGatewayProxyStructuredResultV2 & { statusCode: number };

const JSON_HEADERS = { 'content-type': 'application/json', 'cache-control': 'no-store' } as const;

export function jsonResponse(statusCode: number, body: unknown): HttpResponse {
  return { statusCode, headers: { ...JSON_HEADERS }, body: JSON.stringify(body) };
}

export function emptyResponse(statusCode = 204): HttpResponse {
  return { statusCode, headers: { 'cache-control': 'no-store' }, body: '' };
}

export function redirectResponse(location: string): HttpResponse {
  return { statusCode: 302, headers: { location, 'cache-control': 'no-store' }, body: '' };
}

/** The one mapping from a thrown error to a response; anything unexpected is a 500 without details. */
export function errorResponse(error: unknown): HttpResponse {
  if (error instanceof HttpError) return jsonResponse(error.statusCode, { error: error.message });
  return jsonResponse(500, { error: 'Internal error' });
}

/** A header by name; HTTP API lower-cases names, the local gateway does the same, but be tolerant. */
export function header(event: Pick<APIGatewayProxyEventV2, 'headers'>, name: string): string | undefined {
  const headers = event.headers ?? {};
  const wanted = name.toLowerCase();
  for (const [key, value] of Object.entries(headers)) {
    if (key.toLowerCase() === wanted) return value;
  }
  return undefined;
}

/** The raw request body as bytes-as-text; HTTP API base64-encodes bodies it considers binary. */
export function rawBody(event: Pick<APIGatewayProxyEventV2, 'body' | 'isBase64Encoded'>): Buffer {
  if (!event.body) return Buffer.alloc(0);
  return event.isBase64Encoded ? Buffer.from(event.body, 'base64') : Buffer.from(event.body, 'utf8');
}

/**
 * The URL a webhook signature is checked against: path (with the stage prefix when the stage is
 * named; `$default` adds none) and raw query string as API Gateway received them, on a base that
 * comes from configuration, never from the request. With `publicBaseUrl` (custom domain,
 * base-path mapping, tunnel; the bound address locally) scheme, host and base path come from it
 * and the stage prefix is dropped, because the public URL maps onto the stage. Without it, HTTPS
 * on API Gateway's own `requestContext.domainName`. The Host and X-Forwarded-* headers are never
 * read: the caller chooses them, and with them the URL it signed for.
 */
export function requestUrl(
  event: Pick<APIGatewayProxyEventV2, 'rawPath' | 'rawQueryString' | 'requestContext'>,
  publicBaseUrl?: string,
): string {
  const query = event.rawQueryString ? `?${event.rawQueryString}` : '';
  const stage = event.requestContext?.stage;
  let path = event.rawPath || '/';
  if (publicBaseUrl) {
    const stagePrefix = stage && stage !== '$default' ? `/${stage}` : '';
    if (stagePrefix && (path === stagePrefix || path.startsWith(`${stagePrefix}/`))) {
      path = path.slice(stagePrefix.length) || '/';
    }
    return `${publicBaseUrl.replace(/\/+$/, '')}${path}${query}`;
  }
  return `https://${event.requestContext.domainName}${path}${query}`;
}

/**
 * The URLs a signature may have been made over. API Gateway hands an empty `rawQueryString`
 * both for no query and for a bare trailing `?`, which Twilio signs as configured; so with
 * no query both forms are candidates (as twilio-node tries with and without the port).
 */
export function requestUrlCandidates(
  event: Pick<APIGatewayProxyEventV2, 'rawPath' | 'rawQueryString' | 'requestContext'>,
  publicBaseUrl?: string,
): string[] {
  const url = requestUrl(event, publicBaseUrl);
  return event.rawQueryString ? [url] : [url, `${url}?`];
}
