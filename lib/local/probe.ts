/**
 * The local stack's readiness check: every route answers a real request through the whole path
 * (gateway, handler, emulators) before the stack says `ready`, and none of them is an act the
 * access audit trail would enter: no URL is issued, no page listed, no recording erased or held.
 */
import { request } from 'node:http';

interface Probe {
  readonly method: string;
  readonly path: string;
  /** Sends the API token (the route is behind it). */
  readonly token?: true;
  readonly headers?: Readonly<Record<string, string>>;
  readonly expect: number;
  /**
   * The handler's own words: a 404 or 400 must come from the handler, not from a gateway without
   * the route (`{"error":"Not found"}`); loose, so that a rewording of a message does not stop the stack.
   */
  readonly says?: RegExp;
}

/** Valid in form and on no ledger: a read of it finds nothing. */
const NO_SUCH_RECORDING = 'RE00000000000000000000000000000000';
/**
 * Not a RecordingSid: the erasure and hold handlers refuse it before they read anything, and the
 * audited route enters no request that names no valid RecordingSid (lambda/shared/audit/audited-route.ts).
 */
const NOT_A_SID = 'local-stack-probe';

export const PROBES: readonly Probe[] = [
  { method: 'GET', path: '/config.json', expect: 200 },
  // Unsigned: refused after the content checks.
  {
    method: 'POST',
    path: '/twilio/recording',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    expect: 403,
  },
  // An unknown call, read from DynamoDB: no URL issued, so no `playback.url` entry.
  { method: 'GET', path: '/calls/local-stack-probe/recording', token: true, expect: 404, says: /call/i },
  { method: 'GET', path: '/calls/local-stack-probe/recordings', token: true, expect: 404, says: /call/i },
  // Refused before the ledger is queried: no page listed, so no `recordings.list` entry.
  { method: 'GET', path: '/recordings?from=2000-01-02&to=2000-01-01', token: true, expect: 400, says: /later/ },
  // Read from the ledger and not found: no URL issued.
  { method: 'GET', path: `/recordings/${NO_SUCH_RECORDING}`, token: true, expect: 404, says: /recording/i },
  {
    method: 'DELETE',
    path: `/calls/local-stack-probe/recordings/${NOT_A_SID}`,
    token: true,
    expect: 404,
    says: /recording|call/i,
  },
  { method: 'DELETE', path: `/recordings/${NOT_A_SID}`, token: true, expect: 400, says: /recordingsid/i },
  { method: 'PUT', path: `/recordings/${NOT_A_SID}/hold`, token: true, expect: 400, says: /reason/i },
  { method: 'DELETE', path: `/recordings/${NOT_A_SID}/hold`, token: true, expect: 400, says: /recordingsid/i },
  // Reading the trail is not itself entered in it; this reads the audit table. Any trail will do:
  // someone may have held or erased this SID (404, entered), and the trail is append-only.
  { method: 'GET', path: `/recordings/${NO_SUCH_RECORDING}/audit`, token: true, expect: 200, says: /"entries":\[/ },
];

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
  const deadline = Date.now() + timeoutMs;
  for (const probe of PROBES) {
    for (;;) {
      const headers: Record<string, string> = { ...probe.headers, 'user-agent': 'local-stack-probe' };
      if (probe.token) headers.authorization = `Bearer ${token}`;
      if (quietToken) headers['x-local-stack-probe'] = quietToken;
      const answer = await httpAnswer(`${apiUrl}${probe.path}`, probe.method, headers).catch(() => undefined);
      if (answer?.status === probe.expect && (!probe.says || probe.says.test(answer.body))) break;
      if (Date.now() > deadline) {
        throw new Error(
          `${probe.method} ${probe.path} answered ${answer ? `${answer.status} ${answer.body.slice(0, 200)}` : 'nothing'} (expected ${probe.expect}${probe.says ? ` saying ${probe.says}` : ''})`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

function httpAnswer(
  url: string,
  method: string,
  headers: Record<string, string>,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers: { ...headers, connection: 'close' } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.setTimeout(5000, () => req.destroy(new Error('probe timed out')));
    req.end();
  });
}
