/**
 * `npm run decrypt`: turns the vault's copy of a recording made with Twilio's Voice Recording
 * Encryption back into audio, with the customer's private key. The vault stores the recording
 * exactly as Twilio encrypted it (its SHA-256 covers the ciphertext) and keeps Twilio's
 * `EncryptionDetails` in the ledger; this reads both, checks the bytes against the ledger's
 * SHA-256, and decrypts:
 *
 * - RSA-OAEP with SHA-256 (and MGF1 SHA-256) unwraps the 32-byte content key (`encrypted_cek`);
 * - AES-256-GCM with the `iv` decrypts the body, whose last 16 bytes are the GCM tag.
 *
 * The audio is written to a temporary file beside `--out` and renamed only once the tag has
 * authenticated every byte: a wrong key, a damaged copy or a cut-short download leaves no file.
 */
import { constants, createDecipheriv, createHash, createPrivateKey, type KeyObject, privateDecrypt } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { readFile, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { type DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import type { LedgerItem } from '../../lambda/shared/ledger/ledger';
import { type EncryptionDetails, encryptionProblems } from '../../lambda/shared/twilio/encryption-details';
import { SID } from '../../lambda/shared/twilio/sids';
import { CliError, EXIT } from './cli';
import { describeError } from './target';

/** AES-GCM's tag, as Twilio appends it to the ciphertext. */
export const GCM_TAG_BYTES = 16;
const CEK_BYTES = 32;

export interface DecryptSources {
  readonly ddb: Pick<DynamoDBDocumentClient, 'send'>;
  readonly s3: Pick<S3Client, 'send'>;
  readonly ledgerTableName: string;
  /** For messages: `the local stack` or `stage prod (RecordingVault-prod)`. */
  readonly targetName: string;
}

export interface DecryptRequest {
  readonly recordingSid: string;
  readonly privateKeyPath: string;
  readonly outPath: string;
  /** Replace `outPath` if it exists. */
  readonly force?: boolean;
}

export interface DecryptResult {
  readonly recordingSid: string;
  readonly outPath: string;
  /** Bytes of audio written. */
  readonly bytes: number;
  /** Bytes of the stored ciphertext, tag included. */
  readonly storedBytes: number;
  readonly publicKeySid: string;
  /** True when the ledger had a SHA-256 and the stored copy matched it. */
  readonly sha256Verified: boolean;
}

/** The private key cannot open the content key, or the bytes do not authenticate. */
export class DecryptError extends Error {
  override name = 'DecryptError';
}

/**
 * What can be checked before any target is reached (the RecordingSid, `--out`, the key file):
 * a typo fails at once. Returns the private key.
 */
export async function checkDecryptRequest(request: DecryptRequest): Promise<KeyObject> {
  if (!SID.RecordingSid.test(request.recordingSid)) {
    throw new CliError(
      `--recording must be a RecordingSid (RE and 32 hex digits; got ${JSON.stringify(request.recordingSid)})`,
    );
  }
  if (!request.force && (await exists(request.outPath))) {
    throw new CliError(`${request.outPath} already exists: choose another --out, or add --force to replace it`);
  }
  return loadPrivateKey(request.privateKeyPath);
}

/** Decrypts one stored recording to `outPath`; every failure is a CliError phrased for the operator. */
export async function decryptStoredRecording(
  sources: DecryptSources,
  request: DecryptRequest,
  checkedKey?: KeyObject,
): Promise<DecryptResult> {
  const { recordingSid } = request;
  const privateKey = checkedKey ?? (await checkDecryptRequest(request));

  const item = await ledgerItem(sources, recordingSid);
  const details = encryptionOf(item, sources.targetName);
  const cek = unwrapAs(privateKey, details, request.privateKeyPath, recordingSid);

  const { bucket, key } = item;
  if (!bucket || !key) throw new CliError(`the ledger names no object for ${recordingSid} (${sources.targetName})`);
  let body: Readable;
  try {
    const object = await sources.s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    if (!(object.Body instanceof Readable)) throw new Error('the object has no body');
    body = object.Body;
  } catch (error) {
    const name = (error as { name?: string }).name;
    if (name === 'NoSuchKey' || name === 'NotFound') {
      throw new CliError(`the stored copy of ${recordingSid} is gone from s3://${bucket}/${key}`, EXIT.notFound);
    }
    throw error;
  }

  // Beside the destination, so that the rename is atomic; never a name a user would pick.
  const partial = join(dirname(request.outPath), `.${basename(request.outPath)}.${process.pid}.partial`);
  const hash = createHash('sha256');
  let storedBytes = 0;
  let bytes = 0;
  const tap = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      hash.update(chunk);
      storedBytes += chunk.length;
      done(null, chunk);
    },
  });
  const count = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      bytes += chunk.length;
      done(null, chunk);
    },
  });
  try {
    // Plaintext audio: its owner's alone, whatever the umask (as export's copies).
    // A fresh file of its own: never an existing file or a symlink someone left under this name.
    await rm(partial, { force: true });
    const out = createWriteStream(partial, { mode: 0o600, flags: 'wx' });
    await pipeline(body, tap, gcmDecipher(cek, Buffer.from(details.iv, 'base64')), count, out);
  } catch (error) {
    await rm(partial, { force: true });
    const sha256 = hash.digest('hex');
    if (item.sha256 && storedBytes === item.sizeBytes && sha256 !== item.sha256) {
      throw new CliError(
        `the stored copy of ${recordingSid} does not match the ledger's SHA-256: it was altered after it was stored; nothing written`,
      );
    }
    if (error instanceof DecryptError) throw new CliError(`${recordingSid}: ${error.message}; nothing written`);
    throw new CliError(`could not read the stored copy of ${recordingSid}: ${describeError(error)}`);
  }
  const sha256 = hash.digest('hex');
  if (item.sha256 && sha256 !== item.sha256) {
    // GCM authenticated it, so the ledger is what is off; say so rather than hand out doubtful audio.
    await rm(partial, { force: true });
    throw new CliError(`the stored copy of ${recordingSid} does not match the ledger's SHA-256; nothing written`);
  }
  await rename(partial, request.outPath);
  return {
    recordingSid,
    outPath: request.outPath,
    bytes,
    storedBytes,
    publicKeySid: details.publicKeySid,
    sha256Verified: item.sha256 !== undefined,
  };
}

/** The last line `npm run decrypt` prints. */
export function formatDecrypted(result: DecryptResult): string {
  const proof = result.sha256Verified ? "the stored copy matched the ledger's SHA-256" : 'the ledger had no SHA-256';
  return `decrypt: wrote ${result.outPath} (${result.bytes} bytes of audio) from ${result.recordingSid}; ${proof} and the GCM tag authenticated it`;
}

/**
 * AES-256-GCM decryption of a stream whose last 16 bytes are the tag: everything but the
 * (running) last 16 bytes is deciphered as it comes; at the end the tag is checked, and a
 * mismatch fails the stream with a DecryptError.
 */
export function gcmDecipher(cek: Buffer, iv: Buffer): Transform {
  const decipher = createDecipheriv('aes-256-gcm', cek, iv, { authTagLength: GCM_TAG_BYTES });
  let tail = Buffer.alloc(0);
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      const all = tail.length > 0 ? Buffer.concat([tail, chunk]) : chunk;
      if (all.length <= GCM_TAG_BYTES) {
        tail = Buffer.from(all);
        done();
        return;
      }
      // A copy: the tail must not keep the whole chunk alive.
      tail = Buffer.from(all.subarray(all.length - GCM_TAG_BYTES));
      done(null, decipher.update(all.subarray(0, all.length - GCM_TAG_BYTES)));
    },
    flush(done) {
      if (tail.length < GCM_TAG_BYTES) {
        done(new DecryptError(`the stored copy is shorter than a GCM tag (${tail.length} bytes)`));
        return;
      }
      decipher.setAuthTag(tail);
      try {
        done(null, decipher.final());
      } catch {
        done(new DecryptError('the stored copy does not authenticate (GCM tag mismatch): damaged, or not this key'));
      }
    },
  });
}

/** The 32-byte content key, unwrapped with RSA-OAEP (SHA-256) by the private key; DecryptError otherwise. */
export function unwrapContentKey(privateKey: KeyObject | string, details: EncryptionDetails): Buffer {
  let cek: Buffer;
  try {
    cek = privateDecrypt(
      { key: privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' },
      Buffer.from(details.encryptedCek, 'base64'),
    );
  } catch {
    throw new DecryptError(`the private key does not open the content key Twilio wrapped for ${details.publicKeySid}`);
  }
  if (cek.length !== CEK_BYTES) {
    throw new DecryptError(`the content key is ${cek.length} bytes, not the ${CEK_BYTES} of AES-256`);
  }
  return cek;
}

function unwrapAs(privateKey: KeyObject, details: EncryptionDetails, keyPath: string, recordingSid: string): Buffer {
  try {
    return unwrapContentKey(privateKey, details);
  } catch (error) {
    if (!(error instanceof DecryptError)) throw error;
    throw new CliError(
      `wrong key: ${keyPath} does not open ${recordingSid} (Twilio encrypted it for public key ${details.publicKeySid})`,
    );
  }
}

async function loadPrivateKey(path: string): Promise<KeyObject> {
  let pem: Buffer;
  try {
    pem = await readFile(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new CliError(
      `cannot read --private-key ${path}: ${code === 'ENOENT' ? 'no such file' : describeError(error)}`,
    );
  }
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: pem });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ERR_MISSING_PASSPHRASE') {
      throw new CliError(
        `--private-key ${path} is protected by a passphrase: write an unprotected copy with openssl pkey`,
      );
    }
    throw new CliError(`--private-key ${path} is not a PEM private key`);
  }
  if (key.asymmetricKeyType !== 'rsa') {
    throw new CliError(`--private-key ${path} is not an RSA key (Twilio wraps content keys with RSA)`);
  }
  return key;
}

async function ledgerItem(sources: DecryptSources, recordingSid: string): Promise<LedgerItem> {
  const { Item } = await sources.ddb.send(
    new GetCommand({ TableName: sources.ledgerTableName, Key: { recordingSid }, ConsistentRead: true }),
  );
  const item = Item as LedgerItem | undefined;
  if (!item) throw new CliError(`${recordingSid} is not in the vault (${sources.targetName})`, EXIT.notFound);
  if (item.status !== 'stored') {
    throw new CliError(`${recordingSid} is ${item.status}, not stored: there is no copy to decrypt`, EXIT.notFound);
  }
  return item;
}

function encryptionOf(item: LedgerItem, targetName: string): EncryptionDetails {
  if (item.encryption === undefined && item.notes?.some((note) => note.includes('EncryptionDetails unusable'))) {
    throw new CliError(
      `${item.recordingSid} came with EncryptionDetails the vault could not use (the ledger's notes say why); read them from Twilio's recording resource`,
    );
  }
  if (item.encryption === undefined) {
    throw new CliError(
      `${item.recordingSid} was not encrypted by Twilio: its stored copy is already audio (${targetName})`,
    );
  }
  const problems = encryptionProblems(item.encryption);
  if (problems.length > 0) {
    throw new CliError(`the ledger's encryption details of ${item.recordingSid} are unusable: ${problems.join('; ')}`);
  }
  return item.encryption;
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}
