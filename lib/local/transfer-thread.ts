/**
 * The transfer worker (./worker.ts) and the transfer handler with its own clients, in a thread of
 * their own (see ./thread.ts) at a lower CPU priority: under a burst of webhooks the gateway's
 * thread answers first and the transfers catch up (their jobs wait durably in the queue), as on
 * AWS where the two Lambdas never share a CPU. The reconciler runs here too, on its schedule,
 * through the same handler as on AWS: it is background work that only feeds the transfer queue.
 */

import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { S3Client } from '@aws-sdk/client-s3';
import { SQSClient } from '@aws-sdk/client-sqs';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { createReconcilerHandler } from '../../lambda/reconciler/handler';
import { createRetentionHandler } from '../../lambda/retention/handler';
import {
  loadReconcilerConfig,
  loadRetentionConfig,
  loadTransferConfig,
} from '../../lambda/shared/config/function-config';
import { fileEventPublisher } from '../../lambda/shared/ledger/events';
import { vaultDocumentClient } from '../../lambda/shared/runtime/document-client';
import { clientOverrides, type EmulatedService } from '../../lambda/shared/runtime/endpoints';
import { staticTokens } from '../../lambda/shared/twilio/signature';
import { createTransferHandler } from '../../lambda/transfer/handler';
import { type Env, EVENTS_FILE, type LocalConfig, REGION } from './config';
import { embeddedCredentials } from './emulator-front';
import { localFunctionEnvs, localSubaccountTokens } from './function-env';
import { lambdaContext } from './gateway';
import type { QueueUrls } from './resources';
import { isThreadEntry, type StackThreadOptions, serveThread, startThread } from './thread';
import { addReleaseMiddleware, ReceiptRegistry, startWorker, type Worker } from './worker';

type Log = (level: 'info' | 'warn' | 'error', message: string, extra?: Record<string, unknown>) => void;
type Stats = ReturnType<Worker['stats']>;

interface TransferPlan {
  readonly config: LocalConfig;
  /** The environment the clients are configured from (endpoints included). */
  readonly clientEnv: Env;
  readonly queues: QueueUrls;
}

type TransferEvent = { readonly log: Parameters<Log> } | { readonly stats: Stats };

/** Nice value of the transfer thread (0 to 19): it yields the CPU to the gateway's thread. */
export const TRANSFER_THREAD_NICE = 10;

export async function startTransferThread(
  plan: TransferPlan,
  options: Omit<StackThreadOptions, 'onEvent'> & { readonly log: Log },
): Promise<Worker> {
  let stats: Stats = { batches: 0, received: 0, deleted: 0, inFlight: 0 };
  const thread = await startThread<undefined>('transfer-thread', plan, {
    nice: TRANSFER_THREAD_NICE,
    ...options,
    onEvent: (event) => {
      const e = event as TransferEvent;
      if ('log' in e) options.log(...e.log);
      else stats = e.stats;
    },
  });
  return {
    stats: () => ({ ...stats }),
    stop: (graceMs = 10_000) => thread.stop('stop', graceMs, graceMs + 5_000),
  };
}

/** The clients and the handler, configured as the stack configures the webhook's. */
function buildWorker(plan: TransferPlan, log: Log): Worker {
  const { config, clientEnv, queues } = plan;
  const settings = (service: EmulatedService) => ({
    region: clientEnv.AWS_REGION,
    ...clientOverrides(service, clientEnv),
    ...embeddedCredentials(service, config),
  });
  const ddb = vaultDocumentClient(settings('DYNAMODB'));
  const s3 = new S3Client(settings('S3'));
  // The worker's and the transfer handler's clients: the handler's ChangeMessageVisibility ends the heartbeat.
  const sqs = new SQSClient(settings('SQS'));
  const released = new ReceiptRegistry();
  const transferSqs = new SQSClient(settings('SQS'));
  addReleaseMiddleware(transferSqs, released);
  const transfer = createTransferHandler({
    config: loadTransferConfig(localFunctionEnvs(config, queues).transfer),
    tokens: staticTokens(config.authToken, config.authTokenSecondary),
    subaccountTokens: localSubaccountTokens(config),
    s3,
    ddb,
    sqs: transferSqs,
    events: fileEventPublisher(join(config.dataDir, EVENTS_FILE)),
  });
  const reconciler = scheduleReconciler(plan, ddb, sqs);
  const retention = scheduleRetention(plan, ddb, s3);
  const worker = startWorker({
    sqs,
    queueUrl: queues.queueUrl,
    queueArn: queues.queueArn,
    region: REGION,
    handler: transfer,
    visibilityTimeoutSeconds: config.visibilityTimeoutSeconds,
    pollers: config.pollers,
    released,
    log,
  });
  return {
    stats: () => worker.stats(),
    async stop(graceMs) {
      await Promise.all([reconciler?.stop(), retention?.stop(), worker.stop(graceMs)]);
      for (const client of [sqs, transferSqs, s3, ddb]) client.destroy();
    },
  };
}

/** The reconciler Lambda's longest run (its timeout on AWS). */
const RECONCILE_BUDGET_MS = 15 * 60_000;

/**
 * What EventBridge does on AWS: the reconciler's handler every RECONCILE_INTERVAL_SECONDS (first
 * after one interval, as a new rule), never two runs at once. Stopping ends a run between pages;
 * its checkpoint stays, so the next start lists that window again.
 */
function scheduleReconciler(
  plan: TransferPlan,
  ddb: DynamoDBDocumentClient,
  sqs: SQSClient,
): { stop(): Promise<void> } | undefined {
  const { config, queues } = plan;
  if (config.reconcileIntervalSeconds === 0) return undefined;
  const stopping = new AbortController();
  const reconcile = createReconcilerHandler({
    config: loadReconcilerConfig(localFunctionEnvs(config, queues).reconciler),
    tokens: staticTokens(config.authToken, config.authTokenSecondary),
    subaccountTokens: localSubaccountTokens(config),
    ddb,
    sqs,
    signal: stopping.signal,
  });
  let running: Promise<unknown> | undefined;
  const timer = setInterval(() => {
    if (running) return;
    const context = lambdaContext('recording-reconciler', randomUUID(), RECONCILE_BUDGET_MS, REGION);
    // The handler logs its own failures; the next run lists the same window again.
    running = reconcile({ source: 'local.schedule', 'detail-type': 'Scheduled Event' }, context)
      .catch(() => undefined)
      .finally(() => {
        running = undefined;
      });
  }, config.reconcileIntervalSeconds * 1000);
  return {
    async stop() {
      clearInterval(timer);
      stopping.abort(new Error('the local stack is stopping'));
      await running;
    },
  };
}

/** The retention Lambda's longest run (its timeout on AWS). */
const RETENTION_BUDGET_MS = 5 * 60_000;

/**
 * What the stage's retention schedule does on AWS: the sweep every RETENTION_SWEEP_SECONDS when
 * RETENTION_DAYS is set (first after one interval), never two runs at once. Stopping ends a run
 * after the recording it is erasing; its checkpoint is saved, so the next start carries on from it.
 */
function scheduleRetention(
  plan: TransferPlan,
  ddb: DynamoDBDocumentClient,
  s3: S3Client,
): { stop(): Promise<void> } | undefined {
  const { config, queues } = plan;
  const env = localFunctionEnvs(config, queues).retention;
  if (env === undefined) return undefined;
  const stopping = new AbortController();
  const sweep = createRetentionHandler({
    config: loadRetentionConfig(env),
    tokens: staticTokens(config.authToken, config.authTokenSecondary),
    subaccountTokens: localSubaccountTokens(config),
    s3,
    ddb,
    events: fileEventPublisher(join(config.dataDir, EVENTS_FILE)),
    ...(config.retentionEarliestDay !== undefined ? { earliestDay: config.retentionEarliestDay } : {}),
    signal: stopping.signal,
  });
  let running: Promise<unknown> | undefined;
  const timer = setInterval(() => {
    if (running) return;
    const context = lambdaContext('recording-retention', randomUUID(), RETENTION_BUDGET_MS, REGION);
    // The handler logs its own failures; its checkpoint stays, so the next run tries them again.
    running = sweep(undefined, context)
      .catch(() => undefined)
      .finally(() => {
        running = undefined;
      });
  }, config.retentionSweepSeconds * 1000);
  return {
    async stop() {
      clearInterval(timer);
      stopping.abort(new Error('the local stack is stopping'));
      await running;
    },
  };
}

if (isThreadEntry(__filename)) {
  serveThread<undefined>(async (data, emit) => {
    const worker = buildWorker(data as TransferPlan, (...log) => emit({ log } satisfies TransferEvent));
    let last = '';
    const report = () => {
      const stats = worker.stats();
      const text = JSON.stringify(stats);
      if (text === last) return;
      last = text;
      emit({ stats } satisfies TransferEvent);
    };
    const timer = setInterval(report, 500);
    timer.unref();
    return {
      value: undefined,
      ops: {
        stop: async (graceMs) => {
          clearInterval(timer);
          await worker.stop(typeof graceMs === 'number' ? graceMs : undefined);
          report();
        },
      },
      closeAfter: 'stop',
    };
  });
}
