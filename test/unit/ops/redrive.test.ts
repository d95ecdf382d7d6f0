/**
 * `npm run redrive` logic (lib/ops/redrive.ts) against fauxqs, the local stack's SQS emulator:
 * jobs move with their own attributes, nothing is lost when a send fails or the run dies between
 * send and delete, and a job that fails again during the run is not cycled.
 */
import { randomBytes } from 'node:crypto';
import { PurgeQueueCommand, SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { DEAD_LETTER_ATTRIBUTES, RedriveError, type RedriveProgress, redrive } from '../../../lib/ops/redrive';
import { type SqsEmulator, startSqsEmulator } from '../../helpers/sqs-emulator';

const QUEUE = 'recording-transfer';
const DLQ = 'recording-transfer-dlq';

let sqs: SqsEmulator;

beforeAll(async () => {
  sqs = await startSqsEmulator([QUEUE, DLQ]);
});

afterAll(async () => {
  await sqs?.stop();
});

beforeEach(async () => {
  for (const name of [QUEUE, DLQ]) await sqs.client.send(new PurgeQueueCommand({ QueueUrl: sqs.queueUrl(name) }));
});

const newRecordingSid = () => `RE${randomBytes(16).toString('hex')}`;

function job(recordingSid = newRecordingSid()): string {
  return JSON.stringify({
    version: 1,
    jobId: randomBytes(8).toString('hex'),
    accountSid: `AC${'0'.repeat(32)}`,
    callSid: `CA${randomBytes(16).toString('hex')}`,
    recordingSid,
    status: 'completed',
    startedAt: '2024-07-22T17:00:00.000Z',
    receivedAt: '2024-07-22T17:01:00.000Z',
  });
}

/** A job as the transfer function dead-letters it (reason attributes), or as SQS's own redrive does (job attributes). */
async function deadLetter(body: string, kind: 'function' | 'sqs' = 'function'): Promise<void> {
  const recordingSid = (JSON.parse(body) as { recordingSid: string }).recordingSid;
  await sqs.client.send(
    new SendMessageCommand({
      QueueUrl: sqs.queueUrl(DLQ),
      MessageBody: body,
      MessageAttributes:
        kind === 'function'
          ? {
              errorCode: { DataType: 'String', StringValue: 'twilio-500' },
              error: { DataType: 'String', StringValue: 'Twilio answered 500' },
              attempts: { DataType: 'Number', StringValue: '4' },
            }
          : {
              recordingSid: { DataType: 'String', StringValue: recordingSid },
              status: { DataType: 'String', StringValue: 'completed' },
            },
    }),
  );
}

const options = (client: Pick<SQSClient, 'send'> = sqs.client) => ({
  sqs: client,
  deadLetterQueueUrl: sqs.queueUrl(DLQ),
  transferQueueUrl: sqs.queueUrl(QUEUE),
  waitTimeSeconds: 0,
});

/** The SQS client, with `intercept` called before each command it sends (throw to make that call fail). */
function intercepted(intercept: (command: { constructor: { name: string }; input: Record<string, unknown> }) => void) {
  return {
    send: (async (command: { constructor: { name: string }; input: Record<string, unknown> }) => {
      intercept(command);
      return sqs.client.send(command as never);
    }) as SQSClient['send'],
  };
}

test('moves every job (more than one batch) with its body and own attributes, and empties the DLQ', async () => {
  const bodies = Array.from({ length: 23 }, () => job());
  for (const [i, body] of bodies.entries()) await deadLetter(body, i % 2 === 0 ? 'function' : 'sqs');
  const progress: RedriveProgress[] = [];

  const result = await redrive({ ...options(), onProgress: (p) => progress.push(p) });

  expect(result).toEqual({ moved: 23, failedAgain: 0 });
  expect(await sqs.depth(DLQ)).toBe(0);
  const moved = await sqs.visibleMessages(QUEUE);
  expect(moved.map((m) => m.Body).sort()).toEqual([...bodies].sort());
  for (const message of moved) {
    const names = Object.keys(message.MessageAttributes ?? {});
    for (const reason of DEAD_LETTER_ATTRIBUTES) expect(names).not.toContain(reason);
    const { recordingSid } = JSON.parse(message.Body ?? '{}') as { recordingSid: string };
    // Jobs that SQS itself dead-lettered keep the attributes the webhook gave them.
    if (names.length > 0) expect(message.MessageAttributes?.recordingSid?.StringValue).toBe(recordingSid);
  }
  expect(moved.filter((m) => Object.keys(m.MessageAttributes ?? {}).length > 0)).toHaveLength(11);
  expect(progress[0]).toEqual({ moved: 0, approximateTotal: 23 });
  expect(progress.at(-1)).toEqual({ moved: 23, approximateTotal: 23 });
});

test('an empty DLQ: moved 0', async () => {
  expect(await redrive(options())).toEqual({ moved: 0, failedAgain: 0 });
});

test('a failed send leaves that job in the DLQ (visible again) and says how many moved before', async () => {
  const bodies = [job(), job(), job()];
  for (const body of bodies) await deadLetter(body);
  const refused = bodies[1];
  const client = intercepted((command) => {
    if (command.constructor.name === 'SendMessageCommand' && command.input.MessageBody === refused) {
      throw Object.assign(new Error('Access to the resource is denied'), { name: 'AccessDenied' });
    }
  });

  const error = await redrive(options(client)).catch((e: unknown) => e);

  expect(error).toBeInstanceOf(RedriveError);
  expect((error as RedriveError).moved).toBe(2);
  expect((error as RedriveError).message).toMatch(
    /could not send 1 job\(s\).*AccessDenied: Access to the resource is denied/,
  );
  expect((await sqs.visibleMessages(DLQ)).map((m) => m.Body)).toEqual([refused]);
  expect((await sqs.visibleMessages(QUEUE)).map((m) => m.Body).sort()).toEqual(
    bodies.filter((b) => b !== refused).sort(),
  );
});

test('killed between the send and the delete: the job is in both queues, never in neither', async () => {
  const body = job();
  await deadLetter(body);
  const client = intercepted((command) => {
    // The process dies here: the send went through, the delete never happens.
    if (command.constructor.name === 'DeleteMessageBatchCommand') throw new Error('killed');
  });

  const error = await redrive(options(client)).catch((e: unknown) => e);

  expect(error).toBeInstanceOf(RedriveError);
  expect((error as RedriveError).moved).toBe(1);
  expect((error as RedriveError).message).toMatch(/could not be deleted from the dead-letter queue.*harmless.*killed/);
  expect((await sqs.visibleMessages(QUEUE)).map((m) => m.Body)).toEqual([body]);
  // Still in the DLQ (in flight until its visibility timeout runs out).
  expect(await sqs.depth(DLQ)).toBe(1);
});

test('a job that fails again during the run is left in the DLQ, not moved round and round', async () => {
  const flaky = job();
  const fine = job();
  await deadLetter(flaky);
  await deadLetter(fine);
  // Plays the transfer function whose fault is not fixed: the job is dead-lettered again at once.
  const client = {
    send: (async (command: { constructor: { name: string }; input: Record<string, unknown> }) => {
      const answer = await sqs.client.send(command as never);
      if (command.constructor.name === 'SendMessageCommand' && command.input.MessageBody === flaky) {
        await deadLetter(flaky);
      }
      return answer;
    }) as SQSClient['send'],
  };

  const result = await redrive(options(client));

  expect(result).toEqual({ moved: 2, failedAgain: 1 });
  // Visible again at once for a person or the next run, not after the visibility timeout.
  const left = await sqs.visibleMessages(DLQ);
  expect(left.map((m) => m.Body)).toEqual([flaky]);
  expect(left[0]?.MessageAttributes?.errorCode?.StringValue).toBe('twilio-500');
});

test('an unreachable queue is a RedriveError in one line', async () => {
  const error = await redrive({ ...options(), deadLetterQueueUrl: `${sqs.endpoint}/000000000000/nope` }).catch(
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(RedriveError);
  expect((error as RedriveError).moved).toBe(0);
  expect((error as RedriveError).message).toMatch(/dead-letter queue/);
  expect((error as RedriveError).message).not.toContain('\n');
});
