/**
 * Reconcile: 10,000 recordings listed from the simulated Twilio in this process (10 pages of
 * 1,000 over HTTP), 90% of them already in the ledger (dynalite), the rest queued to an
 * in-process queue. In the same run:
 *  - the time of a reconcile against merely paging through the same list with the same client;
 *  - DynamoDB requests per recording checked (target ≤ 0.02) and the time, against a naive
 *    reconcile that asks the ledger with one GetItem per recording.
 * dynalite, the simulator and the client share this one process, so fetching the next page while a
 * page is checked cannot overlap much here: the same lookups alone are printed, to show what of a
 * reconcile's time is the emulator's. Nothing about time is asserted.
 */
import { BatchWriteCommand } from '@aws-sdk/lib-dynamodb';
import { type ReconcileDeps, reconcile } from '../../lambda/shared/job/reconcile';
import { RecordingLedger } from '../../lambda/shared/ledger/ledger';
import { createTwilioRecordingList } from '../../lambda/shared/twilio/recording-list';
import { staticTokens } from '../../lambda/shared/twilio/signature';
import { SimulatedTwilio } from '../../lib/simulated-twilio';
import { LEDGER_TABLE, startEmulators } from '../helpers/emulators';
import { type Figure, figure, fmt, printFigure, runBench, stats } from './lib/report';

const ACCOUNT_SID = `AC${'b'.repeat(32)}`;
const AUTH_TOKEN = 'bench-reconcile-auth-token';
const RECORDINGS = Number(process.env.BENCH_RECONCILE_RECORDINGS ?? 10_000);
const KNOWN_FRACTION = 0.9;
const ROUNDS = Number(process.env.BENCH_RECONCILE_ROUNDS ?? 3);
const NAIVE_ROUNDS = Number(process.env.BENCH_RECONCILE_NAIVE_ROUNDS ?? 1);
const DAY = Date.UTC(2024, 6, 22);
const WINDOW = { from: new Date(DAY), to: new Date(DAY + 24 * 60 * 60 * 1000) };
const quiet: ReconcileDeps['obs'] = {
  logger: { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined },
  metric: () => undefined,
};

runBench('reconcile', '9. Reconcile: 10,000 listed recordings against the ledger', async () => {
  const [aws, twilio] = await Promise.all([
    startEmulators(),
    SimulatedTwilio.start({ accountSid: ACCOUNT_SID, authToken: AUTH_TOKEN }),
  ]);
  try {
    const step = (24 * 60 * 60 * 1000) / RECORDINGS;
    const noMedia = Buffer.alloc(0);
    const allSids: string[] = [];
    for (let i = 0; i < RECORDINGS; i++) {
      allSids.push(twilio.addRecording({ dateCreated: new Date(DAY + i * step), media: noMedia }).sid);
    }
    const known = allSids.slice(0, Math.round(RECORDINGS * KNOWN_FRACTION));
    for (let i = 0; i < known.length; i += 25) {
      const items = known
        .slice(i, i + 25)
        .map((recordingSid) => ({ PutRequest: { Item: { recordingSid, status: 'stored' } } }));
      await aws.ddb.send(new BatchWriteCommand({ RequestItems: { [LEDGER_TABLE]: items } }));
    }
    console.log(`  ${RECORDINGS} recordings in one day, ${known.length} of them in the ledger; ${ROUNDS} rounds`);

    let requests = 0;
    aws.dynamodb.middlewareStack.add(
      (next) => (args) => {
        requests++;
        return next(args);
      },
      { step: 'initialize', name: 'benchCountRequests' },
    );
    const list = createTwilioRecordingList({
      baseUrl: twilio.baseUrl,
      accountSid: ACCOUNT_SID,
      tokens: staticTokens(AUTH_TOKEN),
    });
    const ledger = new RecordingLedger(aws.ddb, LEDGER_TABLE);
    let queued = 0;
    const deps: ReconcileDeps = {
      list,
      statuses: (sids) => ledger.statuses(sids),
      enqueue: async () => {
        queued++;
      },
      accountSid: ACCOUNT_SID,
      obs: quiet,
    };

    const lookups: number[] = [];
    const paging: number[] = [];
    const product: number[] = [];
    const naive: number[] = [];
    const productRequests: number[] = [];
    const naiveRequests: number[] = [];
    const timed = async (work: () => Promise<number>) => {
      const started = performance.now();
      const checked = await work();
      return { ms: performance.now() - started, checked };
    };

    for (let round = 0; round < ROUNDS; round++) {
      const pageOnly = await timed(async () => {
        let n = 0;
        for await (const page of list.list(WINDOW)) n += page.recordings.length;
        return n;
      });
      paging.push(pageOnly.ms);
      // The ledger's share: the same BatchGetItem lookups, without the list (dynalite runs in this process).
      const ledgerOnly = await timed(async () => {
        for (let i = 0; i < allSids.length; i += 1000) await ledger.statuses(allSids.slice(i, i + 1000));
        return allSids.length;
      });
      lookups.push(ledgerOnly.ms);

      requests = 0;
      queued = 0;
      const run = await timed(async () => {
        const result = await reconcile(deps, { window: WINDOW, origin: 'backfill' });
        return result.alreadyStored + result.queued;
      });
      product.push(run.ms);
      productRequests.push(requests / run.checked);
      if (queued !== RECORDINGS - known.length)
        throw new Error(`queued ${queued}, expected ${RECORDINGS - known.length}`);
      console.log(
        `  round ${round + 1}: paging ${fmt(pageOnly.ms, 0)} ms, ledger lookups alone ${fmt(ledgerOnly.ms, 0)} ms, ` +
          `reconcile ${fmt(run.ms, 0)} ms, ${requests} DynamoDB requests`,
      );
    }

    for (let round = 0; round < NAIVE_ROUNDS; round++) {
      requests = 0;
      const run = await timed(async () => {
        // What a first version would write: one consistent GetItem per listed recording.
        let n = 0;
        for await (const page of list.list(WINDOW)) {
          for (const recording of page.recordings) {
            if (recording.status !== 'completed') continue;
            n++;
            if (!(await ledger.get(recording.sid))) queued++;
          }
        }
        return n;
      });
      naive.push(run.ms);
      naiveRequests.push(requests / run.checked);
      console.log(`  naive round ${round + 1}: ${fmt(run.ms, 0)} ms, ${requests} DynamoDB requests`);
    }

    const figures: Figure[] = [
      figure({
        bench: 'reconcile',
        name: `reconcile ${RECORDINGS} listed recordings`,
        unit: 'ms',
        value: stats(product),
        baselineName: 'paging through the same list only',
        baseline: stats(paging),
        notes: `${known.length} known, ${RECORDINGS - known.length} queued per run; the same ledger lookups alone: ${fmt(stats(lookups).median, 0)} ms`,
      }),
      figure({
        bench: 'reconcile',
        name: 'DynamoDB requests per recording checked',
        unit: 'req',
        value: stats(productRequests),
        ...(naive.length > 0
          ? { baselineName: 'naive: one GetItem per recording', baseline: stats(naiveRequests) }
          : {}),
        target: '≤ 0.02',
        met: stats(productRequests).max <= 0.02,
      }),
    ];
    if (naive.length > 0) {
      figures.push(
        figure({
          bench: 'reconcile',
          name: `reconcile ${RECORDINGS} listed recordings (vs naive)`,
          unit: 'ms',
          value: stats(product),
          baselineName: 'naive: one GetItem per recording',
          baseline: stats(naive),
        }),
      );
    }
    for (const f of figures) printFigure(f);
    return { figures, details: { paging, lookups, product, naive, productRequests, naiveRequests } };
  } finally {
    await Promise.all([aws.stop(), twilio.close()]);
  }
});
