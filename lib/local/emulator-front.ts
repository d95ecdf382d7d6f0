/**
 * The front of each embedded emulator: a node:http proxy on the emulator's public port, the
 * emulator itself on an internal loopback port. dynalite, s3rver and fauxqs check no signature,
 * no Host and answer CORS for any origin; the front lets through only what a local SDK client
 * sends:
 *
 * - a loopback `Host` with the front's port (127.0.0.1, localhost, [::1]): a DNS-rebound name is refused;
 * - an AWS SigV4 signature made with the local credentials, recomputed with @smithy/signature-v4:
 *   the `Authorization` header, or, for S3 GET/HEAD only, a presigned URL (`X-Amz-Signature`),
 *   which playback hands out;
 * - no CORS: `OPTIONS` is refused, `Access-Control-*` headers are removed from answers, and S3
 *   answers carry `X-Content-Type-Options: nosniff`.
 *
 * Bodies stream through. S3 signs `x-amz-content-sha256` (a hash or `UNSIGNED-PAYLOAD`), so the
 * signature is checked over the headers and that value, without reading the body; DynamoDB and
 * SQS sign the hash of their (small, JSON) body, which is read (up to 16 MiB) and hashed.
 */
import { createHash, createHmac, type Hash, type Hmac, timingSafeEqual } from 'node:crypto';
import { Agent, createServer, type IncomingMessage, request, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pipeline } from 'node:stream';
import { SignatureV4 } from '@smithy/signature-v4';
import { LOOPBACK } from './config';
import { listen } from './ports';

export type FrontedService = 'dynamodb' | 's3' | 'sqs';

export interface LocalCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
}

/**
 * The pair the local stack's clients sign with (`clientOverrides` uses the same when no AWS
 * credentials are set). Hand clients a copy: the SDK writes its bookkeeping into the object.
 */
export const LOCAL_CREDENTIALS: LocalCredentials = { accessKeyId: 'local', secretAccessKey: 'local' };

export interface FrontOptions {
  readonly service: FrontedService;
  /** The public port (0: any free one). */
  readonly port: number;
  /** The emulator, e.g. `http://127.0.0.1:41234`. */
  readonly target: string;
  readonly credentials?: readonly LocalCredentials[];
  /** How far a signature's date may be from now (AWS: 15 minutes). */
  readonly maxSkewMs?: number;
}

export interface RunningFront {
  readonly endpoint: string;
  readonly port: number;
  stop(): Promise<void>;
}

/** Largest DynamoDB or SQS request body the front reads to hash (DynamoDB's own limit is 16 MB). */
const MAX_HASHED_BODY_BYTES = 16 * 1024 * 1024;
const DEFAULT_MAX_SKEW_MS = 15 * 60_000;
const MAX_PRESIGNED_SECONDS = 7 * 24 * 3600;
const ALGORITHM = 'AWS4-HMAC-SHA256';
/** Hop-by-hop headers: the front's own connection with each side, never forwarded. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'expect', 'upgrade']);

/** node:crypto as the SDK's hash interface (HMAC when given a secret). */
export class NodeSha256 {
  private readonly hash: Hash | Hmac;
  constructor(secret?: string | ArrayBuffer | ArrayBufferView) {
    this.hash = secret === undefined ? createHash('sha256') : createHmac('sha256', toBuffer(secret));
  }
  update(data: Uint8Array): void {
    this.hash.update(data);
  }
  digest(): Promise<Uint8Array> {
    return Promise.resolve(new Uint8Array(this.hash.digest()));
  }
  reset(): void {
    // one hash per instance: the signer creates a new one for each value
  }
}

function toBuffer(data: string | ArrayBuffer | ArrayBufferView): Buffer {
  if (typeof data === 'string') return Buffer.from(data, 'utf8');
  if (ArrayBuffer.isView(data)) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return Buffer.from(data);
}

/* ---------------------------------------------------------------------------------------------
 * SigV4 verification
 * ------------------------------------------------------------------------------------------- */

export type Verdict = { readonly ok: true } | { readonly ok: false; readonly reason: string };

/** What the verifier needs of a request; the body only where the service signs its hash (DynamoDB, SQS). */
export interface SignedRequest {
  readonly method: string;
  /** The request target as received: raw path and query. */
  readonly url: string;
  readonly headers: IncomingMessage['headers'];
  readonly body?: Buffer;
}

type Query = Record<string, string | string[]>;

const refuse = (reason: string): Verdict => ({ ok: false, reason });

/** The query string as the signer sees it: decoded names and values (`+` is a plus sign, as AWS reads it). */
function parseQuery(raw: string): Query | undefined {
  const query: Query = {};
  for (const part of raw.split('&')) {
    if (!part) continue;
    const at = part.indexOf('=');
    let name: string;
    let value: string;
    try {
      name = decodeURIComponent(at < 0 ? part : part.slice(0, at));
      value = at < 0 ? '' : decodeURIComponent(part.slice(at + 1));
    } catch {
      return undefined;
    }
    const seen = query[name];
    if (seen === undefined) query[name] = value;
    else if (Array.isArray(seen)) seen.push(value);
    else query[name] = [seen, value];
  }
  return query;
}

/** `20240722T170000Z` → Date. */
function parseAmzDate(value: string | undefined): Date | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value ?? '');
  if (!m) return undefined;
  const date = new Date(
    Date.UTC(+(m[1] ?? 0), +(m[2] ?? 1) - 1, +(m[3] ?? 1), +(m[4] ?? 0), +(m[5] ?? 0), +(m[6] ?? 0)),
  );
  return Number.isNaN(date.getTime()) ? undefined : date;
}

interface Scope {
  readonly accessKeyId: string;
  readonly shortDate: string;
  readonly region: string;
  readonly service: string;
}

/** `AKID/20240722/us-east-1/s3/aws4_request`. */
function parseCredential(value: string | undefined): Scope | undefined {
  const parts = (value ?? '').split('/');
  if (parts.length !== 5 || parts[4] !== 'aws4_request') return undefined;
  const [accessKeyId = '', shortDate = '', region = '', service = ''] = parts;
  if (!accessKeyId || !/^\d{8}$/.test(shortDate) || !region || !service) return undefined;
  return { accessKeyId, shortDate, region, service };
}

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(',') : value;
}

function sameText(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export class SigV4Verifier {
  private readonly secrets: Map<string, string>;
  private readonly maxSkewMs: number;

  constructor(
    private readonly service: FrontedService,
    credentials: readonly LocalCredentials[] = [LOCAL_CREDENTIALS],
    options: { maxSkewMs?: number; now?: () => number } = {},
  ) {
    this.secrets = new Map(credentials.map((c) => [c.accessKeyId, c.secretAccessKey]));
    this.maxSkewMs = options.maxSkewMs ?? DEFAULT_MAX_SKEW_MS;
    if (options.now) this.now = options.now;
  }

  private now: () => number = Date.now;

  /** The request is signed with a known key: Authorization header, or (S3 GET/HEAD) a presigned URL. */
  async verify(req: SignedRequest): Promise<Verdict> {
    const queryAt = req.url.indexOf('?');
    const path = queryAt < 0 ? req.url : req.url.slice(0, queryAt);
    const query = parseQuery(queryAt < 0 ? '' : req.url.slice(queryAt + 1));
    if (!query) return refuse('malformed query string');
    const authorization = single(req.headers.authorization);
    if (authorization !== undefined) return this.verifyHeader(req, path, query, authorization);
    if (query['X-Amz-Signature'] !== undefined) return this.verifyPresigned(req, path, query);
    return refuse('request is not signed');
  }

  private signer(scope: Scope, secretAccessKey: string): SignatureV4 {
    return new SignatureV4({
      credentials: { accessKeyId: scope.accessKeyId, secretAccessKey },
      region: scope.region,
      service: scope.service,
      sha256: NodeSha256,
      // S3 signs the path as sent; the other services escape it once more.
      uriEscapePath: this.service !== 's3',
      applyChecksum: false,
    });
  }

  private checkScope(scope: Scope | undefined, signingDate: Date | undefined): Verdict & { secret?: string } {
    if (!scope) return refuse('malformed credential scope');
    if (scope.service !== this.service) return refuse(`signed for ${scope.service}, not ${this.service}`);
    const secret = this.secrets.get(scope.accessKeyId);
    if (secret === undefined) return refuse('unknown access key');
    if (!signingDate) return refuse('missing or malformed X-Amz-Date');
    if (!signingDate.toISOString().replace(/-/g, '').startsWith(scope.shortDate)) {
      return refuse('credential scope date differs from X-Amz-Date');
    }
    return { ok: true, secret };
  }

  /** Only the headers the client signed, as it sent them. */
  private signedHeaders(req: SignedRequest, names: readonly string[]): Record<string, string> | undefined {
    const headers: Record<string, string> = {};
    for (const name of names) {
      const value = single(req.headers[name]);
      if (value === undefined) return undefined;
      headers[name] = value;
    }
    return headers;
  }

  private async verifyHeader(req: SignedRequest, path: string, query: Query, authorization: string): Promise<Verdict> {
    const m = /^AWS4-HMAC-SHA256 Credential=([^,\s]+),\s*SignedHeaders=([^,\s]+),\s*Signature=([0-9a-f]{64})$/.exec(
      authorization.trim(),
    );
    if (!m) return refuse('Authorization is not an AWS SigV4 header');
    const [, credential = '', signedList = '', signature = ''] = m;
    const scope = parseCredential(credential);
    const signingDate = parseAmzDate(single(req.headers['x-amz-date']));
    const checked = this.checkScope(scope, signingDate);
    if (!checked.ok || !scope || !signingDate || checked.secret === undefined) return checked;
    if (Math.abs(this.now() - signingDate.getTime()) > this.maxSkewMs) return refuse('signature date too far from now');
    const names = signedList.split(';');
    if (!names.includes('host') || !names.includes('x-amz-date')) return refuse('host and x-amz-date must be signed');
    const headers = this.signedHeaders(req, names);
    if (!headers) return refuse('a signed header is missing');
    let body: Buffer | undefined;
    if (this.service === 's3') {
      // The declared payload hash is what S3 signs; the body streams past unread.
      if (headers['x-amz-content-sha256'] === undefined) return refuse('x-amz-content-sha256 must be signed');
    } else {
      body = req.body;
    }
    const signed = await this.signer(scope, checked.secret).sign(
      { method: req.method, protocol: 'http:', hostname: LOOPBACK, path, query, headers, body },
      { signingDate, signableHeaders: new Set(names) },
    );
    const expected = /SignedHeaders=([^,\s]+),\s*Signature=([0-9a-f]{64})$/.exec(
      String((signed.headers as Record<string, string>).authorization ?? ''),
    );
    if (!expected || expected[1] !== signedList || !sameText(expected[2] ?? '', signature)) {
      return refuse('signature does not match');
    }
    return { ok: true };
  }

  private async verifyPresigned(req: SignedRequest, path: string, query: Query): Promise<Verdict> {
    // Presigned URLs are for reading S3 objects (playback); nothing else is accepted from a URL.
    if (this.service !== 's3' || (req.method !== 'GET' && req.method !== 'HEAD')) {
      return refuse('presigned requests are accepted for S3 GET and HEAD only');
    }
    const text = (name: string) => (typeof query[name] === 'string' ? (query[name] as string) : undefined);
    if (text('X-Amz-Algorithm') !== ALGORITHM) return refuse('unsupported X-Amz-Algorithm');
    const scope = parseCredential(text('X-Amz-Credential'));
    const signingDate = parseAmzDate(text('X-Amz-Date'));
    const checked = this.checkScope(scope, signingDate);
    if (!checked.ok || !scope || !signingDate || checked.secret === undefined) return checked;
    const expiresIn = Number(text('X-Amz-Expires'));
    if (!Number.isInteger(expiresIn) || expiresIn < 1 || expiresIn > MAX_PRESIGNED_SECONDS) {
      return refuse('bad X-Amz-Expires');
    }
    const now = this.now();
    if (now < signingDate.getTime() - this.maxSkewMs) return refuse('presigned URL dated in the future');
    if (now > signingDate.getTime() + expiresIn * 1000) return refuse('presigned URL expired');
    const signature = text('X-Amz-Signature') ?? '';
    const signedList = text('X-Amz-SignedHeaders') ?? '';
    const names = signedList.split(';');
    if (!names.includes('host')) return refuse('host must be signed');
    const headers = this.signedHeaders(req, names);
    if (!headers) return refuse('a signed header is missing');
    const rest: Query = { ...query };
    for (const name of [
      'X-Amz-Signature',
      'X-Amz-Algorithm',
      'X-Amz-Credential',
      'X-Amz-Date',
      'X-Amz-Expires',
      'X-Amz-SignedHeaders',
    ]) {
      delete rest[name];
    }
    // The payload hash of a presigned request: what the URL names, else UNSIGNED-PAYLOAD (S3's rule).
    headers['x-amz-content-sha256'] = text('X-Amz-Content-Sha256') ?? 'UNSIGNED-PAYLOAD';
    const keep = new Set([...names, 'x-amz-content-sha256']);
    const presigned = await this.signer(scope, checked.secret).presign(
      { method: req.method, protocol: 'http:', hostname: LOOPBACK, path, query: rest, headers },
      {
        signingDate,
        expiresIn,
        unhoistableHeaders: keep,
        unsignableHeaders: new Set(['x-amz-content-sha256']),
        signableHeaders: new Set(names),
      },
    );
    const computed = presigned.query as Query;
    if (computed['X-Amz-SignedHeaders'] !== signedList || !sameText(String(computed['X-Amz-Signature']), signature)) {
      return refuse('signature does not match');
    }
    return { ok: true };
  }
}

/* ---------------------------------------------------------------------------------------------
 * The proxy
 * ------------------------------------------------------------------------------------------- */

/** `Host` names the front itself on a loopback address: anything else is a rebound DNS name or a mistake. */
export function isLoopbackHost(host: string | undefined, port: number): boolean {
  const value = (host ?? '').toLowerCase();
  return [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`].includes(value);
}

function deny(res: ServerResponse, service: FrontedService, status: number, code: string, message: string): void {
  const xml = service === 's3';
  const body = xml
    ? `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message></Error>`
    : JSON.stringify({ __type: `com.amazon.coral.service#${code}`, message });
  res.writeHead(status, {
    'content-type': xml ? 'application/xml' : 'application/x-amz-json-1.0',
    'content-length': Buffer.byteLength(body),
    'x-content-type-options': 'nosniff',
    'cache-control': 'no-store',
  });
  res.end(body);
}

/** Reads a body up to `limit` bytes; undefined past it. */
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
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(over ? undefined : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function forwardedHeaders(headers: IncomingMessage['headers']): IncomingMessage['headers'] {
  const out: IncomingMessage['headers'] = {};
  for (const [name, value] of Object.entries(headers)) if (!HOP_BY_HOP.has(name)) out[name] = value;
  return out;
}

/** Starts a front for one emulator; the emulator's answers pass through without CORS headers. */
export async function startEmulatorFront(options: FrontOptions): Promise<RunningFront> {
  const { service } = options;
  const target = new URL(options.target);
  const verifier = new SigV4Verifier(service, options.credentials ?? [LOCAL_CREDENTIALS], {
    maxSkewMs: options.maxSkewMs,
  });
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  let port = options.port;

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const method = (req.method ?? 'GET').toUpperCase();
    const url = req.url ?? '/';
    if (!isLoopbackHost(req.headers.host, port)) {
      req.resume();
      deny(res, service, 403, 'AccessDenied', 'Host must be a loopback address with this port');
      return;
    }
    if (method === 'OPTIONS') {
      req.resume();
      deny(res, service, 403, 'AccessDenied', 'No cross-origin access to the local emulators');
      return;
    }
    let body: Buffer | undefined;
    if (service !== 's3') {
      body = await readBody(req, MAX_HASHED_BODY_BYTES);
      if (body === undefined) {
        deny(res, service, 413, 'RequestEntityTooLarge', 'Request body too large');
        return;
      }
    }
    const verdict = await verifier.verify({ method, url, headers: req.headers, body });
    if (!verdict.ok) {
      if (service === 's3') req.resume();
      deny(
        res,
        service,
        403,
        verdict.reason === 'request is not signed' ? 'AccessDenied' : 'SignatureDoesNotMatch',
        verdict.reason,
      );
      return;
    }

    const upstream = request(
      {
        host: target.hostname,
        port: target.port,
        method,
        path: url,
        headers: forwardedHeaders(req.headers),
        agent,
      },
      (answer) => {
        const headers: Record<string, string | string[]> = {};
        for (const [name, value] of Object.entries(answer.headers)) {
          if (value === undefined || HOP_BY_HOP.has(name) || name.startsWith('access-control-')) continue;
          headers[name] = value;
        }
        if (service === 's3') headers['x-content-type-options'] = 'nosniff';
        res.writeHead(answer.statusCode ?? 502, headers);
        pipeline(answer, res, () => undefined);
      },
    );
    upstream.on('error', () => {
      if (!res.headersSent) deny(res, service, 502, 'ServiceUnavailable', 'The emulator did not answer');
      else res.destroy();
    });
    res.on('close', () => {
      if (!res.writableFinished) upstream.destroy();
    });
    if (body !== undefined) upstream.end(body);
    else pipeline(req, upstream, () => undefined);
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) deny(res, service, 500, 'InternalFailure', 'The front failed');
      else res.destroy();
    });
  });
  await listen(
    server,
    options.port,
    LOOPBACK,
    `${service === 's3' ? 'S3' : service === 'sqs' ? 'SQS' : 'DynamoDB'} emulator`,
  );
  port = (server.address() as AddressInfo).port;
  return {
    endpoint: `http://${LOOPBACK}:${port}`,
    port,
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections?.();
        agent.destroy();
      }),
  };
}

/**
 * The local credentials for a client of an embedded emulator (its front checks them), whatever
 * AWS credentials the environment holds; nothing for a service on an external endpoint.
 */
export function embeddedCredentials(
  service: 'DYNAMODB' | 'S3' | 'SQS',
  config: { readonly dynamodbEndpoint?: string; readonly s3Endpoint?: string; readonly sqsEndpoint?: string },
): { credentials?: LocalCredentials } {
  const external = { DYNAMODB: config.dynamodbEndpoint, S3: config.s3Endpoint, SQS: config.sqsEndpoint }[service];
  return external ? {} : { credentials: { ...LOCAL_CREDENTIALS } };
}
