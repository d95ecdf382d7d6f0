import { createHash } from 'node:crypto';
import type { LedgerDayIndex, ListedLedgerItem } from '../shared/ledger/day-index';
import { isOpenStatus } from '../shared/ledger/index-shards';
import { dayOf, LEDGER_STATUSES, type LedgerStatus, type LegalHold } from '../shared/ledger/ledger';
import { badRequest } from '../shared/runtime/http';
import { parseIsoInstant } from '../shared/runtime/iso-instant';
import type { EncryptionDetails } from '../shared/twilio/encryption-details';

/**
 * GET /recordings: the ledger's recordings that started in [`from`, `to`), ordered by `startedAt`
 * then `recordingSid`, a page at a time.
 *
 * They come from the ledger's `byDayShard` index, a day at a time, each day spread over
 * `ledger.indexShards` partitions (lambda/shared/ledger/index-shards.ts) read side by side and
 * merged; `status=transferring|erasing|failed` reads the sparse `byOpenStatus` index instead, whose
 * partitions hold only recordings in that status, over the whole range at once, and `hold=true` the
 * sparse `byHold` index, whose `held` partition holds only the recordings on legal hold. Every recording
 * that started before the lowest point all partitions have been read up to (the frontier) is known.
 *
 * The index sorts by `startedAt` only, and Twilio's start times have whole seconds, so many
 * recordings can share one. A page therefore ends only where every recording that shares its last
 * `startedAt` has been read and sorted by RecordingSid, and the cursor is the position of the last
 * recording returned: (`startedAt`, `recordingSid`). The next page starts with the recordings after
 * it in that total order, so that nothing is skipped or repeated, whatever DynamoDB's own order of
 * ties is and however the pages fall.
 *
 * `from` and `to` are required and at most 31 days apart, except with `hold=true`: the held
 * recordings are few and read from one sparse partition whatever the range, so there either bound
 * may be left out (no `from`: since the first; no `to`: no end; neither: every recording on hold
 * now) and any span is allowed.
 *
 * The cursor is opaque (base64url JSON) but not secret: no key is available to sign it, and it
 * carries no authority the query parameters do not already give. It embeds the query (`from` and
 * `to` as given, null when left out; `status`, `hold`) and is refused (400) with any other query,
 * with a position outside the range, or when malformed. A checksum catches corrupted or hand-edited
 * cursors; it is not a MAC.
 */

export const MAX_RANGE_DAYS = 31;
export const DEFAULT_LIMIT = 100;
export const MAX_LIMIT = 1000;
/**
 * Rounds of reads (one DynamoDB page of each partition that needs one, side by side) one request
 * may make before it answers with what it has (and a cursor).
 */
export const DEFAULT_MAX_READ_PAGES = 40;
const MAX_CURSOR_LENGTH = 1024;
/** Items one DynamoDB read of one partition evaluates at the least. */
const MIN_READ_ITEMS = 25;
const DAY_MS = 24 * 60 * 60 * 1000;
const PARAMETERS = ['from', 'to', 'status', 'hold', 'limit', 'cursor'] as const;
/**
 * The bounds `hold=true` reads when `from` or `to` is left out: the first and last instants a
 * request may name (lambda/shared/runtime/iso-instant.ts), so they cover every ledger `startedAt`.
 */
export const UNBOUNDED_FROM = '1970-01-01T00:00:00.000Z';
export const UNBOUNDED_TO = '9999-12-31T23:59:59.999Z';

/** Where a page ended: the recordings after this one in (`startedAt`, `recordingSid`) order come next. */
export interface ListingPosition {
  readonly startedAt: string;
  /** '' before every recording of `startedAt` (a page cut short by the read budget). */
  readonly recordingSid: string;
}

export interface ListingQuery {
  /** Normalized ISO-8601 (UTC, milliseconds), inclusive; `UNBOUNDED_FROM` when left out (`hold=true`). */
  readonly from: string;
  /** Normalized ISO-8601 (UTC, milliseconds), exclusive; `UNBOUNDED_TO` when left out (`hold=true`). */
  readonly to: string;
  /** The bounds as the request gave them (normalized), null where left out: what the cursor binds. */
  readonly given: { readonly from: string | null; readonly to: string | null };
  readonly status: LedgerStatus | undefined;
  /** Only the recordings on legal hold now (`hold=true`). */
  readonly hold: boolean;
  readonly limit: number;
  readonly after: ListingPosition | undefined;
}

/** One recording as GET /recordings shows it: ledger facts only, never a URL or a key. */
export interface ListedRecording {
  readonly recordingSid: string;
  readonly callId: string | null;
  /** null for a conference recording Twilio reported without a CallSid. */
  readonly callSid: string | null;
  readonly conferenceSid: string | null;
  /** The Twilio account (the parent or a subaccount) it belongs to. */
  readonly accountSid: string | null;
  readonly status: LedgerStatus;
  readonly startedAt: string;
  readonly durationSeconds: number | null;
  /** 1 or 2, as Twilio recorded it. */
  readonly channels: number | null;
  /** Twilio's RecordingSource (`DialVerb`, `Conference`, …). */
  readonly source: string | null;
  readonly sizeBytes: number | null;
  readonly sha256: string | null;
  readonly contentType: string | null;
  readonly storedAt: string | null;
  readonly erasedAt: string | null;
  /** When the retention sweep erased it (status `expired`). */
  readonly expiredAt: string | null;
  /** Voice Recording Encryption's details when the stored object is ciphertext (docs/encryption.md). */
  readonly encryption: EncryptionDetails | null;
  /** The legal hold on it (who, when, why), null when none. */
  readonly hold: LegalHold | null;
}

export interface ListingPage {
  readonly recordings: ListedRecording[];
  readonly nextCursor: string | null;
}

export interface ListingDeps {
  /** The ledger's `byDayShard`, `byOpenStatus` and `byHold` indexes. */
  readonly ledger: Pick<LedgerDayIndex, 'queryPartition' | 'dayPartitions' | 'openPartitions' | 'holdPartitions'>;
  /** @default DEFAULT_MAX_READ_PAGES */
  readonly maxReadPages?: number;
}

/* ---- parameters ---------------------------------------------------------------------------- */

/**
 * Validates the query string. `raw` is the request's raw query string (preferred: repeated
 * parameters can be told apart) or the parsed parameters. Every problem is a 400 that names it.
 */
export function parseListingQuery(raw: string | Readonly<Record<string, string | undefined>>): ListingQuery {
  const given = new Map<string, string>();
  const entries: [string, string][] =
    typeof raw === 'string'
      ? [...new URLSearchParams(raw)]
      : Object.entries(raw).filter((e): e is [string, string] => e[1] !== undefined);
  for (const [name, value] of entries) {
    if (!(PARAMETERS as readonly string[]).includes(name)) {
      throw badRequest(`Unknown parameter "${printable(name)}"; the parameters are ${PARAMETERS.join(', ')}`);
    }
    if (given.has(name)) throw badRequest(`Parameter "${name}" is given more than once`);
    given.set(name, value);
  }

  const rawHold = given.get('hold');
  if (rawHold !== undefined && rawHold !== 'true') {
    throw badRequest('"hold" can only be true (the recordings on legal hold); leave it out to list every recording');
  }
  const hold = rawHold === 'true';

  // The held recordings are few and in one sparse partition: any range, or none, is cheap.
  const givenFrom = parseInstant('from', given.get('from'), !hold);
  const givenTo = parseInstant('to', given.get('to'), !hold);
  const from = givenFrom ?? new Date(UNBOUNDED_FROM);
  const to = givenTo ?? new Date(UNBOUNDED_TO);
  if (to.getTime() <= from.getTime())
    throw badRequest('"to" must be later than "from" (from is inclusive, to exclusive)');
  if (!hold && to.getTime() - from.getTime() > MAX_RANGE_DAYS * DAY_MS) {
    throw badRequest(
      `"from" and "to" must be at most ${MAX_RANGE_DAYS} days apart (with hold=true, any range or none)`,
    );
  }

  let status: LedgerStatus | undefined;
  const rawStatus = given.get('status');
  if (rawStatus !== undefined) {
    if (!(LEDGER_STATUSES as readonly string[]).includes(rawStatus)) {
      throw badRequest(`"status" must be one of ${LEDGER_STATUSES.join(', ')}`);
    }
    status = rawStatus as LedgerStatus;
  }

  let limit = DEFAULT_LIMIT;
  const rawLimit = given.get('limit');
  if (rawLimit !== undefined) {
    limit = /^\d{1,7}$/.test(rawLimit) ? Number(rawLimit) : Number.NaN;
    if (!(limit >= 1 && limit <= MAX_LIMIT)) throw badRequest(`"limit" must be a whole number from 1 to ${MAX_LIMIT}`);
  }

  const query = {
    from: from.toISOString(),
    to: to.toISOString(),
    given: { from: givenFrom?.toISOString() ?? null, to: givenTo?.toISOString() ?? null },
    status,
    hold,
    limit,
    after: undefined,
  };
  const cursor = given.get('cursor');
  if (cursor === undefined) return query;
  return { ...query, after: decodeCursor(cursor, query) };
}

/**
 * An ISO-8601 instant (see `parseIsoInstant`), or undefined when left out and not `required`; a 400
 * naming the parameter otherwise.
 */
function parseInstant(name: string, value: string | undefined, required: boolean): Date | undefined {
  if (value === undefined || (required && value === '')) {
    if (!required) return undefined;
    throw badRequest(`"${name}" is required (ISO-8601 date or date-time, UTC); only hold=true lists without a range`);
  }
  const date = parseIsoInstant(value);
  if (!date) {
    throw badRequest(
      `"${name}" must be an ISO-8601 date or date-time in UTC, e.g. 2024-07-22 or 2024-07-22T17:00:00Z` +
        (value.includes(' ') ? ' (encode "+" in an offset as %2B)' : ''),
    );
  }
  return date;
}

function printable(text: string): string {
  return text.replace(/[^\x20-\x7e]/g, '?').slice(0, 40);
}

/* ---- cursor -------------------------------------------------------------------------------- */

interface CursorBody {
  readonly v: 1;
  /** As the request gave it; null when left out (`hold=true` only). */
  readonly from: string | null;
  readonly to: string | null;
  readonly status: LedgerStatus | null;
  /** Present (true) only on a cursor of `hold=true`. */
  readonly hold?: true;
  readonly after: readonly [string, string];
}

const CURSOR_CHECK_CONTEXT = 'recording-vault/recordings-cursor/v1\n';
const ISO_MILLIS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const RECORDING_SID = /^RE[0-9a-fA-F]{32}$/;

function checksum(payload: string): string {
  return createHash('sha256')
    .update(CURSOR_CHECK_CONTEXT + payload)
    .digest()
    .subarray(0, 12)
    .toString('base64url');
}

type CursorQuery = Pick<ListingQuery, 'from' | 'to' | 'status'> & {
  readonly hold?: boolean;
  /** The bounds as given; when absent, `from` and `to` were both given. */
  readonly given?: ListingQuery['given'];
};

function givenBounds(query: CursorQuery): ListingQuery['given'] {
  return query.given ?? { from: query.from, to: query.to };
}

export function encodeCursor(query: CursorQuery, after: ListingPosition): string {
  const body: CursorBody = {
    v: 1,
    from: givenBounds(query).from,
    to: givenBounds(query).to,
    status: query.status ?? null,
    ...(query.hold ? { hold: true as const } : {}),
    after: [after.startedAt, after.recordingSid],
  };
  const payload = Buffer.from(JSON.stringify(body), 'utf8').toString('base64url');
  return `${payload}.${checksum(payload)}`;
}

/** The position in `cursor`, which must have been issued for exactly this query. */
export function decodeCursor(cursor: string, query: CursorQuery): ListingPosition {
  const malformed = () => badRequest('"cursor" is not a cursor this API issued; start again without one');
  if (cursor.length > MAX_CURSOR_LENGTH || !/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(cursor)) throw malformed();
  const [payload = '', check = ''] = cursor.split('.');
  if (check !== checksum(payload)) throw malformed();
  let body: Partial<CursorBody>;
  try {
    body = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Partial<CursorBody>;
  } catch {
    throw malformed();
  }
  const after = body?.after;
  if (
    body?.v !== 1 ||
    !(body.from === null || typeof body.from === 'string') ||
    !(body.to === null || typeof body.to === 'string') ||
    !(body.status === null || (LEDGER_STATUSES as readonly unknown[]).includes(body.status)) ||
    !(body.hold === undefined || body.hold === true) ||
    !Array.isArray(after) ||
    after.length !== 2 ||
    typeof after[0] !== 'string' ||
    typeof after[1] !== 'string' ||
    !ISO_MILLIS.test(after[0]) ||
    !(after[1] === '' || RECORDING_SID.test(after[1]))
  ) {
    throw malformed();
  }
  const bounds = givenBounds(query);
  if (
    body.from !== bounds.from ||
    body.to !== bounds.to ||
    (body.status ?? undefined) !== query.status ||
    (body.hold === true) !== (query.hold === true)
  ) {
    throw badRequest(
      '"cursor" belongs to another query: send the same from, to, status and hold as the page it came from',
    );
  }
  const [startedAt, recordingSid] = after as [string, string];
  if (startedAt < query.from || startedAt >= query.to) throw badRequest('"cursor" points outside from … to');
  return { startedAt, recordingSid };
}

/* ---- reading ------------------------------------------------------------------------------- */

function compare(a: ListingPosition, b: ListingPosition): number {
  if (a.startedAt !== b.startedAt) return a.startedAt < b.startedAt ? -1 : 1;
  if (a.recordingSid === b.recordingSid) return 0;
  return a.recordingSid < b.recordingSid ? -1 : 1;
}

/**
 * The start of the day after `day`, no later than `end`. Days are stepped as instants, never as
 * strings: the day after 9999-12-31 is written `+010000-01-01`, which sorts before it.
 */
function endOfDay(day: string, end: string): string {
  const next = Date.parse(`${day}T00:00:00.000Z`) + DAY_MS;
  return next >= Date.parse(end) ? end : new Date(next).toISOString();
}

/** How far one partition has been read. */
interface PartitionRead {
  readonly partition: string;
  exclusiveStartKey: Record<string, unknown> | undefined;
  /** Every recording of the partition that started before this has been read. */
  readUpTo: string;
  done: boolean;
}

/**
 * One page of recordings for `query`: segment by segment (a day of `byDayShard`, or the whole
 * range of a sparse index: `byHold`, `byOpenStatus`), each segment's partitions read side by side
 * and merged.
 */
export async function listRecordings(query: ListingQuery, deps: ListingDeps): Promise<ListingPage> {
  const maxReadRounds = deps.maxReadPages ?? DEFAULT_MAX_READ_PAGES;
  const lower = query.after?.startedAt ?? query.from;
  // A sparse index holds the whole range in one segment: the held recordings (the fewest), or
  // those in an open status; otherwise the day index, a day at a time.
  const sparse: { index: 'hold' | 'open'; partitions: string[] } | undefined = query.hold
    ? { index: 'hold', partitions: deps.ledger.holdPartitions() }
    : isOpenStatus(query.status)
      ? { index: 'open', partitions: deps.ledger.openPartitions(query.status) }
      : undefined;
  const kept: ListedLedgerItem[] = [];
  // Every recording that started before `frontier` has been read (filtered ones included).
  let frontier = lower;
  let rounds = 0;

  const page = (items: ListedLedgerItem[], after: ListingPosition | undefined): ListingPage => ({
    recordings: items.map(view),
    nextCursor: after ? encodeCursor(query, after) : null,
  });

  for (let segmentStart = lower; ; segmentStart = frontier) {
    const segmentEnd = sparse ? query.to : endOfDay(dayOf(segmentStart), query.to);
    const partitions = sparse ? sparse.partitions : deps.ledger.dayPartitions(dayOf(segmentStart));
    const reads: PartitionRead[] = partitions.map((partition) => ({
      partition,
      exclusiveStartKey: undefined,
      readUpTo: segmentStart,
      done: false,
    }));
    // At least a few dozen a read, so that a small page does not re-read a large group of
    // recordings sharing a startedAt two at a time; about the page's share of each partition.
    const limit = Math.min(MAX_LIMIT, Math.max(MIN_READ_ITEMS, Math.ceil((1.5 * (query.limit + 1)) / reads.length)));

    for (;;) {
      // Only the partitions not yet read past the page's last recording can still change the page.
      const pageEnd = kept.length > query.limit ? kept[query.limit - 1]?.startedAt : undefined;
      const due = reads.filter((read) => !read.done && (pageEnd === undefined || read.readUpTo <= pageEnd));
      const results = await Promise.all(
        due.map((read) =>
          deps.ledger.queryPartition({
            index: sparse ? sparse.index : 'day',
            partition: read.partition,
            from: segmentStart,
            // BETWEEN is inclusive: a recording that started exactly at `to` is read, then dropped.
            through: query.to,
            // The sparse indexes are not exact: a status written without them is filtered out.
            status: query.status,
            limit,
            exclusiveStartKey: read.exclusiveStartKey,
          }),
        ),
      );
      rounds++;
      results.forEach((result, i) => {
        const read = due[i] as PartitionRead;
        for (const item of result.items) {
          if (item.startedAt >= query.to || item.startedAt < lower) continue;
          if (query.after && compare(item, query.after) <= 0) continue;
          kept.push(item);
        }
        read.exclusiveStartKey = result.lastEvaluatedKey;
        const readUpTo = result.lastEvaluatedKey?.startedAt;
        read.done = result.lastEvaluatedKey === undefined;
        read.readUpTo = read.done ? segmentEnd : typeof readUpTo === 'string' ? readUpTo : read.readUpTo;
      });
      frontier = reads.reduce((lowest, read) => (read.readUpTo < lowest ? read.readUpTo : lowest), segmentEnd);

      kept.sort(compare);
      const last = kept[query.limit - 1];
      // A full page, one more recording to prove it is not the last, and the whole group that
      // shares the page's last startedAt read in every partition: the page is final.
      if (kept.length > query.limit && last && frontier > last.startedAt) {
        return page(kept.slice(0, query.limit), last);
      }
      if (reads.every((read) => read.done)) break;
      // Out of read budget: answer what lies wholly before the frontier (fewer than `limit`),
      // and continue from there next time. Only when that is progress, so no cursor repeats.
      if (rounds >= maxReadRounds && frontier > lower) {
        return page(
          kept.filter((item) => item.startedAt < frontier),
          { startedAt: frontier, recordingSid: '' },
        );
      }
    }
    if (frontier >= query.to) break;
    if (rounds >= maxReadRounds && frontier > lower) {
      return page(
        kept.filter((item) => item.startedAt < frontier),
        { startedAt: frontier, recordingSid: '' },
      );
    }
  }
  kept.sort(compare);
  const last = kept[query.limit - 1];
  return page(kept.slice(0, query.limit), kept.length > query.limit ? last : undefined);
}

function view(item: ListedLedgerItem): ListedRecording {
  return {
    recordingSid: item.recordingSid,
    callId: item.callId ?? null,
    callSid: item.callSid ?? null,
    conferenceSid: item.conferenceSid ?? null,
    accountSid: item.accountSid ?? null,
    status: item.status,
    startedAt: item.startedAt,
    durationSeconds: item.durationSeconds ?? null,
    channels: item.channels ?? null,
    source: item.source ?? null,
    sizeBytes: item.sizeBytes ?? null,
    sha256: item.sha256 ?? null,
    contentType: item.contentType ?? null,
    storedAt: item.storedAt ?? null,
    erasedAt: item.erasedAt ?? null,
    expiredAt: item.expiredAt ?? null,
    encryption: item.encryption ?? null,
    hold: item.hold ?? null,
  };
}
