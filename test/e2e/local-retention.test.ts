import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AuditReader } from '../../lambda/shared/audit/audit-trail';
import { RETENTION_CHECKPOINT_KEY } from '../../lambda/shared/config/env-names';
import { AUDIT_TABLE_NAME } from '../../lib/local/config';
import type { RetentionStatus } from '../../lib/ops/retention-status';
import { SimulatedTwilio } from '../../lib/simulated-twilio';
import { LocalStack, newAccountSid, runCli, stopSuite, waitFor } from './harness';

/**
 * `npm start` with RETENTION_DAYS runs the retention sweep on its own schedule, as the stage's
 * schedule does on AWS: a recording older than the stage keeps is expired everywhere, a newer one
 * stays, the expiry is in the recording's audit trail under the actor `retention`, and
 * `npm run status -- --retention` reports the run that expired it.
 */

const ACCOUNT_SID = newAccountSid();
const AUTH_TOKEN = randomBytes(16).toString('hex');
const DAY = 24 * 3600 * 1000;
/**
 * Long enough that the status command, started as soon as the ledger says expired, reads the run
 * that expired the recording before the next run replaces its report.
 */
const SWEEP_SECONDS = '20';
const RETENTION = { RETENTION_DAYS: '2', RETENTION_SWEEP_SECONDS: SWEEP_SECONDS };

let twilio: SimulatedTwilio;
let stack: LocalStack;

beforeAll(async () => {
  twilio = await SimulatedTwilio.start({ accountSid: ACCOUNT_SID, authToken: AUTH_TOKEN });
  stack = await LocalStack.startFor(twilio, {
    env: {
      RECONCILE_INTERVAL_SECONDS: '0',
      ...RETENTION,
      // A fresh data directory holds nothing older: the first sweep need not walk from 2008.
      RETENTION_EARLIEST_DAY: new Date(Date.now() - 10 * DAY).toISOString().slice(0, 10),
    },
  });
}, 120_000);

afterAll(() => stopSuite(stack, twilio), 60_000);

test('the local sweep expires a recording older than RETENTION_DAYS everywhere and keeps a newer one', async () => {
  const call = await stack.knownCall();
  const old = twilio.addRecording({ callSid: call.callSid, dateCreated: new Date(Date.now() - 5 * DAY) });
  const recent = twilio.addRecording({ callSid: call.callSid, dateCreated: new Date(Date.now() - 3600_000) });
  for (const recording of [old, recent]) {
    expect((await stack.postCallback(twilio.callbackParams(recording))).status).toBe(204);
  }
  // Not `storedInLedger(old)`: a sweep may expire it between two polls, before one sees `stored`.
  await stack.storedInLedger(recent.sid);

  const expired = await waitFor(
    `the sweep to expire ${old.sid}`,
    async () => {
      const item = await stack.ledger(old.sid);
      return item?.status === 'expired' ? item : undefined;
    },
    { timeoutMs: 60_000 },
  );

  expect(expired).toMatchObject({ status: 'expired', expiredAt: expect.stringMatching(/^\d{4}-/) });
  expect(expired.key).toEqual(expect.stringContaining(old.sid));
  expect(await stack.listKeys(String(expired.key))).toEqual([]);
  expect((await stack.ledger(recent.sid))?.status).toBe('stored');
  const events = await readFile(join(stack.config.dataDir, 'events.ndjson'), 'utf8');
  const expiredEvents = events
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as { 'detail-type': string; detail: { recordingSid: string } })
    .filter((e) => e['detail-type'] === 'Recording Expired');
  expect(expiredEvents.map((e) => e.detail.recordingSid)).toEqual([old.sid]);

  // The expiry is in the recording's access audit trail, under the sweep's name, as an auditor reads it.
  const expiry = await waitFor(
    `the expiry of ${old.sid} in its audit trail`,
    async () => {
      const response = await stack.request('GET', `/recordings/${old.sid}/audit`, {
        headers: { authorization: `Bearer ${stack.config.apiToken}` },
      });
      const entries = (response.json as { entries?: { action: string }[] } | undefined)?.entries ?? [];
      return response.status === 200 && entries.some((e) => e.action === 'recording.expire') ? entries : undefined;
    },
    { timeoutMs: 15_000 },
  );
  expect(expiry).toEqual([
    expect.objectContaining({
      action: 'recording.expire',
      outcome: 'done',
      actor: 'retention',
      actorKind: 'local',
      at: expired.expiredAt,
    }),
  ]);

  // The operator's view of that run, with the same RETENTION_* variables as npm start.
  const text = await runCli('status', ['--retention'], stack.operatorEnv(RETENTION));
  expect(text).toMatchObject({ code: 0, stderr: '' });
  const cutoffDay = text.stdout.match(/^ {2}cutoff +(\d{4}-\d{2}-\d{2})T/m)?.[1];
  expect(cutoffDay).toBeDefined();
  expect(text.stdout).toMatch(/^ {2}kept +2 day\(s\) \(RETENTION_DAYS\), a sweep every 20 s$/m);
  expect(text.stdout).toMatch(new RegExp(`^ {2}next day +${cutoffDay}: caught up$`, 'm'));
  expect(text.stdout).toMatch(/^ {2}pending +none passed by$/m);
  expect(text.stdout).toMatch(/^ {2}last run +\S+: examined 1, expired 1, held 0, retained 0, failed 0 /m);

  const json = await runCli('status', ['--retention', '--json'], stack.operatorEnv(RETENTION));
  expect(json.code).toBe(0);
  expect(JSON.parse(json.stdout) as RetentionStatus).toMatchObject({
    target: 'the local stack',
    policy: { days: 2, setIn: 'RETENTION_DAYS' },
    checkpoint: { nextDay: cutoffDay, caughtUp: true, daysBehind: 0 },
    issues: [],
  });

  // Each look is in the audit trail under the local user, as one entry for the day.
  const trail = new AuditReader(stack.ddb, AUDIT_TABLE_NAME);
  const looks = await trail.allForRecording(`~retention#${new Date().toISOString().slice(0, 10)}`);
  expect(looks.filter((e) => e.action === 'ops.status' && e.kind === 'local')).toHaveLength(2);

  // The call's recordings: the expired one says by whom, the kept one when it falls due.
  const byCall = await runCli('status', ['--call', call.callId], stack.operatorEnv(RETENTION));
  expect(byCall.code).toBe(0);
  expect(byCall.stdout).toMatch(/^ {2}ledger +expired at \S+ by the retention sweep$/m);
  expect(byCall.stdout).toMatch(/^ {2}retention +expired by the sweep after \S+$/m);
  expect(byCall.stdout).not.toMatch(/^ {2}issue/m);

  // A shell given other periods than npm start: the sweep's own walk and what to do, no false dates.
  const otherPeriods = { ...RETENTION, RETENTION_DAYS_BY_SOURCE: 'Conference=365' };
  const differs = await runCli('status', ['--retention'], stack.operatorEnv(otherPeriods));
  expect(differs.code).toBe(0);
  // The run shown may be a later one than the expiry's (a sweep every 20 s).
  expect(differs.stdout).toMatch(/^ {2}last run +\S+: examined \d+, expired \d+/m);
  expect(differs.stdout).toMatch(
    /^ {2}issue +the retention periods given here \(RETENTION_DAYS, RETENTION_DAYS_BY_SOURCE\) differ from those of the sweep’s last run: give this command the same/m,
  );
  const differsByCall = await runCli('status', ['--call', call.callId], stack.operatorEnv(otherPeriods));
  expect(differsByCall.stdout).toMatch(/^ {2}retention +unknown: the retention periods given here differ/m);
  expect(differsByCall.stdout).not.toMatch(/^ {2}retention +expired by the sweep after/m);
}, 120_000);

/** docs/local-mode.md, "Stopping": work in flight is let finish for up to this long. */
const DOCUMENTED_STOP_MS = 10_000;

/** The sweep's checkpoint item in the ledger (lambda/retention/checkpoint.ts). */
async function checkpointOf(
  at: LocalStack,
): Promise<{ nextDay?: string; lastRun?: Record<string, unknown> } | undefined> {
  return (await at.ledger(RETENTION_CHECKPOINT_KEY)) as unknown as {
    nextDay?: string;
    lastRun?: Record<string, unknown>;
  };
}

test('Ctrl-C during a sweep stops it between recordings with its checkpoint saved, and exits 0 within the documented bound', async () => {
  // A fresh data directory and no RETENTION_EARLIEST_DAY: the first sweep walks from 2008 a day at a time (a minute or more).
  const sweeping = await LocalStack.startFor(twilio, {
    env: { RECONCILE_INTERVAL_SECONDS: '0', RETENTION_DAYS: '2', RETENTION_SWEEP_SECONDS: '1' },
  });
  let restarted: LocalStack | undefined;
  try {
    const underWay = await waitFor(
      'a first sweep to have saved its checkpoint past a day',
      async () => {
        const checkpoint = await checkpointOf(sweeping);
        return typeof checkpoint?.nextDay === 'string' && checkpoint.nextDay > '2008-01-01' && !checkpoint.lastRun
          ? String(checkpoint.nextDay)
          : undefined;
      },
      { timeoutMs: 60_000 },
    );

    const { status, forced, stopMs } = await sweeping.stop(20_000, 'SIGINT');

    expect({ status, forced }).toEqual({ status: { code: 0, signal: null }, forced: false });
    expect(stopMs).toBeLessThan(DOCUMENTED_STOP_MS);
    console.log(`SIGINT during a local retention sweep: exit 0 in ${stopMs} ms`);

    // The stopped run saved where it got to and its report; the next start carries on from there, not from 2008.
    restarted = await LocalStack.launch(sweeping.config);
    const resumed = await checkpointOf(restarted);
    expect(resumed?.lastRun).toMatchObject({ fromDay: '2008-01-01', stopped: true, caughtUp: false });
    const stoppedAt = String(resumed?.lastRun?.nextDay);
    expect(stoppedAt >= underWay).toBe(true);
    expect(String(resumed?.nextDay) >= stoppedAt).toBe(true);
    const r = restarted;
    await waitFor(
      'the next run to walk on from the saved day',
      async () => {
        const checkpoint = await checkpointOf(r);
        return String(checkpoint?.nextDay) > String(stoppedAt) ? true : undefined;
      },
      { timeoutMs: 60_000 },
    );
  } finally {
    await (restarted ?? sweeping).stop();
    await sweeping.removeData();
  }
}, 240_000);
