/**
 * The console's serving function (lambda/console): the static files with their types, the CSP
 * and the caching headers, config.json from the stage's settings, and the bundle it serves.
 */
import '../../helpers/setup-env';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { contentSecurityPolicy, createConsoleHandler } from '../../../lambda/console/handler';
import { consoleSettingsFromEnv } from '../../../lambda/console/settings';
import { buildConsoleAssets } from '../../../lib/console-bundle';

const assets = { html: '<!doctype html><title>t</title>', js: 'console.log(1)', css: 'body{}' };

function get(path: string, headers: Record<string, string> = {}): APIGatewayProxyEventV2 {
  return { rawPath: path, headers, routeKey: `GET ${path}` } as unknown as APIGatewayProxyEventV2;
}

describe('the console function', () => {
  const handler = createConsoleHandler({
    assets,
    settings: { auth: 'local', mediaOrigins: ['http://127.0.0.1:4569'] },
  });

  it('serves each file with its content type, the CSP, nosniff and no-cache with an ETag', async () => {
    const answers = await Promise.all(['/', '/console.js', '/console.css', '/config.json'].map((p) => handler(get(p))));

    expect(answers.map((a) => [a.statusCode, a.headers?.['content-type']])).toEqual([
      [200, 'text/html; charset=utf-8'],
      [200, 'text/javascript; charset=utf-8'],
      [200, 'text/css; charset=utf-8'],
      [200, 'application/json'],
    ]);
    for (const answer of answers) {
      expect(answer.headers).toMatchObject({
        'content-security-policy': expect.stringContaining("media-src 'self' http://127.0.0.1:4569"),
        'x-content-type-options': 'nosniff',
        'cache-control': 'no-cache',
        etag: expect.stringMatching(/^"[0-9a-f]{32}"$/),
      });
    }
    expect(answers[0]?.body).toBe(assets.html);
    expect(JSON.parse(answers[3]?.body ?? '')).toEqual({ auth: 'local' });
  });

  it('answers 304 to a revalidation with the same ETag, and 404 to any other path', async () => {
    const first = await handler(get('/console.js'));
    const again = await handler(get('/console.js', { 'if-none-match': String(first.headers?.etag) }));
    const other = await handler(get('/secrets.txt'));

    expect([again.statusCode, again.body]).toEqual([304, '']);
    expect([other.statusCode, JSON.parse(other.body ?? '')]).toEqual([404, { error: 'Not found' }]);
  });

  it('allows no inline code and only the issuer besides its own origin to be called', () => {
    const csp = contentSecurityPolicy({
      auth: 'jwt',
      issuer: 'https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_abc',
      clientId: 'client',
      mediaOrigins: ['https://vault.s3.eu-west-1.amazonaws.com'],
      connectOrigins: ['https://vault.auth.eu-west-1.amazoncognito.com'],
    });

    expect(csp.split('; ')).toEqual([
      "default-src 'self'",
      "script-src 'self'",
      "style-src 'self'",
      "img-src 'self' data:",
      "media-src 'self' https://vault.s3.eu-west-1.amazonaws.com",
      "connect-src 'self' https://cognito-idp.eu-west-1.amazonaws.com https://vault.auth.eu-west-1.amazoncognito.com",
      "object-src 'none'",
      "base-uri 'none'",
      "form-action 'self'",
      "frame-ancestors 'none'",
    ]);
  });
});

describe('the console settings of a stage', () => {
  it('give a JWT stage its issuer, client and scopes', () => {
    const settings = consoleSettingsFromEnv({
      CONSOLE_AUTH: 'jwt',
      CONSOLE_ISSUER: 'https://issuer.example',
      CONSOLE_CLIENT_ID: 'abc',
      CONSOLE_SCOPES: 'recordings/read recordings/erase',
      CONSOLE_MEDIA_ORIGIN: 'https://b.s3.amazonaws.com',
    });

    expect(settings).toMatchObject({
      auth: 'jwt',
      issuer: 'https://issuer.example',
      clientId: 'abc',
      scopes: ['recordings/read', 'recordings/erase'],
      mediaOrigins: ['https://b.s3.amazonaws.com'],
    });
  });

  it('make a JWT stage without issuer or client, or an unknown mode, IAM-only (the page says so)', () => {
    expect(consoleSettingsFromEnv({ CONSOLE_AUTH: 'jwt' }).auth).toBe('iam');
    expect(consoleSettingsFromEnv({ CONSOLE_AUTH: 'open' }).auth).toBe('iam');
    expect(consoleSettingsFromEnv({}).auth).toBe('iam');
  });
});

describe('the console bundle', () => {
  it('is one browser script built from console/src, with the page and its stylesheet', () => {
    const built = buildConsoleAssets();

    expect(built.html).toContain('<script src="console.js" defer></script>');
    expect(built.html).not.toMatch(/<script>|<style|\sstyle=|\son\w+=/i);
    expect(built.css).toContain('.status-stored');
    expect(built.js.length).toBeGreaterThan(1000);
    expect(built.js).not.toMatch(/\brequire\(/);
  });
});
