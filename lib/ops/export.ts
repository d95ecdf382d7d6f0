/**
 * `npm run export`: every stored recording that started in [from, to), copied with its proof to a
 * directory or to `s3://bucket/prefix`, for an auditor or a court.
 *
 * The target is opened first (./export-target.ts: never the vault's own bucket, probed before
 * anything is read). For each recording the ledger knows as `stored`: `<RecordingSid>.<ext>` (the
 * bytes as stored: an encrypted recording stays ciphertext) and `<RecordingSid>.json` beside it
 * (./export-proof.ts). The bytes are hashed while they are copied and compared with the ledger's
 * SHA-256; a copy that differs is removed and counted, never kept. The `.json` is written last: it
 * marks the recording done, so a run that was interrupted starts again where it stopped and copies
 * nothing twice (a local copy already there is hashed again; an S3 copy is checked by its size and
 * the `sha256` it was written with; its `.json` is checked against the ledger and rewritten when
 * it is unreadable or stale). At the end: `manifest.json` (every file with the SHA-256 of what is
 * on the target) and `manifest.json.sha256` (`sha256sum` format), and one summary line.
 *
 * Audited under `~export#<day>`: the run (`started` once the target is known good, then exactly
 * one of `finished`, `finished-with-failures`, `interrupted` or `failed`, with the counts), each
 * recording copied (`copied`, after its hash was verified, before its `.json` is written) and each
 * `.json` rewritten on a resumed run (`metadata-rewritten`, before it is written).
 */
import type { Readable } from 'node:stream';
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { type DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { EXPORT_PARTITION } from '../../lambda/shared/audit/audit-record';
import { LedgerDayIndex } from '../../lambda/shared/ledger/day-index';
import type { LedgerItem } from '../../lambda/shared/ledger/ledger';
import { CliError } from './cli';
import type { CommandAudit } from './command-audit';
import type { ExportProgress } from './export-progress';
import { checkMetadata, type ExportedFile, MANIFEST, MANIFEST_HASH, manifestFiles, metadataText } from './export-proof';
import { type ExportTarget, sha256Of } from './export-target';
import { describeError } from './target';

export { type ExportProgress, exportProgress, exportSummary } from './export-progress';
export { MANIFEST, MANIFEST_HASH, recordingMetadata } from './export-proof';
export { type ExportDestination, openExportTarget, parseDestination } from './export-target';

const DAY_MS = 24 * 60 * 60 * 1000;
/** How long an interrupted run may take to enter `interrupted` before it exits anyway. */
export const INTERRUPTED_ENTRY_DEADLINE_MS = 3000;

export interface ExportSources {
  readonly ddb: Pick<DynamoDBDocumentClient, 'send'>;
  readonly s3: S3Client;
  readonly ledgerTableName: string;
  readonly ledgerDayIndexName: string;
  /** The target's `ledger.indexShards` (default DEFAULT_INDEX_SHARDS). */
  readonly ledgerIndexShards?: number | undefined;
  /** For messages: the target's name. */
  readonly name: string;
}

export interface ExportArguments {
  readonly from: Date;
  readonly to: Date;
  /** Opened with `openExportTarget`. */
  readonly out: ExportTarget;
}

export interface ExportResult {
  readonly listed: number;
  readonly copied: number;
  /** Of those copied: how many had been exported before, but their copy was missing or did not match. */
  readonly recopied: number;
  readonly alreadyThere: number;
  /** Of those already there: how many `.json` were rewritten from the ledger. */
  readonly metadataRewritten: number;
  readonly failed: number;
  readonly bytesCopied: number;
  readonly finished: boolean;
  readonly manifestSha256?: string;
  readonly manifestLocation?: string;
  readonly failures: readonly string[];
}

/* ---- the ledger ---------------------------------------------------------------------------- */

/** The RecordingSids of the ledger's stored recordings that started in [from, to), oldest first. */
export async function storedInRange(sources: ExportSources, from: Date, to: Date): Promise<string[]> {
  const index = new LedgerDayIndex(sources.ddb as DynamoDBDocumentClient, sources.ledgerTableName, {
    dayIndexName: sources.ledgerDayIndexName,
    ...(sources.ledgerIndexShards !== undefined ? { indexShards: sources.ledgerIndexShards } : {}),
  });
  const fromIso = from.toISOString();
  const toIso = to.toISOString();
  const found: { sid: string; startedAt: string }[] = [];
  for (let t = Date.parse(`${fromIso.slice(0, 10)}T00:00:00.000Z`); t < to.getTime(); t += DAY_MS) {
    const day = new Date(t).toISOString().slice(0, 10);
    // Every shard of the day; the sort below merges them.
    for (const partition of index.dayPartitions(day)) {
      let start: Record<string, unknown> | undefined;
      do {
        const page = await index.queryPartition({
          index: 'day',
          partition,
          from: fromIso,
          through: toIso,
          status: 'stored',
          limit: 1000,
          exclusiveStartKey: start,
        });
        for (const item of page.items) {
          if (item.startedAt >= fromIso && item.startedAt < toIso)
            found.push({ sid: item.recordingSid, startedAt: item.startedAt });
        }
        start = page.lastEvaluatedKey;
      } while (start);
    }
  }
  found.sort((a, b) => a.startedAt.localeCompare(b.startedAt) || a.sid.localeCompare(b.sid));
  return found.map((f) => f.sid);
}

function extensionOf(item: LedgerItem): string {
  const fromKey = /\.([a-z0-9]{2,4})$/.exec(item.key ?? '')?.[1];
  if (fromKey) return fromKey;
  return item.contentType === 'audio/wav' || item.contentType === 'audio/x-wav' ? 'wav' : 'mp3';
}

/* ---- the run ------------------------------------------------------------------------------- */

export interface ExportOptions {
  /** Aborted on an interruption; a string reason (`SIGINT`, `SIGTERM`) is entered with the run. */
  readonly signal?: AbortSignal;
  readonly progress?: ExportProgress;
  readonly now?: () => Date;
  /** For tests: how long the `interrupted` entry may take. */
  readonly interruptedEntryDeadlineMs?: number;
}

export async function exportRecordings(
  args: ExportArguments,
  sources: ExportSources,
  audit: CommandAudit,
  options: ExportOptions = {},
): Promise<ExportResult> {
  const now = options.now ?? (() => new Date());
  const { progress, signal } = options;
  const sink = args.out;
  const range = { from: args.from.toISOString(), to: args.to.toISOString() };
  const counts = { listed: 0, copied: 0, recopied: 0, alreadyThere: 0, metadataRewritten: 0, bytesCopied: 0 };
  const files: ExportedFile[] = [];
  const failures: string[] = [];
  const result = (finished: boolean): ExportResult => ({
    ...counts,
    failed: failures.length,
    finished,
    failures,
  });
  const runDetails = () => ({ ...range, out: sink.location, ...counts, failed: failures.length });
  // Interrupted before anything was entered or read: nothing to close.
  if (signal?.aborted) return result(false);
  await audit.record(EXPORT_PARTITION, 'ops.export', 'started', { ...range, out: sink.location });

  try {
    const sids = await storedInRange(sources, args.from, args.to);
    counts.listed = sids.length;
    progress?.start(sids.length);
    let finished = true;
    for (const recordingSid of sids) {
      if (signal?.aborted) {
        finished = false;
        break;
      }
      try {
        const outcome = await exportOne(recordingSid, sources, sink, audit, now, signal);
        files.push(outcome.file);
        if (outcome.copied) {
          counts.copied++;
          counts.bytesCopied += outcome.file.sizeBytes;
          if (outcome.again) {
            counts.recopied++;
            progress?.note(`export: ${recordingSid} copied again: ${outcome.again}`);
          }
        } else {
          counts.alreadyThere++;
          if (outcome.rewritten) {
            counts.metadataRewritten++;
            progress?.note(`export: ${recordingSid}.json rewritten from the ledger (${outcome.rewritten})`);
          }
        }
        progress?.tick(outcome.copied ? outcome.file.sizeBytes : 0, recordingSid);
      } catch (error) {
        if (signal?.aborted) {
          finished = false;
          break;
        }
        if (error instanceof CliError) throw error; // the audit trail: nothing more may be copied
        failures.push(`${recordingSid}: ${describeError(error)}`);
        progress?.note(`export: ${recordingSid} not exported: ${describeError(error)}`);
        progress?.tick(0, recordingSid);
      }
    }
    progress?.stop();
    if (!finished) {
      const reason = typeof signal?.reason === 'string' ? signal.reason : 'interrupt';
      const entered = await withinDeadline(
        audit.record(EXPORT_PARTITION, 'ops.export', 'interrupted', { ...runDetails(), signal: reason }),
        options.interruptedEntryDeadlineMs ?? INTERRUPTED_ENTRY_DEADLINE_MS,
      );
      if (entered !== true)
        progress?.note(`export: the interruption could not be entered in the audit trail: ${entered}`);
      return result(false);
    }

    const {
      manifest,
      sha256: manifestSha256,
      hashLine,
    } = manifestFiles({
      ...range,
      source: sources.name,
      exportedAt: now().toISOString(),
      exportedBy: audit.actor.actor,
      recordings: files,
      failures,
    });
    await sink.writeText(MANIFEST, manifest);
    await sink.writeText(MANIFEST_HASH, hashLine);
    await audit.record(EXPORT_PARTITION, 'ops.export', failures.length > 0 ? 'finished-with-failures' : 'finished', {
      ...runDetails(),
      recordings: files.length,
      manifestSha256,
    });
    return {
      ...result(true),
      manifestSha256,
      manifestLocation: `${sink.location.replace(/\/$/, '')}/${MANIFEST}`,
    };
  } catch (error) {
    progress?.stop();
    // Best effort: the run's `started` gets its end (if the trail itself failed, this fails too).
    await withinDeadline(
      audit.record(EXPORT_PARTITION, 'ops.export', 'failed', { ...runDetails(), reason: describeError(error) }),
      options.interruptedEntryDeadlineMs ?? INTERRUPTED_ENTRY_DEADLINE_MS,
    );
    throw error;
  }
}

/** `true` once `work` is done; otherwise what went wrong, or that the deadline passed. */
async function withinDeadline(work: Promise<unknown>, ms: number): Promise<true | string> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<string>((resolve) => {
    timer = setTimeout(() => resolve(`no answer within ${ms} ms`), ms);
    timer.unref();
  });
  try {
    return await Promise.race([work.then(() => true as const), deadline]);
  } catch (error) {
    return describeError(error);
  } finally {
    clearTimeout(timer);
  }
}

async function exportOne(
  recordingSid: string,
  sources: ExportSources,
  sink: ExportTarget,
  audit: CommandAudit,
  now: () => Date,
  signal: AbortSignal | undefined,
): Promise<{ file: ExportedFile; copied: boolean; rewritten?: string; again?: string }> {
  const { Item } = await sources.ddb.send(
    new GetCommand({ TableName: sources.ledgerTableName, Key: { recordingSid }, ConsistentRead: true }),
  );
  const item = Item as LedgerItem | undefined;
  if (item?.status !== 'stored') throw new Error(`the ledger no longer says stored (${item?.status ?? 'gone'})`);
  if (!item.bucket || !item.key || !item.sha256) throw new Error('the ledger names no object or SHA-256');
  const file = `${recordingSid}.${extensionOf(item)}`;
  const metadataFile = `${recordingSid}.json`;

  // Done before: the .json is there (written after the `copied` entry) and the copy still has
  // the ledger's size and hash. The .json itself is checked against the ledger as it is now.
  const doneBefore = await sink.readText(metadataFile);
  /** Exported before, but its copy is missing or does not match: why it is copied again. */
  let again: string | undefined;
  if (doneBefore !== undefined) {
    const present = await sink.existing(file);
    again = mismatch(present, item, sink.location.startsWith('s3://'));
    if (present && again === undefined) {
      const checked = checkMetadata(doneBefore, item, file, now().toISOString());
      let rewritten: string | undefined;
      if (checked.rewrite) {
        const { reason, fields } = checked.rewrite;
        rewritten = reason === 'stale' ? `it said otherwise on ${fields.join(', ')}` : 'it was unreadable';
        // Entered before the new facts are handed out, as a copy is.
        await audit.record(recordingSid, 'ops.export', 'metadata-rewritten', {
          reason,
          ...(fields.length > 0 ? { fields: fields.join(',') } : {}),
          metadataSha256: sha256Of(checked.text),
          out: sink.location,
        });
        await sink.writeText(metadataFile, checked.text);
      }
      return {
        copied: false,
        ...(rewritten ? { rewritten } : {}),
        file: {
          recordingSid,
          file,
          sizeBytes: present.sizeBytes,
          sha256: item.sha256,
          metadataFile,
          metadataSha256: sha256Of(checked.text),
        },
      };
    }
  }

  const object = await sources.s3.send(
    new GetObjectCommand({ Bucket: item.bucket, Key: item.key }),
    signal ? { abortSignal: signal } : {},
  );
  if (!object.Body) throw new Error('S3 answered without a body');
  const written = await sink.write(file, object.Body as Readable, item.sha256);
  if (written.sha256 !== item.sha256) {
    await sink.remove(file);
    throw new Error(`SHA-256 mismatch: the ledger says ${item.sha256}, the bytes hash to ${written.sha256}; not kept`);
  }
  await audit.record(recordingSid, 'ops.export', 'copied', {
    sha256: written.sha256,
    sizeBytes: written.sizeBytes,
    out: sink.location,
    ...(again ? { again } : {}),
  });
  const metadata = metadataText(item, file, now().toISOString());
  await sink.writeText(metadataFile, metadata);
  return {
    copied: true,
    ...(again ? { again } : {}),
    file: {
      recordingSid,
      file,
      sizeBytes: written.sizeBytes,
      sha256: written.sha256,
      metadataFile,
      metadataSha256: sha256Of(metadata),
    },
  };
}

/**
 * Why a copy on the target is not the ledger's recording, for the line that says it is copied
 * again; undefined when it is. An S3 copy is judged by its size and the `sha256` it was written
 * with (reading it back would cost its whole download); a local one was hashed again.
 */
function mismatch(
  present: { sizeBytes: number; sha256: string | undefined } | undefined,
  item: LedgerItem,
  s3: boolean,
): string | undefined {
  if (!present) return 'its copy was missing';
  if (item.sizeBytes !== undefined && present.sizeBytes !== item.sizeBytes) {
    return `the copy there has ${present.sizeBytes} bytes, the ledger says ${item.sizeBytes}`;
  }
  if (present.sha256 === undefined) return 'the copy there carries no sha256 metadata';
  if (present.sha256 !== item.sha256) {
    return s3
      ? 'the copy there did not match its SHA-256 (its sha256 metadata)'
      : 'the copy there did not match its SHA-256';
  }
  return undefined;
}
