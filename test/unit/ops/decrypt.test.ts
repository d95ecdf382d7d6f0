/**
 * lib/ops/decrypt.ts against dynalite and s3rver: a stored copy encrypted the way Twilio
 * encrypts (./lib/simulated-twilio/encryption.ts), decrypted with the right key, refused with a
 * wrong one, and never written out when the bytes are not what the ledger proves.
 */
import '../../helpers/setup-env';
import { createCipheriv, createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import type { EncryptionDetails } from '../../../lambda/shared/twilio/encryption-details';
import { CliError } from '../../../lib/ops/cli';
import { type DecryptRequest, decryptStoredRecording, formatDecrypted, gcmDecipher } from '../../../lib/ops/decrypt';
import { encryptLikeTwilio, generateRecordingKeyPair } from '../../../lib/simulated-twilio';
import { type Emulators, LEDGER_TABLE, RECORDINGS_BUCKET, startEmulators } from '../../helpers/emulators';
import { newRecordingSid } from '../../helpers/twilio-fixtures';

const keys = generateRecordingKeyPair();
const otherKeys = generateRecordingKeyPair(keys.publicKeySid);
let aws: Emulators;
let dir: string;
let keyPath: string;
let otherKeyPath: string;

beforeAll(async () => {
  aws = await startEmulators();
  dir = await mkdtemp(join(tmpdir(), 'rv-decrypt-'));
  keyPath = join(dir, 'private_key.pem');
  otherKeyPath = join(dir, 'other_key.pem');
  await writeFile(keyPath, keys.privateKeyPem);
  await writeFile(otherKeyPath, otherKeys.privateKeyPem);
});

afterAll(async () => {
  await aws.stop();
  await rm(dir, { recursive: true, force: true });
});

const sources = () => ({
  ddb: aws.ddb,
  s3: aws.s3,
  ledgerTableName: LEDGER_TABLE,
  targetName: 'the test emulators',
});

interface Stored {
  readonly recordingSid: string;
  readonly audio: Buffer;
  readonly ciphertext: Buffer;
  readonly details: EncryptionDetails;
}

/** A recording stored as the transfer stores an encrypted one; `stored` replaces the object's bytes. */
async function givenStored(options: { stored?: (ciphertext: Buffer) => Buffer; ledger?: object } = {}) {
  const recordingSid = newRecordingSid();
  const audio = randomBytes(70_000);
  const { ciphertext, details } = encryptLikeTwilio(audio, keys);
  const key = `recordings/2024/07/call-1/${recordingSid}.wav`;
  await aws.s3.send(
    new PutObjectCommand({ Bucket: RECORDINGS_BUCKET, Key: key, Body: options.stored?.(ciphertext) ?? ciphertext }),
  );
  await aws.ddb.send(
    new PutCommand({
      TableName: LEDGER_TABLE,
      Item: {
        recordingSid,
        callSid: `CA${'1'.repeat(32)}`,
        status: 'stored',
        bucket: RECORDINGS_BUCKET,
        key,
        contentType: 'audio/wav',
        sizeBytes: ciphertext.length,
        sha256: createHash('sha256').update(ciphertext).digest('hex'),
        encryption: details,
        startedAt: '2024-07-22T17:00:00.000Z',
        day: '2024-07-22',
        updatedAt: '2024-07-22T17:01:00.000Z',
        ...options.ledger,
      },
    }),
  );
  return { recordingSid, audio, ciphertext, details } satisfies Stored;
}

function request(recordingSid: string, extra: Partial<DecryptRequest> = {}): DecryptRequest {
  return { recordingSid, privateKeyPath: keyPath, outPath: join(dir, `${recordingSid}.wav`), ...extra };
}

async function failure(promise: Promise<unknown>): Promise<CliError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(error instanceof CliError)) throw new Error(`expected a CliError, got ${String(error)}`);
  return error;
}

const absent = (path: string) =>
  stat(path).then(
    () => false,
    () => true,
  );

describe('decrypting a stored copy', () => {
  it('writes the plaintext readable by its owner alone, whatever the umask', async () => {
    const stored = await givenStored();
    const before = process.umask(0o022);
    try {
      const result = await decryptStoredRecording(sources(), request(stored.recordingSid));

      expect((await stat(result.outPath)).mode & 0o777).toBe(0o600);
    } finally {
      process.umask(before);
    }
  });

  it('never writes the plaintext through a file or symlink someone left under its temporary name', async () => {
    const stored = await givenStored();
    const asked = request(stored.recordingSid);
    const bait = join(dir, 'bait.txt');
    await writeFile(bait, 'untouched', { mode: 0o644 });
    await symlink(bait, join(dir, `.${stored.recordingSid}.wav.${process.pid}.partial`));

    const result = await decryptStoredRecording(sources(), asked);

    expect(await readFile(bait, 'utf8')).toBe('untouched');
    expect((await readFile(result.outPath)).equals(stored.audio)).toBe(true);
    expect((await stat(result.outPath)).mode & 0o777).toBe(0o600);
  });

  it('writes the original audio with the right key, and says the copy matched the ledger', async () => {
    const stored = await givenStored();

    const result = await decryptStoredRecording(sources(), request(stored.recordingSid));

    expect((await readFile(result.outPath)).equals(stored.audio)).toBe(true);
    expect(result).toMatchObject({
      bytes: stored.audio.length,
      storedBytes: stored.ciphertext.length,
      sha256Verified: true,
    });
    expect(formatDecrypted(result)).toMatch(
      /^decrypt: wrote .* \(70000 bytes of audio\) from RE\w+; the stored copy matched/,
    );
  });

  it('refuses a wrong key in one line naming the key Twilio used, and writes nothing', async () => {
    const stored = await givenStored();
    const asked = request(stored.recordingSid, { privateKeyPath: otherKeyPath });

    const error = await failure(decryptStoredRecording(sources(), asked));

    expect(error.exitCode).toBe(1);
    expect(error.message).toBe(
      `wrong key: ${otherKeyPath} does not open ${stored.recordingSid} (Twilio encrypted it for public key ${keys.publicKeySid})`,
    );
    expect(await absent(asked.outPath)).toBe(true);
  });

  it('writes nothing when the stored bytes were altered after the ledger proved them', async () => {
    const stored = await givenStored({
      stored: (ciphertext) => {
        const altered = Buffer.from(ciphertext);
        altered[100] = (altered[100] ?? 0) ^ 1;
        return altered;
      },
    });
    const asked = request(stored.recordingSid);

    const error = await failure(decryptStoredRecording(sources(), asked));

    expect(error.message).toMatch(/does not match the ledger's SHA-256.*nothing written/);
    expect(await absent(asked.outPath)).toBe(true);
    expect((await readdir(dir)).filter((name) => name.endsWith('.partial'))).toEqual([]);
  });

  it('writes nothing when the GCM tag does not authenticate, even with no SHA-256 to compare', async () => {
    const stored = await givenStored({
      stored: (ciphertext) => Buffer.concat([ciphertext.subarray(0, -1), Buffer.from([(ciphertext.at(-1) ?? 0) ^ 1])]),
      ledger: { sha256: undefined },
    });
    const asked = request(stored.recordingSid);

    const error = await failure(decryptStoredRecording(sources(), asked));

    expect(error.message).toMatch(/does not authenticate \(GCM tag mismatch\).*nothing written/);
    expect(await absent(asked.outPath)).toBe(true);
  });

  it.each([
    ['a recording the vault does not hold', undefined, 3, /is not in the vault/],
    ['a recording that is not stored', { status: 'failed' }, 3, /is failed, not stored/],
    ['a recording Twilio did not encrypt', { encryption: undefined }, 1, /was not encrypted by Twilio/],
    [
      'a recording whose details were unusable when it was stored',
      { encryption: undefined, notes: ['2024-07-22T17:01:00.000Z EncryptionDetails unusable (not JSON: x)'] },
      1,
      /came with EncryptionDetails the vault could not use \(the ledger's notes say why\)/,
    ],
  ])('says so for %s', async (_what, ledger, exitCode, message) => {
    const recordingSid = ledger ? (await givenStored({ ledger })).recordingSid : newRecordingSid();

    const error = await failure(decryptStoredRecording(sources(), request(recordingSid)));

    expect(error.exitCode).toBe(exitCode);
    expect(error.message).toMatch(message);
  });

  it('checks the arguments before reaching the vault', async () => {
    const stored = await givenStored();
    const existing = join(dir, 'existing.wav');
    await writeFile(existing, 'keep me');
    const notAKey = join(dir, 'not-a-key.pem');
    await writeFile(notAKey, 'hello');

    const bad = await failure(decryptStoredRecording(sources(), request('RE123')));
    const exists = await failure(
      decryptStoredRecording(sources(), request(stored.recordingSid, { outPath: existing })),
    );
    const missing = await failure(
      decryptStoredRecording(sources(), request(stored.recordingSid, { privateKeyPath: join(dir, 'nope.pem') })),
    );
    const garbage = await failure(
      decryptStoredRecording(sources(), request(stored.recordingSid, { privateKeyPath: notAKey })),
    );

    expect(bad.message).toMatch(/--recording must be a RecordingSid/);
    expect(exists.message).toMatch(/already exists: .*--force/);
    expect(await readFile(existing, 'utf8')).toBe('keep me');
    expect(missing.message).toMatch(/cannot read --private-key .*nope\.pem: no such file/);
    expect(garbage.message).toMatch(/is not a PEM private key/);
  });

  it('replaces an existing file with --force', async () => {
    const stored = await givenStored();
    const out = join(dir, 'forced.wav');
    await writeFile(out, 'old');

    await decryptStoredRecording(sources(), request(stored.recordingSid, { outPath: out, force: true }));

    expect((await readFile(out)).equals(stored.audio)).toBe(true);
  });
});

describe('the GCM stream', () => {
  it('deciphers whatever the chunking, the last 16 bytes being the tag', async () => {
    const audio = randomBytes(1000);
    const cek = randomBytes(32);
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', cek, iv);
    const sealed = Buffer.concat([cipher.update(audio), cipher.final(), cipher.getAuthTag()]);

    for (const size of [1, 7, 16, 17, 500, sealed.length]) {
      const chunks: Buffer[] = [];
      for (let at = 0; at < sealed.length; at += size) chunks.push(sealed.subarray(at, at + size));
      const out: Buffer[] = [];
      const decipher = Readable.from(chunks).pipe(gcmDecipher(cek, iv));
      for await (const chunk of decipher) out.push(chunk as Buffer);
      expect(Buffer.concat(out).equals(audio)).toBe(true);
    }
  });
});
