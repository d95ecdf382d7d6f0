/**
 * The operations commands against `npm start`'s local stack: a recording dead-lettered because
 * Twilio keeps failing is shown by `npm run status` as failed with the reason, moved back by
 * `npm run redrive` once Twilio is fixed, and ends stored, which `status` then shows.
 */
import { randomBytes } from 'node:crypto';
import type { StatusReport } from '../../lib/ops/status';
import { SimulatedTwilio, status } from '../../lib/simulated-twilio';
import {
  type CliRun,
  callbackParams,
  DEAD_LETTER_QUEUE,
  LocalStack,
  newAccountSid,
  newCallSid,
  newRecordingSid,
  runCli,
  stopSuite,
  waitFor,
} from './harness';

const ACCOUNT_SID = newAccountSid();
const AUTH_TOKEN = randomBytes(16).toString('hex');

let stub: SimulatedTwilio;
let stack: LocalStack;

beforeAll(async () => {
  stub = await SimulatedTwilio.start({ accountSid: ACCOUNT_SID, authToken: AUTH_TOKEN });
  stack = await LocalStack.startFor(stub, {
    maxAttempts: 2,
    retryBaseSeconds: 1,
    visibilityTimeoutSeconds: 5,
  });
}, 120_000);

afterAll(() => stopSuite(stack, stub), 60_000);

/** An operator's command, with the same variables as the `npm start` it talks to. */
function command(script: 'status' | 'redrive', args: readonly string[]): Promise<CliRun> {
  return runCli(script, args, stack.operatorEnv());
}

async function statusOf(recordingSid: string): Promise<StatusReport> {
  const result = await command('status', ['--recording', recordingSid, '--json']);
  if (result.code !== 0) throw new Error(`status exited ${result.code}: ${result.stderr}`);
  return JSON.parse(result.stdout) as StatusReport;
}

test('dead-lettered by a failing Twilio, shown failed with the reason, redriven after the fix, stored', async () => {
  const callId = `call-${randomBytes(6).toString('hex')}`;
  const callSid = newCallSid();
  const recordingSid = newRecordingSid();
  await stack.putCall({ callId, twilioCallSid: callSid });
  stub.addRecording({ sid: recordingSid, callSid, size: 12_000, otherwise: status(500) });

  const posted = await stack.postCallback(callbackParams({ accountSid: ACCOUNT_SID, callSid, recordingSid }));
  expect(posted.status).toBe(204);
  await stack.waitForEntry(callId, recordingSid, 'failed', 60_000, { settle: false });
  await waitFor('the job in the dead-letter queue', async () =>
    (await stack.queueDepth(DEAD_LETTER_QUEUE)) > 0 ? true : undefined,
  );

  const failed = await statusOf(recordingSid);
  expect(failed.call).toEqual({ callId, twilioCallSid: callSid });
  expect(failed.recordings[0]).toMatchObject({
    ledger: { status: 'failed', errorCode: 'twilio-500' },
    callEntry: { status: 'failed', errorCode: 'twilio-500' },
    deadLetters: [{ recordingSid, errorCode: 'twilio-500', attempts: 2 }],
  });
  const readable = await command('status', ['--recording', recordingSid]);
  expect(readable.code).toBe(0);
  expect(readable.stdout).toMatch(/ledger +failed \(twilio-500: .*500/);
  expect(readable.stdout).toMatch(/dead letter +twilio-500 after 2 attempt\(s\)/);

  // The fault is fixed: Twilio serves the media again.
  const media = stub.addRecording({ sid: recordingSid, callSid, size: 12_000 }).media;
  const redriven = await command('redrive', []);
  expect(redriven.code).toBe(0);
  expect(redriven.stdout.trimEnd().split('\n').at(-1)).toBe('redrive: moved 1');

  await stack.waitForEntry(callId, recordingSid, 'stored', 60_000);
  const stored = await statusOf(recordingSid);
  expect(stored.recordings[0]).toMatchObject({
    ledger: { status: 'stored', sizeBytes: media.length },
    callEntry: { status: 'stored' },
    object: { present: true, sizeBytes: media.length },
    deadLetters: [],
    issues: [],
  });
  expect(stored.recordings[0]?.object?.sha256).toBe(stored.recordings[0]?.ledger?.sha256);
  expect(await stack.queueDepth(DEAD_LETTER_QUEUE)).toBe(0);
}, 180_000);
