/**
 * Catching up after an outage longer than one run can cover: runReconciliation with dynalite
 * (ledger, checkpoint) and Twilio's list from the simulated Twilio over HTTP. The queue "stores"
 * each job by writing its ledger item once (a second write of the same SID is counted), so
 * successive runs see what earlier ones queued. The clock is injected.
 */
import '../../helpers/setup-env';
import { DeleteCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { ReconcileCheckpoint, windowChunks } from '../../../lambda/reconciler/checkpoint';
import { runReconciliation } from '../../../lambda/reconciler/reconcile-run';
import type { RecordingJob } from '../../../lambda/shared/job/recording-job';
import type { TransferQueue } from '../../../lambda/shared/job/transfer-queue';
import { RecordingLedger } from '../../../lambda/shared/ledger/ledger';
import { isConditionFailed } from '../../../lambda/shared/runtime/dynamo-conditions';
import { createTwilioRecordingList } from '../../../lambda/shared/twilio/recording-list';
import { staticTokens } from '../../../lambda/shared/twilio/signature';
import { SimulatedTwilio } from '../../../lib/simulated-twilio';
import { captureObs } from '../../helpers/capture-obs';
import { type Emulators, LEDGER_TABLE, startEmulators } from '../../helpers/emulators';
import { TEST_ACCOUNT_SID, TEST_AUTH_TOKEN } from '../../helpers/twilio-fixtures';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const CHECKPOINT_KEY = '~reconciler-catch-up-test';

let aws: Emulators;
let twilio: SimulatedTwilio;

beforeAll(async () => {
  [aws, twilio] = await Promise.all([
    startEmulators(),
    SimulatedTwilio.start({ accountSid: TEST_ACCOUNT_SID, authToken: TEST_AUTH_TOKEN }),
  ]);
});

afterAll(async () => {
  await Promise.all([aws.stop(), twilio.close()]);
});

it('cuts a window into chunks of at most the chunk size, oldest first, covering it exactly', () => {
  const from = new Date('2024-07-22T10:50:00Z');
  const to = new Date('2024-07-22T13:05:00Z');
  expect(windowChunks({ from, to }, HOUR)).toEqual([
    { from, to: new Date('2024-07-22T11:50:00Z') },
    { from: new Date('2024-07-22T11:50:00Z'), to: new Date('2024-07-22T12:50:00Z') },
    { from: new Date('2024-07-22T12:50:00Z'), to },
  ]);
});

it('catches up an outage longer than several runs: every recording stored once, oldest first, the checkpoint moving forward each run', async () => {
  twilio.reset();
  await aws.ddb.send(new DeleteCommand({ TableName: LEDGER_TABLE, Key: { recordingSid: CHECKPOINT_KEY } }));
  const checkpoint = new ReconcileCheckpoint(aws.ddb, LEDGER_TABLE, CHECKPOINT_KEY);
  const outageStart = new Date('2024-07-22T11:00:00Z');
  await checkpoint.advance(
    { from: new Date(outageStart.getTime() - 15 * MINUTE), to: outageStart },
    { listed: 0, alreadyStored: 0, queued: 0, skipped: 0, invalid: 0 },
    outageStart,
  );
  // Six hours and fifty minutes of missed callbacks, one recording every ten minutes.
  const created = new Map<string, number>();
  for (let at = outageStart.getTime(); at < outageStart.getTime() + 410 * MINUTE; at += 10 * MINUTE) {
    created.set(twilio.addRecording({ dateCreated: new Date(at), media: Buffer.alloc(0) }).sid, at);
  }
  let clock = new Date('2024-07-22T18:00:00Z');

  const stored: string[] = [];
  const storedTwice: string[] = [];
  let queuedThisRun: string[] = [];
  const queue: TransferQueue = {
    delayRetry: () => Promise.reject(new Error('a reconcile run never delays a retry')),
    deadLetter: () => Promise.reject(new Error('a reconcile run never dead-letters')),
    enqueue: async (job: RecordingJob) => {
      queuedThisRun.push(job.recordingSid);
      try {
        await aws.ddb.send(
          new PutCommand({
            TableName: LEDGER_TABLE,
            Item: { recordingSid: job.recordingSid, status: 'stored' },
            ConditionExpression: 'attribute_not_exists(recordingSid)',
          }),
        );
        stored.push(job.recordingSid);
      } catch (error) {
        if (!isConditionFailed(error)) throw error;
        storedTwice.push(job.recordingSid);
      }
    },
  };
  const deps = {
    accountSid: TEST_ACCOUNT_SID,
    ledger: new RecordingLedger(aws.ddb, LEDGER_TABLE),
    checkpoint,
    queue,
    list: createTwilioRecordingList({
      baseUrl: twilio.baseUrl,
      accountSid: TEST_ACCOUNT_SID,
      tokens: staticTokens(TEST_AUTH_TOKEN),
    }),
    // Nothing is pending in this test: no recording is looked at on its own.
    twilio: { getRecordingDetails: () => Promise.reject(new Error('no recording is pending')) },
    settings: { lookbackMs: 10 * MINUTE, settleMs: 5 * MINUTE, chunkMs: HOUR },
    obs: captureObs().obs,
    now: () => clock,
  };

  // A budget of two list pages: about two hours of the outage per run.
  const perRun: string[][] = [];
  const checkpoints: number[] = [];
  for (let run = 0; run < 10; run++) {
    queuedThisRun = [];
    const result = await runReconciliation(deps, { budgetMs: 300_000, maxPages: 2 });
    perRun.push(queuedThisRun);
    checkpoints.push((await checkpoint.get())?.getTime() ?? 0);
    if (result.result?.finished) break;
    clock = new Date(clock.getTime() + 15 * MINUTE);
  }

  expect(perRun.length).toBeGreaterThanOrEqual(3);
  expect(storedTwice).toEqual([]);
  expect(new Set(stored)).toEqual(new Set(created.keys()));
  expect(stored).toHaveLength(created.size);
  for (let run = 1; run < checkpoints.length; run++) {
    expect(checkpoints[run]).toBeGreaterThan(checkpoints[run - 1] ?? 0);
  }
  // Everything queued by a run is older than everything queued by the next.
  const times = perRun.filter((sids) => sids.length > 0).map((sids) => sids.map((sid) => created.get(sid) ?? 0));
  for (let run = 1; run < times.length; run++) {
    expect(Math.max(...(times[run - 1] ?? []))).toBeLessThan(Math.min(...(times[run] ?? [])));
  }
});
