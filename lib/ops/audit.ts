/**
 * `npm run audit`: the access audit trail of one recording, or of one actor over a range of days
 * (the `byActorDay` index), oldest first, one line per entry (or JSON). Reading the trail is not
 * itself entered in it; the commands that show or hand out recordings are (lib/ops/command-audit.ts).
 */
import { type AuditView, auditView } from '../../lambda/shared/audit/audit-record';
import { AuditReader } from '../../lambda/shared/audit/audit-trail';
import { CliError } from './cli';
import type { VaultTarget } from './target';

const DAY_MS = 24 * 60 * 60 * 1000;
export const MAX_ACTOR_DAYS = 366;
export const DEFAULT_ACTOR_DAYS = 7;

export type AuditQuery =
  | { readonly recordingSid: string }
  | { readonly actor: string; readonly from: Date; readonly to: Date };

/** The days (YYYY-MM-DD, UTC) that [from, to) touches. */
export function daysOf(from: Date, to: Date): string[] {
  const days: string[] = [];
  for (let t = Date.parse(`${from.toISOString().slice(0, 10)}T00:00:00.000Z`); t < to.getTime(); t += DAY_MS) {
    days.push(new Date(t).toISOString().slice(0, 10));
  }
  if (days.length > MAX_ACTOR_DAYS) throw new CliError(`--from … --to may span at most ${MAX_ACTOR_DAYS} days`);
  return days;
}

export async function readAudit(
  target: Pick<VaultTarget, 'ddb' | 'auditTableName' | 'name'>,
  query: AuditQuery,
): Promise<AuditView[]> {
  if (!target.auditTableName) {
    throw new CliError(`${target.name} has no audit table (output AuditTableName): deploy the current version`);
  }
  const reader = new AuditReader(target.ddb, target.auditTableName);
  if ('recordingSid' in query) return (await reader.allForRecording(query.recordingSid)).map(auditView);
  const from = query.from.toISOString();
  const to = query.to.toISOString();
  const entries = [];
  for (const day of daysOf(query.from, query.to)) {
    for (const entry of await reader.forActorDay(query.actor, day)) {
      if (entry.at >= from && entry.at < to) entries.push(entry);
    }
  }
  return entries.map(auditView);
}

/** One line per entry: when, what, how it ended, who (how authenticated, which client), from where. */
export function formatAudit(entries: readonly AuditView[], query: AuditQuery): string {
  const lines = entries.map((e) => {
    const who = `${e.actor} (${e.actorKind}${e.clientId ? `, client ${e.clientId}` : ''})`;
    const where = [e.sourceIp, e.userAgent].filter(Boolean).join(' ');
    const details = Object.entries(e.details)
      .map(([k, v]) => `${k}=${v}`)
      .join(' ');
    const subject = 'recordingSid' in query ? '' : ` ${e.recordingSid}`;
    return `${e.at} ${e.action}${subject} ${e.outcome} by ${who}${where ? ` from ${where}` : ''}${details ? ` [${details}]` : ''}`;
  });
  const subject = 'recordingSid' in query ? query.recordingSid : query.actor;
  lines.push(`audit: ${entries.length} entr${entries.length === 1 ? 'y' : 'ies'} for ${subject}`);
  return lines.join('\n');
}
