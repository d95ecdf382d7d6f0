import { createHash, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SimulatedTwilio } from '../../lib/simulated-twilio';
import { type CliRun, LocalStack, newAccountSid, runCli, stopSuite } from './harness';

/**
 * Several Twilio accounts on one vault, end to end on the local stack with the simulated Twilio:
 * a parent and two subaccounts (TWILIO_SUBACCOUNTS), each signing its callbacks with its own
 * token and keeping its media under its own path. A callback from an account the vault does not
 * list is refused; the reconciler lists every account and catches a lost callback in each;
 * `npm run backfill` does the same per account for a past range.
 */

const PARENT = { accountSid: newAccountSid(), authToken: randomBytes(16).toString('hex') };
const SUB_A = { accountSid: newAccountSid(), authToken: randomBytes(16).toString('hex') };
const SUB_B = { accountSid: newAccountSid(), authToken: randomBytes(16).toString('hex') };
const MINUTE = 60_000;

let twilio: SimulatedTwilio;
let stack: LocalStack;

beforeAll(async () => {
  twilio = await SimulatedTwilio.start({ ...PARENT, subaccounts: [SUB_A, SUB_B] });
  stack = await LocalStack.start({
    twilioApiBaseUrl: twilio.baseUrl,
    accountSid: PARENT.accountSid,
    authToken: PARENT.authToken,
    env: {
      TWILIO_SUBACCOUNTS: `${SUB_A.accountSid}:${SUB_A.authToken},${SUB_B.accountSid}:${SUB_B.authToken}`,
      // Every second, an hour back; recordings of the last 5 minutes are left to their callbacks.
      RECONCILE_INTERVAL_SECONDS: '1',
      RECONCILE_LOOKBACK_SECONDS: '3600',
      RECONCILE_SETTLE_SECONDS: '300',
    },
  });
}, 120_000);

afterAll(() => stopSuite(stack, twilio), 60_000);

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

/** The paths the vault fetched a recording's media from. */
const mediaPaths = (recordingSid: string) =>
  twilio
    .requestsTo(`/Recordings/${recordingSid}`, 'GET')
    .map((r) => new URL(r.path, 'http://x').pathname)
    .filter((path) => !path.endsWith('.json'));

async function events(): Promise<{ 'detail-type': string; detail: Record<string, unknown> }[]> {
  const text = await readFile(join(stack.config.dataDir, 'events.ndjson'), 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line));
}

test('callbacks from two subaccounts, each signed with its own token, are stored from under each account', async () => {
  const callA = await stack.knownCall();
  const callB = await stack.knownCall();
  const fromA = twilio.addRecording({ accountSid: SUB_A.accountSid, callSid: callA.callSid, size: 30_000 });
  const fromB = twilio.addRecording({ accountSid: SUB_B.accountSid, callSid: callB.callSid, size: 31_000 });

  const answers = [
    await twilio.sendCallback(stack.webhookUrl, twilio.callbackParams(fromA)),
    await twilio.sendCallback(stack.webhookUrl, twilio.callbackParams(fromB)),
  ];
  const [storedA, storedB] = await Promise.all([stack.storedInLedger(fromA.sid), stack.storedInLedger(fromB.sid)]);

  expect(answers).toEqual([204, 204]);
  expect(storedA).toMatchObject({ accountSid: SUB_A.accountSid, callId: callA.callId, sha256: sha256(fromA.media) });
  expect(storedB).toMatchObject({ accountSid: SUB_B.accountSid, callId: callB.callId, sha256: sha256(fromB.media) });
  expect(sha256(await stack.objectBytes(storedA.key ?? ''))).toBe(sha256(fromA.media));
  expect(mediaPaths(fromA.sid)).toEqual([`/2010-04-01/Accounts/${SUB_A.accountSid}/Recordings/${fromA.sid}.mp3`]);
  expect(mediaPaths(fromB.sid)).toEqual([`/2010-04-01/Accounts/${SUB_B.accountSid}/Recordings/${fromB.sid}.mp3`]);
  expect(twilio.unauthorizedRequests()).toEqual([]);

  const day = (offset: number) => new Date(Date.now() + offset * 24 * 60 * MINUTE).toISOString().slice(0, 10);
  const listed = await stack.request('GET', `/recordings?from=${day(-1)}&to=${day(2)}&limit=1000`, {
    headers: { authorization: `Bearer ${stack.config.apiToken}` },
  });
  expect(listed.status).toBe(200);
  const byAccount = Object.fromEntries(
    (listed.json as { recordings: { recordingSid: string; accountSid: string }[] }).recordings.map((r) => [
      r.recordingSid,
      r.accountSid,
    ]),
  );
  expect(byAccount[fromA.sid]).toBe(SUB_A.accountSid);
  expect(byAccount[fromB.sid]).toBe(SUB_B.accountSid);
  const stored = (await events()).filter((e) => e['detail-type'] === 'Recording Stored');
  expect(stored.find((e) => e.detail.recordingSid === fromB.sid)?.detail.accountSid).toBe(SUB_B.accountSid);
});

test('a callback from an account the vault does not list is refused, signed with its own real token', async () => {
  const stranger = twilio.addSubaccount();
  const recording = twilio.addRecording({ accountSid: stranger.accountSid, size: 10_000 });

  const answer = await twilio.sendCallback(stack.webhookUrl, twilio.callbackParams(recording));

  expect(answer).toBe(403);
  expect(await stack.ledger(recording.sid)).toBeUndefined();
  expect(twilio.mediaRequests(recording.sid)).toHaveLength(0);
});

test('a callback signed with the parent token for a subaccount recording is refused', async () => {
  const recording = twilio.addRecording({ accountSid: SUB_A.accountSid, size: 10_000 });

  const answer = await twilio.sendCallback(stack.webhookUrl, twilio.callbackParams(recording), {
    authToken: PARENT.authToken,
  });

  expect(answer).toBe(403);
});

test('the reconciler lists every account and catches the recording whose callback never came in each', async () => {
  const tenMinutesAgo = new Date(Date.now() - 10 * MINUTE);
  const missed = [PARENT, SUB_A, SUB_B].map((account, index) =>
    twilio.addRecording({ accountSid: account.accountSid, dateCreated: tenMinutesAgo, size: 20_000 + index }),
  );

  const stored = await Promise.all(missed.map((recording) => stack.storedInLedger(recording.sid)));

  expect(stored.map((item) => [item.accountSid, item.origin])).toEqual([
    [PARENT.accountSid, 'reconciler'],
    [SUB_A.accountSid, 'reconciler'],
    [SUB_B.accountSid, 'reconciler'],
  ]);
  expect(stored.map((item) => item.sha256)).toEqual(missed.map((recording) => sha256(recording.media)));
  for (const [recording, account] of [
    [missed[1], SUB_A],
    [missed[2], SUB_B],
  ] as const) {
    expect(mediaPaths(recording?.sid ?? '')[0]).toContain(`/Accounts/${account.accountSid}/Recordings/`);
  }
  expect(twilio.requestsTo(`/Accounts/${SUB_B.accountSid}/Recordings.json`, 'GET').length).toBeGreaterThan(0);
  expect(twilio.unauthorizedRequests()).toEqual([]);
});

/** `npm run backfill` against this stack, with the variables `npm start` was given. */
function backfill(...args: string[]): Promise<CliRun> {
  return runCli('backfill', args, {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '',
    TWILIO_ACCOUNT_SID: PARENT.accountSid,
    TWILIO_AUTH_TOKEN: PARENT.authToken,
    TWILIO_SUBACCOUNTS: `${SUB_A.accountSid}:${SUB_A.authToken},${SUB_B.accountSid}:${SUB_B.authToken}`,
    TWILIO_API_BASE_URL: twilio.baseUrl,
    DYNAMODB_PORT: String(stack.config.ports.dynamodb),
    SQS_PORT: String(stack.config.ports.sqs),
    AWS_REGION: 'us-east-1',
  });
}

test('npm run backfill lists each account for a past range, and --account one of them only', async () => {
  // Three days ago: far behind the reconciler's hour.
  const day = new Date(Date.now() - 3 * 24 * 60 * MINUTE);
  const from = new Date(day.getTime() - 60 * MINUTE).toISOString();
  const to = new Date(day.getTime() + 60 * MINUTE).toISOString();
  const old = [PARENT, SUB_A, SUB_B].map((account) =>
    twilio.addRecording({ accountSid: account.accountSid, dateCreated: day, size: 12_000 }),
  );

  const onlyA = await backfill('--from', from, '--to', to, '--account', SUB_A.accountSid, '--dry-run');
  const all = await backfill('--from', from, '--to', to);

  expect(onlyA.code).toBe(0);
  expect(onlyA.stdout.trim().split('\n').at(-1)).toBe('backfill: listed 1, already stored 0, queued 1, skipped 0');
  expect(all.code).toBe(0);
  expect(all.stderr).toContain(`backfill: ${SUB_B.accountSid}: listed 1, already stored 0, queued 1, skipped 0`);
  expect(all.stdout.trim().split('\n').at(-1)).toBe('backfill: listed 3, already stored 0, queued 3, skipped 0');
  const stored = await Promise.all(old.map((recording) => stack.storedInLedger(recording.sid)));
  expect(stored.map((item) => [item.accountSid, item.origin])).toEqual([
    [PARENT.accountSid, 'backfill'],
    [SUB_A.accountSid, 'backfill'],
    [SUB_B.accountSid, 'backfill'],
  ]);
});

test('an --account the target does not list is one clear line and a non-zero exit', async () => {
  const result = await backfill('--from', '2024-01-01', '--to', '2024-01-02', '--account', newAccountSid());

  expect(result.code).not.toBe(0);
  expect(result.stderr.trim().split('\n')).toHaveLength(1);
  expect(result.stderr).toMatch(/--account AC[0-9a-f]{32} is not one of the target's accounts/);
});
