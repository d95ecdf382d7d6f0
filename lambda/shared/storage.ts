import { type Readable, Transform, type TransformCallback } from 'node:stream';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  type S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
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
  return `${RECORDINGS_PREFIX}${year}/${month}/${encodeURIComponent(callId)}/${recordingSid}.${format}`;
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
}

/** The source ended empty or at another size than it announced; nothing was stored. */
export class IncompleteMediaError extends Error {
  override name = 'IncompleteMediaError';
  constructor(
    message: string,
    readonly code: 'empty-media' | 'size-mismatch',
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
   * Streams `body` to `key` with a multipart upload: memory stays flat in the file's size and
   * the object appears only once complete, so a failed transfer never leaves half an object.
   * The size is checked before the upload completes: an empty or short stream fails it, so no
   * short object can ever be mistaken for a finished copy. Returns the number of bytes stored.
   */
  async uploadRecording(key: string, body: Readable, options: UploadOptions): Promise<{ sizeBytes: number }> {
    const counter = new ByteCounter(options.expectedBytes);
    body.on('error', (error) => counter.destroy(error));
    const upload = new Upload({
      client: this.s3,
      queueSize: UPLOAD_QUEUE_SIZE,
      partSize: UPLOAD_PART_SIZE,
      leavePartsOnError: false,
      params: {
        Bucket: this.bucket,
        Key: key,
        Body: body.pipe(counter),
        ContentType: options.contentType,
        Metadata: { ...options.metadata },
      },
    });
    try {
      await upload.done();
    } finally {
      body.destroy();
    }
    return { sizeBytes: counter.bytes };
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
}

export function isNotFound(error: unknown): boolean {
  const e = error as { name?: string; $metadata?: { httpStatusCode?: number } } | undefined;
  return e?.name === 'NotFound' || e?.name === 'NoSuchKey' || e?.$metadata?.httpStatusCode === 404;
}

/** Passes bytes through unchanged, counts them, and fails the stream's end on a wrong size. */
class ByteCounter extends Transform {
  bytes = 0;
  constructor(private readonly expectedBytes: number | undefined) {
    super();
  }
  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.bytes += chunk.length;
    callback(null, chunk);
  }
  override _flush(callback: TransformCallback): void {
    if (this.bytes === 0) {
      callback(new IncompleteMediaError('The recording arrived empty', 'empty-media'));
    } else if (this.expectedBytes !== undefined && this.bytes !== this.expectedBytes) {
      callback(
        new IncompleteMediaError(`Received ${this.bytes} bytes of ${this.expectedBytes} announced`, 'size-mismatch'),
      );
    } else {
      callback();
    }
  }
}
