/**
 * The transfer worker: consumes the transfer queue the way Lambda's SQS event source does.
 * Long-polls batches, hands each batch to the handler as a real SQSEvent, deletes the records
 * that succeeded and leaves the ones listed in `batchItemFailures` (the handler has already set
 * their retry delay), so SQS's receive count and redrive policy move a job that keeps failing
 * to the dead-letter queue. While a batch runs, its messages' visibility is extended (heartbeat)
 * so a long transfer keeps its job; a record stops being extended once the handler sets its
 * visibility itself.
 */
import { randomUUID } from 'node:crypto';
import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageBatchCommand,
  type Message,
  ReceiveMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { Context, SQSBatchResponse, SQSEvent, SQSMessageAttributes, SQSRecord } from 'aws-lambda';
import { lambdaContext } from './gateway';

export type TransferFn = (event: SQSEvent, context?: Context) => Promise<SQSBatchResponse | undefined>;

export interface WorkerOptions {
  readonly sqs: SQSClient;
  readonly queueUrl: string;
  readonly queueArn: string;
  readonly region: string;
  readonly handler: TransferFn;
  readonly visibilityTimeoutSeconds: number;
  readonly pollers: number;
  readonly batchSize?: number;
  readonly waitTimeSeconds?: number;
  /** Receipt handles whose visibility the handler has set: the heartbeat leaves them alone. */
  readonly released: ReceiptRegistry;
  readonly log: (level: 'info' | 'warn' | 'error', message: string, extra?: Record<string, unknown>) => void;
}

/**
 * Shared between the worker and the SQS client the handler uses: the client marks a receipt
 * handle released (waiting for any heartbeat in flight first) before it changes its visibility.
 */
export class ReceiptRegistry {
  private readonly released = new Set<string>();
  private readonly heartbeats = new Map<string, Promise<unknown>>();

  async release(receiptHandle: string): Promise<void> {
    this.released.add(receiptHandle);
    await this.heartbeats.get(receiptHandle)?.catch(() => undefined);
  }

  isReleased(receiptHandle: string): boolean {
    return this.released.has(receiptHandle);
  }

  trackHeartbeat(receiptHandles: readonly string[], pending: Promise<unknown>): void {
    for (const handle of receiptHandles) this.heartbeats.set(handle, pending);
  }

  forget(receiptHandles: readonly string[]): void {
    for (const handle of receiptHandles) {
      this.released.delete(handle);
      this.heartbeats.delete(handle);
    }
  }
}

/** Marks a receipt handle released when the client it is added to changes that message's visibility. */
export function addReleaseMiddleware(sqs: SQSClient, registry: ReceiptRegistry): void {
  sqs.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName === 'ChangeMessageVisibilityCommand') {
        const handle = (args.input as { ReceiptHandle?: string }).ReceiptHandle;
        if (handle) await registry.release(handle);
      }
      return next(args);
    },
    { step: 'initialize', name: 'localReleaseReceiptHandle' },
  );
}

/** Lambda's shape for message attributes: camel-cased keys, lists present. */
function lambdaAttributes(message: Message): SQSMessageAttributes {
  const attributes: SQSMessageAttributes = {};
  for (const [name, value] of Object.entries(message.MessageAttributes ?? {})) {
    attributes[name] = {
      dataType: value.DataType ?? 'String',
      ...(value.StringValue !== undefined ? { stringValue: value.StringValue } : {}),
      ...(value.BinaryValue !== undefined ? { binaryValue: Buffer.from(value.BinaryValue).toString('base64') } : {}),
      stringListValues: [],
      binaryListValues: [],
    };
  }
  return attributes;
}

export function toSqsRecord(message: Message, queueArn: string, region: string): SQSRecord {
  const a = message.Attributes ?? {};
  const now = String(Date.now());
  return {
    messageId: message.MessageId ?? '',
    receiptHandle: message.ReceiptHandle ?? '',
    body: message.Body ?? '',
    attributes: {
      ApproximateReceiveCount: a.ApproximateReceiveCount ?? '1',
      SentTimestamp: a.SentTimestamp ?? now,
      SenderId: a.SenderId ?? '000000000000',
      ApproximateFirstReceiveTimestamp: a.ApproximateFirstReceiveTimestamp ?? now,
      ...(a.AWSTraceHeader ? { AWSTraceHeader: a.AWSTraceHeader } : {}),
      ...(a.SequenceNumber ? { SequenceNumber: a.SequenceNumber } : {}),
      ...(a.MessageGroupId ? { MessageGroupId: a.MessageGroupId } : {}),
      ...(a.MessageDeduplicationId ? { MessageDeduplicationId: a.MessageDeduplicationId } : {}),
    },
    messageAttributes: lambdaAttributes(message),
    md5OfBody: message.MD5OfBody ?? '',
    ...(message.MD5OfMessageAttributes ? { md5OfMessageAttributes: message.MD5OfMessageAttributes } : {}),
    eventSource: 'aws:sqs',
    eventSourceARN: queueArn,
    awsRegion: region,
  } as SQSRecord;
}

export interface Worker {
  /** Batches handled so far, records received, records deleted. */
  stats(): { batches: number; received: number; deleted: number; inFlight: number };
  /** Stops polling and waits up to `graceMs` for running batches; unfinished jobs stay queued. */
  stop(graceMs?: number): Promise<void>;
}

export function startWorker(options: WorkerOptions): Worker {
  const { sqs, queueUrl, log, released } = options;
  const batchSize = options.batchSize ?? 5;
  const waitTimeSeconds = options.waitTimeSeconds ?? 2;
  const heartbeatMs = Math.max(1000, Math.floor((options.visibilityTimeoutSeconds * 1000) / 3));
  const abort = new AbortController();
  let stopping = false;
  const running = new Set<Promise<void>>();
  const counters = { batches: 0, received: 0, deleted: 0 };

  async function runBatch(messages: Message[]): Promise<void> {
    const records = messages.map((m) => toSqsRecord(m, options.queueArn, options.region));
    const handles = records.map((r) => r.receiptHandle);
    let pending = new Set(handles);
    const beat = async () => {
      const live = [...pending].filter((h) => !released.isReleased(h));
      if (live.length === 0) return;
      const call = sqs
        .send(
          new ChangeMessageVisibilityBatchCommand({
            QueueUrl: queueUrl,
            Entries: live.map((handle, i) => ({
              Id: String(i),
              ReceiptHandle: handle,
              VisibilityTimeout: options.visibilityTimeoutSeconds,
            })),
          }),
        )
        .catch((error) => log('warn', 'Heartbeat failed', { error: (error as Error).message }));
      released.trackHeartbeat(live, call);
      await call;
    };
    const timer = setInterval(() => void beat(), heartbeatMs);
    let response: SQSBatchResponse | undefined;
    let failedIds: Set<string>;
    try {
      const context = lambdaContext(
        'recording-transfer',
        randomUUID(),
        options.visibilityTimeoutSeconds * 1000,
        options.region,
      );
      response = await options.handler({ Records: records }, context);
      failedIds = new Set((response?.batchItemFailures ?? []).map((f) => f.itemIdentifier));
    } catch (error) {
      // A handler that throws fails the whole batch, as with Lambda: every message comes back.
      log('error', 'Transfer handler threw; the batch will be retried', { error: (error as Error).message });
      failedIds = new Set(records.map((r) => r.messageId));
    } finally {
      clearInterval(timer);
    }
    pending = new Set();
    const done = records.filter((r) => !failedIds.has(r.messageId));
    if (done.length > 0) {
      try {
        const result = await sqs.send(
          new DeleteMessageBatchCommand({
            QueueUrl: queueUrl,
            Entries: done.map((r, i) => ({ Id: String(i), ReceiptHandle: r.receiptHandle })),
          }),
        );
        counters.deleted += result.Successful?.length ?? 0;
        for (const failure of result.Failed ?? []) {
          log('warn', 'Could not delete a finished job; it will run again (idempotently)', {
            code: failure.Code,
            message: failure.Message,
          });
        }
      } catch (error) {
        log('warn', 'Could not delete finished jobs; they will run again (idempotently)', {
          error: (error as Error).message,
        });
      }
    }
    released.forget(handles);
    counters.batches++;
  }

  async function poll(): Promise<void> {
    let backoffMs = 250;
    while (!stopping) {
      let messages: Message[];
      try {
        const result = await sqs.send(
          new ReceiveMessageCommand({
            QueueUrl: queueUrl,
            MaxNumberOfMessages: batchSize,
            WaitTimeSeconds: waitTimeSeconds,
            MessageSystemAttributeNames: ['All'],
            MessageAttributeNames: ['All'],
          }),
          { abortSignal: abort.signal },
        );
        messages = result.Messages ?? [];
        backoffMs = 250;
      } catch (error) {
        if (stopping) break;
        log('warn', 'Polling the transfer queue failed; retrying', { error: (error as Error).message });
        await new Promise((resolve) => setTimeout(resolve, backoffMs));
        backoffMs = Math.min(5000, backoffMs * 2);
        continue;
      }
      if (messages.length === 0) continue;
      counters.received += messages.length;
      const batch = runBatch(messages);
      running.add(batch);
      try {
        await batch;
      } finally {
        running.delete(batch);
      }
    }
  }

  const pollers = Array.from({ length: options.pollers }, () =>
    poll().catch((error) => log('error', 'Transfer poller stopped', { error: (error as Error).message })),
  );

  return {
    stats: () => ({ ...counters, inFlight: running.size }),
    async stop(graceMs = 10_000) {
      stopping = true;
      abort.abort();
      const all = Promise.allSettled([...pollers]);
      const finished = await Promise.race([
        all.then(() => true),
        new Promise<false>((resolve) => setTimeout(() => resolve(false), graceMs).unref()),
      ]);
      if (!finished) {
        log('warn', 'Stopped with transfers still running; their jobs stay queued and run again on the next start', {
          running: running.size,
        });
      }
    },
  };
}
