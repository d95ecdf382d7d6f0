import { createHash, randomBytes } from 'node:crypto';
import { SimulatedTwilio } from '../../lib/simulated-twilio';
import { type CliRun, LocalStack, newAccountSid, runCli, stopSuite, waitFor } from './harness';

/**
 * Recordings whose callback never came, end to end on the local stack with the simulated Twilio:
 * the scheduled reconciler (every second here) finds them in Twilio's list and the transfer copies
 * them; `npm run backfill` does the same for a past range the reconciler no longer looks at. A
 * recording whose callback did arrive is copied once, whoever queues it again.
 */

const ACCOUNT_SID = newAccountSid();
const AUTH_TOKEN = randomBytes(16).toString('hex');
const MINUTE = 60_000;

let twilio: SimulatedTwilio;
let stack: LocalStack;

beforeAll(async () => {
  twilio = await SimulatedTwilio.start({ accountSid: ACCOUNT_SID, authToken: AUTH_TOKEN });
  stack = await LocalStack.startFor(twilio, {
    env: {
      RECONCILE_INTERVAL_SECONDS: '1',
      RECONCILE_LOOKBACK_SECONDS: '3600',
      RECONCILE_SETTLE_SECONDS: '0',
    },
  });
}, 120_000);

afterAll(() => stopSuite(stack, twilio), 60_000);

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

/** `npm run backfill` against this stack, with the variables `npm start` was given. */
function backfill(...args: string[]): Promise<CliRun> {
  return runCli('backfill', args, {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '',
    TWILIO_ACCOUNT_SID: ACCOUNT_SID,
    TWILIO_AUTH_TOKEN: AUTH_TOKEN,
    TWILIO_API_BASE_URL: twilio.baseUrl,
    DYNAMODB_PORT: String(stack.config.ports.dynamodb),
    SQS_PORT: String(stack.config.ports.sqs),
    AWS_REGION: 'us-east-1',
  });
}

const lastLine = (text: string) => text.trim().split('\n').at(-1);

test('the reconciler copies a completed recording whose callback never came, and nothing Twilio has not completed', async () => {
  const { callId, callSid } = await stack.knownCall();
  const missed = twilio.addRecording({ callSid, dateCreated: new Date(Date.now() - 10 * MINUTE), size: 40_000 });
  const absent = twilio.addRecording({ dateCreated: new Date(Date.now() - 9 * MINUTE), status: 'absent' });

  const stored = await stack.storedInLedger(missed.sid);

  expect(stored).toMatchObject({ callId, callSid, origin: 'reconciler', sha256: sha256(missed.media) });
  expect(sha256(await stack.objectBytes(stored.key ?? ''))).toBe(sha256(missed.media));
  expect(twilio.mediaRequests(absent.sid)).toHaveLength(0);
  expect(await stack.ledger(absent.sid)).toBeUndefined();
  expect(twilio.unauthorizedRequests()).toEqual([]);
}, 60_000);

test('a recording whose callback came is copied once, though the reconciler keeps listing it', async () => {
  const { callId, callSid } = await stack.knownCall();
  const recording = twilio.addRecording({ callSid, dateCreated: new Date(Date.now() - 8 * MINUTE) });

  expect((await stack.postCallback(twilio.callbackParams(recording))).status).toBe(204);
  const stored = await stack.storedInLedger(recording.sid);
  // Two more reconciler runs list it again.
  const listed = twilio.count('list');
  await waitFor('two more reconciler runs', () => (twilio.count('list') >= listed + 2 ? true : undefined));
  await stack.waitForQueueDrained();

  // Whichever job claimed it first (the callback's, or a reconciler run's in between) copied it alone.
  expect(stored).toMatchObject({ callId, origin: expect.stringMatching(/^(callback|reconciler)$/) });
  expect(twilio.mediaRequests(recording.sid)).toHaveLength(1);
  expect((await stack.ledger(recording.sid))?.storedAt).toBe(stored.storedAt);
}, 60_000);

test('npm run backfill copies what the reconciler no longer looks at, and a second run queues nothing', async () => {
  const { callId, callSid } = await stack.knownCall();
  const day = Date.UTC(2024, 6, 1);
  const old = [1, 2, 3].map((hour) =>
    twilio.addRecording({ callSid, dateCreated: new Date(day + hour * 60 * MINUTE), size: 20_000 }),
  );
  const inProgress = twilio.addRecording({ dateCreated: new Date(day + 4 * 60 * MINUTE), status: 'in-progress' });

  const first = await backfill('--from', '2024-07-01', '--to', '2024-07-02');

  expect(first.code).toBe(0);
  expect(lastLine(first.stdout)).toBe('backfill: listed 4, already stored 0, queued 3, skipped 1');
  for (const recording of old) {
    expect(await stack.storedInLedger(recording.sid)).toMatchObject({
      callId,
      origin: 'backfill',
      sha256: sha256(recording.media),
    });
  }
  expect(await stack.ledger(inProgress.sid)).toBeUndefined();

  const again = await backfill('--from', '2024-07-01', '--to', '2024-07-02');

  expect(lastLine(again.stdout)).toBe('backfill: listed 4, already stored 3, queued 0, skipped 1');
  expect(again.stderr).not.toContain(AUTH_TOKEN);
}, 90_000);
