import { createHash, type Hash } from 'node:crypto';
import { Readable, Transform, type TransformCallback } from 'node:stream';
import {
  CopyObjectCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  GetObjectRetentionCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  ListObjectVersionsCommand,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import type { RecordingFormat } from './config';

export const RECORDINGS_PREFIX = 'recordings/';

/**
 * Multipart tuning, from `npm run bench` (transfer throughput sweep of 5/8/16 MiB parts × 2/4/8
 * in flight): 5 MiB × 4 was the fastest and holds the least memory of the fast settings —
 * about 65–75 MiB of RSS growth whatever the recording's length (10 MiB to 1 GiB measured).
 * 5 MiB is S3's minimum part size; 10,000 parts allow recordings up to ~48 GiB.
 */
export const UPLOAD_PART_SIZE = 5 * 1024 * 1024;
export const UPLOAD_QUEUE_SIZE = 4;

/** `recordings/{YYYY}/{MM}/{callId}/{RecordingSid}.{ext}`, year and month of the recording's start (UTC). */
export function generateStorageKey(
  callId: string,
  recordingSid: string,
  startedAt: string,
  format: RecordingFormat,
): string {
  const started = new Date(startedAt);
  if (Number.isNaN(started.getTime())) throw new Error('startedAt is not a date');
  const year = String(started.getUTCFullYear()).padStart(4, '0');
  const month = String(started.getUTCMonth() + 1).padStart(2, '0');
  // Call ids come from the app's own table: keep them from adding path segments.
  const key = `${RECORDINGS_PREFIX}${year}/${month}/${encodeURIComponent(callId)}/${recordingSid}.${format}`;
  if (Buffer.byteLength(key) > MAX_KEY_BYTES) {
    throw new StorageKeyError(`The call id is too long for an S3 key (${Buffer.byteLength(key)} bytes encoded)`);
  }
  return key;
}

/** S3's limit on a key's length, in UTF-8 bytes. */
export const MAX_KEY_BYTES = 1024;

/** No S3 key can hold this recording (an app's call id too long once encoded). */
export class StorageKeyError extends Error {
  override name = 'StorageKeyError';
}

export interface StoredObject {
  readonly sizeBytes: number;
  readonly contentType: string | undefined;
  readonly metadata: Readonly<Record<string, string>>;
}

export interface UploadOptions {
  readonly contentType: string;
  readonly metadata: Readonly<Record<string, string>>;
  /** The size the source announced (Content-Length); any other size fails the upload. */
  readonly expectedBytes?: number | undefined;
  /** Fewer bytes than this cannot be the recording (an error page): the upload fails. */
  readonly minBytes?: number | undefined;
}

export interface UploadResult {
  readonly sizeBytes: number;
  /** Lowercase hex SHA-256 of the bytes stored, taken while they streamed. */
  readonly sha256: string;
}

/** The source ended empty, at another size than it announced, or too small to be audio; nothing was stored. */
export class IncompleteMediaError extends Error {
  override name = 'IncompleteMediaError';
  constructor(
    message: string,
    readonly code: 'empty-media' | 'size-mismatch' | 'implausible-size',
  ) {
    super(message);
  }
}

export interface PresignOptions {
  readonly expiresInSeconds: number;
  readonly contentType?: string | undefined;
  /** Pinned as the download name; playback stays inline. */
  readonly filename?: string | undefined;
}

export interface ListedRecording {
  readonly key: string;
  readonly sizeBytes: number;
  readonly lastModified: Date | undefined;
}

/** The recordings bucket, with the S3 client injected (AWS or an emulator). */
export class RecordingStore {
  constructor(
    private readonly s3: S3Client,
    readonly bucket: string,
  ) {}

  /**
   * Streams `body` to `key`, taking its SHA-256 on the way (no second read), and stores the hash
   * as the object's `sha256` metadata. The size is checked before the object is completed: an
   * empty, short or implausibly small stream fails the upload, so no partial object can ever be
   * mistaken for a finished copy.
   * - Up to one part (5 MiB, most recordings): one PutObject with the hash in its metadata and
   *   as S3's own SHA-256 checksum, which S3 verifies on receipt.
   * - Larger: a multipart upload (memory flat in the file's size), then a server-side copy onto
   *   itself that adds the `sha256` metadata, which is only known once the last byte went by.
   */
  async uploadRecording(key: string, body: Readable, options: UploadOptions): Promise<UploadResult> {
    const meter = new MeteredStream(options.expectedBytes, options.minBytes);
    body.on('error', (error) => meter.destroy(error));
    body.pipe(meter);
    const chunks = meter[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
    try {
      const head: Buffer[] = [];
      let buffered = 0;
      let ended = false;
      while (buffered <= UPLOAD_PART_SIZE) {
        const next = await nextChunk(chunks, body, meter);
        if (next.done) {
          ended = true;
          break;
        }
        head.push(next.value);
        buffered += next.value.length;
      }
      if (ended) {
        const sha256 = meter.sha256();
        const bytes = Buffer.concat(head);
        await this.s3.send(
          new PutObjectCommand({
            Bucket: this.bucket,
            Key: key,
            Body: bytes,
            ContentLength: bytes.length,
            ContentType: options.contentType,
            Metadata: { ...options.metadata, sha256 },
            ChecksumSHA256: Buffer.from(sha256, 'hex').toString('base64'),
          }),
        );
        return { sizeBytes: meter.bytes, sha256 };
      }
      const rest = Readable.from(
        (async function* () {
          yield* head;
          for (;;) {
            const next = await nextChunk(chunks, body, meter);
            if (next.done) return;
            yield next.value;
          }
        })(),
        { objectMode: false },
      );
      // Loaded for the first recording over one part: most recordings never need it.
      const { Upload } = await import('@aws-sdk/lib-storage');
      const upload = new Upload({
        client: this.s3,
        queueSize: UPLOAD_QUEUE_SIZE,
        partSize: UPLOAD_PART_SIZE,
        leavePartsOnError: false,
        params: {
          Bucket: this.bucket,
          Key: key,
          Body: rest,
          ContentType: options.contentType,
          Metadata: { ...options.metadata },
        },
      });
      const uploaded = await upload.done();
      const sha256 = meter.sha256();
      await this.s3.send(
        new CopyObjectCommand({
          Bucket: this.bucket,
          Key: key,
          // Each segment encoded (the key holds an encoded call id), the separators kept.
          CopySource: `${this.bucket}/${key.split('/').map(encodeURIComponent).join('/')}`,
          ...('VersionId' in uploaded && uploaded.VersionId ? { CopySourceVersionId: uploaded.VersionId } : {}),
          MetadataDirective: 'REPLACE',
          ContentType: options.contentType,
          Metadata: { ...options.metadata, sha256 },
        }),
      );
      return { sizeBytes: meter.bytes, sha256 };
    } finally {
      body.destroy();
      meter.destroy();
    }
  }

  /** Size, type and metadata of an object, or undefined when there is none. */
  async headRecording(key: string): Promise<StoredObject | undefined> {
    try {
      const head = await this.s3.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
      return { sizeBytes: head.ContentLength ?? 0, contentType: head.ContentType, metadata: head.Metadata ?? {} };
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  async recordingExists(key: string): Promise<boolean> {
    return (await this.headRecording(key)) !== undefined;
  }

  /** A short-lived GET URL. The URL is a bearer credential: never log or store it. */
  async getRecordingUrl(key: string, options: PresignOptions): Promise<string> {
    const command = new GetObjectCommand({
      Bucket: this.bucket,
      Key: key,
      ResponseContentType: options.contentType,
      ResponseContentDisposition: options.filename ? `inline; filename="${options.filename}"` : undefined,
      ResponseCacheControl: 'private, no-store',
    });
    // Loaded when first used: the transfer, which shares this module, never presigns.
    const { getSignedUrl } = await import('@aws-sdk/s3-request-presigner');
    return getSignedUrl(this.s3, command, { expiresIn: options.expiresInSeconds });
  }

  async deleteRecording(key: string): Promise<void> {
    await this.s3.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }));
  }

  /** One page of stored recordings under `prefix` (e.g. `recordings/2024/07/`). */
  async listRecordings(
    prefix = RECORDINGS_PREFIX,
    continuationToken?: string,
    pageSize = 1000,
  ): Promise<{ recordings: ListedRecording[]; nextToken: string | undefined }> {
    const page = await this.s3.send(
      new ListObjectsV2Command({
        Bucket: this.bucket,
        Prefix: prefix,
        ContinuationToken: continuationToken,
        MaxKeys: pageSize,
      }),
    );
    return {
      recordings: (page.Contents ?? []).map((o) => ({
        key: o.Key ?? '',
        sizeBytes: o.Size ?? 0,
        lastModified: o.LastModified,
      })),
      nextToken: page.IsTruncated ? page.NextContinuationToken : undefined,
    };
  }

  /* ---- erasure ------------------------------------------------------------------------- */

  /**
   * Every version and delete marker whose key starts with `prefix` (ListObjectVersions, all
   * pages). Unversioned buckets answer one version per object (id `null`). An S3 emulator that
   * has no versioning at all (s3rver answers 405/501; AWS never does) is listed with
   * ListObjectsV2 instead, one version without id per object, and `versioning` says so.
   */
  async listObjectVersions(prefix: string): Promise<{ versions: ObjectVersion[]; versioning: 's3' | 'none' }> {
    const versions: ObjectVersion[] = [];
    let keyMarker: string | undefined;
    let versionIdMarker: string | undefined;
    try {
      do {
        const page = await this.s3.send(
          new ListObjectVersionsCommand({
            Bucket: this.bucket,
            Prefix: prefix,
            KeyMarker: keyMarker,
            VersionIdMarker: versionIdMarker,
          }),
        );
        for (const v of page.Versions ?? []) {
          if (v.Key) versions.push({ key: v.Key, versionId: v.VersionId, deleteMarker: false });
        }
        for (const m of page.DeleteMarkers ?? []) {
          if (m.Key) versions.push({ key: m.Key, versionId: m.VersionId, deleteMarker: true });
        }
        const more = page.IsTruncated === true;
        keyMarker = more ? page.NextKeyMarker : undefined;
        versionIdMarker = more ? page.NextVersionIdMarker : undefined;
        if (more && !keyMarker) throw new Error('ListObjectVersions was truncated without a next key marker');
      } while (keyMarker);
      return { versions, versioning: 's3' };
    } catch (error) {
      if (!isUnsupported(error)) throw error;
    }
    const objects: ObjectVersion[] = [];
    let token: string | undefined;
    do {
      const page = await this.listRecordings(prefix, token);
      for (const o of page.recordings) objects.push({ key: o.key, versionId: undefined, deleteMarker: false });
      token = page.nextToken;
    } while (token);
    return { versions: objects, versioning: 'none' };
  }

  /**
   * The Object Lock retention of one version (GetObjectRetention), or undefined when it has
   * none: no Object Lock on the bucket, none on the object, the version gone, or an emulator
   * without Object Lock (501).
   */
  async objectRetention(key: string, versionId?: string): Promise<ObjectRetention | undefined> {
    try {
      const result = await this.s3.send(
        new GetObjectRetentionCommand({ Bucket: this.bucket, Key: key, VersionId: versionId }),
      );
      const until = result.Retention?.RetainUntilDate;
      if (!until) return undefined;
      return { mode: result.Retention?.Mode, retainUntil: new Date(until) };
    } catch (error) {
      const e = error as { name?: string; message?: string };
      if (e?.name === 'NoSuchObjectLockConfiguration' || isNotFound(error) || e?.name === 'NoSuchVersion') {
        return undefined;
      }
      // A bucket created without Object Lock answers this to every retention request.
      if (e?.name === 'InvalidRequest' && /object lock/i.test(e.message ?? '')) return undefined;
      if (isUnsupported(error)) return undefined;
      throw error;
    }
  }

  /**
   * Permanently deletes the given versions and delete markers (DeleteObjects, at most 1,000 per
   * call; a version id removes that version for good, none removes an unversioned object).
   * Throws when S3 reports any of them not deleted.
   */
  async deleteObjectVersions(versions: readonly Pick<ObjectVersion, 'key' | 'versionId'>[]): Promise<void> {
    for (let start = 0; start < versions.length; start += DELETE_OBJECTS_LIMIT) {
      const batch = versions.slice(start, start + DELETE_OBJECTS_LIMIT);
      const result = await this.s3.send(
        new DeleteObjectsCommand({
          Bucket: this.bucket,
          Delete: {
            Objects: batch.map((v) => ({ Key: v.key, ...(v.versionId ? { VersionId: v.versionId } : {}) })),
            Quiet: true,
          },
        }),
      );
      const errors = result.Errors ?? [];
      if (errors.length > 0) {
        const first = errors[0];
        throw new ObjectDeletionError(
          `S3 did not delete ${errors.length} of ${batch.length} versions (${first?.Code ?? 'error'}: ${first?.Message ?? ''})`,
          errors.map((e) => e.Code ?? 'error'),
        );
      }
    }
  }
}

/** DeleteObjects takes at most 1,000 keys. */
export const DELETE_OBJECTS_LIMIT = 1000;

/** One version (or delete marker) of an object; `versionId` undefined where the store has no versions. */
export interface ObjectVersion {
  readonly key: string;
  readonly versionId: string | undefined;
  readonly deleteMarker: boolean;
}

export interface ObjectRetention {
  readonly mode: string | undefined;
  readonly retainUntil: Date;
}

/** DeleteObjects answered, but with errors for some versions (AccessDenied under a legal hold, …). */
export class ObjectDeletionError extends Error {
  override name = 'ObjectDeletionError';
  constructor(
    message: string,
    readonly codes: readonly string[],
  ) {
    super(message);
  }
}

/** An S3 emulator without the feature (versioning, Object Lock): 405 MethodNotAllowed or 501 NotImplemented. */
function isUnsupported(error: unknown): boolean {
  const e = error as { name?: string; $metadata?: { httpStatusCode?: number } } | undefined;
  return (
    e?.name === 'NotImplemented' ||
    e?.name === 'MethodNotAllowed' ||
    e?.$metadata?.httpStatusCode === 501 ||
    e?.$metadata?.httpStatusCode === 405
  );
}

export function isNotFound(error: unknown): boolean {
  const e = error as { name?: string; $metadata?: { httpStatusCode?: number } } | undefined;
  return e?.name === 'NotFound' || e?.name === 'NoSuchKey' || e?.$metadata?.httpStatusCode === 404;
}

/** Reads the next chunk; an error of the source wins over the meter's own "premature close". */
async function nextChunk(
  chunks: AsyncIterator<Buffer>,
  source: Readable,
  meter: MeteredStream,
): Promise<IteratorResult<Buffer>> {
  try {
    return await chunks.next();
  } catch (error) {
    throw meter.sourceError ?? (source.errored as Error | null) ?? error;
  }
}

/**
 * Passes bytes through unchanged, counts and hashes them, and fails the stream's end on a wrong
 * or implausible size, so that the upload never completes with them.
 */
class MeteredStream extends Transform {
  bytes = 0;
  sourceError: Error | undefined;
  private readonly hash: Hash = createHash('sha256');
  private digest: string | undefined;

  constructor(
    private readonly expectedBytes: number | undefined,
    private readonly minBytes: number | undefined,
  ) {
    super();
  }

  override destroy(error?: Error): this {
    if (error && !this.sourceError) this.sourceError = error;
    return super.destroy(error);
  }

  /** The hex digest, once the stream has ended. */
  sha256(): string {
    if (this.digest === undefined) throw new Error('The stream has not ended');
    return this.digest;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.bytes += chunk.length;
    this.hash.update(chunk);
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    if (this.bytes === 0) {
      callback(new IncompleteMediaError('The recording arrived empty', 'empty-media'));
    } else if (this.expectedBytes !== undefined && this.bytes !== this.expectedBytes) {
      callback(
        new IncompleteMediaError(`Received ${this.bytes} bytes of ${this.expectedBytes} announced`, 'size-mismatch'),
      );
    } else if (this.minBytes !== undefined && this.bytes < this.minBytes) {
      callback(
        new IncompleteMediaError(
          `Received ${this.bytes} bytes, too few for the recording's duration (at least ${this.minBytes} expected)`,
          'implausible-size',
        ),
      );
    } else {
      this.digest = this.hash.digest('hex');
      callback();
    }
  }
}
