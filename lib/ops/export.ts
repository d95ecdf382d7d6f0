/**
 * `npm run export`: every stored recording that started in [from, to), copied with its proof to a
 * directory or to `s3://bucket/prefix`, for an auditor or a court.
 *
 * For each recording the ledger knows as `stored`: `<RecordingSid>.<ext>` (the bytes as stored:
 * an encrypted recording stays ciphertext) and `<RecordingSid>.json` beside it (the ledger's
 * fields, SHA-256, encryption details, legal hold). The bytes are hashed while they are copied and
 * compared with the ledger's SHA-256; a copy that differs is removed and counted, never kept.
 * The `.json` is written last: it marks the recording done, so a run that was interrupted starts
 * again where it stopped and copies nothing twice (a local copy already there is hashed again;
 * an S3 copy is checked by its size and the `sha256` it was written with). At the end:
 * `manifest.json` (every file with its SHA-256) and `manifest.json.sha256` (`sha256sum` format),
 * and one summary line.
 *
 * Audited: the run (`~export`, started and finished) and each recording copied (`ops.export`,
 * entered after its hash was verified, before its `.json` is written).
 */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { type DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { Upload } from '@aws-sdk/lib-storage';
import { SingleBar } from 'cli-progress';
import { EXPORT_PARTITION } from '../../lambda/shared/audit/audit-record';
import { LedgerDayIndex } from '../../lambda/shared/ledger/day-index';
import type { LedgerItem } from '../../lambda/shared/ledger/ledger';
import { CliError } from './cli';
import type { CommandAudit } from './command-audit';
import { describeError } from './target';

export const MANIFEST = 'manifest.json';
export const MANIFEST_HASH = 'manifest.json.sha256';
const DAY_MS = 24 * 60 * 60 * 1000;

/** Where the copies go. */
export type ExportDestination =
  | { readonly kind: 'dir'; readonly path: string }
  | { readonly kind: 's3'; readonly bucket: string; readonly prefix: string };

export function parseDestination(out: string): ExportDestination {
  const s3 = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:\/(.*))?$/.exec(out.trim());
  if (s3) {
    const prefix = (s3[2] ?? '').replace(/^\/+|\/+$/g, '');
    return { kind: 's3', bucket: s3[1] as string, prefix: prefix ? `${prefix}/` : '' };
  }
  if (out.startsWith('s3:')) throw new CliError(`--out ${JSON.stringify(out)} is not s3://bucket/prefix`);
  if (out.trim() === '') throw new CliError('--out must name a directory or s3://bucket/prefix');
  return { kind: 'dir', path: out };
}

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
  readonly out: ExportDestination;
}

export interface ExportedFile {
  readonly recordingSid: string;
  readonly file: string;
  readonly sizeBytes: number;
  readonly sha256: string;
  readonly metadataFile: string;
  readonly metadataSha256: string;
}

export interface ExportResult {
  readonly listed: number;
  readonly copied: number;
  readonly alreadyThere: number;
  readonly failed: number;
  readonly bytesCopied: number;
  readonly finished: boolean;
  readonly manifestSha256?: string;
  readonly manifestLocation?: string;
  readonly failures: readonly string[];
}

export interface ExportProgress {
  start(total: number): void;
  tick(copiedBytes: number, recordingSid: string): void;
  note(line: string): void;
  stop(): void;
}

/* ---- the destination ----------------------------------------------------------------------- */

interface Sink {
  readonly location: string;
  /** The stored copy of `name`: its size and SHA-256, or undefined. Local files are hashed again. */
  existing(name: string): Promise<{ sizeBytes: number; sha256: string | undefined } | undefined>;
  readText(name: string): Promise<string | undefined>;
  /** Streams `body` to `name`, returning the size and SHA-256 of what was written. */
  write(name: string, body: Readable, expectedSha256: string): Promise<{ sizeBytes: number; sha256: string }>;
  writeText(name: string, text: string): Promise<void>;
  remove(name: string): Promise<void>;
}

function hashing(): { transform: Transform; result: () => { sizeBytes: number; sha256: string } } {
  const hash = createHash('sha256');
  let sizeBytes = 0;
  const transform = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      hash.update(chunk);
      sizeBytes += chunk.length;
      done(null, chunk);
    },
  });
  return { transform, result: () => ({ sizeBytes, sha256: hash.digest('hex') }) };
}

function dirSink(path: string): Sink {
  const at = (name: string) => join(path, name);
  return {
    location: path,
    async existing(name) {
      try {
        const info = await stat(at(name));
        const hash = createHash('sha256');
        for await (const chunk of createReadStream(at(name))) hash.update(chunk as Buffer);
        return { sizeBytes: info.size, sha256: hash.digest('hex') };
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw error;
      }
    },
    async readText(name) {
      try {
        return await readFile(at(name), 'utf8');
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw error;
      }
    },
    async write(name, body) {
      await mkdir(path, { recursive: true });
      // Written under a temporary name and renamed: a file with the final name is always whole.
      const partial = at(`${name}.partial`);
      const { transform, result } = hashing();
      try {
        await pipeline(body, transform, createWriteStream(partial));
      } catch (error) {
        await rm(partial, { force: true });
        throw error;
      }
      await rename(partial, at(name));
      return result();
    },
    async writeText(name, text) {
      await mkdir(path, { recursive: true });
      await writeFile(at(`${name}.partial`), text);
      await rename(at(`${name}.partial`), at(name));
    },
    async remove(name) {
      await rm(at(name), { force: true });
    },
  };
}

function s3Sink(s3: S3Client, bucket: string, prefix: string): Sink {
  const key = (name: string) => `${prefix}${name}`;
  const missing = (error: unknown) => {
    const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
    return status === 404 || (error as { name?: string }).name === 'NoSuchKey';
  };
  return {
    location: `s3://${bucket}/${prefix}`,
    async existing(name) {
      try {
        const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key(name) }));
        return { sizeBytes: head.ContentLength ?? -1, sha256: head.Metadata?.sha256 };
      } catch (error) {
        if (missing(error)) return undefined;
        throw error;
      }
    },
    async readText(name) {
      try {
        const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key(name) }));
        return (await object.Body?.transformToString('utf8')) ?? '';
      } catch (error) {
        if (missing(error)) return undefined;
        throw error;
      }
    },
    async write(name, body, expectedSha256) {
      const { transform, result } = hashing();
      const upload = new Upload({
        client: s3,
        params: {
          Bucket: bucket,
          Key: key(name),
          Body: body.pipe(transform),
          // The ledger's hash travels with the copy; it is compared with what was streamed below.
          Metadata: { sha256: expectedSha256 },
        },
      });
      await upload.done();
      return result();
    },
    async writeText(name, text) {
      await s3.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: key(name),
          Body: text,
          ContentType: 'application/json',
          Metadata: { sha256: sha256Of(text) },
        }),
      );
    },
    async remove(name) {
      await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key(name) }));
    },
  };
}

export function sinkFor(out: ExportDestination, s3: S3Client): Sink {
  return out.kind === 'dir' ? dirSink(out.path) : s3Sink(s3, out.bucket, out.prefix);
}

const sha256Of = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');

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
    encryption: item.encryption ?? null,
    hold: item.hold ?? null,
    ledger,
    exportedAt,
    verified: 'sha256 of the exported bytes equals the ledger sha256',
  };
}

function extensionOf(item: LedgerItem): string {
  const fromKey = /\.([a-z0-9]{2,4})$/.exec(item.key ?? '')?.[1];
  if (fromKey) return fromKey;
  return item.contentType === 'audio/wav' || item.contentType === 'audio/x-wav' ? 'wav' : 'mp3';
}

/* ---- the run ------------------------------------------------------------------------------- */

export async function exportRecordings(
  args: ExportArguments,
  sources: ExportSources,
  audit: CommandAudit,
  options: { readonly signal?: AbortSignal; readonly progress?: ExportProgress; readonly now?: () => Date } = {},
): Promise<ExportResult> {
  const now = options.now ?? (() => new Date());
  const progress = options.progress;
  const sink = sinkFor(args.out, sources.s3);
  const range = { from: args.from.toISOString(), to: args.to.toISOString() };
  await audit.record(EXPORT_PARTITION, 'ops.export', 'started', { ...range, out: sink.location });

  const sids = await storedInRange(sources, args.from, args.to);
  progress?.start(sids.length);
  const files: ExportedFile[] = [];
  const failures: string[] = [];
  let copied = 0;
  let alreadyThere = 0;
  let bytesCopied = 0;
  let finished = true;

  for (const recordingSid of sids) {
    if (options.signal?.aborted) {
      finished = false;
      break;
    }
    try {
      const outcome = await exportOne(recordingSid, sources, sink, audit, now, options.signal);
      files.push(outcome.file);
      if (outcome.copied) {
        copied++;
        bytesCopied += outcome.file.sizeBytes;
      } else {
        alreadyThere++;
      }
      progress?.tick(outcome.copied ? outcome.file.sizeBytes : 0, recordingSid);
    } catch (error) {
      if (options.signal?.aborted) {
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
  const result = {
    listed: sids.length,
    copied,
    alreadyThere,
    failed: failures.length,
    bytesCopied,
    finished,
    failures,
  };
  if (!finished) return result;

  const manifest = `${JSON.stringify(
    {
      from: range.from,
      to: range.to,
      source: sources.name,
      exportedAt: now().toISOString(),
      exportedBy: audit.actor.actor,
      counts: { recordings: files.length, failed: failures.length },
      recordings: files,
      failures,
    },
    null,
    2,
  )}\n`;
  const manifestSha256 = sha256Of(manifest);
  await sink.writeText(MANIFEST, manifest);
  await sink.writeText(MANIFEST_HASH, `${manifestSha256}  ${MANIFEST}\n`);
  await audit.record(EXPORT_PARTITION, 'ops.export', failures.length > 0 ? 'finished-with-failures' : 'finished', {
    ...range,
    out: sink.location,
    recordings: files.length,
    copied,
    alreadyThere,
    failed: failures.length,
    manifestSha256,
  });
  return { ...result, manifestSha256, manifestLocation: `${sink.location.replace(/\/$/, '')}/${MANIFEST}` };
}

async function exportOne(
  recordingSid: string,
  sources: ExportSources,
  sink: Sink,
  audit: CommandAudit,
  now: () => Date,
  signal: AbortSignal | undefined,
): Promise<{ file: ExportedFile; copied: boolean }> {
  const { Item } = await sources.ddb.send(
    new GetCommand({ TableName: sources.ledgerTableName, Key: { recordingSid }, ConsistentRead: true }),
  );
  const item = Item as LedgerItem | undefined;
  if (item?.status !== 'stored') throw new Error(`the ledger no longer says stored (${item?.status ?? 'gone'})`);
  if (!item.bucket || !item.key || !item.sha256) throw new Error('the ledger names no object or SHA-256');
  const file = `${recordingSid}.${extensionOf(item)}`;
  const metadataFile = `${recordingSid}.json`;

  // Done before: the .json is there and the copy still has the ledger's size and hash.
  const doneBefore = await sink.readText(metadataFile);
  if (doneBefore !== undefined) {
    const present = await sink.existing(file);
    if (
      present &&
      present.sha256 === item.sha256 &&
      (item.sizeBytes === undefined || present.sizeBytes === item.sizeBytes)
    ) {
      return {
        copied: false,
        file: {
          recordingSid,
          file,
          sizeBytes: present.sizeBytes,
          sha256: item.sha256,
          metadataFile,
          metadataSha256: sha256Of(doneBefore),
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
  });
  const metadata = `${JSON.stringify(recordingMetadata(item, file, now().toISOString()), null, 2)}\n`;
  await sink.writeText(metadataFile, metadata);
  return {
    copied: true,
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

/* ---- progress ------------------------------------------------------------------------------ */

/** A bar on a terminal; otherwise a plain line every few seconds (and the last one). */
export function exportProgress(tty: boolean, stream: NodeJS.WritableStream = process.stderr): ExportProgress {
  let total = 0;
  let done = 0;
  let bytes = 0;
  if (tty) {
    const bar = new SingleBar({
      format: 'export {bar} {percentage}% | {value}/{total} recordings | {mb} MB | {eta_formatted} left | {sid}',
      stream: stream as NodeJS.WriteStream,
      hideCursor: true,
    });
    return {
      start: (n) => {
        total = n;
        bar.start(n, 0, { mb: '0.0', sid: '' });
      },
      tick: (b, sid) => {
        bytes += b;
        bar.increment(1, { mb: (bytes / 1e6).toFixed(1), sid });
      },
      note: (line) => bar.update({ sid: line.replace(/^export: /, '') }),
      stop: () => bar.stop(),
    };
  }
  let lastLine = 0;
  return {
    start: (n) => {
      total = n;
      stream.write(`export: ${n} stored recordings in the range\n`);
    },
    tick: (b) => {
      done++;
      bytes += b;
      if (done < total && Date.now() - lastLine < 2000) return;
      lastLine = Date.now();
      stream.write(`export: ${done}/${total} recordings, ${(bytes / 1e6).toFixed(1)} MB copied\n`);
    },
    note: (line) => stream.write(`${line}\n`),
    stop: () => undefined,
  };
}

export function exportSummary(result: ExportResult): string {
  const counts = `${result.listed} recordings: copied ${result.copied}, already there ${result.alreadyThere}, failed ${result.failed}, ${(result.bytesCopied / 1e6).toFixed(1)} MB`;
  return result.manifestSha256
    ? `export: ${counts}; manifest ${result.manifestLocation} sha256 ${result.manifestSha256}`
    : `export: ${counts}`;
}
