/**
 * Which call ids the vault supports, in one place: whatever the transfer stores must be playable,
 * listable and erasable by the same id. The app chooses them (spaces, accents, braces, emoji…),
 * the S3 key URL-encodes them, API Gateway hands them decoded, and DynamoDB takes up to 2048
 * bytes. Refused: empty, over 512 UTF-8 bytes, holding control characters (never a real id; keeps
 * logs and lookups sane), or a lone surrogate (not text: it cannot be URL-encoded into a key, nor
 * sent to DynamoDB).
 */
const MAX_CALL_ID_BYTES = 512;
const UNFIT_CHARACTER = /[\p{Cc}\p{Cs}]/u;

export function isSupportedCallId(callId: string): boolean {
  return callId.length > 0 && Buffer.byteLength(callId, 'utf8') <= MAX_CALL_ID_BYTES && !UNFIT_CHARACTER.test(callId);
}
