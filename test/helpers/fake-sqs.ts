/**
 * Just enough of SQS's JSON protocol on 127.0.0.1 for a process that only sends jobs (backfill,
 * the reconciler): GetQueueUrl and SendMessage on named queues, messages kept in memory. For
 * tests that run a CLI in a child process, where aws-sdk-client-mock cannot reach, and fauxqs
 * (ESM-only) cannot be loaded by jest.
 */
import { createHash, randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface SentMessage {
  readonly body: string;
  readonly attributes: Record<string, { DataType: string; StringValue?: string }>;
}

export class FakeSqs {
  private readonly queues = new Map<string, SentMessage[]>();

  private constructor(
    private readonly server: Server,
    readonly endpoint: string,
    names: readonly string[],
  ) {
    for (const name of names) this.queues.set(name, []);
  }

  static async start(queueNames: readonly string[]): Promise<FakeSqs> {
    let fake: FakeSqs | undefined;
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const operation = String(req.headers['x-amz-target'] ?? '').replace(/^AmazonSQS\./, '');
        const input = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as Record<string, unknown>;
        const { status, body } = fake?.handle(operation, input) ?? { status: 500, body: {} };
        res.writeHead(status, { 'content-type': 'application/x-amz-json-1.0' });
        res.end(JSON.stringify(body));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    fake = new FakeSqs(server, `http://127.0.0.1:${port}`, queueNames);
    return fake;
  }

  queueUrl(name: string): string {
    return `${this.endpoint}/000000000000/${name}`;
  }

  messages(name: string): readonly SentMessage[] {
    return this.queues.get(name) ?? [];
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private handle(operation: string, input: Record<string, unknown>): { status: number; body: unknown } {
    const missing = {
      status: 400,
      body: { __type: 'com.amazonaws.sqs#QueueDoesNotExist', message: 'The specified queue does not exist.' },
    };
    if (operation === 'GetQueueUrl') {
      const name = String(input.QueueName);
      return this.queues.has(name) ? { status: 200, body: { QueueUrl: this.queueUrl(name) } } : missing;
    }
    if (operation === 'SendMessage') {
      const name = String(input.QueueUrl).split('/').pop() ?? '';
      const queue = this.queues.get(name);
      if (!queue) return missing;
      const body = String(input.MessageBody);
      queue.push({ body, attributes: (input.MessageAttributes ?? {}) as SentMessage['attributes'] });
      return {
        status: 200,
        body: { MessageId: randomUUID(), MD5OfMessageBody: createHash('md5').update(body).digest('hex') },
      };
    }
    return { status: 400, body: { __type: 'com.amazonaws.sqs#UnsupportedOperation', message: operation } };
  }
}
