/**
 * A real SQS emulator for component tests: fauxqs (the local stack's SQS) in a child Node
 * process, because it is ESM-only and jest runs CommonJS. It listens on a free loopback port,
 * and ends when `stop()` is called or when this process goes (its stdin closes).
 *
 *   const sqs = await startSqsEmulator(['recording-transfer', 'recording-transfer-dlq']);
 *   … sqs.client, sqs.queueUrl(name), sqs.endpoint …
 *   await sqs.stop();
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { resolve } from 'node:path';
import {
  ChangeMessageVisibilityCommand,
  CreateQueueCommand,
  GetQueueAttributesCommand,
  type Message,
  ReceiveMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';

const REPO_ROOT = resolve(__dirname, '..', '..');

const SCRIPT = `
import { startFauxqs } from 'fauxqs';
const server = await startFauxqs({ port: 0, host: '127.0.0.1', logger: false });
process.stdout.write(JSON.stringify({ port: server.port }) + '\\n');
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
`;

export interface SqsEmulator {
  readonly endpoint: string;
  readonly client: SQSClient;
  queueUrl(name: string): string;
  /** Every message now visible in the queue (received with a short visibility timeout, then released). */
  visibleMessages(name: string): Promise<Message[]>;
  /** Visible + in flight + delayed. */
  depth(name: string): Promise<number>;
  stop(): Promise<void>;
}

export async function startSqsEmulator(queueNames: readonly string[]): Promise<SqsEmulator> {
  const child: ChildProcess = spawn(process.execPath, ['--input-type=module', '-e', SCRIPT], {
    cwd: REPO_ROOT,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString('utf8');
  });
  const port = await new Promise<number>((resolvePort, reject) => {
    let stdout = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      stdout += chunk.toString('utf8');
      const line = stdout.split('\n')[0];
      if (stdout.includes('\n') && line) resolvePort((JSON.parse(line) as { port: number }).port);
    });
    child.once('exit', (code) => reject(new Error(`fauxqs exited (${code}): ${stderr}`)));
    child.once('error', reject);
  });
  const endpoint = `http://127.0.0.1:${port}`;
  const client = new SQSClient({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  const urls = new Map<string, string>();
  for (const name of queueNames) {
    const { QueueUrl } = await client.send(new CreateQueueCommand({ QueueName: name }));
    if (!QueueUrl) throw new Error(`no URL for ${name}`);
    urls.set(name, QueueUrl);
  }
  const queueUrl = (name: string) => {
    const url = urls.get(name);
    if (!url) throw new Error(`no queue ${name}`);
    return url;
  };
  return {
    endpoint,
    client,
    queueUrl,
    async visibleMessages(name) {
      const found = new Map<string, Message>();
      for (;;) {
        const { Messages = [] } = await client.send(
          new ReceiveMessageCommand({
            QueueUrl: queueUrl(name),
            MaxNumberOfMessages: 10,
            VisibilityTimeout: 30,
            WaitTimeSeconds: 0,
            MessageAttributeNames: ['All'],
          }),
        );
        const fresh = Messages.filter((m) => !found.has(m.MessageId ?? ''));
        if (fresh.length === 0) break;
        for (const m of fresh) found.set(m.MessageId ?? '', m);
      }
      for (const m of found.values()) {
        await client.send(
          new ChangeMessageVisibilityCommand({
            QueueUrl: queueUrl(name),
            ReceiptHandle: m.ReceiptHandle,
            VisibilityTimeout: 0,
          }),
        );
      }
      return [...found.values()];
    },
    async depth(name) {
      const { Attributes = {} } = await client.send(
        new GetQueueAttributesCommand({
          QueueUrl: queueUrl(name),
          AttributeNames: [
            'ApproximateNumberOfMessages',
            'ApproximateNumberOfMessagesNotVisible',
            'ApproximateNumberOfMessagesDelayed',
          ],
        }),
      );
      return (
        Number(Attributes.ApproximateNumberOfMessages ?? 0) +
        Number(Attributes.ApproximateNumberOfMessagesNotVisible ?? 0) +
        Number(Attributes.ApproximateNumberOfMessagesDelayed ?? 0)
      );
    },
    async stop() {
      client.destroy();
      if (child.exitCode !== null) return;
      const exited = new Promise<void>((r) => child.once('exit', () => r()));
      child.stdin?.end();
      if (child.pid !== undefined) child.kill('SIGTERM');
      await exited;
    },
  };
}
