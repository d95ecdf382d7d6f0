/**
 * The local stack's readiness check: every route answers a real request through the whole path
 * (gateway, handler, emulators) before the stack says `ready`.
 */
import { request } from 'node:http';

/**
 * Every route answers through the whole path (gateway, handler, DynamoDB) before `ready`. With
 * `quietToken` (the gateway's), the handlers do not log the probe's requests.
 */
export async function probeRoutes(
  apiUrl: string,
  token: string,
  timeoutMs = 15_000,
  quietToken?: string,
): Promise<void> {
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
      const headers = quietToken ? { ...probe.headers, 'x-local-stack-probe': quietToken } : probe.headers;
      const status = await httpStatus(`${apiUrl}${probe.path}`, probe.method, headers).catch(() => 0);
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
