/**
 * The local API gateway answers what Node's HTTP parser refuses (headers too large, a malformed
 * request) with a JSON error like every other answer, not an empty body.
 */

import type { AddressInfo } from 'node:net';
import { connect } from 'node:net';
import { type Gateway, startGateway } from '../../../lib/local/gateway';

let gateway: Gateway;

beforeAll(async () => {
  gateway = await startGateway({
    routes: [
      {
        method: 'GET',
        path: '/ping',
        functionName: 'ping',
        handler: async () => ({ statusCode: 200, headers: { 'content-type': 'application/json' }, body: '{}' }),
      },
    ],
    host: '127.0.0.1',
    port: 0,
  });
});

afterAll(async () => {
  await gateway.close(0);
});

/** Sends `raw` on a fresh connection and reads the whole answer (the gateway closes it). */
function exchange(raw: string): Promise<string> {
  const { port } = gateway.server.address() as AddressInfo;
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.end(raw));
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('close', () => resolve(Buffer.concat(chunks).toString('utf8')));
    socket.on('error', reject);
  });
}

function parse(answer: string): { status: number; body: unknown } {
  const [head = '', body = ''] = answer.split('\r\n\r\n');
  return { status: Number(head.split(' ')[1]), body: JSON.parse(body) };
}

describe('the local gateway', () => {
  test('answers 431 with a JSON error to headers too large for it', async () => {
    const answer = await exchange(`GET /ping HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(100 * 1024)}\r\n\r\n`);
    expect(parse(answer)).toEqual({ status: 431, body: { error: expect.stringContaining('headers') } });
  });

  test('answers 400 with a JSON error to a request it cannot parse', async () => {
    const answer = await exchange('NOT HTTP AT ALL\r\n\r\n');
    expect(parse(answer)).toEqual({ status: 400, body: { error: expect.any(String) } });
  });
});
