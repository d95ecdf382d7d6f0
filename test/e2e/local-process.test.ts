import { randomBytes } from 'node:crypto';
import { appendFile, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { GetCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import type { LedgerItem } from '../../lambda/shared/ledger/ledger';
import { SimulatedTwilio, slow } from '../../lib/simulated-twilio';
import {
  callbackParams,
  download,
  expectedKey,
  LocalProcess,
  LocalStack,
  localStackEnv,
  newAccountSid,
  newCallSid,
  newRecordingSid,
  type PlaybackBody,
  portIsFree,
  waitFor,
} from './harness';

/**
 * The local stack as a process: how it refuses a bad environment, and that a transfer in flight
 * when the process is killed completes after a restart on the same data directory and ports.
 */

const ACCOUNT_SID = newAccountSid();
const AUTH_TOKEN = randomBytes(16).toString('hex');

let stub: SimulatedTwilio;
const dataDirs: string[] = [];
const running: LocalStack[] = [];

beforeAll(async () => {
  stub = await SimulatedTwilio.start({ accountSid: ACCOUNT_SID, authToken: AUTH_TOKEN });
});

afterAll(async () => {
  for (const stack of running) await stack.stop(10_000);
  for (const dir of dataDirs) await rm(dir, { recursive: true, force: true });
  await stub?.close();
}, 60_000);

async function ledgerItem(stack: LocalStack, recordingSid: string): Promise<LedgerItem | undefined> {
  const result = await stack.ddb.send(
    new GetCommand({ TableName: 'recordings', Key: { recordingSid }, ConsistentRead: true }),
  );
  return result.Item as LedgerItem | undefined;
}

/** Marks every queued job of the recording consumed in the stopped stack's SQS journal, so a restart does not replay it. */
async function forgetQueuedJobs(dataDir: string, recordingSid: string): Promise<void> {
  const file = join(dataDir, 'sqs', 'journal.ndjson');
  const entries = (await readFile(file, 'utf8'))
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as { op: string; q: string; id: string; body?: string });
  const jobs = entries.filter((e) => e.op === 'published' && e.body?.includes(recordingSid));
  expect(jobs.length).toBeGreaterThan(0);
  await appendFile(
    file,
    jobs.map((e) => `${JSON.stringify({ op: 'consumed', q: e.q, id: e.id, t: Date.now() })}\n`).join(''),
  );
}

test('exits 1 with a message naming TWILIO_AUTH_TOKEN when it is missing', async () => {
  const config = await LocalStack.configure({
    twilioApiBaseUrl: stub.baseUrl,
    accountSid: ACCOUNT_SID,
    authToken: AUTH_TOKEN,
  });
  dataDirs.push(config.dataDir);

  const child = LocalProcess.spawn(localStackEnv({ ...config, env: { TWILIO_AUTH_TOKEN: undefined } }));
  const exit = await child.waitExit(60_000);
  if (!exit) child.signalGroup('SIGKILL');

  expect(exit).toEqual({ code: 1, signal: null });
  expect(child.text()).toContain('TWILIO_AUTH_TOKEN');
  expect(child.text()).not.toMatch(/ready/i);
  // The group's last processes may outlive the exit by a moment on a busy machine: bounded, not instant.
  await waitFor('the process group to be gone', () => (child.groupAlive() ? undefined : true), { timeoutMs: 30_000 });
  expect(await portIsFree(config.ports.api)).toBe(true);
}, 90_000);

test('a fresh start writes nothing to the access audit trail: the readiness probe acts on no recording and lists nothing', async () => {
  const stack = await LocalStack.startFor(stub);
  dataDirs.push(stack.config.dataDir);
  running.push(stack);

  const audit = await stack.ddb.send(new ScanCommand({ TableName: 'audit', ConsistentRead: true }));

  expect(audit.Items ?? []).toEqual([]);
  await stack.stop();
}, 120_000);

test('a stack whose trail holds an entry for the probe’s own RecordingSid starts again', async () => {
  const stack = await LocalStack.startFor(stub);
  dataDirs.push(stack.config.dataDir);
  running.push(stack);
  const held = await stack.request('PUT', '/recordings/RE00000000000000000000000000000000/hold', {
    headers: { authorization: `Bearer ${stack.config.apiToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ reason: 'a user trying things' }),
  });
  expect(held.status).toBe(404);
  await stack.stop();

  const restarted = await LocalStack.launch(stack.config);
  running.push(restarted);

  const trail = await restarted.request('GET', '/recordings/RE00000000000000000000000000000000/audit', {
    headers: { authorization: `Bearer ${stack.config.apiToken}` },
  });
  expect(trail.json).toMatchObject({ entries: [expect.objectContaining({ action: 'recording.hold' })] });
  await restarted.stop();
}, 120_000);

test('a transfer in flight when the process is SIGKILLed completes exactly after a restart on the same data', async () => {
  const stack = await LocalStack.startFor(stub, {
    maxAttempts: 4,
    retryBaseSeconds: 1,
    visibilityTimeoutSeconds: 5,
  });
  dataDirs.push(stack.config.dataDir);
  running.push(stack);
  const callId = `call-${randomBytes(6).toString('hex')}`;
  const callSid = newCallSid();
  await stack.putCall({ callId, twilioCallSid: callSid, customerRef: 'cust-7' });
  const recordingSid = newRecordingSid();
  // The first download trickles (1 MiB at 16 KiB / 50 ms, about 3.3 s); later ones are immediate.
  const audio = stub.addRecording({ sid: recordingSid, size: 1024 * 1024, responses: [slow(16 * 1024, 50)] }).media;
  const key = expectedKey(callId, recordingSid);

  expect((await stack.postCallback(callbackParams({ accountSid: ACCOUNT_SID, callSid, recordingSid }))).status).toBe(
    204,
  );
  await waitFor('the stub to have sent part of the recording', () =>
    stub.bytesSent(recordingSid) >= 128 * 1024 ? true : undefined,
  );
  await stack.kill();
  const [first] = stub.mediaRequests(recordingSid);
  await waitFor('the stub to see the download cut off', () => (first?.aborted ? true : undefined), {
    timeoutMs: 10_000,
  });
  expect(first?.completed).toBe(false);
  expect(first?.bytesSent).toBeLessThan(audio.length);

  const restarted = await LocalStack.launch(stack.config);
  running.push(restarted);
  const item = await restarted.waitForEntry(callId, recordingSid, 'stored', 90_000);

  const stored = await restarted.objectBytes(key);
  expect(stored.length).toBe(audio.length);
  expect(stored.equals(audio)).toBe(true);
  expect(item.recordings?.[recordingSid]).toMatchObject({ status: 'stored', key, sizeBytes: audio.length });
  expect(item).toMatchObject({ customerRef: 'cust-7', recordingKey: key, recordingStatus: 'stored' });
  expect(item.notes ?? []).toEqual([]);
  expect(await restarted.listKeys(`recordings/2024/07/${callId}/`)).toEqual([{ key, size: audio.length }]);
  const playback = await restarted.playback(callId);
  expect(playback.status).toBe(200);
  expect((await download((playback.json as PlaybackBody).url)).bytes.equals(audio)).toBe(true);
  expect(stub.count('media', recordingSid)).toBeGreaterThanOrEqual(2);
  await restarted.waitForQueueDrained();

  const { status, forced, stopMs } = await restarted.stop();
  expect(forced).toBe(false);
  expect(status).toBeDefined();
  for (const port of Object.values(stack.config.ports)) expect(await portIsFree(port)).toBe(true);
  console.log(
    `kill/restart: killed after ${first?.bytesSent} of ${audio.length} bytes; restart ready in ${restarted.startupMs} ms; ` +
      `stored after restart; media requests ${stub.count('media', recordingSid)}; SIGTERM exit ${JSON.stringify(status)} in ${stopMs} ms`,
  );
}, 240_000);

test('after a SIGKILL mid-copy, a duplicate callback (a new job id) takes over the dead claim once its lease ran out: one object, one full fetch', async () => {
  const stack = await LocalStack.startFor(stub, {
    maxAttempts: 4,
    retryBaseSeconds: 1,
    visibilityTimeoutSeconds: 5,
    env: { TRANSFER_LEASE_SECONDS: '3' },
  });
  dataDirs.push(stack.config.dataDir);
  running.push(stack);
  const callId = `call-${randomBytes(6).toString('hex')}`;
  const callSid = newCallSid();
  await stack.putCall({ callId, twilioCallSid: callSid });
  const recordingSid = newRecordingSid();
  // The first download trickles (1 MiB at 16 KiB / 50 ms); later ones are immediate.
  const audio = stub.addRecording({ sid: recordingSid, size: 1024 * 1024, responses: [slow(16 * 1024, 50)] }).media;
  const key = expectedKey(callId, recordingSid);
  const params = callbackParams({ accountSid: ACCOUNT_SID, callSid, recordingSid });

  expect((await stack.postCallback(params)).status).toBe(204);
  await waitFor('the stub to have sent part of the recording', () =>
    stub.bytesSent(recordingSid) >= 128 * 1024 ? true : undefined,
  );
  await stack.kill();
  const [first] = stub.mediaRequests(recordingSid);
  await waitFor('the stub to see the download cut off', () => (first?.aborted ? true : undefined), {
    timeoutMs: 10_000,
  });
  // On AWS the dead worker's message stays invisible for the visibility timeout, longer than the
  // lease; the local journal would replay it at once and the same job would resume its own claim.
  // Taken out of the journal, the recording is left to a job with another id.
  await forgetQueuedJobs(stack.config.dataDir, recordingSid);

  const restarted = await LocalStack.launch(stack.config);
  running.push(restarted);
  const dead = await ledgerItem(restarted, recordingSid);
  expect(dead).toMatchObject({ status: 'transferring', claimId: expect.any(String) });
  await waitFor("the dead claim's lease to run out", () =>
    Date.now() > (dead?.leaseExpiresAt ?? 0) + 250 ? true : undefined,
  );
  // The webhook gives every accepted callback a job id of its own.
  expect((await restarted.postCallback(params)).status).toBe(204);

  const item = await restarted.waitForEntry(callId, recordingSid, 'stored', 60_000);
  await restarted.waitForQueueDrained();
  expect(item.recordings?.[recordingSid]).toMatchObject({ status: 'stored', key, sizeBytes: audio.length });
  expect(item.notes ?? []).toEqual([]);
  expect(await restarted.listKeys(`recordings/2024/07/${callId}/`)).toEqual([{ key, size: audio.length }]);
  expect((await restarted.objectBytes(key)).equals(audio)).toBe(true);
  const stored = await ledgerItem(restarted, recordingSid);
  expect(stored).toMatchObject({ status: 'stored', sizeBytes: audio.length });
  expect(stored?.claimId).toBeUndefined();
  // The cut-off download of the dead worker, then exactly one full one by the job that took over.
  const fetches = stub.mediaRequests(recordingSid);
  expect(fetches).toHaveLength(2);
  expect(fetches[1]).toMatchObject({ completed: true, bytesSent: audio.length });

  const { forced } = await restarted.stop();
  expect(forced).toBe(false);
}, 240_000);

test('Ctrl-C stops cleanly with exit 0 even when it arrives twice; logs are readable lines after the banner; the API token survives a restart', async () => {
  const config = await LocalStack.configure({
    twilioApiBaseUrl: stub.baseUrl,
    accountSid: ACCOUNT_SID,
    authToken: AUTH_TOKEN,
    env: { LOCAL_API_TOKEN: undefined },
  });
  dataDirs.push(config.dataDir);
  const first = await LocalStack.launch(config);
  running.push(first);
  const tokenOf = (stack: LocalStack) => /LOCAL_API_TOKEN=(\S+)/.exec(stack.proc.text())?.[1];
  const token = tokenOf(first);
  expect(token).toBeDefined();
  const beforeBanner = first.proc.text().split(/^API: /m)[0] ?? '';
  expect(beforeBanner.split('\n').filter((line) => line && !line.startsWith('Note: '))).toEqual([]);

  const refused = await first.postCallback(
    callbackParams({ accountSid: ACCOUNT_SID, callSid: newCallSid(), recordingSid: newRecordingSid() }),
    { signature: 'bm90IGEgc2lnbmF0dXJl' },
  );
  expect(refused.status).toBe(403);
  await waitFor('a readable log line for the refused callback', () =>
    /^\d\d:\d\d:\d\d WARN {2}webhook +Rejected a callback with an invalid signature {2}path=\/twilio\/recording$/m.test(
      first.proc.text(),
    )
      ? true
      : undefined,
  );
  expect(first.proc.text()).not.toMatch(/^\{/m);

  // A terminal signals the whole foreground group; a wrapper (npm, tsx) relays the same press again.
  first.proc.signalGroup('SIGINT');
  first.proc.child.kill('SIGINT');
  const exit = await first.proc.waitExit(30_000);

  expect(exit).toEqual({ code: 0, signal: null });
  expect(first.proc.text().match(/SIGINT: stopping/g)).toHaveLength(1);
  expect(first.proc.text()).not.toMatch(/again/);
  await waitFor('the process group to be gone', () => (first.proc.groupAlive() ? undefined : true));
  for (const port of Object.values(config.ports)) expect(await portIsFree(port)).toBe(true);

  const second = await LocalStack.launch(config);
  running.push(second);
  expect(tokenOf(second)).toBe(token);
  expect((await stat(join(config.dataDir, 'api-token'))).mode & 0o777).toBe(0o600);
  expect((await second.playback('no-such-call', { token })).status).toBe(404);
}, 240_000);
