/**
 * Twilio's side of Voice Recording Encryption, for the simulated Twilio, the tests and the demo:
 * a key pair as a customer makes one (its public half uploaded as a Twilio Public Key, `CR…`),
 * and a recording encrypted the way Twilio encrypts it. Per recording, a fresh 256-bit content
 * key (CEK) and 12-byte IV; the WAV is encrypted with AES-256-GCM, the 16-byte tag appended;
 * the CEK is wrapped with RSA-OAEP (SHA-256, MGF1 SHA-256) under the public key. The details
 * carry the wrapped CEK and the IV in base64.
 */
import { constants, createCipheriv, generateKeyPairSync, publicEncrypt, randomBytes } from 'node:crypto';
import { type EncryptionDetails, RSA_AES } from '../../lambda/shared/twilio/encryption-details';

export interface RecordingKeyPair {
  /** The Twilio Public Key resource holding `publicKeyPem`. */
  readonly publicKeySid: string;
  /** SPKI PEM (`BEGIN PUBLIC KEY`), what Twilio's Public Key resource takes. */
  readonly publicKeyPem: string;
  /** PKCS#8 PEM (`BEGIN PRIVATE KEY`), what the customer keeps and `npm run decrypt` reads. */
  readonly privateKeyPem: string;
}

export interface EncryptedMedia {
  /** What Twilio serves as the recording's `.wav`: ciphertext, then the GCM tag. */
  readonly ciphertext: Buffer;
  readonly details: EncryptionDetails;
}

export const GCM_TAG_BYTES = 16;
const GCM_IV_BYTES = 12;
const CEK_BYTES = 32;

/** A fresh `CR…` SID (Twilio's credential resources). */
export function newPublicKeySid(): string {
  return `CR${randomBytes(16).toString('hex')}`;
}

/** An RSA key pair as Twilio's guide has the customer make one (2048 bits; `openssl genrsa`). */
export function generateRecordingKeyPair(
  publicKeySid: string = newPublicKeySid(),
  modulusLength = 2048,
): RecordingKeyPair {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', {
    modulusLength,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  return { publicKeySid, publicKeyPem: publicKey, privateKeyPem: privateKey };
}

/** `plaintext` (the recording's WAV) encrypted as Twilio does for the account's public key. */
export function encryptLikeTwilio(
  plaintext: Buffer,
  key: Pick<RecordingKeyPair, 'publicKeySid' | 'publicKeyPem'>,
): EncryptedMedia {
  const cek = randomBytes(CEK_BYTES);
  const iv = randomBytes(GCM_IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', cek, iv, { authTagLength: GCM_TAG_BYTES });
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
  const wrapped = publicEncrypt(
    { key: key.publicKeyPem, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' },
    cek,
  );
  return {
    ciphertext,
    details: {
      type: RSA_AES,
      publicKeySid: key.publicKeySid,
      encryptedCek: wrapped.toString('base64'),
      iv: iv.toString('base64'),
    },
  };
}
