/**
 * The ledger's index partitions as its writes keep them, against dynalite: every recording in its
 * day's shard; in the sparse open-status index exactly while `transferring`, `erasing` or `failed`;
 * shards stable for a RecordingSid and spread evenly.
 */
import '../../../helpers/setup-env';
import { randomUUID } from 'node:crypto';
import { LedgerDayIndex } from '../../../../lambda/shared/ledger/day-index';
import { dayShardKey, openStatusKey, partitionsOf, shardOf } from '../../../../lambda/shared/ledger/index-shards';
import { RecordingLedger } from '../../../../lambda/shared/ledger/ledger';
import { LedgerErasure } from '../../../../lambda/shared/ledger/ledger-erasure';
import { type Emulators, LEDGER_TABLE, startEmulators } from '../../../helpers/emulators';
import { newCallSid, newRecordingSid, TEST_ACCOUNT_SID } from '../../../helpers/twilio-fixtures';

const SHARDS = 4;
const NOW = new Date('2031-06-01T10:00:00.000Z');
const STARTED = '2031-05-31T23:59:59.000Z';

let aws: Emulators;
let ledger: RecordingLedger;
let erasure: LedgerErasure;
let index: LedgerDayIndex;

beforeAll(async () => {
  aws = await startEmulators();
  ledger = new RecordingLedger(aws.ddb, LEDGER_TABLE, { indexShards: SHARDS });
  erasure = new LedgerErasure(aws.ddb, LEDGER_TABLE, { indexShards: SHARDS });
  index = new LedgerDayIndex(aws.ddb, LEDGER_TABLE, { indexShards: SHARDS });
});

afterAll(async () => {
  await aws.stop();
});

function facts(recordingSid = newRecordingSid()) {
  return {
    recordingSid,
    callId: `call-${recordingSid.slice(2, 10)}`,
    callSid: newCallSid(),
    accountSid: TEST_ACCOUNT_SID,
    startedAt: STARTED,
    origin: 'callback' as const,
  };
}

async function indexKeys(recordingSid: string) {
  const item = await aws.getLedger(recordingSid);
  return { status: item?.status, dayShard: item?.dayShard, openStatus: item?.openStatus };
}

/** The RecordingSids one partition of an index holds. */
async function partition(which: 'day' | 'open', name: string): Promise<string[]> {
  const page = await index.queryPartition({
    index: which,
    partition: name,
    from: '2031-01-01T00:00:00.000Z',
    through: '2031-12-31T00:00:00.000Z',
    limit: 1000,
  });
  return page.items.map((item) => item.recordingSid);
}

describe("index partitions through a recording's life", () => {
  test('claimed → its day shard and transferring; stored → out of the open-status index; erasing → back in; erased → out', async () => {
    const f = facts();
    const shard = shardOf(f.recordingSid, SHARDS);
    const claimId = randomUUID();
    expect((await ledger.claim(f, claimId, 300, NOW)).result).toBe('claimed');
    expect(await indexKeys(f.recordingSid)).toEqual({
      status: 'transferring',
      dayShard: dayShardKey('2031-05-31', shard),
      openStatus: openStatusKey('transferring', shard),
    });
    expect(await partition('open', openStatusKey('transferring', shard))).toContain(f.recordingSid);
    expect(await partition('day', dayShardKey('2031-05-31', shard))).toContain(f.recordingSid);

    // A lease renewal and a released lease change nothing the indexes hold.
    await ledger.renewLease(f.recordingSid, claimId, 300, NOW);
    await ledger.releaseLease(f.recordingSid, claimId, NOW);
    expect((await indexKeys(f.recordingSid)).openStatus).toBe(openStatusKey('transferring', shard));

    const copy = { bucket: 'recordings', key: 'k', contentType: 'audio/mpeg', sizeBytes: 1, sha256: 'a'.repeat(64) };
    await ledger.claim(f, claimId, 300, NOW);
    expect(await ledger.markStored(f.recordingSid, claimId, copy, NOW)).toBeDefined();
    expect(await indexKeys(f.recordingSid)).toEqual({
      status: 'stored',
      dayShard: dayShardKey('2031-05-31', shard),
      openStatus: undefined,
    });
    expect(await partition('open', openStatusKey('transferring', shard))).not.toContain(f.recordingSid);

    expect(await erasure.markErasing(f.recordingSid, { callId: f.callId, callSid: f.callSid }, NOW)).toBeDefined();
    expect((await indexKeys(f.recordingSid)).openStatus).toBe(openStatusKey('erasing', shard));
    await erasure.markErased(f.recordingSid, { erasedAt: NOW.toISOString(), erasedBy: 'test' }, NOW);
    expect(await indexKeys(f.recordingSid)).toEqual({
      status: 'erased',
      dayShard: dayShardKey('2031-05-31', shard),
      openStatus: undefined,
    });
  });

  test('failed (the job gave up, or Twilio said so) is open; absent is not', async () => {
    const gaveUp = facts();
    const claimId = randomUUID();
    await ledger.claim(gaveUp, claimId, 300, NOW);
    await ledger.markFailed(gaveUp.recordingSid, claimId, { errorCode: 'x', error: 'gave up' }, NOW);
    expect((await indexKeys(gaveUp.recordingSid)).openStatus).toBe(
      openStatusKey('failed', shardOf(gaveUp.recordingSid, SHARDS)),
    );

    const failed = facts();
    await ledger.recordTwilioFailure(failed, { status: 'failed', error: 'Twilio failed' }, NOW);
    expect((await indexKeys(failed.recordingSid)).openStatus).toBe(
      openStatusKey('failed', shardOf(failed.recordingSid, SHARDS)),
    );

    const absent = facts();
    await ledger.recordTwilioFailure(absent, { status: 'absent', errorCode: '16101', error: 'too short' }, NOW);
    expect(await indexKeys(absent.recordingSid)).toEqual({
      status: 'absent',
      dayShard: dayShardKey('2031-05-31', shardOf(absent.recordingSid, SHARDS)),
      openStatus: undefined,
    });
  });

  test('an erasure that creates the item puts it in its day shard and the open-status index', async () => {
    const recordingSid = newRecordingSid();
    await erasure.markErasing(recordingSid, { callId: 'legacy', callSid: newCallSid(), startedAt: STARTED }, NOW);
    const shard = shardOf(recordingSid, SHARDS);
    expect(await indexKeys(recordingSid)).toEqual({
      status: 'erasing',
      dayShard: dayShardKey('2031-05-31', shard),
      openStatus: openStatusKey('erasing', shard),
    });
  });
});

describe('shards', () => {
  test('are stable for a RecordingSid and spread 4,000 recordings evenly over 8', () => {
    const sids = Array.from({ length: 4000 }, () => newRecordingSid());
    expect(sids.map((sid) => shardOf(sid, 8))).toEqual(sids.map((sid) => shardOf(sid, 8)));
    const counts = new Array(8).fill(0) as number[];
    for (const sid of sids) counts[shardOf(sid, 8)] = (counts[shardOf(sid, 8)] ?? 0) + 1;
    for (const count of counts) expect(count).toBeGreaterThan(400);
    expect(partitionsOf('2031-05-31', 3)).toEqual(['2031-05-31#0', '2031-05-31#1', '2031-05-31#2']);
  });
});
