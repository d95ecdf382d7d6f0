import { randomBytes } from 'node:crypto';
import { RETENTION_CHECKPOINT_KEY } from '../../lambda/shared/config/env-names';
import { deferred, SimulatedTwilio } from '../../lib/simulated-twilio';
import { LocalStack, stopSuite, waitFor } from './harness';

/**
 * A legal hold as a compliance user meets it on `npm start`, with the retention sweep running every
 * second: a recording past retention, held while its copy runs, survives erasure requests and
 * sweeps, is listed by GET /recordings?hold=true, and once released is expired by the next sweep.
 * Every step is in its audit trail.
 */

const ACCOUNT_SID = `AC${randomBytes(16).toString('hex')}`;
const AUTH_TOKEN = randomBytes(16).toString('hex');
const DAY = 24 * 3600 * 1000;

let twilio: SimulatedTwilio;
let stack: LocalStack;

beforeAll(async () => {
  twilio = await SimulatedTwilio.start({ accountSid: ACCOUNT_SID, authToken: AUTH_TOKEN });
  stack = await LocalStack.startFor(twilio, {
    env: {
      RECONCILE_INTERVAL_SECONDS: '0',
      RETENTION_DAYS: '2',
      RETENTION_SWEEP_SECONDS: '1',
      RETENTION_EARLIEST_DAY: new Date(Date.now() - 10 * DAY).toISOString().slice(0, 10),
    },
  });
}, 120_000);

afterAll(() => stopSuite(stack, twilio), 60_000);

const auth = () => ({ authorization: `Bearer ${stack.config.apiToken}` });

async function api(method: string, path: string, body?: unknown) {
  return stack.request(method, path, {
    headers: { ...auth(), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
}

/** The sweep's checkpoint item: what it passed by, and its last run. */
async function checkpoint() {
  return (await stack.ledger(RETENTION_CHECKPOINT_KEY)) as unknown as
    | { pending?: { recordingSid: string; why: string }[]; lastRun?: { at: string; held: number } }
    | undefined;
}

test('a held recording past retention survives erasure and sweeps, is listed as held, and expires once released', async () => {
  // Arrange: a recording five days old (past the two days kept) whose copy waits until it is held.
  const call = await stack.knownCall();
  const recording = twilio.addRecording({ callSid: call.callSid, dateCreated: new Date(Date.now() - 5 * DAY) });
  const media = deferred();
  twilio.respond('GET', twilio.recordingPath(recording.sid, 'mp3'), {
    waitFor: media.promise,
    headers: { 'content-type': 'audio/mpeg' },
    body: recording.media,
  });
  expect((await stack.postCallback(twilio.callbackParams(recording))).status).toBe(204);
  await waitFor('the copy to start', async () =>
    (await stack.ledger(recording.sid))?.status === 'transferring' ? true : undefined,
  );

  // Act: hold it, then let the copy finish.
  const reason = 'Matter 2026-114 — préservation, "litige" <client>';
  const held = await api('PUT', `/recordings/${recording.sid}/hold`, { reason });
  expect(held.status).toBe(200);
  media.resolve();
  const stored = await stack.storedInLedger(recording.sid);
  const object = await stack.listKeys(String(stored.key));
  expect(object).toEqual([{ key: stored.key, size: stored.sizeBytes }]);

  // The sweep passes it by, however many times it runs.
  const passedBy = await waitFor('a sweep to pass the held recording by', async () => {
    const state = await checkpoint();
    return state?.pending?.some((p) => p.recordingSid === recording.sid && p.why === 'held') && state.lastRun
      ? state.lastRun.at
      : undefined;
  });
  await waitFor('another sweep after that', async () =>
    ((await checkpoint())?.lastRun?.at ?? '') > passedBy ? true : undefined,
  );
  expect((await stack.ledger(recording.sid))?.status).toBe('stored');

  // Erasure by RecordingSid and by call is refused naming the hold; nothing is touched.
  const bySid = await api('DELETE', `/recordings/${recording.sid}`);
  expect(bySid.status).toBe(409);
  expect(bySid.json).toMatchObject({ hold: { reason } });
  const byCall = await api('DELETE', `/calls/${encodeURIComponent(call.callId)}/recordings/${recording.sid}`);
  expect(byCall.status).toBe(409);
  expect(await stack.listKeys(String(stored.key))).toEqual(object);
  expect(await stack.ledger(recording.sid)).toMatchObject({ status: 'stored', sha256: stored.sha256 });

  // GET /recordings?hold=true lists it with its hold.
  const day = String(stored.startedAt).slice(0, 10);
  const nextDay = new Date(Date.parse(day) + DAY).toISOString().slice(0, 10);
  const listed = await api('GET', `/recordings?from=${day}&to=${nextDay}&hold=true`);
  expect(listed.status).toBe(200);
  expect(listed.json).toEqual({
    recordings: [
      expect.objectContaining({
        recordingSid: recording.sid,
        status: 'stored',
        hold: expect.objectContaining({ reason }),
      }),
    ],
    nextCursor: null,
  });
  // …and so does the listing of every hold, with no range (what a compliance officer asks first).
  const everyHold = await api('GET', '/recordings?hold=true');
  expect(everyHold.status).toBe(200);
  expect(heldSids(everyHold.json)).toContain(recording.sid);

  // Released: no longer listed as held, and the next sweep expires it everywhere.
  expect((await api('DELETE', `/recordings/${recording.sid}/hold`)).status).toBe(204);
  const afterRelease = await api('GET', `/recordings?from=${day}&to=${nextDay}&hold=true`);
  expect(afterRelease.json).toEqual({ recordings: [], nextCursor: null });
  expect(heldSids((await api('GET', '/recordings?hold=true')).json)).not.toContain(recording.sid);
  const expired = await waitFor('the sweep to expire the released recording', async () => {
    const item = await stack.ledger(recording.sid);
    return item?.status === 'expired' ? item : undefined;
  });

  // Assert: gone everywhere, the ledger saying so; the trail holds every step with its actor.
  expect(expired).toMatchObject({ expiredAt: expect.stringMatching(/^\d{4}-/) });
  expect(expired.hold).toBeUndefined();
  expect(await stack.listKeys(String(stored.key))).toEqual([]);
  const trail = await api('GET', `/recordings/${recording.sid}/audit`);
  expect(trail.status).toBe(200);
  const entries = (trail.json as { entries: { action: string; outcome: string; actor: string }[] }).entries;
  expect(entries.map((e) => `${e.action}:${e.outcome}`)).toEqual(
    expect.arrayContaining(['recording.hold:done', 'recording.erase:refused', 'recording.release:done']),
  );
  expect(entries.filter((e) => e.action === 'recording.erase' && e.outcome === 'refused')).toHaveLength(2);
  for (const entry of entries) expect(entry.actor).toEqual(expect.any(String));
}, 180_000);

/** The RecordingSids of a GET /recordings answer. */
function heldSids(json: unknown): string[] {
  return ((json as { recordings?: { recordingSid: string }[] }).recordings ?? []).map((r) => r.recordingSid);
}
