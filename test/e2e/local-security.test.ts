import { randomBytes } from 'node:crypto';
import { chmod, readdir, stat } from 'node:fs/promises';
import { request } from 'node:http';
import { join } from 'node:path';
import { HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { SignatureV4 } from '@smithy/signature-v4';
import { LOCAL_CREDENTIALS, NodeSha256 } from '../../lib/local/emulator-front';
import { SimulatedTwilio } from '../../lib/simulated-twilio';
import {
  BUCKET,
  callbackParams,
  download,
  LocalStack,
  newAccountSid,
  newCallSid,
  newRecordingSid,
  type PlaybackBody,
  stopSuite,
  TRANSFER_QUEUE,
} from './harness';

/**
 * The local stack's emulators, attacked from outside the stack with plain HTTP, as a web page,
 * a DNS-rebound name or another program would: only requests signed with the local credentials,
 * with a loopback Host, get through; no CORS; S3 answers are `nosniff`; the data is owner-only.
 */

const ACCOUNT_SID = newAccountSid();
const AUTH_TOKEN = randomBytes(16).toString('hex');
const EVIL_ORIGIN = 'https://evil.example';

let stub: SimulatedTwilio;
let stack: LocalStack;

beforeAll(async () => {
  stub = await SimulatedTwilio.start({ accountSid: ACCOUNT_SID, authToken: AUTH_TOKEN });
  // A data directory that other users could read, as `mkdir .local` leaves it under umask 022.
  const config = await LocalStack.configure({
    twilioApiBaseUrl: stub.baseUrl,
    accountSid: ACCOUNT_SID,
    authToken: AUTH_TOKEN,
  });
  await chmod(config.dataDir, 0o755);
  stack = await LocalStack.launch(config);
}, 120_000);

afterAll(() => stopSuite(stack, stub), 60_000);

interface RawAnswer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
}

/** One HTTP request with exactly these headers (Host included), as any program could send it. */
function raw(
  port: number,
  init: { method?: string; path?: string; headers?: Record<string, string>; body?: string | Buffer } = {},
): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, method: init.method ?? 'GET', path: init.path ?? '/', headers: init.headers },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }),
        );
      },
    );
    req.on('error', reject);
    req.setTimeout(15_000, () => req.destroy(new Error('timed out')));
    req.end(init.body);
  });
}

const host = (port: number) => `127.0.0.1:${port}`;

/** A DynamoDB JSON request, signed with `credentials` over `hostHeader` (or unsigned). */
async function dynamoRequest(
  target: string,
  body: unknown,
  options: { sign?: boolean; hostHeader?: string; origin?: string } = {},
): Promise<RawAnswer> {
  const port = stack.config.ports.dynamodb;
  const text = JSON.stringify(body);
  let headers: Record<string, string> = {
    host: options.hostHeader ?? host(port),
    'content-type': 'application/x-amz-json-1.0',
    'x-amz-target': `DynamoDB_20120810.${target}`,
  };
  if (options.sign) {
    const signer = new SignatureV4({
      credentials: LOCAL_CREDENTIALS,
      region: 'us-east-1',
      service: 'dynamodb',
      sha256: NodeSha256,
    });
    const signed = await signer.sign({
      method: 'POST',
      protocol: 'http:',
      hostname: '127.0.0.1',
      path: '/',
      query: {},
      headers,
      body: text,
    });
    headers = signed.headers as Record<string, string>;
  }
  if (options.origin) headers.origin = options.origin;
  return raw(port, { method: 'POST', headers, body: text });
}

function expectNoCors(answer: RawAnswer): void {
  for (const name of Object.keys(answer.headers)) expect(name).not.toMatch(/^access-control-/);
}

async function storeObject(key: string, body: string, contentType: string): Promise<void> {
  await stack.s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: body, ContentType: contentType }));
}

async function objectExists(key: string): Promise<boolean> {
  try {
    await stack.s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key }));
    return true;
  } catch (error) {
    if ((error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404) return false;
    throw error;
  }
}

test('an unsigned DynamoDB request is refused with 403 and no CORS header, even from a web origin', async () => {
  const answer = await dynamoRequest('Scan', { TableName: 'calls' }, { origin: EVIL_ORIGIN });

  expect(answer.status).toBe(403);
  expect(answer.body).not.toContain('Items');
  expectNoCors(answer);
});

test('no emulator answers a CORS preflight or names an origin, signed or not', async () => {
  const { dynamodb, s3, sqs } = stack.config.ports;
  for (const port of [dynamodb, s3, sqs]) {
    const preflight = await raw(port, {
      method: 'OPTIONS',
      path: '/',
      headers: {
        host: host(port),
        origin: EVIL_ORIGIN,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization,content-type,x-amz-target',
      },
    });
    expect(preflight.status).toBe(403);
    expectNoCors(preflight);
  }
  const signed = await dynamoRequest('ListTables', {}, { sign: true, origin: EVIL_ORIGIN });
  expect(signed.status).toBe(200);
  expect(JSON.parse(signed.body).TableNames).toEqual(expect.arrayContaining(['calls', 'recordings']));
  expectNoCors(signed);
});

test('a signed request with a Host other than loopback (DNS rebinding) is refused', async () => {
  const port = stack.config.ports.dynamodb;
  for (const name of [`evil.example:${port}`, 'evil.example', `127.0.0.1:${port + 1}`]) {
    const answer = await dynamoRequest('ListTables', {}, { sign: true, hostHeader: name });
    expect({ name, status: answer.status }).toEqual({ name, status: 403 });
  }
  const s3 = await raw(stack.config.ports.s3, { path: `/${BUCKET}`, headers: { host: 'evil.example' } });
  expect(s3.status).toBe(403);
  const sqs = await raw(stack.config.ports.sqs, { path: '/', headers: { host: 'evil.example' } });
  expect(sqs.status).toBe(403);
});

test('an unsigned S3 GET of a stored object is refused', async () => {
  const key = `probe/${randomBytes(6).toString('hex')}.mp3`;
  await storeObject(key, 'not for you', 'audio/mpeg');

  const answer = await raw(stack.config.ports.s3, {
    path: `/${BUCKET}/${key}`,
    headers: { host: host(stack.config.ports.s3), origin: EVIL_ORIGIN },
  });

  expect(answer.status).toBe(403);
  expect(answer.body).not.toContain('not for you');
  expectNoCors(answer);
  expect(answer.headers['x-content-type-options']).toBe('nosniff');
});

test('an unsigned form upload to S3 is refused and stores nothing', async () => {
  const key = `planted/${randomBytes(6).toString('hex')}.html`;
  const boundary = `----form${randomBytes(8).toString('hex')}`;
  const field = (name: string, value: string) =>
    `--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`;
  const body =
    field('key', key) +
    field('Content-Type', 'text/html') +
    `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="x.html"\r\nContent-Type: text/html\r\n\r\n` +
    '<script>alert(document.domain)</script>\r\n' +
    `--${boundary}--\r\n`;

  const answer = await raw(stack.config.ports.s3, {
    method: 'POST',
    path: `/${BUCKET}`,
    headers: {
      host: host(stack.config.ports.s3),
      origin: EVIL_ORIGIN,
      'content-type': `multipart/form-data; boundary=${boundary}`,
    },
    body,
  });

  expect(answer.status).toBe(403);
  expectNoCors(answer);
  expect(await objectExists(key)).toBe(false);
});

test('an unsigned SendMessage to the local SQS is refused and queues nothing', async () => {
  const queueUrl = await stack.queueUrl(TRANSFER_QUEUE);
  const depth = await stack.queueDepth();
  const port = stack.config.ports.sqs;
  const job = JSON.stringify({ recordingSid: newRecordingSid(), callSid: newCallSid(), accountSid: ACCOUNT_SID });

  const json = await raw(port, {
    method: 'POST',
    headers: {
      host: host(port),
      'content-type': 'application/x-amz-json-1.0',
      'x-amz-target': 'AmazonSQS.SendMessage',
    },
    body: JSON.stringify({ QueueUrl: queueUrl, MessageBody: job }),
  });
  const form = await raw(port, {
    method: 'POST',
    headers: { host: host(port), origin: EVIL_ORIGIN, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ Action: 'SendMessage', QueueUrl: queueUrl, MessageBody: job }).toString(),
  });

  expect(json.status).toBe(403);
  expect(form.status).toBe(403);
  expectNoCors(form);
  expect(await stack.queueDepth()).toBe(depth);
});

test('SDK clients signing with the local credentials work against every emulator', async () => {
  const key = `probe/${randomBytes(6).toString('hex')}.mp3`;
  await storeObject(key, 'mine', 'audio/mpeg');

  expect(await stack.objectBytes(key)).toEqual(Buffer.from('mine'));
  expect(await stack.ddb.send(new GetCommand({ TableName: 'calls', Key: { callId: 'nobody' } }))).toMatchObject({
    $metadata: { httpStatusCode: 200 },
  });
  const { Attributes } = await stack.sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: await stack.queueUrl(TRANSFER_QUEUE), AttributeNames: ['QueueArn'] }),
  );
  expect(Attributes?.QueueArn).toContain(TRANSFER_QUEUE);
});

test('the presigned playback URL the API hands out plays, with nosniff; tampered or foreign-host URLs do not', async () => {
  const callId = `call-${randomBytes(6).toString('hex')}`;
  const callSid = newCallSid();
  const recordingSid = newRecordingSid();
  await stack.putCall({ callId, twilioCallSid: callSid });
  const audio = stub.addRecording({ sid: recordingSid, size: 64 * 1024 }).media;
  expect((await stack.postCallback(callbackParams({ accountSid: ACCOUNT_SID, callSid, recordingSid }))).status).toBe(
    204,
  );
  await stack.waitForEntry(callId, recordingSid, 'stored', 60_000);

  const playback = await stack.playback(callId);
  expect(playback.status).toBe(200);
  const url = new URL((playback.json as PlaybackBody).url);
  const played = await fetch(url, { signal: AbortSignal.timeout(15_000) });
  const bytes = Buffer.from(await played.arrayBuffer());

  expect(played.status).toBe(200);
  expect(played.headers.get('x-content-type-options')).toBe('nosniff');
  expect(played.headers.get('access-control-allow-origin')).toBeNull();
  expect(bytes.equals(audio)).toBe(true);

  const tampered = new URL(url);
  tampered.pathname = tampered.pathname.replace(recordingSid, newRecordingSid());
  expect((await download(tampered.toString())).status).toBe(403);
  const path = `${url.pathname}${url.search}`;
  expect((await raw(Number(url.port), { path, headers: { host: `evil.example:${url.port}` } })).status).toBe(403);
}, 90_000);

test('the data directory is owner-only (0700), whatever its mode was, and nothing in it is readable by others', async () => {
  const dir = stack.config.dataDir;
  expect((await stat(dir)).mode & 0o777).toBe(0o700);

  const open: string[] = [];
  const walk = async (path: string): Promise<void> => {
    for (const entry of await readdir(path, { withFileTypes: true })) {
      const full = join(path, entry.name);
      const mode = (await stat(full)).mode & 0o777;
      if (mode & 0o077) open.push(`${full.slice(dir.length)} ${mode.toString(8)}`);
      if (entry.isDirectory()) await walk(full);
    }
  };
  await walk(dir);
  expect(open).toEqual([]);
});
