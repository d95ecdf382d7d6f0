/**
 * `npm run redrive`: every job of the dead-letter queue back to the transfer queue.
 *
 * Each job is sent to the transfer queue first and deleted from the DLQ only once that send
 * succeeded: a run killed at any point loses nothing, at worst a job is in both queues, and the
 * transfer's claim on the ledger makes the second copy a no-op. A job that fails again while the
 * run lasts (a fault not yet fixed) comes back to the DLQ; it is left there, not cycled.
 */
import { createHash } from 'node:crypto';
import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  type Message,
  type MessageAttributeValue,
  ReceiveMessageCommand,
  SendMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { describeError } from './target';

/** What the transfer function writes on a dead-lettered job; not part of the job. */
export const DEAD_LETTER_ATTRIBUTES: readonly string[] = ['errorCode', 'error', 'attempts'];

export type SqsSender = Pick<SQSClient, 'send'>;

export interface RedriveProgress {
  readonly moved: number;
  /** The DLQ's approximate depth when the run started (SQS counts are approximate). */
  readonly approximateTotal: number;
}

export interface RedriveOptions {
  readonly sqs: SqsSender;
  readonly deadLetterQueueUrl: string;
  readonly transferQueueUrl: string;
  readonly onProgress?: (progress: RedriveProgress) => void;
  /**
   * Long polling: an empty answer after it means the DLQ is empty, not that short polling
   * missed the servers holding the rest. Default 1 s.
   */
  readonly waitTimeSeconds?: number;
  /** How long a received job stays hidden from other readers while it is being moved. Default 60 s. */
  readonly visibilityTimeoutSeconds?: number;
}

export interface RedriveResult {
  readonly moved: number;
  /** Jobs that failed again and came back during the run; left in the DLQ. */
  readonly failedAgain: number;
}

/** A redrive that stopped before the DLQ was empty; `moved` jobs had been moved by then. */
export class RedriveError extends Error {
  override name = 'RedriveError';
  constructor(
    message: string,
    readonly moved: number,
  ) {
    super(message);
  }
}

const BATCH = 10;

const digest = (body: string) => createHash('sha256').update(body).digest('hex');

/** The job's own attributes, as SendMessage takes them (no reason, no empty list fields). */
export function jobAttributes(message: Message): Record<string, MessageAttributeValue> | undefined {
  const kept: Record<string, MessageAttributeValue> = {};
  for (const [name, value] of Object.entries(message.MessageAttributes ?? {})) {
    if (DEAD_LETTER_ATTRIBUTES.includes(name) || !value.DataType) continue;
    kept[name] = {
      DataType: value.DataType,
      ...(value.StringValue !== undefined ? { StringValue: value.StringValue } : {}),
      ...(value.BinaryValue !== undefined ? { BinaryValue: value.BinaryValue } : {}),
    };
  }
  return Object.keys(kept).length > 0 ? kept : undefined;
}

export async function redrive(options: RedriveOptions): Promise<RedriveResult> {
  const { sqs, deadLetterQueueUrl: dlq, transferQueueUrl } = options;
  const waitTimeSeconds = options.waitTimeSeconds ?? 1;
  const visibilityTimeout = options.visibilityTimeoutSeconds ?? 60;

  // The first call to the queue: a wrong URL or no access ends the run here, as a RedriveError like any other stop.
  const { Attributes = {} } = await sqs
    .send(new GetQueueAttributesCommand({ QueueUrl: dlq, AttributeNames: ['ApproximateNumberOfMessages'] }))
    .catch((error: unknown) => {
      throw new RedriveError(`could not read the dead-letter queue: ${describeError(error)}`, 0);
    });
  const approximateTotal = Number(Attributes.ApproximateNumberOfMessages ?? 0) || 0;

  let moved = 0;
  // Bodies moved in this run: one that shows up again failed again (or was a duplicate).
  const movedBodies = new Set<string>();
  // Jobs left in the DLQ; made visible again at the end so that the next run or a person sees them.
  const leftBehind: Message[] = [];
  options.onProgress?.({ moved, approximateTotal });

  try {
    for (;;) {
      const { Messages = [] } = await sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: dlq,
          MaxNumberOfMessages: BATCH,
          VisibilityTimeout: visibilityTimeout,
          WaitTimeSeconds: waitTimeSeconds,
          MessageAttributeNames: ['All'],
        }),
      );
      if (Messages.length === 0) break;

      const toSend: Message[] = [];
      const toDelete: Message[] = [];
      for (const message of Messages) {
        if (movedBodies.has(digest(message.Body ?? ''))) leftBehind.push(message);
        else toSend.push(message);
      }

      const sent = await Promise.allSettled(
        toSend.map((message) =>
          sqs.send(
            new SendMessageCommand({
              QueueUrl: transferQueueUrl,
              MessageBody: message.Body ?? '',
              MessageAttributes: jobAttributes(message),
            }),
          ),
        ),
      );
      const failures: string[] = [];
      sent.forEach((result, index) => {
        const message = toSend[index] as Message;
        if (result.status === 'fulfilled') {
          toDelete.push(message);
          movedBodies.add(digest(message.Body ?? ''));
          moved++;
        } else {
          leftBehind.push(message);
          failures.push(describeError(result.reason));
        }
      });

      const undeleted = await deleteFromDlq(sqs, dlq, toDelete);
      options.onProgress?.({ moved, approximateTotal });
      if (failures.length > 0) {
        throw new RedriveError(
          `could not send ${failures.length} job(s) to the transfer queue (they stay in the dead-letter queue): ${failures[0]}`,
          moved,
        );
      }
      if (undeleted.length > 0) {
        throw new RedriveError(
          `${undeleted.length} job(s) were sent to the transfer queue but could not be deleted from the dead-letter queue (a later run sends them again, which is harmless): ${undeleted[0]}`,
          moved,
        );
      }
    }
  } catch (error) {
    if (error instanceof RedriveError) throw error;
    throw new RedriveError(describeError(error), moved);
  } finally {
    await release(sqs, dlq, leftBehind);
  }
  const failedAgain = new Set(leftBehind.map((m) => m.MessageId)).size;
  return { moved, failedAgain };
}

/**
 * Deletes what was sent; returns why some could not be deleted. Those stay in the DLQ and would
 * be moved again by the next run: a duplicate the ledger claim absorbs, but worth saying.
 */
async function deleteFromDlq(sqs: SqsSender, queueUrl: string, messages: readonly Message[]): Promise<string[]> {
  if (messages.length === 0) return [];
  try {
    const { Failed = [] } = await sqs.send(
      new DeleteMessageBatchCommand({
        QueueUrl: queueUrl,
        Entries: messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle })),
      }),
    );
    return Failed.map((f) => `${f.Code ?? 'error'}: ${f.Message ?? ''}`.trim());
  } catch (error) {
    return messages.map(() => describeError(error));
  }
}

/** Best effort: makes jobs left in the DLQ visible now instead of after the visibility timeout. */
async function release(sqs: SqsSender, queueUrl: string, messages: readonly Message[]): Promise<void> {
  for (let start = 0; start < messages.length; start += BATCH) {
    const batch = messages.slice(start, start + BATCH);
    await sqs
      .send(
        new ChangeMessageVisibilityBatchCommand({
          QueueUrl: queueUrl,
          Entries: batch.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle, VisibilityTimeout: 0 })),
        }),
      )
      .catch(() => undefined);
  }
}
