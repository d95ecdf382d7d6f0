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

/**
 * A recording an earlier manifest at the same target listed and this run did not export: kept in
 * the manifest (`noLongerExported`) with the facts that manifest gave, so that no manifest drops
 * what an earlier one listed, and with what the ledger says of it now.
 */
export interface NoLongerExported extends ExportedFile {
  /** The ledger's status now: `expired`, `erased`, `stored` (outside this range, or failed now), or `gone` (no ledger item). */
  readonly status: string;
  /** `expiredAt` or `erasedAt`, when the ledger has it. */
  readonly statusAt?: string;
  /** The `exportedAt` of the manifest that listed it as exported. */
  readonly listedBy: string;
}

/** What the earlier manifest at the target listed: its exported recordings and those it kept listing. */
export interface EarlierManifest {
  readonly exportedAt: string;
  readonly recordings: readonly ExportedFile[];
  readonly noLongerExported: readonly NoLongerExported[];
}

const isFile = (f: unknown): f is ExportedFile => {
  const x = f as Record<string, unknown> | null;
  return (
    typeof x === 'object' &&
    x !== null &&
    typeof x.recordingSid === 'string' &&
    typeof x.file === 'string' &&
    typeof x.sizeBytes === 'number' &&
    typeof x.sha256 === 'string' &&
    typeof x.metadataFile === 'string' &&
    typeof x.metadataSha256 === 'string'
  );
};

/** An earlier `manifest.json`; undefined when it cannot be read as one this command wrote. */
export function parseManifest(text: string): EarlierManifest | undefined {
  let parsed: Record<string, unknown>;
  try {
    parsed = JSON.parse(text) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null || typeof parsed.exportedAt !== 'string') return undefined;
  const recordings = parsed.recordings;
  const kept = parsed.noLongerExported ?? [];
  if (!Array.isArray(recordings) || !recordings.every(isFile)) return undefined;
  if (
    !Array.isArray(kept) ||
    !kept.every((k) => isFile(k) && typeof (k as { listedBy?: unknown }).listedBy === 'string')
  )
    return undefined;
  return { exportedAt: parsed.exportedAt, recordings, noLongerExported: kept as NoLongerExported[] };
}

export interface ManifestFacts {
  readonly from: string;
  readonly to: string;
  readonly source: string;
  readonly exportedAt: string;
  readonly exportedBy: string;
  readonly recordings: readonly ExportedFile[];
  readonly failures: readonly string[];
  /** Listed by an earlier manifest at the target, not exported by this run. */
  readonly noLongerExported?: readonly NoLongerExported[];
}

/** `manifest.json` and its `sha256sum` line. */
export function manifestFiles(facts: ManifestFacts): { manifest: string; sha256: string; hashLine: string } {
  const kept = facts.noLongerExported ?? [];
  const manifest = `${JSON.stringify(
    {
      from: facts.from,
      to: facts.to,
      source: facts.source,
      exportedAt: facts.exportedAt,
      exportedBy: facts.exportedBy,
      counts: {
        recordings: facts.recordings.length,
        failed: facts.failures.length,
        ...(kept.length > 0 ? { noLongerExported: kept.length } : {}),
      },
      recordings: facts.recordings,
      failures: facts.failures,
      ...(kept.length > 0 ? { noLongerExported: kept } : {}),
    },
    null,
    2,
  )}\n`;
  const sha256 = sha256Of(manifest);
  return { manifest, sha256, hashLine: `${sha256}  ${MANIFEST}\n` };
}
