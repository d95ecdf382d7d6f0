/**
 * The local API Gateway: a node:http server that turns each request into the HTTP API
 * (payload format 2.0) event AWS would send, invokes the handler, and maps its result back.
 */
import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import {
  createServer,
  type IncomingMessage,
  maxHeaderSize,
  type Server,
  type ServerResponse,
  STATUS_CODES,
} from 'node:http';
import type { Duplex } from 'node:stream';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { withoutLogs } from '../../lambda/shared/runtime/readable-log';
import { listen } from './ports';

export type ApiHandler = (
  event: APIGatewayProxyEventV2,
  context?: Context,
) => Promise<APIGatewayProxyStructuredResultV2>;

export interface Route {
  readonly method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  /** e.g. `/calls/{callId}/recording`: `{name}` matches one path segment. */
  readonly path: string;
  readonly handler: ApiHandler;
  readonly functionName: string;
  /** Bearer token the route requires (compared in constant time); unset: no gateway auth. */
  readonly bearerToken?: string;
}

export interface GatewayOptions {
  readonly routes: readonly Route[];
  readonly host: string;
  readonly port: number;
  /** Bodies over this are refused with 413 before they are read in full. Default 1 MiB. */
  readonly maxBodyBytes?: number;
  /** HTTP API's integration timeout: past it the caller gets 503. Default 30 s. */
  readonly timeoutMs?: number;
  readonly accountId?: string;
  readonly apiId?: string;
  readonly region?: string;
  /** Gets unexpected errors (never sent to the caller). */
  readonly onError?: (error: unknown, routeKey: string) => void;
  /** Requests whose `x-local-stack-probe` header carries this value are served without handler logs. */
  readonly quietToken?: string;
}

export interface Gateway {
  readonly url: string;
  readonly server: Server;
  /** Stops accepting connections and waits for in-flight requests (up to `graceMs`). */
  close(graceMs?: number): Promise<void>;
}

const DEFAULT_MAX_BODY = 1024 * 1024;

interface CompiledRoute extends Route {
  readonly pattern: RegExp;
  readonly names: readonly string[];
  readonly routeKey: string;
}

function compile(route: Route): CompiledRoute {
  const names: string[] = [];
  const source = route.path
    .split('/')
    .map((segment) => {
      const param = /^\{(\w+)\}$/.exec(segment);
      if (!param?.[1]) return segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      names.push(param[1]);
      return '([^/]+)';
    })
    .join('/');
  return { ...route, pattern: new RegExp(`^${source}$`), names, routeKey: `${route.method} ${route.path}` };
}

/** Content types HTTP API passes as text; anything else arrives base64-encoded (form bodies included). */
export function isTextContentType(contentType: string | undefined): boolean {
  const type = (contentType ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  if (!type) return false;
  return (
    type.startsWith('text/') ||
    type === 'application/json' ||
    type.endsWith('+json') ||
    type === 'application/xml' ||
    type.endsWith('+xml') ||
    type === 'application/javascript' ||
    type === 'application/graphql'
  );
}

function send(res: ServerResponse, statusCode: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  const text = JSON.stringify(body);
  res.writeHead(statusCode, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    'apigw-requestid': headers['apigw-requestid'] ?? '',
    ...headers,
  });
  res.end(text);
}

function sameSecret(given: string, expected: string): boolean {
  // Hash both so the comparison is constant-time whatever the lengths.
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b) && given.length === expected.length;
}

function bearer(authorization: string | undefined): string | undefined {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
  return match?.[1];
}

/** `12/Mar/2020:19:03:58 +0000`, as in `requestContext.time`. */
function clfTime(date: Date): string {
  const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${pad(date.getUTCDate())}/${months[date.getUTCMonth()]}/${date.getUTCFullYear()}:${pad(
    date.getUTCHours(),
  )}:${pad(date.getUTCMinutes())}:${pad(date.getUTCSeconds())} +0000`;
}

function decode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

/** Reads the body up to `limit` bytes; undefined when it is larger (the rest is not buffered). */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on('data', (chunk: Buffer) => {
      if (over) return;
      size += chunk.length;
      if (size > limit) {
        over = true;
        chunks.length = 0;
        resolve(undefined);
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (!over) resolve(Buffer.concat(chunks));
    });
    req.on('error', reject);
  });
}

/** How much of an oversized body is read and thrown away before the connection is cut. */
const DISCARD_LIMIT_BYTES = 64 * 1024 * 1024;

function discardBody(req: IncomingMessage, limit: number): Promise<void> {
  return new Promise((resolve) => {
    if (req.readableEnded) return resolve();
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        req.destroy();
        resolve();
      }
    });
    req.on('end', () => resolve());
    req.on('error', () => resolve());
    req.on('close', () => resolve());
    req.resume();
  });
}

export interface BuiltEvent {
  readonly event: APIGatewayProxyEventV2;
  readonly requestId: string;
}

/** The HTTP API payload 2.0 event for one request. */
export function buildEvent(
  req: IncomingMessage,
  route: { routeKey: string; pathParameters?: Record<string, string> | undefined },
  rawPath: string,
  rawQueryString: string,
  body: Buffer,
  options: { accountId: string; apiId: string; requestId: string; now: Date; domainName: string },
): APIGatewayProxyEventV2 {
  // Header names lower-cased, repeated headers joined with ',' (from rawHeaders, not Node's own joining).
  const headers: Record<string, string> = {};
  let cookieHeader: string[] = [];
  for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) {
    const name = (req.rawHeaders[i] ?? '').toLowerCase();
    const value = req.rawHeaders[i + 1] ?? '';
    if (name === 'cookie') {
      cookieHeader = cookieHeader.concat(
        value
          .split(';')
          .map((c) => c.trim())
          .filter(Boolean),
      );
      continue;
    }
    headers[name] = headers[name] === undefined ? value : `${headers[name]},${value}`;
  }
  const sourceIp = (req.socket.remoteAddress ?? '127.0.0.1').replace(/^::ffff:/, '');
  const localPort = req.socket.localPort;
  headers['x-forwarded-for'] = headers['x-forwarded-for'] ? `${headers['x-forwarded-for']},${sourceIp}` : sourceIp;
  headers['x-forwarded-proto'] = 'http';
  if (localPort) headers['x-forwarded-port'] = String(localPort);
  headers['x-amzn-trace-id'] ??=
    `Root=1-${Math.floor(options.now.getTime() / 1000).toString(16)}-${randomBytes(12).toString('hex')}`;

  let queryStringParameters: Record<string, string> | undefined;
  if (rawQueryString) {
    queryStringParameters = {};
    for (const [name, value] of new URLSearchParams(rawQueryString)) {
      const existing = queryStringParameters[name];
      queryStringParameters[name] = existing === undefined ? value : `${existing},${value}`;
    }
  }

  // The gateway's own name, as API Gateway's is its own: never the Host header the caller chose.
  const { domainName } = options;
  const method = (req.method ?? 'GET').toUpperCase();
  const textual = isTextContentType(headers['content-type']);
  const event: APIGatewayProxyEventV2 = {
    version: '2.0',
    routeKey: route.routeKey,
    rawPath,
    rawQueryString,
    ...(cookieHeader.length > 0 ? { cookies: cookieHeader } : {}),
    headers,
    ...(queryStringParameters ? { queryStringParameters } : {}),
    requestContext: {
      accountId: options.accountId,
      apiId: options.apiId,
      domainName,
      domainPrefix: domainName.split('.')[0] ?? domainName,
      http: {
        method,
        path: rawPath,
        protocol: `HTTP/${req.httpVersion}`,
        sourceIp,
        userAgent: headers['user-agent'] ?? '',
      },
      requestId: options.requestId,
      routeKey: route.routeKey,
      stage: '$default',
      time: clfTime(options.now),
      timeEpoch: options.now.getTime(),
    },
    ...(route.pathParameters ? { pathParameters: route.pathParameters } : {}),
    ...(body.length > 0 ? { body: textual ? body.toString('utf8') : body.toString('base64') } : {}),
    isBase64Encoded: body.length > 0 && !textual,
  };
  return event;
}

/** A Lambda context good enough for Powertools (function name, request id, remaining time). */
export function lambdaContext(functionName: string, requestId: string, timeoutMs: number, region: string): Context {
  const deadline = Date.now() + timeoutMs;
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:${region}:000000000000:function:${functionName}`,
    memoryLimitInMB: '256',
    awsRequestId: requestId,
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: 'local',
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

function writeResult(res: ServerResponse, result: APIGatewayProxyStructuredResultV2, requestId: string): void {
  const headers: Record<string, string | string[]> = { 'apigw-requestid': requestId };
  for (const [name, value] of Object.entries(result.headers ?? {})) headers[name.toLowerCase()] = String(value);
  if (result.cookies && result.cookies.length > 0) headers['set-cookie'] = result.cookies;
  const body =
    result.body === undefined || result.body === null
      ? Buffer.alloc(0)
      : Buffer.from(result.body, result.isBase64Encoded ? 'base64' : 'utf8');
  const statusCode = result.statusCode ?? 200;
  if (statusCode !== 204 && statusCode !== 304) headers['content-length'] = String(body.length);
  res.writeHead(statusCode, headers);
  res.end(statusCode === 204 || statusCode === 304 ? undefined : body);
}

export async function startGateway(options: GatewayOptions): Promise<Gateway> {
  const routes = options.routes.map(compile);
  const maxBody = options.maxBodyBytes ?? DEFAULT_MAX_BODY;
  const timeoutMs = options.timeoutMs ?? 30_000;
  const accountId = options.accountId ?? '000000000000';
  const apiId = options.apiId ?? 'local';
  const region = options.region ?? 'us-east-1';
  let accepting = true;
  const inFlight = new Set<Promise<void>>();

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const requestId = randomBytes(10).toString('base64').replace(/=+$/, '=');
    const reply = (status: number, body: unknown, headers: Record<string, string> = {}) =>
      send(res, status, body, { 'apigw-requestid': requestId, ...headers });
    const target = req.url ?? '/';
    const queryAt = target.indexOf('?');
    const rawPath = queryAt < 0 ? target : target.slice(0, queryAt);
    const rawQueryString = queryAt < 0 ? '' : target.slice(queryAt + 1);
    const method = (req.method ?? 'GET').toUpperCase();

    if (!accepting) {
      res.setHeader('connection', 'close');
      reply(503, { error: 'Shutting down' });
      req.resume();
      return;
    }

    const matching = routes
      .map((route) => ({ route, match: route.pattern.exec(rawPath) }))
      .filter((m): m is { route: CompiledRoute; match: RegExpExecArray } => m.match !== null);
    if (matching.length === 0) {
      req.resume();
      reply(404, { error: 'Not found' });
      return;
    }
    const hit = matching.find((m) => m.route.method === method);
    if (!hit) {
      req.resume();
      reply(
        405,
        { error: 'Method not allowed' },
        { allow: [...new Set(matching.map((m) => m.route.method))].join(', ') },
      );
      return;
    }
    const { route, match } = hit;

    if (route.bearerToken !== undefined) {
      const token = bearer(req.headers.authorization);
      if (token === undefined || !sameSecret(token, route.bearerToken)) {
        req.resume();
        reply(401, { error: 'Unauthorized' }, { 'www-authenticate': 'Bearer' });
        return;
      }
    }

    const declared = Number(req.headers['content-length']);
    const body = Number.isFinite(declared) && declared > maxBody ? undefined : await readBody(req, maxBody);
    if (body === undefined) {
      // Let the client finish sending (discarding it) so it reads the 413 instead of a reset;
      // a client that keeps sending far past the limit is cut off.
      await discardBody(req, DISCARD_LIMIT_BYTES);
      res.setHeader('connection', 'close');
      reply(413, { error: 'Request body too large' });
      return;
    }

    let pathParameters: Record<string, string> | undefined;
    if (route.names.length > 0) {
      pathParameters = {};
      route.names.forEach((name, i) => {
        (pathParameters as Record<string, string>)[name] = decode(match[i + 1] ?? '');
      });
    }
    const now = new Date();
    const event = buildEvent(req, { routeKey: route.routeKey, pathParameters }, rawPath, rawQueryString, body, {
      accountId,
      apiId,
      requestId,
      now,
      domainName: options.host,
    });
    const context = lambdaContext(route.functionName, randomUUID(), timeoutMs, region);
    let timer: NodeJS.Timeout | undefined;
    try {
      const result = await Promise.race([
        route.handler(event, context),
        new Promise<'timeout'>((resolve) => {
          timer = setTimeout(() => resolve('timeout'), timeoutMs);
        }),
      ]);
      if (result === 'timeout') {
        reply(503, { error: 'Service Unavailable' });
        return;
      }
      writeResult(res, result, requestId);
    } catch (error) {
      options.onError?.(error, route.routeKey);
      reply(500, { error: 'Internal Server Error' });
    } finally {
      if (timer) clearTimeout(timer);
    }
  }

  const server = createServer((req, res) => {
    const quiet = options.quietToken !== undefined && req.headers['x-local-stack-probe'] === options.quietToken;
    const work = (quiet ? withoutLogs(() => handle(req, res)) : handle(req, res)).catch((error) => {
      options.onError?.(error, `${req.method} ${req.url}`);
      if (!res.headersSent) send(res, 500, { error: 'Internal Server Error' });
      else res.destroy();
    });
    inFlight.add(work);
    void work.finally(() => inFlight.delete(work));
  });
  // Node's parser refuses some requests before any handler runs (headers over maxHeaderSize, bytes
  // that are not HTTP) and would answer with an empty body: answer JSON, as every other error.
  server.on('clientError', (error: NodeJS.ErrnoException, socket: Duplex) => {
    if (!socket.writable) {
      socket.destroy();
      return;
    }
    const [status, message] =
      error.code === 'HPE_HEADER_OVERFLOW'
        ? [431, `The request headers are too large (at most ${Math.floor(maxHeaderSize / 1024)} KiB)`]
        : error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
          ? [408, 'The request took too long to arrive']
          : [400, 'The request is not valid HTTP'];
    const body = JSON.stringify({ error: message });
    socket.end(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\ncontent-type: application/json\r\n` +
        `content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
    );
  });
  server.keepAliveTimeout = 5_000;
  await listen(server, options.port, options.host, 'API');

  return {
    url: `http://${options.host}:${options.port}`,
    server,
    async close(graceMs = 10_000) {
      accepting = false;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const drained = Promise.allSettled([...inFlight]);
      await Promise.race([drained, new Promise((resolve) => setTimeout(resolve, graceMs).unref())]);
      server.closeAllConnections();
      await closed;
    },
  };
}
