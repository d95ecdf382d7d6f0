import type { Readable } from 'node:stream';
import {
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  GetObjectLegalHoldCommand,
  GetObjectRetentionCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  ListObjectVersionsCommand,
  PutObjectLegalHoldCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { isSupportedCallId } from '../calls/call-ids';
import type { RecordingFormat } from '../config/function-config';
import { storedSha256, type UploadOptions, type UploadResult, uploadRecording } from './recording-upload';

export { IncompleteMediaError, type UploadOptions, type UploadResult } from './recording-upload';

export const RECORDINGS_PREFIX = 'recordings/';

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
  // Stored only what playback, listing and erasure can find again by the same id.
  if (!isSupportedCallId(callId)) throw new StorageKeyError('The call id is empty, too long or not text');
  const key = `${RECORDINGS_PREFIX}${year}/${month}/${encodeURIComponent(callId)}/${recordingSid}.${format}`;
  if (Buffer.byteLength(key) > MAX_KEY_BYTES) {
    throw new StorageKeyError(`The call id is too long for an S3 key (${Buffer.byteLength(key)} bytes encoded)`);
  }
  return key;
}

const STORAGE_KEY = /^recordings\/\d{4}\/\d{2}\/([^/]+)\/(RE[0-9a-fA-F]{32})\.(?:mp3|wav)$/;

/**
 * True when `key` has the form `generateStorageKey` gives `recordingSid` of `callId` (any month,
 * either format). Checked on every key before it is presigned or deleted: no record, however
 * written, can point one recording at another's object.
 */
export function isStorageKeyOf(key: string, callId: string, recordingSid: string): boolean {
  const match = STORAGE_KEY.exec(key);
  if (match === null || match[2] !== recordingSid) return false;
  try {
    return match[1] === encodeURIComponent(callId);
  } catch {
    return false; // a lone surrogate: no key was ever written for it
  }
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

export interface PresignOptions {
  readonly expiresInSeconds: number;
  readonly contentType?: string | undefined;
  /** Pinned as the download name; playback stays inline. */
  readonly filename?: string | undefined;
}

export interface StoredObjectSummary {
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

  /** Streams `body` to `key` with its SHA-256 as proof (see recording-upload.ts). */
  uploadRecording(key: string, body: Readable, options: UploadOptions): Promise<UploadResult> {
    return uploadRecording(this.s3, this.bucket, key, body, options);
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

  /** The SHA-256 the object carries, from its metadata or its tag (see recording-upload.ts). */
  storedSha256(key: string, head: StoredObject): Promise<string | undefined> {
    return storedSha256(this.s3, this.bucket, key, head.metadata);
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
  ): Promise<{ recordings: StoredObjectSummary[]; nextToken: string | undefined }> {
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
   * Whether S3 Object Lock's legal hold is on for one version (GetObjectLegalHold). False where
   * there is none: no Object Lock on the bucket, the version gone, or an emulator without it.
   */
  async objectLegalHold(key: string, versionId?: string): Promise<boolean> {
    try {
      const result = await this.s3.send(
        new GetObjectLegalHoldCommand({ Bucket: this.bucket, Key: key, VersionId: versionId }),
      );
      return result?.LegalHold?.Status === 'ON';
    } catch (error) {
      const e = error as { name?: string; message?: string };
      if (e?.name === 'NoSuchObjectLockConfiguration' || isNotFound(error) || e?.name === 'NoSuchVersion') return false;
      if (e?.name === 'InvalidRequest' && /object lock/i.test(e.message ?? '')) return false;
      if (isUnsupported(error)) return false;
      throw error;
    }
  }

  /** Sets or clears the S3 legal hold of one version (PutObjectLegalHold; the bucket must have Object Lock). */
  async setLegalHold(key: string, versionId: string | undefined, on: boolean): Promise<void> {
    await this.s3.send(
      new PutObjectLegalHoldCommand({
        Bucket: this.bucket,
        Key: key,
        VersionId: versionId,
        LegalHold: { Status: on ? 'ON' : 'OFF' },
      }),
    );
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
