/**
 * 1. Webhook acknowledgement.
 *  a. The handler alone, mocked clients (static tokens, an SQS client that answers at once):
 *     µs per callback, against twilio's validateRequest alone on the same callback (the
 *     irreducible work: one HMAC-SHA1 over the URL and parameters).
 *  b. Signed callbacks through the local stack (`bin/local.ts`, its own process with its embedded
 *     emulators, the transfer worker fetching a 4 KiB recording from a stub Twilio) at concurrency
 *     1 and 25; p50/p99 against a do-nothing HTTP server (another process on the same machine)
 *     with the same client. Target: p99 within 2× of the do-nothing server at concurrency 25.
 */
import { type ChildProcess, fork, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { SQSClient } from '@aws-sdk/client-sqs';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { getExpectedTwilioSignature, validateRequest } from 'twilio/lib/webhooks/webhooks';
import { staticTokens } from '../../lambda/shared/twilio/signature';
import { createWebhookHandler } from '../../lambda/webhook/handler';
import { recordingCallbackParams } from '../helpers/twilio-fixtures';
import { type Figure, figure, fmt, percentile, printFigure, runBench, type Stats, stats } from './lib/report';

const ROOT = resolve(__dirname, '..', '..');
const ACCOUNT_SID = `AC${'a'.repeat(32)}`;
const AUTH_TOKEN = 'bench-webhook-auth-token';
const CALL_SID = `CA${'1'.repeat(32)}`;

const HANDLER_ROUNDS = 7;
const HANDLER_CALLS_PER_ROUND = Number(process.env.BENCH_HANDLER_CALLS ?? 4000);
const STACK_ROUNDS = Number(process.env.BENCH_STACK_ROUNDS ?? 3);
const STACK_REQUESTS: Record<number, number> = { 1: 200, 25: 1000 };
const CONCURRENCY = [1, 25];
const READY_TIMEOUT_MS = 120_000;

let serial = 0;
/** A full `completed` callback (the tests' fixture), each with a RecordingSid of its own. */
function callbackParams(): Record<string, string> {
  serial++;
  return recordingCallbackParams({
    accountSid: ACCOUNT_SID,
    callSid: CALL_SID,
    recordingSid: `RE${serial.toString(16).padStart(32, '0')}`,
  });
}

/* ------------------------------------------------------------------------------------------
 * a. The handler alone
 * ---------------------------------------------------------------------------------------- */

async function handlerAlone(): Promise<Figure> {
  // Logs and EMF metrics go nowhere: the figure is the handler's work, not stdout's.
  process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
  process.env.POWERTOOLS_METRICS_DISABLED = 'true';
  let sent = 0;
  const sqs = {
    send: async () => {
      sent++;
      return { MessageId: String(sent) };
    },
  } as unknown as SQSClient;
  const handler = createWebhookHandler({
    config: { accountSid: ACCOUNT_SID, publicBaseUrl: undefined, transferQueueUrl: 'https://sqs.local/q' },
    tokens: staticTokens(AUTH_TOKEN),
    sqs,
  });
  const host = 'abc123.execute-api.us-east-1.amazonaws.com';
  const url = `https://${host}/twilio/recording`;
  const events = Array.from({ length: 512 }, () => {
    const params = callbackParams();
    const body = new URLSearchParams(params).toString();
    const event = {
      version: '2.0',
      routeKey: 'POST /twilio/recording',
      rawPath: '/twilio/recording',
      rawQueryString: '',
      headers: {
        host,
        'content-type': 'application/x-www-form-urlencoded',
        'x-twilio-signature': getExpectedTwilioSignature(AUTH_TOKEN, url, params),
        'x-forwarded-proto': 'https',
        'i-twilio-idempotency-token': `token-${serial}`,
      },
      requestContext: { domainName: host, stage: '$default', http: { method: 'POST', path: '/twilio/recording' } },
      body,
      isBase64Encoded: false,
    } as unknown as APIGatewayProxyEventV2;
    return { event, params, signature: event.headers['x-twilio-signature'] as string };
  });

  const run = async (calls: number): Promise<number> => {
    const started = process.hrtime.bigint();
    for (let i = 0; i < calls; i++) {
      const response = await handler(events[i % events.length]?.event as APIGatewayProxyEventV2);
      if (response.statusCode !== 204) throw new Error(`handler answered ${response.statusCode}: ${response.body}`);
    }
    return Number(process.hrtime.bigint() - started) / 1e3 / calls;
  };
  const baselineRun = async (calls: number): Promise<number> => {
    const started = process.hrtime.bigint();
    for (let i = 0; i < calls; i++) {
      const e = events[i % events.length];
      if (!e || !validateRequest(AUTH_TOKEN, e.signature, url, e.params)) throw new Error('signature did not validate');
      await Promise.resolve();
    }
    return Number(process.hrtime.bigint() - started) / 1e3 / calls;
  };
  await run(1000);
  await baselineRun(1000);
  const value: number[] = [];
  const baseline: number[] = [];
  for (let r = 0; r < HANDLER_ROUNDS; r++) {
    value.push(await run(HANDLER_CALLS_PER_ROUND));
    baseline.push(await baselineRun(HANDLER_CALLS_PER_ROUND));
  }
  const f = figure({
    bench: 'webhook',
    name: 'handler alone, mocked clients',
    unit: 'µs/callback',
    value: stats(value),
    baselineName: "twilio validateRequest alone (the signature check's HMAC)",
    baseline: stats(baseline),
    notes: `${HANDLER_ROUNDS} rounds × ${HANDLER_CALLS_PER_ROUND} callbacks; logs and metrics silenced; ${sent} jobs sent to the mock`,
  });
  printFigure(f);
  return f;
}

/* ------------------------------------------------------------------------------------------
 * b. Through the local stack
 * ---------------------------------------------------------------------------------------- */

function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolvePort(port));
    });
  });
}

function stopChild(child: ChildProcess, timeoutMs = 15_000): Promise<void> {
  return new Promise((done) => {
    if (child.exitCode !== null || child.signalCode !== null) {
      done();
      return;
    }
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('exit', () => {
      clearTimeout(timer);
      done();
    });
    child.kill('SIGTERM');
  });
}

interface Target {
  readonly name: string;
  readonly port: number;
}

interface Signed {
  readonly body: string;
  readonly signature: string;
}

function signedCallbacks(port: number, count: number): Signed[] {
  const url = `http://127.0.0.1:${port}/twilio/recording`;
  return Array.from({ length: count }, () => {
    const params = callbackParams();
    return {
      body: new URLSearchParams(params).toString(),
      signature: getExpectedTwilioSignature(AUTH_TOKEN, url, params),
    };
  });
}

/** One POST; resolves with the latency in ms (request start to the end of the answer). */
function post(agent: Agent, port: number, callback: Signed): Promise<{ ms: number; status: number }> {
  return new Promise((done, fail) => {
    const started = process.hrtime.bigint();
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path: '/twilio/recording',
        method: 'POST',
        agent,
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          'content-length': Buffer.byteLength(callback.body),
          'x-twilio-signature': callback.signature,
        },
      },
      (res) => {
        res.resume();
        res.on('end', () => done({ ms: Number(process.hrtime.bigint() - started) / 1e6, status: res.statusCode ?? 0 }));
      },
    );
    req.on('error', fail);
    req.end(callback.body);
  });
}

/** `count` callbacks from `concurrency` workers, each sending its next one when the last is answered. */
async function load(
  target: Target,
  concurrency: number,
  count: number,
): Promise<{ latencies: number[]; errors: number; statuses: Record<number, number> }> {
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  const callbacks = signedCallbacks(target.port, count);
  const latencies: number[] = [];
  const statuses: Record<number, number> = {};
  let next = 0;
  let errors = 0;
  const worker = async () => {
    while (next < callbacks.length) {
      const callback = callbacks[next++] as Signed;
      const { ms, status } = await post(agent, target.port, callback);
      statuses[status] = (statuses[status] ?? 0) + 1;
      if (status !== 204) errors++;
      latencies.push(ms);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  agent.destroy();
  return { latencies, errors, statuses };
}

function startWebhookServers(): Promise<{ child: ChildProcess; nothingPort: number; twilioPort: number }> {
  const child = fork(join(__dirname, 'lib', 'webhook-servers.ts'), [], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  return new Promise((done, fail) => {
    child.once('error', fail);
    child.once('message', (m: { nothingPort: number; twilioPort: number }) => done({ child, ...m }));
  });
}

async function startLocalStack(twilioPort: number): Promise<{ child: ChildProcess; port: number; dataDir: string }> {
  const [port, dynamodbPort, s3Port, sqsPort] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
  const dataDir = mkdtempSync(join(tmpdir(), 'rv-bench-local-'));
  const env: NodeJS.ProcessEnv = { ...process.env };
  // Embedded emulators, and the handlers' logs and metrics as `npm start` has them.
  for (const name of Object.keys(env)) {
    if (name.startsWith('AWS_ENDPOINT_URL') || name.startsWith('POWERTOOLS_')) delete env[name];
  }
  Object.assign(env, {
    TWILIO_ACCOUNT_SID: ACCOUNT_SID,
    TWILIO_AUTH_TOKEN: AUTH_TOKEN,
    TWILIO_API_BASE_URL: `http://127.0.0.1:${twilioPort}`,
    PORT: String(port),
    DYNAMODB_PORT: String(dynamodbPort),
    S3_PORT: String(s3Port),
    SQS_PORT: String(sqsPort),
    LOCAL_DATA_DIR: dataDir,
    LOCAL_API_TOKEN: 'bench-local-api-token',
    TRANSFER_RETRY_BASE_SECONDS: '1',
  });
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'bin', 'local.ts')], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
  });
  await new Promise<void>((done, fail) => {
    const timer = setTimeout(
      () => fail(new Error(`local stack not ready in ${READY_TIMEOUT_MS / 1000} s`)),
      READY_TIMEOUT_MS,
    );
    let out = '';
    const onData = (d: Buffer) => {
      out += d.toString();
      if (/\bready\b/i.test(out)) {
        clearTimeout(timer);
        done();
      }
      out = out.slice(-2000);
    };
    child.stdout?.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      fail(new Error(`local stack exited (${code}) before ready: ${stderr}`));
    });
  });
  child.removeAllListeners('exit');
  // Keep draining its output so it never blocks on a full pipe.
  child.stdout?.resume();
  return { child, port, dataDir };
}

interface RoundFigures {
  p50: number[];
  p99: number[];
  errors: number;
  statuses: Record<number, number>;
}

async function throughLocalStack(): Promise<{ figures: Figure[]; skipped?: string; details: unknown }> {
  const local = join(ROOT, 'bin', 'local.ts');
  if (!existsSync(local)) {
    console.log('  local stack: bin/local.ts not found, skipped');
    return { figures: [], skipped: 'bin/local.ts not found', details: {} };
  }
  const servers = await startWebhookServers();
  let stack: Awaited<ReturnType<typeof startLocalStack>> | undefined;
  try {
    const startedAt = Date.now();
    stack = await startLocalStack(servers.twilioPort);
    console.log(`  local stack ready in ${fmt((Date.now() - startedAt) / 1000, 1)} s (port ${stack.port})`);
    const targets: Target[] = [
      { name: 'local stack', port: stack.port },
      { name: 'do-nothing server', port: servers.nothingPort },
    ];
    // Warm both (JIT, emulator tables, connections).
    for (const t of targets) await load(t, 5, 100);
    const results = new Map<string, RoundFigures>();
    for (const c of CONCURRENCY)
      for (const t of targets) results.set(`${t.name}@${c}`, { p50: [], p99: [], errors: 0, statuses: {} });
    for (let round = 0; round < STACK_ROUNDS; round++) {
      for (const c of CONCURRENCY) {
        for (const t of round % 2 === 0 ? targets : [...targets].reverse()) {
          const r = await load(t, c, STACK_REQUESTS[c] ?? 500);
          const entry = results.get(`${t.name}@${c}`) as RoundFigures;
          entry.p50.push(percentile(r.latencies, 0.5));
          entry.p99.push(percentile(r.latencies, 0.99));
          entry.errors += r.errors;
          for (const [s, n] of Object.entries(r.statuses))
            entry.statuses[Number(s)] = (entry.statuses[Number(s)] ?? 0) + n;
        }
      }
    }
    const figures: Figure[] = [];
    for (const c of CONCURRENCY) {
      const mine = results.get(`local stack@${c}`) as RoundFigures;
      const base = results.get(`do-nothing server@${c}`) as RoundFigures;
      for (const q of ['p50', 'p99'] as const) {
        const value: Stats = stats(mine[q]);
        const baseline: Stats = stats(base[q]);
        const withTarget = c === 25 && q === 'p99';
        const f = figure({
          bench: 'webhook',
          name: `local stack ${q}, concurrency ${c}`,
          unit: 'ms',
          value,
          baselineName: 'do-nothing HTTP server, same client',
          baseline,
          ...(withTarget ? { target: '≤ 2× baseline', met: value.median / baseline.median <= 2 } : {}),
          notes: `${STACK_ROUNDS} rounds × ${STACK_REQUESTS[c]} callbacks; answers ${JSON.stringify(mine.statuses)}${
            mine.errors > 0 ? ` (${mine.errors} not 204)` : ''
          }`,
        });
        printFigure(f);
        figures.push(f);
      }
    }
    return { figures, details: { rounds: Object.fromEntries(results) } };
  } finally {
    if (stack) {
      await stopChild(stack.child);
      rmSync(stack.dataDir, { recursive: true, force: true });
    }
    await stopChild(servers.child);
  }
}

runBench('webhook', '1. Webhook acknowledgement', async () => {
  const figures: Figure[] = [await handlerAlone()];
  // A local stack that cannot start costs its figures, not the handler's: report it as skipped.
  const viaStack = await throughLocalStack().catch((error: unknown) => {
    const reason = error instanceof Error ? error.message : String(error);
    console.log(`  local stack: could not run (${reason})`);
    return { figures: [] as Figure[], skipped: `could not run: ${reason}`, details: {} };
  });
  figures.push(...viaStack.figures);
  return {
    figures,
    details: viaStack.details,
    ...(viaStack.skipped === undefined ? {} : { skipped: `local stack: ${viaStack.skipped}` }),
  };
});
