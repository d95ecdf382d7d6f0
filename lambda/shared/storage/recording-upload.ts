import { createHash, type Hash } from 'node:crypto';
import { Readable, Transform, type TransformCallback } from 'node:stream';
import { GetObjectTaggingCommand, PutObjectCommand, PutObjectTaggingCommand, type S3Client } from '@aws-sdk/client-s3';

/**
 * The copy's proof: a recording streamed into S3 with its SHA-256 taken on the way and its size
 * checked before the object is completed, so no partial or implausible object is ever stored.
 */

/**
 * Multipart tuning, from `npm run bench` (transfer throughput sweep of 5/8/16 MiB parts × 2/4/8
 * in flight): 5 MiB × 4 was the fastest and holds the least memory of the fast settings —
 * about 65–75 MiB of RSS growth whatever the recording's length (10 MiB to 1 GiB measured).
 * 5 MiB is S3's minimum part size; 10,000 parts allow recordings up to ~48 GiB.
 */
export const UPLOAD_PART_SIZE = 5 * 1024 * 1024;
export const UPLOAD_QUEUE_SIZE = 4;

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

/**
 * The object tag that carries the SHA-256 of a multipart recording. S3 sets a tag without
 * rewriting the object (a copy onto itself would write every byte twice and, on a versioned
 * bucket, keep the first write as a noncurrent version).
 */
export const SHA256_TAG = 'sha256';

/**
 * Streams `body` to `key`, taking its SHA-256 on the way (no second read), and records the hash
 * on the object; the ledger records it too. The size is checked before the object is completed:
 * an empty, short or implausibly small stream fails the upload, so no partial object can ever be
 * mistaken for a finished copy.
 * - Up to one part (5 MiB, most recordings): one PutObject with the hash in its `sha256`
 *   metadata and as S3's own SHA-256 checksum, which S3 verifies on receipt.
 * - Larger: a multipart upload (memory flat in the file's size), then the hash, known only once
 *   the last byte went by, as the `sha256` tag of the version just uploaded. The bytes are
 *   written once. Until the tag is set the object carries no hash, and a retry copies it again.
 */
export async function uploadRecording(
  s3: S3Client,
  bucket: string,
  key: string,
  body: Readable,
  options: UploadOptions,
): Promise<UploadResult> {
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
      await s3.send(
        new PutObjectCommand({
          Bucket: bucket,
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
      client: s3,
      queueSize: UPLOAD_QUEUE_SIZE,
      partSize: UPLOAD_PART_SIZE,
      leavePartsOnError: false,
      params: {
        Bucket: bucket,
        Key: key,
        Body: rest,
        ContentType: options.contentType,
        Metadata: { ...options.metadata },
      },
    });
    const uploaded = await upload.done();
    const sha256 = meter.sha256();
    const versionId = 'VersionId' in uploaded && uploaded.VersionId ? uploaded.VersionId : undefined;
    await s3.send(
      new PutObjectTaggingCommand({
        Bucket: bucket,
        Key: key,
        // On a versioned bucket the very version just uploaded, so the hash never lands on other bytes.
        ...(versionId ? { VersionId: versionId } : {}),
        Tagging: { TagSet: [{ Key: SHA256_TAG, Value: sha256 }] },
      }),
    );
    return { sizeBytes: meter.bytes, sha256 };
  } finally {
    body.destroy();
    meter.destroy();
  }
}

/**
 * The SHA-256 a stored recording carries: its `sha256` metadata (one-part uploads, and multipart
 * copies stored before the tag) or else its `sha256` tag (GetObjectTagging, only then). Undefined
 * when it carries neither (an upload that died before its tag was set).
 */
export async function storedSha256(
  s3: Pick<S3Client, 'send'>,
  bucket: string,
  key: string,
  metadata: Readonly<Record<string, string>> | undefined,
): Promise<string | undefined> {
  if (metadata?.sha256) return metadata.sha256;
  const { TagSet = [] } = await s3.send(new GetObjectTaggingCommand({ Bucket: bucket, Key: key }));
  return TagSet.find((tag) => tag.Key === SHA256_TAG)?.Value;
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
