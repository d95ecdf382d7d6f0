import type { SQSClient, SQSClientConfig } from '@aws-sdk/client-sqs';
import type { RecordingJob } from './recording-job';

/** The transfer queue as the handlers see it; backed by SQS (AWS or an emulator). */
export interface TransferQueue {
  enqueue(job: RecordingJob): Promise<void>;
  /** Keeps a failed message invisible for `seconds` before its next attempt (per-message backoff). */
  delayRetry(receiptHandle: string, seconds: number): Promise<void>;
  /** Moves a job that will not succeed by retrying to the dead-letter queue, with the reason. */
  deadLetter(body: string, reason: DeadLetterReason): Promise<void>;
}

export interface DeadLetterReason {
  readonly code: string;
  readonly error: string;
  readonly attempts: number;
}

/**
 * The SQS client, or a function that makes it on first use. The webhook passes the latter: a
 * rejected callback (403, 400, 415…) never needs SQS, so its cold start does not load it.
 */
export type SqsClientSource = SQSClient | (() => Promise<SQSClient>);

type SqsModule = typeof import('@aws-sdk/client-sqs');
let sqsModule: Promise<SqsModule> | undefined;
/** Loaded when first needed; esbuild keeps a dynamically imported module unevaluated until then. */
const loadSqs = (): Promise<SqsModule> => {
  sqsModule ??= import('@aws-sdk/client-sqs');
  return sqsModule;
};

/** An SQS client created on first use, once per container. */
export function lazySqsClient(config: SQSClientConfig): () => Promise<SQSClient> {
  let client: Promise<SQSClient> | undefined;
  return () => {
    client ??= loadSqs().then(({ SQSClient }) => new SQSClient(config));
    return client;
  };
}

/** SQS's ceiling for a visibility timeout. */
const MAX_VISIBILITY_SECONDS = 12 * 60 * 60;

export function sqsTransferQueue(
  sqsSource: SqsClientSource,
  queueUrl: string,
  deadLetterQueueUrl?: string,
): TransferQueue {
  const client = typeof sqsSource === 'function' ? sqsSource : async () => sqsSource;
  const ready = () => Promise.all([client(), loadSqs()]);
  return {
    async enqueue(job) {
      const [sqs, { SendMessageCommand }] = await ready();
      await sqs.send(
        new SendMessageCommand({
          QueueUrl: queueUrl,
          MessageBody: sqsSafeJson(job),
          MessageAttributes: {
            recordingSid: { DataType: 'String', StringValue: job.recordingSid },
            status: { DataType: 'String', StringValue: job.status },
          },
        }),
      );
    },
    async delayRetry(receiptHandle, seconds) {
      const [sqs, { ChangeMessageVisibilityCommand }] = await ready();
      await sqs.send(
        new ChangeMessageVisibilityCommand({
          QueueUrl: queueUrl,
          ReceiptHandle: receiptHandle,
          VisibilityTimeout: Math.max(0, Math.min(MAX_VISIBILITY_SECONDS, Math.round(seconds))),
        }),
      );
    },
    async deadLetter(body, reason) {
      if (!deadLetterQueueUrl) throw new Error('No dead-letter queue is configured');
      const [sqs, { SendMessageCommand }] = await ready();
      await sqs.send(
        new SendMessageCommand({
          QueueUrl: deadLetterQueueUrl,
          MessageBody: body,
          MessageAttributes: {
            errorCode: { DataType: 'String', StringValue: reason.code },
            // Attribute values are limited; the reason is for people, the code for machines.
            error: { DataType: 'String', StringValue: reason.error.slice(0, 1000) || 'unknown' },
            attempts: { DataType: 'Number', StringValue: String(reason.attempts) },
          },
        }),
      );
    },
  };
}

/**
 * JSON that SQS accepts as a message body whatever the strings hold. JSON.stringify already
 * escapes control characters and lone surrogates; SQS also refuses U+FFFE and U+FFFF, and some
 * SQS-compatible services check UTF-16 code units, refusing every character beyond U+FFFF
 * (emoji). Both are written as JSON escapes, so the parsed job is unchanged.
 */
export function sqsSafeJson(value: unknown): string {
  return JSON.stringify(value).replace(/[\uD800-\uDFFF\uFFFE\uFFFF]/g, (c) => `\\u${c.charCodeAt(0).toString(16)}`);
}

/** Exponential backoff: base, 2×base, 4×base… for attempts 1, 2, 3…, capped at 15 minutes. */
export function retryDelaySeconds(attempt: number, baseSeconds: number): number {
  return Math.min(900, baseSeconds * 2 ** Math.max(0, attempt - 1));
}
