/**
 * The proof files of `npm run export`: `<RecordingSid>.json` beside each copy (the ledger's facts
 * as they are now, never the claim fields) and the manifest with its own SHA-256.
 *
 * A `.json` found on a resumed run is never trusted as it is: it is compared with the one the
 * ledger gives now (same `exportedAt`, so an unchanged recording keeps its file byte for byte)
 * and rewritten when it is unreadable or says something else (a hold placed or released since,
 * a ledger field changed). The same facts in another layout are kept.
 */
import type { LedgerItem } from '../../lambda/shared/ledger/ledger';
import { sha256Of } from './export-target';

export const MANIFEST = 'manifest.json';
export const MANIFEST_HASH = 'manifest.json.sha256';

/** Object keys in code-point order at every level: the same facts always give the same bytes. */
function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value && typeof value === 'object' && !(value instanceof Date)) {
    return Object.fromEntries(
      Object.keys(value as Record<string, unknown>)
        .sort()
        .map((key) => [key, canonical((value as Record<string, unknown>)[key])]),
    );
  }
  return value;
}

/** What the `.json` beside a recording says: the ledger's facts, never the claim. */
export function recordingMetadata(item: LedgerItem, file: string, exportedAt: string): Record<string, unknown> {
  const {
    claimId: _claim,
    leaseExpiresAt: _lease,
    announcingUntil: _announcing,
    ...ledger
  } = item as LedgerItem & {
    claimId?: string;
    leaseExpiresAt?: unknown;
  };
  return {
    recordingSid: item.recordingSid,
    file,
    sha256: item.sha256,
    sizeBytes: item.sizeBytes,
    contentType: item.contentType,
    encryption: canonical(item.encryption ?? null),
    hold: canonical(item.hold ?? null),
    ledger: canonical(ledger),
    exportedAt,
    verified: 'sha256 of the exported bytes equals the ledger sha256',
  };
}

export const metadataText = (item: LedgerItem, file: string, exportedAt: string) =>
  `${JSON.stringify(recordingMetadata(item, file, exportedAt), null, 2)}\n`;

/** The `.json` to keep, and why an existing one is replaced (`rewrite` unset: keep it as it is). */
export interface MetadataCheck {
  readonly text: string;
  readonly rewrite?: { readonly reason: 'unreadable' | 'stale'; readonly fields: readonly string[] };
}

/** Compares the `.json` found with what the ledger says now. */
export function checkMetadata(found: string, item: LedgerItem, file: string, now: string): MetadataCheck {
  let parsed: Record<string, unknown> | undefined;
  try {
    const value: unknown = JSON.parse(found);
    if (value && typeof value === 'object' && !Array.isArray(value)) parsed = value as Record<string, unknown>;
  } catch {
    parsed = undefined;
  }
  const exportedAt = parsed?.exportedAt;
  if (!parsed || parsed.recordingSid !== item.recordingSid || typeof exportedAt !== 'string') {
    return { text: metadataText(item, file, now), rewrite: { reason: 'unreadable', fields: [] } };
  }
  const expected = metadataText(item, file, exportedAt);
  if (expected === found) return { text: found };
  const fresh = recordingMetadata(item, file, exportedAt);
  const fields = [...new Set([...Object.keys(fresh), ...Object.keys(parsed)])].filter(
    (field) => JSON.stringify(canonical(parsed[field])) !== JSON.stringify(fresh[field]),
  );
  // The same facts laid out otherwise (an older export's key order, other whitespace): kept.
  if (fields.length === 0) return { text: found };
  return { text: metadataText(item, file, now), rewrite: { reason: 'stale', fields } };
}

export interface ExportedFile {
  readonly recordingSid: string;
  readonly file: string;
  readonly sizeBytes: number;
  readonly sha256: string;
  readonly metadataFile: string;
  readonly metadataSha256: string;
}

export interface ManifestFacts {
  readonly from: string;
  readonly to: string;
  readonly source: string;
  readonly exportedAt: string;
  readonly exportedBy: string;
  readonly recordings: readonly ExportedFile[];
  readonly failures: readonly string[];
}

/** `manifest.json` and its `sha256sum` line. */
export function manifestFiles(facts: ManifestFacts): { manifest: string; sha256: string; hashLine: string } {
  const manifest = `${JSON.stringify(
    {
      from: facts.from,
      to: facts.to,
      source: facts.source,
      exportedAt: facts.exportedAt,
      exportedBy: facts.exportedBy,
      counts: { recordings: facts.recordings.length, failed: facts.failures.length },
      recordings: facts.recordings,
      failures: facts.failures,
    },
    null,
    2,
  )}\n`;
  const sha256 = sha256Of(manifest);
  return { manifest, sha256, hashLine: `${sha256}  ${MANIFEST}\n` };
}
