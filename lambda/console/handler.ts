import { createHash } from 'node:crypto';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { type HttpResponse, header, jsonResponse } from '../shared/runtime/http';

/** The console's static files (see lib/console-bundle.ts). */
export interface ConsoleAssets {
  readonly html: string;
  readonly js: string;
  readonly css: string;
}

export type ConsoleAuth = 'local' | 'jwt' | 'iam';

/** What the stage tells the console (`config.json`) and the origins its page may reach. */
export interface ConsoleSettings {
  readonly auth: ConsoleAuth;
  readonly issuer?: string | undefined;
  readonly clientId?: string | undefined;
  readonly scopes?: readonly string[] | undefined;
  /** Where presigned playback URLs point (the bucket's origin): the only other origin audio comes from. */
  readonly mediaOrigins: readonly string[];
  /** Origins the page may call besides its own: the issuer's, and its token endpoint's where that differs. */
  readonly connectOrigins?: readonly string[] | undefined;
}

interface Asset {
  readonly body: string;
  readonly contentType: string;
  readonly etag: string;
}

/** The Content-Security-Policy of every console answer: nothing inline, nothing from elsewhere. */
export function contentSecurityPolicy(settings: ConsoleSettings): string {
  const issuerOrigin = settings.issuer ? [new URL(settings.issuer).origin] : [];
  const connect = [...new Set(["'self'", ...issuerOrigin, ...(settings.connectOrigins ?? [])])];
  const media = [...new Set(["'self'", ...settings.mediaOrigins])];
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    `media-src ${media.join(' ')}`,
    `connect-src ${connect.join(' ')}`,
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join('; ');
}

function asset(body: string, contentType: string): Asset {
  return { body, contentType, etag: `"${createHash('sha256').update(body).digest('hex').slice(0, 32)}"` };
}

/**
 * GET /, /console.js, /console.css, /config.json: the console, no token needed (the page signs
 * the user in and calls the API with the user's token). Every answer carries the CSP, nosniff and
 * `no-cache` with an ETag (a revalidation answers 304), so a deploy is seen at once.
 */
export function createConsoleHandler(runtime: { readonly assets: ConsoleAssets; readonly settings: ConsoleSettings }) {
  const { assets, settings } = runtime;
  const config = {
    auth: settings.auth,
    ...(settings.auth === 'jwt'
      ? { issuer: settings.issuer, clientId: settings.clientId, scopes: settings.scopes ?? [] }
      : {}),
  };
  const files = new Map<string, Asset>([
    ['/', asset(assets.html, 'text/html; charset=utf-8')],
    ['/index.html', asset(assets.html, 'text/html; charset=utf-8')],
    ['/console.js', asset(assets.js, 'text/javascript; charset=utf-8')],
    ['/console.css', asset(assets.css, 'text/css; charset=utf-8')],
    ['/config.json', asset(JSON.stringify(config), 'application/json')],
  ]);
  const common = {
    'content-security-policy': contentSecurityPolicy(settings),
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    'x-frame-options': 'DENY',
    'cache-control': 'no-cache',
  };
  return async (event: APIGatewayProxyEventV2): Promise<HttpResponse> => {
    const path = event.rawPath || '/';
    const file = files.get(path);
    if (!file)
      return {
        ...jsonResponse(404, { error: 'Not found' }),
        headers: { ...common, 'content-type': 'application/json' },
      };
    const headers = { ...common, 'content-type': file.contentType, etag: file.etag };
    if (header(event, 'if-none-match') === file.etag) return { statusCode: 304, headers, body: '' };
    return { statusCode: 200, headers, body: file.body };
  };
}
