/**
 * The recording-reconciler Lambda in-process: the real handler factory with dynalite (ledger and
 * checkpoint), Twilio's list from the simulated Twilio over HTTP, and SQS mocked. The clock is injected.
 */
import '../../helpers/setup-env';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { DeleteCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import type { Context } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { ReconcileCheckpoint } from '../../../lambda/reconciler/checkpoint';
import { createReconcilerHandler, type ReconcilerRuntime } from '../../../lambda/reconciler/handler';
import { RECONCILER_CHECKPOINT_KEY } from '../../../lambda/shared/config/env-names';
import { ConfigError, loadReconcilerConfig } from '../../../lambda/shared/config/function-config';
import { parseRecordingJob, type RecordingJob } from '../../../lambda/shared/job/recording-job';
import { createTwilioRecordingList } from '../../../lambda/shared/twilio/recording-list';
import { staticTokens } from '../../../lambda/shared/twilio/signature';
import { type AddRecordingOptions, SimulatedTwilio } from '../../../lib/simulated-twilio';
import { captureObs } from '../../helpers/capture-obs';
import { type Emulators, LEDGER_TABLE, startEmulators } from '../../helpers/emulators';
import { TEST_ACCOUNT_SID, TEST_AUTH_TOKEN } from '../../helpers/twilio-fixtures';

const QUEUE_URL = 'https://sqs.us-east-1.amazonaws.com/123456789012/recording-transfer';
const MINUTE = 60_000;
const START = new Date('2024-07-22T12:00:00Z');

const sqs = mockClient(SQSClient);
let aws: Emulators;
let twilio: SimulatedTwilio;
let checkpoint: ReconcileCheckpoint;
let clock: Date;

beforeAll(async () => {
  [aws, twilio] = await Promise.all([
    startEmulators(),
    SimulatedTwilio.start({ accountSid: TEST_ACCOUNT_SID, authToken: TEST_AUTH_TOKEN }),
  ]);
  checkpoint = new ReconcileCheckpoint(aws.ddb, LEDGER_TABLE);
});

afterAll(async () => {
  sqs.restore();
  await Promise.all([aws.stop(), twilio.close()]);
});

beforeEach(async () => {
  twilio.reset();
  sqs.reset();
  sqs.on(SendMessageCommand).resolves({ MessageId: 'queued' });
  clock = START;
  await aws.ddb.send(new DeleteCommand({ TableName: LEDGER_TABLE, Key: { recordingSid: RECONCILER_CHECKPOINT_KEY } }));
});

function handler(runtime: Partial<ReconcilerRuntime> = {}) {
  const captured = captureObs();
  const reconcile = createReconcilerHandler({
    config: {
      accountSid: TEST_ACCOUNT_SID,
      twilioApiBaseUrl: twilio.baseUrl,
      ledgerTableName: LEDGER_TABLE,
      transferQueueUrl: QUEUE_URL,
      lookbackSeconds: 120 * 60,
      settleSeconds: 5 * 60,
    },
    tokens: staticTokens(TEST_AUTH_TOKEN),
    ddb: aws.ddb,
    sqs: new SQSClient({ region: 'us-east-1' }),
    obs: captured.obs,
    now: () => clock,
    ...runtime,
  });
  return { reconcile, captured };
}

function context(remainingMs: number): Context {
  return { getRemainingTimeInMillis: () => remainingMs } as unknown as Context;
}

const ago = (minutes: number) => new Date(clock.getTime() - minutes * MINUTE);
const add = (dateCreated: Date, fields: AddRecordingOptions = {}) =>
  twilio.addRecording({ dateCreated, media: Buffer.alloc(0), ...fields });

function queuedJobs(): RecordingJob[] {
  return sqs.commandCalls(SendMessageCommand).map((call) => parseRecordingJob(call.args[0].input.MessageBody ?? ''));
}

const scheduledEvent = { source: 'aws.events', 'detail-type': 'Scheduled Event', detail: {} };

it('queues, on a first run, the completed recordings of the last two hours the ledger lacks, and moves the checkpoint', async () => {
  const missed = add(ago(30));
  const stored = add(ago(40));
  await aws.ddb.send(new PutCommand({ TableName: LEDGER_TABLE, Item: { recordingSid: stored.sid, status: 'stored' } }));
  add(ago(50), { status: 'absent' });
  add(ago(2)); // younger than the settle time: left to its callback
  add(ago(125)); // before the lookback
  const { reconcile, captured } = handler();

  const run = await reconcile(scheduledEvent, context(300_000));

  expect(run).toMatchObject({
    window: { from: ago(120).toISOString(), to: ago(5).toISOString() },
    result: { listed: 3, alreadyStored: 1, queued: 1, skipped: 1, finished: true },
    checkpointAdvanced: true,
  });
  expect(queuedJobs()).toEqual([
    expect.objectContaining({ recordingSid: missed.sid, callSid: missed.callSid, origin: 'reconciler' }),
  ]);
  expect(sqs.commandCalls(SendMessageCommand)[0]?.args[0].input).toMatchObject({ QueueUrl: QUEUE_URL });
  expect(await checkpoint.get()).toEqual(ago(5));
  expect(captured.sum('MissedCallback')).toBe(1);
  expect(captured.sum('ReconcileListed')).toBe(3);
  expect(captured.text()).not.toContain(TEST_AUTH_TOKEN);
});

it('catches a call recorded for longer than the lookback whose callback never came, once it completes', async () => {
  // Created 115 minutes ago and still recording: no later listing will cover its creation time.
  const long = add(ago(115), { status: 'in-progress' });
  const { reconcile } = handler();
  await reconcile(scheduledEvent, context(300_000));
  expect(queuedJobs()).toEqual([]);

  // Runs go on while it records; then it completes, its callback lost.
  clock = new Date(START.getTime() + 15 * MINUTE);
  await reconcile(scheduledEvent, context(300_000));
  twilio.setRecordingStatus(long.sid, 'completed');
  clock = new Date(START.getTime() + 30 * MINUTE);
  const run = await reconcile(scheduledEvent, context(300_000));

  expect(run.checkpointAdvanced).toBe(true);
  expect(queuedJobs()).toEqual([
    expect.objectContaining({ recordingSid: long.sid, callSid: long.callSid, origin: 'reconciler' }),
  ]);
  // Once final it is looked at no more.
  clock = new Date(START.getTime() + 45 * MINUTE);
  await reconcile(scheduledEvent, context(300_000));
  expect(queuedJobs()).toHaveLength(1);
  expect(await checkpoint.getPending()).toEqual([]);
});

it('catches a long conference recording without a CallSid whose callback never came, once it completes', async () => {
  const long = add(ago(115), { status: 'in-progress', source: 'Conference' });
  expect(long.callSid).toBeNull();
  const { reconcile } = handler();
  await reconcile(scheduledEvent, context(300_000));
  clock = new Date(START.getTime() + 15 * MINUTE);
  await reconcile(scheduledEvent, context(300_000));
  twilio.setRecordingStatus(long.sid, 'completed');
  clock = new Date(START.getTime() + 30 * MINUTE);

  await reconcile(scheduledEvent, context(300_000));

  expect(queuedJobs()).toEqual([
    expect.objectContaining({ recordingSid: long.sid, conferenceSid: long.conferenceSid, origin: 'reconciler' }),
  ]);
  expect(queuedJobs()[0]?.callSid).toBeUndefined();
  expect(await checkpoint.getPending()).toEqual([]);
});

it('queues a long recording caught once it completes with its RecordingSource, kept for its own period', async () => {
  // Without its source, a Conference recording kept 365 days (retention.bySource) would fall to
  // the stage's shorter retention.days and be expired early.
  const long = add(ago(115), { status: 'in-progress', source: 'Conference' });
  const { reconcile } = handler();
  await reconcile(scheduledEvent, context(300_000));
  clock = new Date(START.getTime() + 15 * MINUTE);
  await reconcile(scheduledEvent, context(300_000));
  twilio.setRecordingStatus(long.sid, 'completed');
  clock = new Date(START.getTime() + 30 * MINUTE);

  await reconcile(scheduledEvent, context(300_000));

  expect(queuedJobs()).toEqual([expect.objectContaining({ recordingSid: long.sid, source: 'Conference' })]);
});

it('forgets a pending recording Twilio no longer has, and keeps one it could not look at', async () => {
  const gone = add(ago(115), { status: 'in-progress' });
  const unreachable = add(ago(116), { status: 'in-progress' });
  const { reconcile } = handler();
  await reconcile(scheduledEvent, context(300_000));
  // The run after next lists from past their creation: from then on they are pending.
  clock = new Date(START.getTime() + 15 * MINUTE);
  await reconcile(scheduledEvent, context(300_000));
  expect(new Set(await checkpoint.getPending())).toEqual(new Set([gone.sid, unreachable.sid]));
  clock = new Date(START.getTime() + 30 * MINUTE);
  const details = twilio.recordingPath(unreachable.sid, 'json');
  twilio.respond('GET', details, { status: 503, body: '{}' });
  twilio.respond('GET', twilio.recordingPath(gone.sid, 'json'), { status: 404, body: '{}' });

  await reconcile(scheduledEvent, context(300_000));

  expect(await checkpoint.getPending()).toEqual([unreachable.sid]);
  expect(queuedJobs()).toEqual([]);
});

it('lists the next run from the checkpoint minus the lookback', async () => {
  const { reconcile } = handler();
  await reconcile(scheduledEvent, context(300_000));
  clock = new Date(START.getTime() + 15 * MINUTE);

  const run = await reconcile(scheduledEvent, context(300_000));

  expect(run.window).toEqual({
    from: new Date(START.getTime() - 125 * MINUTE).toISOString(),
    to: ago(5).toISOString(),
  });
  expect(await checkpoint.get()).toEqual(ago(5));
});

it('stops a run cut short cleanly, keeps the checkpoint, and lists the same window again next time', async () => {
  const { reconcile: first } = handler();
  await first(scheduledEvent, context(300_000));
  const kept = await checkpoint.get();
  clock = new Date(START.getTime() + 15 * MINUTE);
  for (let minute = 10; minute < 100; minute++) add(ago(minute));
  const stopping = new AbortController();
  // Stopped (the local stack shutting down, say) once the second page of 20 is asked for.
  void twilio.waitForRequest((r) => r.path.includes('Page=1')).then(() => stopping.abort(new Error('stopping')));
  const list = createTwilioRecordingList({
    baseUrl: twilio.baseUrl,
    accountSid: TEST_ACCOUNT_SID,
    tokens: staticTokens(TEST_AUTH_TOKEN),
    pageSize: 20,
  });
  const cut = handler({ signal: stopping.signal, list });

  const cutShort = await cut.reconcile(scheduledEvent, context(300_000));

  expect(cutShort).toMatchObject({ checkpointAdvanced: false, result: { finished: false } });
  expect(cutShort.result?.listed).toBeLessThan(90);
  expect(await checkpoint.get()).toEqual(kept);
  expect(cut.captured.sum('ReconcileIncomplete')).toBe(1);

  const { reconcile: next } = handler({ list });
  const resumed = await next(scheduledEvent, context(300_000));

  expect(resumed.window).toEqual(cutShort.window);
  expect(resumed).toMatchObject({ checkpointAdvanced: true, result: { listed: 90, finished: true } });
  expect(await checkpoint.get()).toEqual(ago(5));
});

it('does not start a run without time left for it', async () => {
  add(ago(30));
  const { reconcile, captured } = handler({ safetyMarginMs: 20_000 });

  const run = await reconcile(scheduledEvent, context(19_000));

  expect(run.checkpointAdvanced).toBe(false);
  expect(twilio.requests).toHaveLength(0);
  expect(await checkpoint.get()).toBeUndefined();
  expect(captured.logs.some((l) => l.level === 'warn')).toBe(true);
});

it('fails loudly when Twilio refuses the credentials, keeps the checkpoint, and never logs the token', async () => {
  add(ago(30));
  const { reconcile, captured } = handler({ tokens: staticTokens('a-rotated-out-token') });

  await expect(reconcile(scheduledEvent, context(300_000))).rejects.toMatchObject({ status: 401 });

  expect(await checkpoint.get()).toBeUndefined();
  expect(captured.logs).toContainEqual(
    expect.objectContaining({
      level: 'error',
      extra: expect.objectContaining({ error: expect.stringContaining('401') }),
    }),
  );
  expect(captured.text()).not.toContain('a-rotated-out-token');
  expect(captured.metrics).toContainEqual({ name: 'ReconcileListed', value: 0 });
});

it('fails when SQS refuses a job, and keeps the checkpoint', async () => {
  add(ago(30));
  sqs.on(SendMessageCommand).rejects(new Error('AccessDenied'));
  const { reconcile } = handler();

  await expect(reconcile(scheduledEvent, context(300_000))).rejects.toThrow('AccessDenied');
  expect(await checkpoint.get()).toBeUndefined();
});

describe('loadReconcilerConfig', () => {
  const env = {
    TWILIO_ACCOUNT_SID: TEST_ACCOUNT_SID,
    TWILIO_SECRET_ARN: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:twilio',
    LEDGER_TABLE: 'recordings',
    TRANSFER_QUEUE_URL: QUEUE_URL,
  };

  it('reads the contract, with the design defaults (120 min lookback, 5 min settle)', () => {
    expect(loadReconcilerConfig(env)).toEqual({
      subaccountSids: [],
      accountSid: TEST_ACCOUNT_SID,
      secretId: env.TWILIO_SECRET_ARN,
      twilioApiBaseUrl: 'https://api.twilio.com',
      ledgerTableName: 'recordings',
      transferQueueUrl: QUEUE_URL,
      lookbackSeconds: 7200,
      settleSeconds: 300,
    });
    expect(
      loadReconcilerConfig({ ...env, RECONCILE_LOOKBACK_MINUTES: '30', RECONCILE_SETTLE_MINUTES: '0' }),
    ).toMatchObject({ lookbackSeconds: 1800, settleSeconds: 0 });
  });

  it('names every problem at once', () => {
    const error = (() => {
      try {
        loadReconcilerConfig({ TWILIO_ACCOUNT_SID: 'AC123', RECONCILE_LOOKBACK_MINUTES: 'two hours' });
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems).toEqual([
      'TWILIO_ACCOUNT_SID must look like AC followed by 32 hex characters',
      'TWILIO_SECRET_ARN is required',
      'LEDGER_TABLE is required',
      'TRANSFER_QUEUE_URL is required',
      'RECONCILE_LOOKBACK_MINUTES must be a whole number from 1 to 10080 (got "two hours")',
    ]);
  });
});
