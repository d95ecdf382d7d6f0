/**
 * Twilio's `EncryptionDetails` of a recording made with Voice Recording Encryption: the callback
 * posts it as a JSON string (`EncryptionDetails`), the recording resource and the list as an
 * object (`encryption_details`, null when not encrypted). They are the only way to decrypt the
 * recording later (see docs/encryption.md), so the vault keeps them with the ciphertext.
 *
 * Shape: `{ "type": "rsa-aes", "public_key_sid": "CR…", "encrypted_cek": "<base64>", "iv": "<base64>" }`.
 * Parsing is bounded (whatever a callback holds, the job stays small) and never throws: a value
 * that does not validate is kept as a short note, and the recording is still copied.
 */

/** The details as the vault keeps them (ledger, object metadata, API, events). */
export interface EncryptionDetails {
  /** `rsa-aes`: RSA-OAEP (SHA-256) wraps an AES-256-GCM content key. */
  readonly type: string;
  /** The Twilio Public Key (`CR…`) whose private half unwraps the content key. */
  readonly publicKeySid: string;
  /** Base64 of the content key wrapped with that public key. */
  readonly encryptedCek: string;
  /** Base64 of the AES-GCM initialisation vector. */
  readonly iv: string;
}

export type ParsedEncryption =
  /** Not encrypted: nothing sent, empty, or null. */
  | { readonly kind: 'none' }
  | { readonly kind: 'valid'; readonly details: EncryptionDetails }
  /** Sent but unusable: `problem` says why, `raw` is a bounded, printable copy of what came. */
  | { readonly kind: 'invalid'; readonly problem: string; readonly raw: string };

/** The only scheme Twilio uses for voice recordings. */
export const RSA_AES = 'rsa-aes';
/** A real value is about 450 characters (a 4096-bit key): anything far longer is not Twilio's. */
export const MAX_ENCRYPTION_DETAILS_CHARS = 4096;
/** What of an invalid value is kept for the note. */
export const MAX_INVALID_RAW_CHARS = 200;
/** `CR` + 32 hex: Twilio's Public Key (credential) SID. */
export const PUBLIC_KEY_SID = /^CR[0-9a-fA-F]{32}$/;
/** RSA keys of 1024 to 8192 bits wrap the content key into 128 to 1024 bytes. */
const CEK_BYTES = { min: 128, max: 1024 } as const;
/** GCM's nonce: Twilio's is 12 bytes; up to 16 accepted. */
const IV_BYTES = { min: 12, max: 16 } as const;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const UNPRINTABLE = /[^\x20-\x7e]/g;

/** The callback's `EncryptionDetails` parameter (a JSON string), already trimmed. */
export function parseEncryptionDetailsParam(raw: string | undefined): ParsedEncryption {
  if (raw === undefined || raw === '' || raw === 'null') return { kind: 'none' };
  if (raw.length > MAX_ENCRYPTION_DETAILS_CHARS) {
    return invalid(`longer than ${MAX_ENCRYPTION_DETAILS_CHARS} characters`, raw);
  }
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    return invalid('not JSON', raw);
  }
  return fromObject(value, raw);
}

/** The resource's `encryption_details` (an object, or null), as the recording list renders it. */
export function parseEncryptionDetailsField(value: unknown): ParsedEncryption {
  if (value === undefined || value === null) return { kind: 'none' };
  if (typeof value === 'string') return parseEncryptionDetailsParam(value.trim());
  let raw: string;
  try {
    raw = JSON.stringify(value) ?? '';
  } catch {
    return invalid('not JSON', '');
  }
  if (raw.length > MAX_ENCRYPTION_DETAILS_CHARS) {
    return invalid(`longer than ${MAX_ENCRYPTION_DETAILS_CHARS} characters`, raw);
  }
  return fromObject(value, raw);
}

/** The details' problems, or an empty list when they are usable (also checks a queued job's copy). */
export function encryptionProblems(value: unknown): string[] {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return ['not an object'];
  const { type, publicKeySid, encryptedCek, iv } = value as Record<string, unknown>;
  const problems: string[] = [];
  if (type !== RSA_AES) problems.push(`type is not ${RSA_AES}`);
  if (typeof publicKeySid !== 'string' || !PUBLIC_KEY_SID.test(publicKeySid)) {
    problems.push('public_key_sid is not a Public Key SID (CR + 32 hex)');
  }
  const cek = base64Length(encryptedCek);
  if (cek === undefined || cek < CEK_BYTES.min || cek > CEK_BYTES.max) {
    problems.push(`encrypted_cek is not base64 of ${CEK_BYTES.min} to ${CEK_BYTES.max} bytes`);
  }
  const ivBytes = base64Length(iv);
  if (ivBytes === undefined || ivBytes < IV_BYTES.min || ivBytes > IV_BYTES.max) {
    problems.push(`iv is not base64 of ${IV_BYTES.min} to ${IV_BYTES.max} bytes`);
  }
  return problems;
}

/** Whether a queued job's or a ledger item's copy of the details is usable. */
export function isEncryptionDetails(value: unknown): value is EncryptionDetails {
  return encryptionProblems(value).length === 0;
}

/** The details in Twilio's own spelling (snake_case), e.g. for a callback or a resource. */
export function toTwilioJson(details: EncryptionDetails): Record<string, string> {
  return {
    type: details.type,
    public_key_sid: details.publicKeySid,
    encrypted_cek: details.encryptedCek,
    iv: details.iv,
  };
}

function fromObject(value: unknown, raw: string): ParsedEncryption {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return invalid('not a JSON object', raw);
  const fields = value as Record<string, unknown>;
  const details = {
    type: fields.type,
    publicKeySid: fields.public_key_sid,
    encryptedCek: fields.encrypted_cek,
    iv: fields.iv,
  };
  const problems = encryptionProblems(details);
  if (problems.length > 0) return invalid(problems.join('; '), raw);
  return { kind: 'valid', details: details as EncryptionDetails };
}

function invalid(problem: string, raw: string): ParsedEncryption {
  const printable = raw.replace(UNPRINTABLE, '?');
  const clipped =
    printable.length > MAX_INVALID_RAW_CHARS ? `${printable.slice(0, MAX_INVALID_RAW_CHARS)}…` : printable;
  return { kind: 'invalid', problem, raw: clipped };
}

/** Decoded length of a canonical base64 string, or undefined when it is not one. */
function base64Length(value: unknown): number | undefined {
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_ENCRYPTION_DETAILS_CHARS) return undefined;
  if (!BASE64.test(value)) return undefined;
  return Buffer.from(value, 'base64').length;
}

/** A job's encryption fields for what was parsed: the details, or a note on why they were set aside. */
export function encryptionJobFields(parsed: ParsedEncryption): {
  readonly encryption?: EncryptionDetails;
  readonly encryptionIgnored?: string;
} {
  if (parsed.kind === 'valid') return { encryption: parsed.details };
  if (parsed.kind === 'invalid') return { encryptionIgnored: `${parsed.problem}: ${parsed.raw}` };
  return {};
}

/** S3 user metadata naming the details, beside `recording-sid` and `sha256` (about 450 bytes for a 2048-bit key). */
export function encryptionMetadata(details: EncryptionDetails): Record<string, string> {
  return {
    'encryption-type': details.type,
    'encryption-public-key-sid': details.publicKeySid,
    'encryption-encrypted-cek': details.encryptedCek,
    'encryption-iv': details.iv,
  };
}
