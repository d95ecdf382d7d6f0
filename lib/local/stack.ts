/**
 * The local stack as a library: emulators (unless external endpoints are given), resources,
 * the API gateway with the real handlers, and the transfer worker. `bin/local.ts` is a thin
 * CLI over `startLocalStack`; tests and benchmarks may import it too.
 *
 * Threads (./thread.ts): the gateway and its handlers on the main thread; fauxqs with its journal
 * on one worker thread; dynalite and s3rver on another, and the transfer worker on a third, both
 * at a lower CPU priority, so that webhooks are answered first when the cores are busy.
 */

import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { clientOverrides, type EmulatedService } from '../../lambda/shared/runtime/endpoints';
import { formatReadableLine } from '../../lambda/shared/runtime/readable-log';
import { withConnectionOverrides } from '../../lambda/shared/twilio/connection-overrides';
import { apiRoutes } from './api-routes';
import { BUCKET_NAME, type Env, LOOPBACK, type LocalConfig, loadLocalConfig, REGION, TABLE_NAME } from './config';
import { ownerOnlyDir, storedApiToken } from './data-dir';
import { embeddedCredentials } from './emulator-front';
import { type EmulatorEndpoints, type EmulatorPlan, type EmulatorThread, startEmulatorThread } from './emulator-thread';
import { type Gateway, startGateway } from './gateway';
import { nextSteps, retentionLine } from './next-steps';
import { assertPortsFree } from './ports';
import { probeRoutes } from './probe';
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
  /** End the start-up lines with what to do next (console, curl, status, stop). Default true. */
  readonly nextSteps?: boolean;
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

const LEVELS: Record<string, number> = { info: 12, warn: 16, error: 20 };

function stderrLog(level: string, message: string, extra?: Record<string, unknown>): void {
  if (process.env.LOG_FORMAT === 'pretty') {
    const record = { timestamp: new Date().toISOString(), function: 'local', message, ...extra };
    process.stderr.write(`${formatReadableLine(LEVELS[level] ?? 12, record)}\n`);
    return;
  }
  process.stderr.write(`${JSON.stringify({ level: level.toUpperCase(), source: 'local-stack', message, ...extra })}\n`);
}

type Log = NonNullable<LocalStackOptions['log']>;

/**
 * The composition root, in the order the parts depend on each other: ports, emulators, clients,
 * resources, the API, readiness, the transfer worker (with the reconciler's schedule).
 */
export async function startLocalStack(options: LocalStackOptions = {}): Promise<LocalStack> {
  const started = Date.now();
  const loaded = options.config ?? loadLocalConfig(options.env ?? process.env);
  ownerOnlyDir(loaded.dataDir);
  // A generated token is kept in the data directory: the same one after a restart.
  const config: LocalConfig = loaded.apiTokenGenerated
    ? Object.freeze({ ...loaded, apiToken: storedApiToken(loaded.dataDir) })
    : loaded;
  const print = options.print ?? (() => undefined);
  const log = options.log ?? stderrLog;
  const onCrash = (error: Error) => {
    log('error', 'A thread of the local stack stopped', { error: error.message });
    // As when everything ran on this thread: a part that dies takes the process with it.
    process.nextTick(() => {
      throw error;
    });
  };

  await assertPortsFree(LOOPBACK, portsToClaim(config));
  const emulators = await startEmulators(config, onCrash);
  try {
    const clientEnv: Env = {
      ...process.env,
      ...(options.env ?? {}),
      AWS_REGION: process.env.AWS_REGION ?? REGION,
      AWS_ENDPOINT_URL_DYNAMODB: emulators.endpoints.dynamodb,
      AWS_ENDPOINT_URL_S3: emulators.endpoints.s3,
      AWS_ENDPOINT_URL_SQS: emulators.endpoints.sqs,
    };
    const clients = connect(clientEnv, config);
    const queues = await createResources(config, clients, emulators.sqs, log);

    // The readiness probe's requests carry this, and the handlers do not log them.
    const quietToken = randomBytes(16).toString('hex');
    const gateway: Gateway = await startGateway({
      quietToken,
      host: LOOPBACK,
      port: config.port,
      region: REGION,
      routes: apiRoutes(config, queues, clients),
      onError: (error, routeKey) =>
        log('error', 'Handler failed', { routeKey, error: error instanceof Error ? error.message : String(error) }),
    });
    const apiUrl = gateway.url;
    // What to give Twilio: with the connection-override fragment in use, if any.
    const webhookUrl = withConnectionOverrides(
      `${config.publicBaseUrl ?? apiUrl}/twilio/recording`,
      config.connectionOverrides,
    );
    try {
      await probeRoutes(apiUrl, config.apiToken, undefined, quietToken);
    } catch (error) {
      await gateway.close(0);
      throw error;
    }

    printBanner(print, { config, apiUrl, webhookUrl, endpoints: emulators.endpoints, queues, worker: options.worker });
    const startupMs = Date.now() - started;
    print(`ready in ${startupMs} ms (every route answers)`);
    if (options.nextSteps !== false)
      for (const line of nextSteps(apiUrl, config.apiToken, new Date(), config)) print(line);

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
      endpoints: emulators.endpoints,
      queues,
      tableName: TABLE_NAME,
      bucketName: BUCKET_NAME,
      clients: { ddb: clients.ddb, s3: clients.s3, sqs: clients.sqs },
      startupMs,
      worker,
      stop(graceMs = 10_000) {
        stopping ??= (async () => {
          await gateway.close(graceMs);
          await worker?.stop(graceMs);
          for (const client of [clients.webhookSqs, clients.sqs, clients.s3, clients.ddb]) client.destroy();
          await emulators.stop();
        })();
        return stopping;
      },
    };
  } catch (error) {
    await emulators.stop();
    throw error;
  }
}

/** The ports this configuration listens on; a taken one fails the start before anything runs. */
function portsToClaim(config: LocalConfig): { port: number; what: string }[] {
  const ports = [{ port: config.port, what: 'API' }];
  if (!config.dynamodbEndpoint) ports.push({ port: config.dynamodbPort, what: 'DynamoDB emulator' });
  if (!config.s3Endpoint) ports.push({ port: config.s3Port, what: 'S3 emulator' });
  if (!config.sqsEndpoint) ports.push({ port: config.sqsPort, what: 'SQS emulator' });
  return ports;
}

interface RunningEmulators {
  readonly endpoints: { readonly dynamodb: string; readonly s3: string; readonly sqs: string };
  /** The SQS emulator's thread, when it is embedded (its journal is replayed at start). */
  readonly sqs: EmulatorThread | undefined;
  stop(): Promise<void>;
}

/**
 * The embedded emulators, except where an external endpoint is configured. Two threads besides
 * the gateway's: SQS (the webhook waits on it), and DynamoDB with S3, which only the transfers and
 * the API use, at the transfer thread's lower CPU priority.
 */
async function startEmulators(config: LocalConfig, onCrash: (error: Error) => void): Promise<RunningEmulators> {
  const dirs = {
    dynamodb: join(config.dataDir, 'dynamodb'),
    s3: join(config.dataDir, 's3'),
    sqs: join(config.dataDir, 'sqs'),
  };
  for (const dir of Object.values(dirs)) ownerOnlyDir(dir);
  const storage: EmulatorPlan = {
    ...(config.dynamodbEndpoint ? {} : { dynamodb: { port: config.dynamodbPort, dir: dirs.dynamodb } }),
    ...(config.s3Endpoint ? {} : { s3: { port: config.s3Port, dir: dirs.s3, buckets: [BUCKET_NAME] } }),
  };
  const queueing: EmulatorPlan = config.sqsEndpoint ? {} : { sqs: { port: config.sqsPort, dir: dirs.sqs } };
  // allSettled: a failure of one must not leave the other running unseen.
  const settled = await Promise.allSettled([
    storage.dynamodb || storage.s3 ? startEmulatorThread(storage, { onCrash, nice: TRANSFER_THREAD_NICE }) : undefined,
    queueing.sqs ? startEmulatorThread(queueing, { onCrash }) : undefined,
  ]);
  const threads = settled.flatMap((result) => (result.status === 'fulfilled' && result.value ? [result.value] : []));
  const stop = async () => {
    await Promise.allSettled(threads.splice(0).map((e) => e.stop()));
  };
  const failed = settled.find((result): result is PromiseRejectedResult => result.status === 'rejected');
  if (failed) {
    await stop();
    throw failed.reason;
  }
  const running = Object.assign({}, ...threads.map((e) => e.endpoints)) as EmulatorEndpoints;
  return {
    endpoints: {
      dynamodb: config.dynamodbEndpoint ?? running.dynamodb ?? '',
      s3: config.s3Endpoint ?? running.s3 ?? '',
      sqs: config.sqsEndpoint ?? running.sqs ?? '',
    },
    sqs: settled[1].status === 'fulfilled' ? settled[1].value : undefined,
    stop,
  };
}

interface StackClients {
  readonly ddb: DynamoDBClient;
  readonly docClient: DynamoDBDocumentClient;
  readonly s3: S3Client;
  /** The webhook's client: more attempts than the default, Twilio will not send the callback again. */
  readonly webhookSqs: SQSClient;
  /** For creating resources; the transfer thread has clients of its own. */
  readonly sqs: SQSClient;
}

/** Clients for the stack's endpoints, with the emulator settings the Lambdas use. */
function connect(clientEnv: Env, config: LocalConfig): StackClients {
  const settings = (service: EmulatedService) => ({
    region: clientEnv.AWS_REGION,
    ...clientOverrides(service, clientEnv),
    ...embeddedCredentials(service, config),
  });
  const ddb = new DynamoDBClient(settings('DYNAMODB'));
  return {
    ddb,
    docClient: DynamoDBDocumentClient.from(ddb, { marshallOptions: { removeUndefinedValues: true } }),
    s3: new S3Client(settings('S3')),
    webhookSqs: new SQSClient({ maxAttempts: 5, ...settings('SQS') }),
    sqs: new SQSClient(settings('SQS')),
  };
}

/** Tables, bucket and queues as the stack defines them, then the journal's jobs back on the queue. */
async function createResources(
  config: LocalConfig,
  clients: StackClients,
  sqsEmulator: EmulatorThread | undefined,
  log: Log,
): Promise<QueueUrls> {
  // allSettled: a failure of one must not close an emulator under another's request.
  const [tables, bucket, queued] = await Promise.allSettled([
    ensureTables(clients.ddb),
    ensureBucket(clients.s3),
    ensureQueues(clients.sqs, {
      maxReceiveCount: config.maxAttempts,
      visibilityTimeoutSeconds: config.visibilityTimeoutSeconds,
    }),
  ]);
  for (const result of [tables, bucket, queued]) if (result.status === 'rejected') throw result.reason;
  if (queued.status !== 'fulfilled') throw new Error('unreachable');
  if (sqsEmulator) {
    const { replayed, skipped } = await sqsEmulator.replay();
    if (replayed > 0 || skipped > 0) log('info', 'Replayed queued jobs from the SQS journal', { replayed, skipped });
  }
  return queued.value;
}

/** The start-up lines: where everything is, and the token. */
function printBanner(
  print: (line: string) => void,
  at: {
    readonly config: LocalConfig;
    readonly apiUrl: string;
    readonly webhookUrl: string;
    readonly endpoints: RunningEmulators['endpoints'];
    readonly queues: QueueUrls;
    readonly worker: boolean | undefined;
  },
): void {
  const { config, endpoints } = at;
  print(`API: ${at.apiUrl}`);
  print(`Webhook (give this URL to Twilio): ${at.webhookUrl}`);
  print(`DynamoDB: ${endpoints.dynamodb}${config.dynamodbEndpoint ? ' (external)' : ''}`);
  print(`S3: ${endpoints.s3}${config.s3Endpoint ? ' (external)' : ''}`);
  print(`SQS: ${endpoints.sqs}${config.sqsEndpoint ? ' (external)' : ''}`);
  print(`Transfer queue: ${at.queues.queueUrl}`);
  print(
    config.reconcileIntervalSeconds > 0 && at.worker !== false
      ? `Reconciler: every ${config.reconcileIntervalSeconds} s, listing ${config.reconcileLookbackSeconds} s back, the last ${config.reconcileSettleSeconds} s left to callbacks`
      : 'Reconciler: off',
  );
  if (config.retentionDays !== undefined && at.worker !== false) {
    print(retentionLine(config.retentionDays, config.retentionSweepSeconds, config.retentionDaysBySource));
  }
  print(`Console: ${at.apiUrl}/#token=${encodeURIComponent(config.apiToken)}`);
  print(`LOCAL_API_TOKEN=${config.apiToken}`);
}
