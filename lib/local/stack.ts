/**
 * The local stack as a library: emulators (unless external endpoints are given), resources,
 * the API gateway with the real handlers, and the transfer worker. `bin/local.ts` is a thin
 * CLI over `startLocalStack`; tests and benchmarks may import it too.
 *
 * Threads (./thread.ts): the gateway and its handlers on the main thread; fauxqs with its journal
 * on one worker thread; dynalite and s3rver on another, and the transfer worker on a third, both
 * at a lower CPU priority, so that webhooks are answered first when the cores are busy.
 */
import { mkdirSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { createPlaybackHandler } from '../../lambda/playback-url/handler';
import { createErasureHandler } from '../../lambda/recording-erasure/handler';
import { createWebhookHandler } from '../../lambda/recording-webhook/handler';
import { clientOverrides, type EmulatedService } from '../../lambda/shared/endpoints';
import { fileEventPublisher } from '../../lambda/shared/events';
import { staticTokens } from '../../lambda/shared/twilio-signature';
import {
  BUCKET_NAME,
  type Env,
  EVENTS_FILE,
  LEDGER_DAY_INDEX,
  LEDGER_TABLE_NAME,
  LOOPBACK,
  type LocalConfig,
  loadLocalConfig,
  REGION,
  TABLE_NAME,
} from './config';
import { type EmulatorEndpoints, type EmulatorPlan, type EmulatorThread, startEmulatorThread } from './emulator-thread';
import { type Gateway, startGateway } from './gateway';
import { assertPortsFree } from './ports';
import { ensureBucket, ensureQueues, ensureTables, type QueueUrls } from './resources';
import { startTransferThread, TRANSFER_THREAD_NICE } from './transfer-thread';
import type { Worker } from './worker';

export interface LocalStackOptions {
  /** Environment to read the configuration from (default `process.env`). */
  readonly env?: Env;
  /** Or a configuration already loaded (takes precedence over `env`). */
  readonly config?: LocalConfig;
  /** The start-up lines (URLs, token, ready). Default: none. */
  readonly print?: (line: string) => void;
  /** Diagnostics of the stack itself (not the handlers' logs). Default: stderr. */
  readonly log?: (level: 'info' | 'warn' | 'error', message: string, extra?: Record<string, unknown>) => void;
  /** Start the transfer worker (default true). */
  readonly worker?: boolean;
}

export interface LocalStack {
  readonly config: LocalConfig;
  readonly apiUrl: string;
  readonly webhookUrl: string;
  readonly apiToken: string;
  readonly endpoints: { readonly dynamodb: string; readonly s3: string; readonly sqs: string };
  readonly queues: QueueUrls;
  readonly tableName: string;
  readonly bucketName: string;
  /** Clients configured for the stack's endpoints (for tests, seeding, benchmarks). */
  readonly clients: { readonly ddb: DynamoDBClient; readonly s3: S3Client; readonly sqs: SQSClient };
  /** Milliseconds from the call to `ready`. */
  readonly startupMs: number;
  readonly worker: Worker | undefined;
  /** Stops accepting requests, lets in-flight work finish (up to `graceMs`), closes the emulators. */
  stop(graceMs?: number): Promise<void>;
}

function stderrLog(level: string, message: string, extra?: Record<string, unknown>): void {
  process.stderr.write(`${JSON.stringify({ level: level.toUpperCase(), source: 'local-stack', message, ...extra })}\n`);
}

export async function startLocalStack(options: LocalStackOptions = {}): Promise<LocalStack> {
  const started = Date.now();
  const config = options.config ?? loadLocalConfig(options.env ?? process.env);
  const print = options.print ?? (() => undefined);
  const log = options.log ?? stderrLog;

  // Fail fast on a taken port, before anything starts.
  const ports = [{ port: config.port, what: 'API' }];
  if (!config.dynamodbEndpoint) ports.push({ port: config.dynamodbPort, what: 'DynamoDB emulator' });
  if (!config.s3Endpoint) ports.push({ port: config.s3Port, what: 'S3 emulator' });
  if (!config.sqsEndpoint) ports.push({ port: config.sqsPort, what: 'SQS emulator' });
  await assertPortsFree(LOOPBACK, ports);

  // Two threads besides the gateway's: SQS (the webhook waits on it), and DynamoDB with S3, which
  // only the transfers and playback use, at the transfer thread's lower CPU priority.
  const emulators: EmulatorThread[] = [];
  const stopEmulators = async () => {
    await Promise.allSettled(emulators.splice(0).map((e) => e.stop()));
  };
  const onCrash = (error: Error) => {
    log('error', 'A thread of the local stack stopped', { error: error.message });
    // As when everything ran on this thread: a part that dies takes the process with it.
    process.nextTick(() => {
      throw error;
    });
  };

  try {
    const dirs = {
      dynamodb: join(config.dataDir, 'dynamodb'),
      s3: join(config.dataDir, 's3'),
      sqs: join(config.dataDir, 'sqs'),
    };
    for (const dir of Object.values(dirs)) mkdirSync(dir, { recursive: true });

    const storage: EmulatorPlan = {
      ...(config.dynamodbEndpoint ? {} : { dynamodb: { port: config.dynamodbPort, dir: dirs.dynamodb } }),
      ...(config.s3Endpoint ? {} : { s3: { port: config.s3Port, dir: dirs.s3, buckets: [BUCKET_NAME] } }),
    };
    const queueing: EmulatorPlan = config.sqsEndpoint ? {} : { sqs: { port: config.sqsPort, dir: dirs.sqs } };
    // allSettled: a failure of one must not leave the other running unseen.
    const settled = await Promise.allSettled([
      storage.dynamodb || storage.s3
        ? startEmulatorThread(storage, { onCrash, nice: TRANSFER_THREAD_NICE })
        : undefined,
      queueing.sqs ? startEmulatorThread(queueing, { onCrash }) : undefined,
    ]);
    for (const result of settled) if (result.status === 'fulfilled' && result.value) emulators.push(result.value);
    const failed = settled.find((result): result is PromiseRejectedResult => result.status === 'rejected');
    if (failed) throw failed.reason;
    const sqsEmulator = settled[1].status === 'fulfilled' ? settled[1].value : undefined;
    const running = Object.assign({}, ...emulators.map((e) => e.endpoints)) as EmulatorEndpoints;

    const endpoints = {
      dynamodb: config.dynamodbEndpoint ?? running.dynamodb ?? '',
      s3: config.s3Endpoint ?? running.s3 ?? '',
      sqs: config.sqsEndpoint ?? running.sqs ?? '',
    };
    const clientEnv: Env = {
      ...process.env,
      ...(options.env ?? {}),
      AWS_REGION: process.env.AWS_REGION ?? REGION,
      AWS_ENDPOINT_URL_DYNAMODB: endpoints.dynamodb,
      AWS_ENDPOINT_URL_S3: endpoints.s3,
      AWS_ENDPOINT_URL_SQS: endpoints.sqs,
    };
    const settings = (service: EmulatedService) => ({
      region: clientEnv.AWS_REGION,
      ...clientOverrides(service, clientEnv),
    });

    const ddb = new DynamoDBClient(settings('DYNAMODB'));
    const docClient = DynamoDBDocumentClient.from(ddb, { marshallOptions: { removeUndefinedValues: true } });
    const s3 = new S3Client(settings('S3'));
    // The webhook's client: more attempts than the default, Twilio will not send the callback again.
    const webhookSqs = new SQSClient({ maxAttempts: 5, ...settings('SQS') });
    // Resources; the transfer thread has its own clients.
    const sqs = new SQSClient(settings('SQS'));

    // allSettled: a failure of one must not close an emulator under another's request.
    const [table, bucket, queued] = await Promise.allSettled([
      ensureTables(ddb),
      ensureBucket(s3),
      ensureQueues(sqs, {
        maxReceiveCount: config.maxAttempts,
        visibilityTimeoutSeconds: config.visibilityTimeoutSeconds,
      }),
    ]);
    for (const result of [table, bucket, queued]) if (result.status === 'rejected') throw result.reason;
    if (queued.status !== 'fulfilled') throw new Error('unreachable');
    const queues = queued.value;
    if (sqsEmulator) {
      const { replayed, skipped } = await sqsEmulator.replay();
      if (replayed > 0 || skipped > 0) log('info', 'Replayed queued jobs from the SQS journal', { replayed, skipped });
    }

    const tokens = staticTokens(config.authToken, config.authTokenSecondary);
    const webhook = createWebhookHandler({
      config: {
        accountSid: config.accountSid,
        publicBaseUrl: config.publicBaseUrl,
        transferQueueUrl: queues.queueUrl,
      },
      tokens,
      sqs: webhookSqs,
    });
    const playback = createPlaybackHandler({
      config: { bucketName: BUCKET_NAME, tableName: TABLE_NAME, urlTtlSeconds: config.playbackUrlTtlSeconds },
      listing: { ledgerTableName: LEDGER_TABLE_NAME, ledgerDayIndexName: LEDGER_DAY_INDEX },
      s3,
      ddb: docClient,
    });
    // Behind the bearer token like every non-webhook route; the caller is recorded as `local`.
    const erasure = createErasureHandler({
      config: {
        accountSid: config.accountSid,
        bucketName: BUCKET_NAME,
        tableName: TABLE_NAME,
        ledgerTableName: LEDGER_TABLE_NAME,
        eventBusName: 'local',
        twilioApiBaseUrl: config.twilioApiBaseUrl,
      },
      tokens,
      s3,
      ddb: docClient,
      events: fileEventPublisher(join(config.dataDir, EVENTS_FILE)),
      defaultPrincipal: 'local',
    });
    const gateway: Gateway = await startGateway({
      host: LOOPBACK,
      port: config.port,
      region: REGION,
      routes: [
        { method: 'POST', path: '/twilio/recording', handler: webhook, functionName: 'recording-webhook' },
        {
          method: 'GET',
          path: '/calls/{callId}/recording',
          handler: playback,
          functionName: 'playback-url',
          bearerToken: config.apiToken,
        },
        {
          method: 'GET',
          path: '/calls/{callId}/recordings',
          handler: playback,
          functionName: 'playback-url',
          bearerToken: config.apiToken,
        },
        {
          method: 'GET',
          path: '/recordings',
          handler: playback,
          functionName: 'playback-url',
          bearerToken: config.apiToken,
        },
        {
          method: 'DELETE',
          path: '/calls/{callId}/recordings/{recordingSid}',
          handler: erasure,
          functionName: 'recording-erasure',
          bearerToken: config.apiToken,
        },
      ],
      onError: (error, routeKey) =>
        log('error', 'Handler failed', { routeKey, error: error instanceof Error ? error.message : String(error) }),
    });

    const apiUrl = gateway.url;
    const webhookUrl = `${config.publicBaseUrl ?? apiUrl}/twilio/recording`;
    try {
      await probeRoutes(apiUrl, config.apiToken);
    } catch (error) {
      await gateway.close(0);
      throw error;
    }

    print(`API: ${apiUrl}`);
    print(`Webhook (give this URL to Twilio): ${webhookUrl}`);
    print(`DynamoDB: ${endpoints.dynamodb}${config.dynamodbEndpoint ? ' (external)' : ''}`);
    print(`S3: ${endpoints.s3}${config.s3Endpoint ? ' (external)' : ''}`);
    print(`SQS: ${endpoints.sqs}${config.sqsEndpoint ? ' (external)' : ''}`);
    print(`Transfer queue: ${queues.queueUrl}`);
    print(
      config.reconcileIntervalSeconds > 0 && options.worker !== false
        ? `Reconciler: every ${config.reconcileIntervalSeconds} s, listing ${config.reconcileLookbackSeconds} s back, the last ${config.reconcileSettleSeconds} s left to callbacks`
        : 'Reconciler: off',
    );
    print(`LOCAL_API_TOKEN=${config.apiToken}`);
    const startupMs = Date.now() - started;
    print(`ready in ${startupMs} ms (every route answers)`);

    let worker: Worker | undefined;
    if (options.worker !== false) {
      try {
        worker = await startTransferThread({ config, clientEnv, queues }, { onCrash, log });
      } catch (error) {
        await gateway.close(0);
        throw error;
      }
    }

    let stopping: Promise<void> | undefined;
    return {
      config,
      apiUrl,
      webhookUrl,
      apiToken: config.apiToken,
      endpoints,
      queues,
      tableName: TABLE_NAME,
      bucketName: BUCKET_NAME,
      clients: { ddb, s3, sqs },
      startupMs,
      worker,
      stop(graceMs = 10_000) {
        stopping ??= (async () => {
          await gateway.close(graceMs);
          await worker?.stop(graceMs);
          for (const client of [webhookSqs, sqs, s3, ddb]) client.destroy();
          await stopEmulators();
        })();
        return stopping;
      },
    };
  } catch (error) {
    await stopEmulators();
    throw error;
  }
}

/** Every route answers through the whole path (gateway, handler, DynamoDB) before `ready`. */
async function probeRoutes(apiUrl: string, token: string, timeoutMs = 15_000): Promise<void> {
  const probes: Array<{ method: string; path: string; headers: Record<string, string>; expect: number }> = [
    {
      method: 'POST',
      path: '/twilio/recording',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'user-agent': 'local-stack-probe' },
      expect: 403, // unsigned: refused after the content checks
    },
    {
      method: 'GET',
      path: '/calls/local-stack-probe/recording',
      headers: { authorization: `Bearer ${token}`, 'user-agent': 'local-stack-probe' },
      expect: 404,
    },
    {
      method: 'GET',
      path: '/calls/local-stack-probe/recordings',
      headers: { authorization: `Bearer ${token}`, 'user-agent': 'local-stack-probe' },
      expect: 404,
    },
    {
      method: 'GET',
      path: '/recordings?from=2000-01-01&to=2000-01-02',
      headers: { authorization: `Bearer ${token}`, 'user-agent': 'local-stack-probe' },
      expect: 200, // an empty day of the ledger's index
    },
    {
      method: 'DELETE',
      path: '/calls/local-stack-probe/recordings/RE00000000000000000000000000000000',
      headers: { authorization: `Bearer ${token}`, 'user-agent': 'local-stack-probe' },
      expect: 404, // unknown call: read from DynamoDB, nothing touched
    },
  ];
  const deadline = Date.now() + timeoutMs;
  for (const probe of probes) {
    for (;;) {
      const status = await httpStatus(`${apiUrl}${probe.path}`, probe.method, probe.headers).catch(() => 0);
      if (status === probe.expect) break;
      if (Date.now() > deadline) {
        throw new Error(`${probe.method} ${probe.path} answered ${status || 'nothing'} (expected ${probe.expect})`);
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

function httpStatus(url: string, method: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers: { ...headers, connection: 'close' } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.setTimeout(5000, () => req.destroy(new Error('probe timed out')));
    req.end();
  });
}
