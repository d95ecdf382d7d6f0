/**
 * Ledger: index writes per recording, before and after the sharded, lean indexes, in one run.
 *
 * The ledger's real writes (RecordingLedger, LedgerErasure) run against dynalite for each recording
 * the way the transfer and the erasure make them: claim, lease renewals while a long copy runs, a
 * failed attempt let go and retried, stored, the Stored event's hold and mark, a note, Twilio's
 * `absent`, an erasure. Every write's item is read before and after it, and DynamoDB's rules for a
 * GSI give the index writes it costs under each shape:
 *  - before: `byDay`, partition `day`, sort `startedAt`, projection ALL (every attribute change is
 *    an index write, all of a day's writes on one partition key);
 *  - after: `byDayShard` (`day#n`) and the sparse `byOpenStatus`, projecting only what the listing reads.
 * An item entering an index is one write, leaving it one, changing a key two, changing a projected
 * attribute one, changing nothing projected none; a write's units are the projected item's size in KB.
 */
import { randomUUID } from 'node:crypto';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { INDEX_PROJECTED_ATTRIBUTES } from '../../lambda/shared/ledger/day-index';
import { DEFAULT_INDEX_SHARDS } from '../../lambda/shared/ledger/index-shards';
import { RecordingLedger } from '../../lambda/shared/ledger/ledger';
import { LedgerErasure } from '../../lambda/shared/ledger/ledger-erasure';
import { LEDGER_TABLE, startEmulators } from '../helpers/emulators';
import { newCallSid, newRecordingSid, TEST_ACCOUNT_SID } from '../helpers/twilio-fixtures';
import { type Figure, figure, fmt, printFigure, runBench, stats } from './lib/report';

const RECORDINGS = Number(process.env.BENCH_LEDGER_RECORDINGS ?? 400);
const BATCH = 50;
const SHARDS = DEFAULT_INDEX_SHARDS;
/** One index partition's write ceiling, in write units a second. */
const PARTITION_WCU = 1000;

type Item = Record<string, unknown> | undefined;

interface IndexShape {
  readonly name: string;
  readonly partition: string;
  /** undefined: ALL. */
  readonly projected: readonly string[] | undefined;
}

const BEFORE: IndexShape[] = [{ name: 'byDay', partition: 'day', projected: undefined }];
const AFTER: IndexShape[] = [
  { name: 'byDayShard', partition: 'dayShard', projected: INDEX_PROJECTED_ATTRIBUTES },
  { name: 'byOpenStatus', partition: 'openStatus', projected: INDEX_PROJECTED_ATTRIBUTES },
];

function projection(item: Item, shape: IndexShape): Record<string, unknown> | undefined {
  if (!item || item[shape.partition] === undefined || item.startedAt === undefined) return undefined;
  if (!shape.projected) return item;
  const keep = new Set(['recordingSid', 'startedAt', shape.partition, ...shape.projected]);
  return Object.fromEntries(Object.entries(item).filter(([k]) => keep.has(k)));
}

const units = (projected: Record<string, unknown>) =>
  Math.max(1, Math.ceil(Buffer.byteLength(JSON.stringify(projected)) / 1024));

/** Index writes and write units one item change costs an index. */
function cost(before: Item, after: Item, shape: IndexShape): { writes: number; units: number; partition?: string } {
  const a = projection(before, shape);
  const b = projection(after, shape);
  if (!a && !b) return { writes: 0, units: 0 };
  if (!a && b) return { writes: 1, units: units(b), partition: String(b[shape.partition]) };
  if (a && !b) return { writes: 1, units: units(a), partition: String(a[shape.partition]) };
  const keysChanged = a?.[shape.partition] !== b?.[shape.partition] || a?.startedAt !== b?.startedAt;
  if (keysChanged)
    return { writes: 2, units: units(a ?? {}) + units(b ?? {}), partition: String(b?.[shape.partition]) };
  if (JSON.stringify(sorted(a)) === JSON.stringify(sorted(b))) return { writes: 0, units: 0 };
  return { writes: 1, units: units(b ?? {}), partition: String(b?.[shape.partition]) };
}

const sorted = (o: Record<string, unknown> | undefined) =>
  Object.fromEntries(Object.entries(o ?? {}).sort(([x], [y]) => x.localeCompare(y)));

runBench('ledger', 'Ledger: index writes per recording, byDay (ALL) against byDayShard + byOpenStatus', async () => {
  const aws = await startEmulators();
  try {
    const tally = {
      before: { writes: 0, units: 0, partitions: new Map<string, number>() },
      after: { writes: 0, units: 0, partitions: new Map<string, number>() },
    };
    const perBatch = {
      before: [] as number[],
      after: [] as number[],
      beforeUnits: [] as number[],
      afterUnits: [] as number[],
    };
    const byOperation = new Map<string, { before: number; after: number }>();
    const dayIndexAfter: number[] = [];
    const read = async (recordingSid: string): Promise<Item> =>
      (await aws.ddb.send(new GetCommand({ TableName: LEDGER_TABLE, Key: { recordingSid }, ConsistentRead: true })))
        .Item;
    const measured = async (operation: string, recordingSid: string, write: () => Promise<unknown>) => {
      const before = await read(recordingSid);
      await write();
      const after = await read(recordingSid);
      const counts = { before: 0, after: 0 };
      for (const [side, shapes] of [
        ['before', BEFORE],
        ['after', AFTER],
      ] as const) {
        for (const shape of shapes) {
          const c = cost(before, after, shape);
          tally[side].writes += c.writes;
          if (shape.name === 'byDayShard') dayIndexAfter.push(c.writes);
          tally[side].units += c.units;
          counts[side] += c.writes;
          if (c.partition && shape.name !== 'byOpenStatus') {
            tally[side].partitions.set(c.partition, (tally[side].partitions.get(c.partition) ?? 0) + c.units);
          }
        }
      }
      const seen = byOperation.get(operation) ?? { before: 0, after: 0 };
      byOperation.set(operation, { before: seen.before + counts.before, after: seen.after + counts.after });
    };

    const ledger = new RecordingLedger(aws.ddb, LEDGER_TABLE, { indexShards: SHARDS });
    const erasure = new LedgerErasure(aws.ddb, LEDGER_TABLE, { indexShards: SHARDS });
    const day = Date.UTC(2031, 6, 1);
    let batchStart = { before: 0, after: 0, beforeUnits: 0, afterUnits: 0 };
    for (let i = 0; i < RECORDINGS; i++) {
      const recordingSid = newRecordingSid();
      const callSid = newCallSid();
      const startedAt = new Date(day + i * 1000).toISOString();
      const facts = {
        recordingSid,
        callId: `call-${i}`,
        callSid,
        accountSid: TEST_ACCOUNT_SID,
        startedAt,
        durationSeconds: 120,
        channels: 1,
        source: 'DialVerb',
        origin: 'callback' as const,
      };
      const now = new Date(day + i * 1000 + 60_000);
      if (i % 100 === 7) {
        // Twilio said absent: entered once, never claimed.
        await measured('absent', recordingSid, () =>
          ledger.recordTwilioFailure(facts, { status: 'absent', errorCode: '16101', error: 'too short' }, now),
        );
      } else {
        const claimId = randomUUID();
        await measured('claim', recordingSid, () => ledger.claim(facts, claimId, 300, now));
        if (i % 20 === 3) {
          // An attempt failed and waits for its retry, then the retry claims again.
          await measured('release after a failed attempt', recordingSid, () =>
            ledger.releaseLease(recordingSid, claimId, now),
          );
          await measured('claim (retry)', recordingSid, () => ledger.claim(facts, claimId, 300, now));
        }
        // Long copies renew their lease every third of it: most none, some one, a few several.
        const renewals = i % 20 === 0 ? 3 : i % 7 === 0 ? 1 : 0;
        for (let r = 0; r < renewals; r++) {
          await measured('lease renewal', recordingSid, () =>
            ledger.renewLease(recordingSid, claimId, 300, new Date(now.getTime() + (r + 1) * 100_000)),
          );
        }
        if (i % 50 === 11) {
          await measured('note', recordingSid, () => ledger.addNote(recordingSid, `${now.toISOString()} a note`, now));
        }
        const copy = {
          bucket: 'recordings',
          key: `recordings/2031/07/call-${i}/${recordingSid}.mp3`,
          contentType: 'audio/mpeg',
          sizeBytes: 960_000,
          sha256: 'a'.repeat(64),
        };
        await measured('stored', recordingSid, () => ledger.markStored(recordingSid, claimId, copy, now));
        await measured('Stored event hold', recordingSid, () => ledger.beginStoredEvent(recordingSid, now));
        await measured('Stored event sent', recordingSid, () => ledger.markStoredEventSent(recordingSid, now));
        if (i % 100 === 42) {
          const seed = { callId: facts.callId, callSid };
          await measured('erasing', recordingSid, () =>
            erasure.markErasing(recordingSid, seed, new Date(now.getTime() + 600_000)),
          );
          await measured('deleted at Twilio', recordingSid, () => ledger.markDeletedAtTwilio(recordingSid, now));
          await measured('erased', recordingSid, () =>
            erasure.markErased(recordingSid, { erasedAt: now.toISOString(), erasedBy: 'bench' }, now),
          );
          await measured('Erased event sent', recordingSid, () => erasure.markErasedEventSent(recordingSid, now));
        }
      }
      if ((i + 1) % BATCH === 0) {
        perBatch.before.push((tally.before.writes - batchStart.before) / BATCH);
        perBatch.after.push((tally.after.writes - batchStart.after) / BATCH);
        perBatch.beforeUnits.push((tally.before.units - batchStart.beforeUnits) / BATCH);
        perBatch.afterUnits.push((tally.after.units - batchStart.afterUnits) / BATCH);
        batchStart = {
          before: tally.before.writes,
          after: tally.after.writes,
          beforeUnits: tally.before.units,
          afterUnits: tally.after.units,
        };
      }
    }

    console.log(
      `  ${RECORDINGS} recordings in one day, ${SHARDS} shards; index writes by ledger write (before → after):`,
    );
    for (const [operation, c] of byOperation) console.log(`    ${operation.padEnd(32)} ${c.before} → ${c.after}`);
    const hottest = (m: Map<string, number>) => Math.max(...m.values());
    const shareBefore = hottest(tally.before.partitions) / tally.before.units;
    const shareAfter =
      hottest(tally.after.partitions) / [...tally.after.partitions.values()].reduce((a, b) => a + b, 0);
    // Recordings a second the hottest day partition allows: its ceiling over its units per recording.
    const ceilingBefore = PARTITION_WCU / (shareBefore * (tally.before.units / RECORDINGS));
    const dayUnitsAfter = [...tally.after.partitions.values()].reduce((a, b) => a + b, 0) / RECORDINGS;
    const ceilingAfter = PARTITION_WCU / (shareAfter * dayUnitsAfter);
    const figures: Figure[] = [
      figure({
        bench: 'ledger',
        name: 'index writes per recording',
        unit: 'writes',
        value: stats(perBatch.after),
        baselineName: 'byDay, projection ALL',
        baseline: stats(perBatch.before),
        notes: `per batch of ${BATCH}; byDayShard + byOpenStatus`,
      }),
      figure({
        bench: 'ledger',
        name: 'day-index writes per recording',
        unit: 'writes',
        value: stats([dayIndexAfter.reduce((a, b) => a + b, 0) / RECORDINGS]),
        baselineName: 'byDay, projection ALL',
        baseline: stats([tally.before.writes / RECORDINGS]),
        notes: 'byDayShard alone; the rest of the total is byOpenStatus (in at the claim, out when stored)',
      }),
      figure({
        bench: 'ledger',
        name: 'index write units per recording',
        unit: 'WCU',
        value: stats(perBatch.afterUnits),
        baselineName: 'byDay, projection ALL',
        baseline: stats(perBatch.beforeUnits),
      }),
      figure({
        bench: 'ledger',
        name: 'recordings/s before the hottest day partition throttles',
        unit: 'rec/s',
        value: stats([ceilingAfter]),
        baselineName: 'byDay (one partition a day)',
        baseline: stats([ceilingBefore]),
        notes: `hottest partition's share of a day's index units: ${fmt(shareBefore * 100)}% → ${fmt(shareAfter * 100)}%; ${PARTITION_WCU} WCU/s a partition`,
      }),
    ];
    for (const f of figures) printFigure(f);
    return { figures, details: { byOperation: Object.fromEntries(byOperation), shareBefore, shareAfter } };
  } finally {
    await aws.stop();
  }
});
