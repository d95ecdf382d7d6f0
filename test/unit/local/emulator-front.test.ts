import { SignatureV4 } from '@smithy/signature-v4';
import { LOCAL_CREDENTIALS, NodeSha256, SigV4Verifier } from '../../../lib/local/emulator-front';

/** The front's SigV4 check against requests signed the way the SDK signs them. */

const HOST = '127.0.0.1:8000';
const NOW = Date.UTC(2024, 6, 22, 17, 0, 0);

function signer(service: string, secretAccessKey = LOCAL_CREDENTIALS.secretAccessKey) {
  return new SignatureV4({
    credentials: { accessKeyId: LOCAL_CREDENTIALS.accessKeyId, secretAccessKey },
    region: 'eu-west-1',
    service,
    sha256: NodeSha256,
    uriEscapePath: service !== 's3',
    applyChecksum: service === 's3',
  });
}

async function dynamoRequest(body: string, secret?: string) {
  const signed = await signer('dynamodb', secret).sign(
    {
      method: 'POST',
      protocol: 'http:',
      hostname: '127.0.0.1',
      path: '/',
      query: {},
      headers: { host: HOST, 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': 'DynamoDB_20120810.Scan' },
      body,
    },
    { signingDate: new Date(NOW) },
  );
  return { method: 'POST', url: '/', headers: lower(signed.headers) };
}

const lower = (headers: Record<string, string>) =>
  Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));

async function presignedGet(expiresIn: number) {
  const presigned = await signer('s3').presign(
    {
      method: 'GET',
      protocol: 'http:',
      hostname: '127.0.0.1',
      path: '/recordings/recordings/2024/07/call%20one/RE1.mp3',
      query: { 'x-id': 'GetObject' },
      headers: { host: HOST, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' },
    },
    { signingDate: new Date(NOW), expiresIn },
  );
  const query = new URLSearchParams(presigned.query as Record<string, string>).toString().replace(/\+/g, '%20');
  return { url: `${presigned.path}?${query}`, headers: { host: HOST } };
}

const verifier = (service: 'dynamodb' | 's3', now = NOW) => new SigV4Verifier(service, undefined, { now: () => now });

test('a DynamoDB request signed with the local credentials passes, over its body', async () => {
  const body = '{"TableName":"calls"}';
  const request = await dynamoRequest(body);

  expect(await verifier('dynamodb').verify({ ...request, body: Buffer.from(body) })).toEqual({ ok: true });
  expect(await verifier('dynamodb').verify({ ...request, body: Buffer.from('{"TableName":"recordings"}') })).toEqual({
    ok: false,
    reason: 'signature does not match',
  });
});

test('a signature made with another secret, for another service, or too long ago is refused', async () => {
  const body = '{}';
  const other = await dynamoRequest(body, 'not-local');

  expect((await verifier('dynamodb').verify({ ...other, body: Buffer.from(body) })).ok).toBe(false);
  const request = await dynamoRequest(body);
  expect((await verifier('s3').verify({ ...request, body: Buffer.from(body) })).ok).toBe(false);
  expect((await verifier('dynamodb', NOW + 16 * 60_000).verify({ ...request, body: Buffer.from(body) })).ok).toBe(
    false,
  );
});

test('a presigned S3 GET passes until it expires, and only as a GET', async () => {
  const { url, headers } = await presignedGet(300);

  expect(await verifier('s3').verify({ method: 'GET', url, headers })).toEqual({ ok: true });
  expect((await verifier('s3', NOW + 301_000).verify({ method: 'GET', url, headers })).ok).toBe(false);
  expect((await verifier('s3').verify({ method: 'POST', url, headers })).ok).toBe(false);
  expect((await verifier('s3').verify({ method: 'GET', url: url.replace('RE1', 'RE2'), headers })).ok).toBe(false);
});

test('an unsigned request is refused', async () => {
  expect(await verifier('s3').verify({ method: 'GET', url: '/recordings/x', headers: { host: HOST } })).toEqual({
    ok: false,
    reason: 'request is not signed',
  });
});
