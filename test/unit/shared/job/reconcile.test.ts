/**
 * Reconciliation (lambda/shared/job/reconcile.ts) against the real ledger on dynalite, with an
 * in-memory list and queue: what is queued, skipped and left to the ledger, dry runs, repeated
 * runs, the abort signal, progress, and how many DynamoDB requests a check costs.
 */
import '../../../helpers/setup-env';
import { randomUUID } from 'node:crypto';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import {
  type ReconcileDeps,
  type ReconcileOptions,
  type ReconcileProgress,
  reconcile,
} from '../../../../lambda/shared/job/reconcile';
import { parseRecordingJob, type RecordingJob } from '../../../../lambda/shared/job/recording-job';
import { LEDGER_STATUSES, type LedgerStatus, RecordingLedger } from '../../../../lambda/shared/ledger/ledger';
import type {
  ListedPage,
  RecordingListSource,
  TwilioRecordingEntry,
} from '../../../../lambda/shared/twilio/recording-list';
import { captureObs } from '../../../helpers/capture-obs';
import { type Emulators, LEDGER_TABLE, startEmulators } from '../../../helpers/emulators';
import { newCallSid, newRecordingSid, TEST_ACCOUNT_SID } from '../../../helpers/twilio-fixtures';

const WINDOW = { from: new Date('2024-07-22T10:00:00Z'), to: new Date('2024-07-22T12:00:00Z') };
const NOW = new Date('2024-07-22T12:05:00Z');

let aws: Emulators;
let ledger: RecordingLedger;
const requests: string[] = [];

beforeAll(async () => {
  aws = await startEmulators();
  ledger = new RecordingLedger(aws.ddb, LEDGER_TABLE);
  aws.dynamodb.middlewareStack.add(
    (next, context) => (args) => {
      requests.push(context.commandName ?? '?');
      return next(args);
    },
    { step: 'initialize', name: 'countRequests' },
  );
});

afterAll(async () => {
  await aws.stop();
});

beforeEach(() => {
  requests.length = 0;
});

function listed(overrides: Partial<TwilioRecordingEntry> = {}): TwilioRecordingEntry {
  return {
    sid: newRecordingSid(),
    accountSid: TEST_ACCOUNT_SID,
    callSid: newCallSid(),
    status: 'completed',
    dateCreated: '2024-07-22T11:00:00.000Z',
    startTime: 'Mon, 22 Jul 2024 10:59:30 +0000',
    duration: '42',
    channels: 2,
    source: 'DialVerb',
    ...overrides,
  };
}

/** A list that yields these pages in turn and counts how many were taken. */
function listOf(pages: TwilioRecordingEntry[][]): RecordingListSource & { taken: number; signals: AbortSignal[] } {
  const source = {
    taken: 0,
    signals: [] as AbortSignal[],
    async *list(_window: unknown, options: { signal?: AbortSignal } = {}): AsyncGenerator<ListedPage> {
      if (options.signal) source.signals.push(options.signal);
      for (const [index, recordings] of pages.entries()) {
        options.signal?.throwIfAborted();
        source.taken++;
        yield { recordings, position: new Date(WINDOW.to.getTime() - (index + 1) * 60_000) };
      }
    },
  };
  return source;
}

async function givenLedger(recordingSid: string, status: LedgerStatus): Promise<void> {
  await aws.ddb.send(
    new PutCommand({
      TableName: LEDGER_TABLE,
      Item: { recordingSid, status, callSid: newCallSid(), startedAt: '2024-07-22T11:00:00.000Z', day: '2024-07-22' },
    }),
  );
}

function run(
  pages: TwilioRecordingEntry[][],
  options: Partial<ReconcileOptions> = {},
  deps: Partial<ReconcileDeps> = {},
) {
  const queued: RecordingJob[] = [];
  const captured = captureObs();
  const list = listOf(pages);
  const result = reconcile(
    {
      list,
      statuses: (sids) => ledger.statuses(sids),
      enqueue: async (job) => void queued.push(job),
      accountSid: TEST_ACCOUNT_SID,
      obs: captured.obs,
      now: () => NOW,
      ...deps,
    },
    { window: WINDOW, origin: 'reconciler', ...options },
  );
  return { result, queued, captured, list };
}

it('queues a job, built from the list record, for each completed recording the ledger lacks', async () => {
  const missing = listed({ duration: '17', channels: 1, source: 'RecordVerb' });
  const { result, queued, captured } = run([[missing]], { origin: 'backfill' });

  expect(await result).toEqual({
    listed: 1,
    alreadyStored: 0,
    queued: 1,
    skipped: 0,
    invalid: 0,
    pages: 1,
    dryRun: false,
    finished: true,
    notFinal: [],
  });
  expect(queued).toEqual([
    {
      version: 1,
      jobId: expect.stringMatching(/^[0-9a-f-]{36}$/),
      accountSid: TEST_ACCOUNT_SID,
      callSid: missing.callSid,
      recordingSid: missing.sid,
      status: 'completed',
      durationSeconds: 17,
      channels: 1,
      startedAt: '2024-07-22T10:59:30.000Z',
      source: 'RecordVerb',
      receivedAt: NOW.toISOString(),
      origin: 'backfill',
    },
  ]);
  // The transfer accepts it as it accepts the webhook's jobs.
  expect(parseRecordingJob(JSON.stringify(queued[0]))).toEqual(queued[0]);
  expect(captured.sum('MissedCallback')).toBe(1);
  expect(captured.logs).toContainEqual(
    expect.objectContaining({ level: 'info', extra: expect.objectContaining({ recordingSid: missing.sid }) }),
  );
});

it('gives every job a jobId of its own and falls back to date_created for a start time that does not parse', async () => {
  const records = [listed({ startTime: 'yesterday-ish', channels: 3, duration: 'n/a' }), listed()];
  const { result, queued } = run([records]);
  await result;

  expect(new Set(queued.map((j) => j.jobId)).size).toBe(2);
  expect(queued.find((j) => j.recordingSid === records[0]?.sid)).toMatchObject({
    startedAt: '2024-07-22T11:00:00.000Z',
    channels: undefined,
    durationSeconds: undefined,
  });
});

it('never queues a recording the ledger knows, whatever its state (erased and failed included)', async () => {
  const known = LEDGER_STATUSES.map((status) => ({ record: listed(), status }));
  for (const { record, status } of known) await givenLedger(record.sid, status);
  const missing = listed();
  const { result, queued } = run([[...known.map((k) => k.record), missing]]);

  expect(await result).toMatchObject({
    listed: known.length + 1,
    alreadyStored: known.length,
    queued: 1,
    skipped: 0,
  });
  expect(queued.map((j) => j.recordingSid)).toEqual([missing.sid]);
});

it('skips recordings that are not completed at Twilio without asking the ledger about them', async () => {
  const notCompleted = ['in-progress', 'paused', 'stopped', 'processing', 'absent', 'deleted', undefined].map(
    (status) => listed({ status }),
  );
  const { result, queued } = run([notCompleted]);

  expect(await result).toMatchObject({ listed: 7, alreadyStored: 0, queued: 0, skipped: 7 });
  expect(queued).toEqual([]);
  expect(requests).toEqual([]);
});

it('counts, logs and never queues a completed record that cannot be a job', async () => {
  const unusable = [
    listed({ callSid: undefined }), // no call leg and no conference
    listed({ callSid: 'CA-not-a-sid' }),
    listed({ callSid: undefined, conferenceSid: 'CF-not-a-sid' }),
    listed({ sid: 'RE-not-a-sid' }),
    listed({ accountSid: `AC${'f'.repeat(32)}` }), // another account's
  ];
  const { result, queued, captured } = run([unusable]);

  expect(await result).toMatchObject({ listed: 5, queued: 0, invalid: 5 });
  expect(queued).toEqual([]);
  expect(captured.logs.filter((l) => l.level === 'warn')).toHaveLength(5);
});

it('queues a conference recording listed with a conference_sid and a null call_sid', async () => {
  const conferenceSid = `CF${'0a'.repeat(16)}`;
  const conference = listed({ callSid: undefined, conferenceSid, source: 'Conference' });
  const { result, queued } = run([[conference]]);

  expect(await result).toMatchObject({ listed: 1, queued: 1, invalid: 0 });
  expect(queued).toEqual([
    expect.objectContaining({ recordingSid: conference.sid, conferenceSid, source: 'Conference', channels: 2 }),
  ]);
  expect(queued[0]?.callSid).toBeUndefined();
  expect(() => parseRecordingJob(JSON.stringify(queued[0]))).not.toThrow();
});

it('queues nothing in a dry run, and says how many a real run would queue', async () => {
  const known = listed();
  await givenLedger(known.sid, 'stored');
  const { result, queued, captured } = run([[known, listed(), listed({ status: 'processing' })]], { dryRun: true });

  expect(await result).toMatchObject({ listed: 3, alreadyStored: 1, queued: 1, skipped: 1, dryRun: true });
  expect(queued).toEqual([]);
  expect(captured.sum('MissedCallback')).toBe(0);
});

it('queues nothing on a second run once the jobs of the first have claimed their recordings', async () => {
  const records = Array.from({ length: 5 }, () => listed());
  // The transfer's first step: a claim in the ledger.
  const claimAsTransferWould = async (job: RecordingJob) => {
    const facts = { ...job, callId: job.callSid, origin: 'reconciler' as const };
    await ledger.claim(facts, randomUUID(), 300, NOW);
  };
  const first = await run([records], {}, { enqueue: claimAsTransferWould }).result;
  const second = run([records]);

  expect(first).toMatchObject({ listed: 5, queued: 5 });
  expect(await second.result).toMatchObject({ listed: 5, alreadyStored: 5, queued: 0 });
  expect(second.queued).toEqual([]);
});

it('asks the ledger in batches: at most one DynamoDB request per 100 recordings checked', async () => {
  const pages = Array.from({ length: 3 }, () => Array.from({ length: 1000 }, () => listed()));
  for (const record of pages[0]?.slice(0, 250) ?? []) await givenLedger(record.sid, 'stored');
  requests.length = 0;
  const { result } = run(pages, { dryRun: true });

  expect(await result).toMatchObject({ listed: 3000, alreadyStored: 250, queued: 2750 });
  expect(new Set(requests)).toEqual(new Set(['BatchGetItemCommand']));
  expect(requests.length / 3000).toBeLessThanOrEqual(0.01);
});

it('reports progress after each page, with the counts so far', async () => {
  const progress: ReconcileProgress[] = [];
  const { result } = run([[listed(), listed({ status: 'absent' })], [listed()]], {
    onProgress: (p) => progress.push(p),
  });
  await result;

  expect(progress.map(({ listed, queued, skipped, pages }) => ({ listed, queued, skipped, pages }))).toEqual([
    { listed: 2, queued: 1, skipped: 1, pages: 1 },
    { listed: 3, queued: 2, skipped: 1, pages: 2 },
  ]);
  expect(progress.map((p) => p.position.toISOString())).toEqual([
    '2024-07-22T11:59:00.000Z',
    '2024-07-22T11:58:00.000Z',
  ]);
});

it('stops between pages once the signal aborts: unfinished, nothing more listed or queued', async () => {
  const controller = new AbortController();
  const { result, queued, list } = run([[listed()], [listed()], [listed()]], {
    signal: controller.signal,
    onProgress: (p) => {
      if (p.pages === 1) controller.abort(new Error('time budget spent'));
    },
  });

  expect(await result).toMatchObject({ listed: 1, queued: 1, pages: 1, finished: false });
  expect(queued).toHaveLength(1);
  expect(list.taken).toBeLessThanOrEqual(2); // the page fetched ahead is never checked
  expect(list.signals[0]?.aborted).toBe(true);
});

it('fails when a job cannot be queued, and starts no other after the failure', async () => {
  let attempts = 0;
  const { result } = run(
    [Array.from({ length: 50 }, () => listed())],
    {},
    {
      enqueue: async () => {
        attempts++;
        throw new Error('SQS is down');
      },
    },
  );

  await expect(result).rejects.toThrow('SQS is down');
  expect(attempts).toBeLessThanOrEqual(10); // the ones already in flight, no more
});

it('fails when the list fails (not an abort), with the error of the list', async () => {
  const list: RecordingListSource = {
    // biome-ignore lint/correctness/useYield: a list that fails before its first page
    async *list() {
      throw new Error('Twilio answered 401 to the recording list');
    },
  };
  await expect(run([], {}, { list }).result).rejects.toThrow('401');
});

it('stops listing when a page cannot be checked: the list is aborted and no further page is taken', async () => {
  const pages = Array.from({ length: 5 }, () => [listed()]);
  const { result, list } = run(
    pages,
    {},
    {
      statuses: async () => {
        throw new Error('DynamoDB unreachable');
      },
    },
  );

  await expect(result).rejects.toThrow('DynamoDB unreachable');
  // The first page, and at most the next one fetched ahead while the first was checked.
  expect(list.taken).toBeLessThanOrEqual(2);
  expect(list.signals).toHaveLength(1);
  expect(list.signals[0]?.aborted).toBe(true);
});
