import { randomBytes } from 'node:crypto';

/**
 * One entry of the access audit trail (the `audit` table): who did what to which recording, when,
 * from where. Entries are only ever added (a conditional put on a key no entry has), never
 * changed or removed by the vault: see ./audit-trail.ts and docs/compliance-audit-and-export.md.
 *
 * Key: partition `recordingSid`, sort `atId` = `<at>#<id>` (ISO-8601 time, then a random id, so
 * that two entries of one millisecond never share a key and a page reads in time order).
 * GSI `byActorDay`: partition `actorDay` = `<actor>#<YYYY-MM-DD>`, sort `atId`.
 * Entries that concern no single recording (a listing page, an export run) sit under a
 * pseudo-recording partition per day, e.g. `~listing#2024-07-22`.
 */

export const AUDIT_BY_ACTOR_DAY_INDEX = 'byActorDay';

/** What was done. Stable strings: auditors and scripts filter on them. */
export const AUDIT_ACTIONS = [
  /** A presigned playback/download URL was issued. */
  'playback.url',
  /** A page of GET /recordings (ledger facts, no URLs). */
  'recordings.list',
  /** An erasure was asked for (the outcome says how it ended). */
  'recording.erase',
  /**
   * The retention sweep expired the recording (`done`, at the ledger's `expiredAt`), or passed it
   * by (`refused`, `details.reason` `held` or `retained`).
   */
  'recording.expire',
  'recording.hold',
  'recording.release',
  /** `npm run status` looked at the recording. */
  'ops.status',
  /** `npm run decrypt` decrypted the recording. */
  'ops.decrypt',
  /** `npm run export` copied the recording (per recording), or an export run (its summary). */
  'ops.export',
] as const;
export type AuditAction = (typeof AUDIT_ACTIONS)[number];

/** How the caller was authenticated. */
export type ActorKind = 'jwt' | 'iam' | 'local' | 'cli';

export interface AuditActor {
  /** One line naming the caller: JWT `sub`, IAM principal ARN, or the local user. */
  readonly actor: string;
  readonly kind: ActorKind;
  /** JWT: the OAuth client the token was issued to. */
  readonly clientId?: string;
  readonly sourceIp?: string;
  readonly userAgent?: string;
}

/** Small facts about the action (a query, a count, an outcome's reason). Never a URL, token or phone number. */
export type AuditDetails = Readonly<Record<string, string | number | boolean>>;

export interface AuditEntryInput extends AuditActor {
  /** The recording, or a pseudo partition (`~listing`, `~export`), to which the entry's day is added. */
  readonly recordingSid: string;
  readonly action: AuditAction;
  /** How it ended: `issued`, `listed`, `erased`, `refused`, `failed`, … */
  readonly outcome: string;
  readonly details?: AuditDetails;
}

/** The item as stored. */
export interface AuditEntry extends AuditEntryInput {
  readonly atId: string;
  readonly at: string;
  readonly id: string;
  readonly actorDay: string;
}

/** Pseudo recordings: entries about many recordings at once, one partition per day. */
export const LISTING_PARTITION = '~listing';
export const EXPORT_PARTITION = '~export';

export function dayPartition(prefix: string, at: string): string {
  return `${prefix}#${at.slice(0, 10)}`;
}

export function actorDayKey(actor: string, day: string): string {
  return `${actor}#${day}`;
}

/** Code points of one text field (a hold reason is at most 500). */
const MAX_TEXT = 512;
const MAX_DETAILS = 24;

function clip(text: string): string {
  // Control characters would make an auditor's terminal lie; the length keeps an item small. Cut
  // in code points, never inside a surrogate pair (a hold reason of 500 emoji is kept whole).
  // biome-ignore lint/suspicious/noControlCharactersInRegex: removing them is the point
  const clean = text.replace(/[\u0000-\u001f\u007f]/g, '?');
  return clean.length <= MAX_TEXT ? clean : Array.from(clean).slice(0, MAX_TEXT).join('');
}

/** The stored item of `input` at `at`, with a fresh id. */
export function auditItem(input: AuditEntryInput, at: Date, id = randomBytes(8).toString('hex')): AuditEntry {
  const iso = at.toISOString();
  const details = input.details
    ? Object.fromEntries(
        Object.entries(input.details)
          .slice(0, MAX_DETAILS)
          .map(([name, value]) => [clip(name), typeof value === 'string' ? clip(value) : value]),
      )
    : undefined;
  // A pseudo partition (`~listing`) takes the entry's own day, so that no partition grows for ever.
  const partition =
    input.recordingSid.startsWith('~') && !input.recordingSid.includes('#')
      ? dayPartition(input.recordingSid, iso)
      : input.recordingSid;
  return {
    recordingSid: partition,
    atId: `${iso}#${id}`,
    at: iso,
    id,
    action: input.action,
    outcome: clip(input.outcome),
    actor: clip(input.actor),
    kind: input.kind,
    actorDay: actorDayKey(clip(input.actor), iso.slice(0, 10)),
    ...(input.clientId ? { clientId: clip(input.clientId) } : {}),
    ...(input.sourceIp ? { sourceIp: clip(input.sourceIp) } : {}),
    ...(input.userAgent ? { userAgent: clip(input.userAgent) } : {}),
    ...(details && Object.keys(details).length > 0 ? { details } : {}),
  };
}

/** An entry as the API and the CLI show it (keys left out). */
export interface AuditView {
  readonly at: string;
  readonly recordingSid: string;
  readonly action: string;
  readonly outcome: string;
  readonly actor: string;
  readonly actorKind: string;
  readonly clientId: string | null;
  readonly sourceIp: string | null;
  readonly userAgent: string | null;
  readonly details: AuditDetails;
}

export function auditView(item: Partial<AuditEntry>): AuditView {
  return {
    at: item.at ?? '',
    recordingSid: item.recordingSid ?? '',
    action: item.action ?? '',
    outcome: item.outcome ?? '',
    actor: item.actor ?? '',
    actorKind: item.kind ?? '',
    clientId: item.clientId ?? null,
    sourceIp: item.sourceIp ?? null,
    userAgent: item.userAgent ?? null,
    details: item.details ?? {},
  };
}
