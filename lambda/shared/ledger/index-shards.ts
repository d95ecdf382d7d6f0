import { createHash } from 'node:crypto';
import type { LedgerStatus } from './ledger';

/**
 * How the ledger's indexes spread their writes. DynamoDB cannot split one partition key whose
 * sort key only rises (a day's recordings by start time): such a key takes about 1,000 writes a
 * second at most, and a throttled index throttles the table. So each recording is put in one of
 * `shards` partitions of its day (`2024-07-22#3`), picked by a hash of its RecordingSid, and the
 * listing reads the shards of a day side by side and merges them.
 *
 * - `byDayShard`: partition `dayShard` (`YYYY-MM-DD#n`), sort `startedAt`; every recording.
 * - `byOpenStatus`: partition `openStatus` (`transferring#n`, `erasing#n`, `failed#n`), sort
 *   `startedAt`; sparse: only recordings in one of those statuses carry the attribute, so
 *   `status=failed` reads the failed ones and nothing else.
 *
 * - `byHold`: partition `holdState`, sort `startedAt`; sparse: only recordings with a hold record
 *   carry the attribute, and GET /recordings?hold=true reads its `held` partition. One partition,
 *   not sharded: holds are placed by people (and their scripts), far below a partition's
 *   1,000 writes a second.
 *
 * All three project only what the listing shows: a lease renewal, a note or an event mark changes no
 * projected attribute and writes neither index.
 *
 * The shard count is the stage's `ledger.indexShards`. It may be raised, never lowered: items keep
 * the shard they were written with, and the listing reads shards 0 … count − 1.
 */

export const DAY_SHARD_INDEX = 'byDayShard';
export const OPEN_STATUS_INDEX = 'byOpenStatus';
export const HOLD_INDEX = 'byHold';
/** The `byHold` partition of the recordings on legal hold now (`holdState`, lambda/shared/ledger/ledger-hold.ts). */
export const HELD_PARTITION = 'held';
export const DEFAULT_INDEX_SHARDS = 8;
export const MAX_INDEX_SHARDS = 64;

/** The statuses a recording leaves again: findable through the sparse `byOpenStatus` index. */
export const OPEN_STATUSES = ['transferring', 'erasing', 'failed'] as const satisfies readonly LedgerStatus[];
export type OpenStatus = (typeof OPEN_STATUSES)[number];

export function isOpenStatus(status: LedgerStatus | undefined): status is OpenStatus {
  return (OPEN_STATUSES as readonly string[]).includes(status ?? '');
}

/** The shard of a recording: stable for a RecordingSid and a count, evenly spread. */
export function shardOf(recordingSid: string, shards: number): number {
  return createHash('sha256').update(recordingSid).digest().readUInt32BE(0) % shards;
}

export function dayShardKey(day: string, shard: number): string {
  return `${day}#${shard}`;
}

export function openStatusKey(status: OpenStatus, shard: number): string {
  return `${status}#${shard}`;
}

/** Every partition of one day (or one open status): what a listing reads side by side. */
export function partitionsOf(prefix: string, shards: number): string[] {
  return Array.from({ length: shards }, (_, shard) => `${prefix}#${shard}`);
}
