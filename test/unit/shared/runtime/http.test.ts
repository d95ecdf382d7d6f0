import '../../../helpers/setup-env';
import {
  badRequest,
  emptyResponse,
  errorResponse,
  forbidden,
  HttpError,
  header,
  jsonResponse,
  notFound,
  payloadTooLarge,
  rawBody,
  redirectResponse,
  requestUrl,
  requestUrlCandidates,
  unsupportedMediaType,
} from '../../../../lambda/shared/runtime/http';
import { httpApiEvent } from '../../../helpers/events';

describe('requestUrl', () => {
  it("builds the URL on API Gateway's own domain name over HTTPS", () => {
    const event = { ...httpApiEvent({ path: '/twilio/recording', domainName: 'api.example.com' }), headers: {} };

    expect(requestUrl(event)).toBe('https://api.example.com/twilio/recording');
  });

  it('never takes the host or the scheme from the Host or X-Forwarded-* headers', () => {
    const event = httpApiEvent({
      path: '/twilio/recording',
      domainName: 'api.example.com',
      headers: {
        host: 'evil.example',
        Host: 'evil.example',
        'x-forwarded-proto': 'http',
        'x-forwarded-host': 'evil.example',
        forwarded: 'host=evil.example;proto=http',
      },
    });

    expect(requestUrl(event)).toBe('https://api.example.com/twilio/recording');
    expect(requestUrl(event, 'https://hooks.example.com')).toBe('https://hooks.example.com/twilio/recording');
  });

  it('keeps a named stage prefix in the path', () => {
    const event = httpApiEvent({ path: '/twilio/recording', stage: 'prod', domainName: 'api.example.com' });

    expect(requestUrl(event)).toBe('https://api.example.com/prod/twilio/recording');
  });

  it('adds no prefix for the $default stage', () => {
    const event = httpApiEvent({ path: '/twilio/recording', stage: '$default', domainName: 'api.example.com' });

    expect(requestUrl(event)).toBe('https://api.example.com/twilio/recording');
  });

  it('keeps the raw query string verbatim, encoding and order included', () => {
    const event = httpApiEvent({
      path: '/twilio/recording',
      domainName: 'api.example.com',
      rawQueryString: 'b=2&a=%20x+y&empty=&a=1',
    });

    expect(requestUrl(event)).toBe('https://api.example.com/twilio/recording?b=2&a=%20x+y&empty=&a=1');
  });

  it('uses the public base URL with its base path and drops the stage prefix', () => {
    const event = httpApiEvent({ path: '/twilio/recording', stage: 'prod', rawQueryString: 'tenant=7' });

    expect(requestUrl(event, 'https://hooks.example.com/vault/')).toBe(
      'https://hooks.example.com/vault/twilio/recording?tenant=7',
    );
  });

  it('uses the public base URL as is for the $default stage', () => {
    const event = httpApiEvent({ path: '/twilio/recording' });

    expect(requestUrl(event, 'https://abcd.ngrok.app')).toBe('https://abcd.ngrok.app/twilio/recording');
  });

  it('drops only a whole stage segment, not a path that merely starts like the stage', () => {
    const event = { ...httpApiEvent({ path: '/x', stage: 'prod' }), rawPath: '/production/twilio/recording' };

    expect(requestUrl(event, 'https://hooks.example.com')).toBe(
      'https://hooks.example.com/production/twilio/recording',
    );
  });
});

describe('requestUrlCandidates', () => {
  it('offers the URL with and without a bare trailing ? when the query string is empty', () => {
    const event = httpApiEvent({ path: '/twilio/recording', domainName: 'api.example.com' });

    const candidates = requestUrlCandidates(event);

    expect(candidates).toEqual([
      'https://api.example.com/twilio/recording',
      'https://api.example.com/twilio/recording?',
    ]);
  });

  it('offers both forms with a public base URL too', () => {
    const event = httpApiEvent({ path: '/twilio/recording', stage: 'prod' });

    const candidates = requestUrlCandidates(event, 'https://hooks.example.com/vault');

    expect(candidates).toEqual([
      'https://hooks.example.com/vault/twilio/recording',
      'https://hooks.example.com/vault/twilio/recording?',
    ]);
  });

  it('offers only the URL as received when there is a query string', () => {
    const event = httpApiEvent({ path: '/twilio/recording', domainName: 'api.example.com', rawQueryString: 'a=1' });

    const candidates = requestUrlCandidates(event);

    expect(candidates).toEqual(['https://api.example.com/twilio/recording?a=1']);
  });
});

describe('rawBody', () => {
  it('decodes a base64-encoded body', () => {
    const body = rawBody({ body: Buffer.from('A=1&B=%C3%A9').toString('base64'), isBase64Encoded: true });

    expect(body.toString('utf8')).toBe('A=1&B=%C3%A9');
  });

  it('takes a plain body as UTF-8', () => {
    expect(rawBody({ body: 'Caller=é', isBase64Encoded: false })).toEqual(Buffer.from('Caller=é', 'utf8'));
  });

  it('gives an empty buffer for a missing body', () => {
    expect(rawBody({ body: undefined, isBase64Encoded: false })).toHaveLength(0);
  });
});

describe('header', () => {
  it('matches names case-insensitively and answers undefined when absent', () => {
    const event = { headers: { 'X-Twilio-Signature': 'sig' } };

    expect(header(event, 'x-twilio-signature')).toBe('sig');
    expect(header(event, 'content-type')).toBeUndefined();
    expect(header({ headers: undefined as unknown as Record<string, string> }, 'host')).toBeUndefined();
  });
});

describe('responses', () => {
  it.each([
    [badRequest('bad'), 400],
    [forbidden('no'), 403],
    [notFound('gone'), 404],
    [payloadTooLarge('big'), 413],
    [unsupportedMediaType('type'), 415],
  ])('maps an HttpError to its status with a JSON {error} body', (error, status) => {
    const response = errorResponse(error);

    expect(response.statusCode).toBe(status);
    expect(response.headers).toEqual({ 'content-type': 'application/json', 'cache-control': 'no-store' });
    expect(JSON.parse(response.body ?? '')).toEqual({ error: error.message });
  });

  it('never leaks the message or stack of an unexpected error', () => {
    const error = new Error('connect ECONNREFUSED secret-token=abc123 at /var/task/index.js:1');

    const response = errorResponse(error);

    expect(response.statusCode).toBe(500);
    expect(JSON.parse(response.body ?? '')).toEqual({ error: 'Internal error' });
    expect(response.body).not.toContain('abc123');
  });

  it('maps a thrown non-Error to a 500 without details', () => {
    expect(errorResponse('token=abc').body).toBe(JSON.stringify({ error: 'Internal error' }));
  });

  it('keeps HttpError distinguishable', () => {
    expect(new HttpError(418, 'teapot')).toMatchObject({ name: 'HttpError', statusCode: 418, message: 'teapot' });
  });

  it('builds JSON, empty and redirect responses that are never cached', () => {
    expect(jsonResponse(200, { a: 1 })).toEqual({
      statusCode: 200,
      headers: { 'content-type': 'application/json', 'cache-control': 'no-store' },
      body: '{"a":1}',
    });
    expect(emptyResponse()).toEqual({ statusCode: 204, headers: { 'cache-control': 'no-store' }, body: '' });
    expect(redirectResponse('https://s3.example/x')).toEqual({
      statusCode: 302,
      headers: { location: 'https://s3.example/x', 'cache-control': 'no-store' },
      body: '',
    });
  });
});
