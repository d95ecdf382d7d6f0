/**
 * Where `npm run export` writes: a directory or `s3://bucket/prefix`. A target is opened once,
 * before the first recording is read: the vault's own recordings bucket is refused (erasure and
 * retention remove a recording's own object only, so a copy there would outlive them, and one under
 * `recordings/` could replace a stored recording), and
 * the target is probed by creating it and putting and removing a small marker, so that a missing
 * bucket, a denied write or a path under a file fails in one line instead of once per recording.
 *
 * Local files are the owner's alone: files 0600, the directories it creates 0700, whatever the
 * umask (a directory that already exists keeps its mode).
 */
import { createHash, randomBytes } from 'node:crypto';
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
import { Upload } from '@aws-sdk/lib-storage';
import { CliError } from './cli';
import { describeError } from './target';

export const OWNER_ONLY_FILE = 0o600;
export const OWNER_ONLY_DIR = 0o700;

/** Where the copies go, as given on the command line. */
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

/** An opened target: checked and probed (only `openExportTarget` makes one). */
export interface ExportTarget {
  readonly location: string;
  /** The stored copy of `name`: its size and SHA-256, or undefined. Local files are hashed again. */
  existing(name: string): Promise<{ sizeBytes: number; sha256: string | undefined } | undefined>;
  readText(name: string): Promise<string | undefined>;
  /** Streams `body` to `name`, returning the size and SHA-256 of what was written. */
  write(name: string, body: Readable, expectedSha256: string): Promise<{ sizeBytes: number; sha256: string }>;
  writeText(name: string, text: string): Promise<void>;
  remove(name: string): Promise<void>;
}

interface Sink extends ExportTarget {
  /** Creates the target if need be and proves it writable; throws what went wrong. */
  probe(): Promise<void>;
}

export interface OpenTargetOptions {
  readonly s3: S3Client;
  /** The vault's recordings bucket (the target's `bucketName`): never a destination. */
  readonly vaultBucketName: string;
}

/** Refuses the vault's own bucket, then probes the target; one line (CliError) if it is unusable. */
export async function openExportTarget(out: ExportDestination, options: OpenTargetOptions): Promise<ExportTarget> {
  refuseVaultBucket(out, options.vaultBucketName);
  const sink = out.kind === 'dir' ? dirSink(out.path) : s3Sink(options.s3, out.bucket, out.prefix);
  try {
    await sink.probe();
  } catch (error) {
    throw new CliError(`cannot write to ${sink.location}: ${describeTargetError(error)}`);
  }
  return sink;
}

export function refuseVaultBucket(out: ExportDestination, vaultBucketName: string): void {
  if (out.kind !== 's3' || out.bucket !== vaultBucketName) return;
  const given = out.prefix ? `s3://${out.bucket}/${out.prefix.replace(/\/$/, '')}` : `s3://${out.bucket}`;
  throw new CliError(
    `--out ${given} is the vault's recordings bucket: a copy there would outlive an erasure; export to another bucket or a directory`,
  );
}

const FS_REASONS: Readonly<Record<string, string>> = {
  ENOTDIR: 'a part of the path is a file, not a directory',
  EEXIST: 'it is a file, not a directory',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  EROFS: 'read-only file system',
  ENOSPC: 'no space left on the device',
};

function describeTargetError(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  if (code && FS_REASONS[code]) return `${FS_REASONS[code]} (${code})`;
  return describeError(error);
}

export const sha256Of = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');

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

const probeName = () => `.export-probe-${randomBytes(6).toString('hex')}`;

function dirSink(path: string): Sink {
  const at = (name: string) => join(path, name);
  /** Whole or absent: written under a temporary name, created 0600 (never reusing a leftover's mode), renamed. */
  const replace = async (name: string, write: (partial: string) => Promise<void>) => {
    const partial = at(`${name}.partial`);
    await rm(partial, { force: true });
    try {
      await write(partial);
    } catch (error) {
      await rm(partial, { force: true });
      throw error;
    }
    await rename(partial, at(name));
  };
  return {
    location: path,
    async probe() {
      await mkdir(path, { recursive: true, mode: OWNER_ONLY_DIR });
      if (!(await stat(path)).isDirectory()) throw Object.assign(new Error('not a directory'), { code: 'EEXIST' });
      const marker = at(probeName());
      await writeFile(marker, '', { mode: OWNER_ONLY_FILE, flag: 'wx' });
      await rm(marker, { force: true });
    },
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
      const { transform, result } = hashing();
      await replace(name, (partial) =>
        pipeline(body, transform, createWriteStream(partial, { mode: OWNER_ONLY_FILE, flags: 'wx' })),
      );
      return result();
    },
    async writeText(name, text) {
      await replace(name, (partial) => writeFile(partial, text, { mode: OWNER_ONLY_FILE, flag: 'wx' }));
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
    async probe() {
      // The same calls the copies need (PutObject, DeleteObject on the prefix); in a versioned
      // bucket the marker leaves a version and a delete marker.
      const marker = key(probeName());
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: marker, Body: 'npm run export probe\n' }));
      await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: marker }));
    },
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
          // The ledger's hash travels with the copy; it is compared with what was streamed.
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
