/**
 * Twilio identifiers, tokens, signatures and callback payloads for tests.
 * The signer is an independent implementation of Twilio's documented algorithm (not the
 * twilio SDK's), so that a test signing with it really checks the code under test.
 */
import { createHmac, randomBytes } from 'node:crypto';

export const TEST_ACCOUNT_SID = `AC${'0123456789abcdef'.repeat(2)}`;
export const TEST_AUTH_TOKEN = 'primary-auth-token-0123456789abcd';
export const TEST_AUTH_TOKEN_SECONDARY = 'secondary-auth-token-9876543210ab';

const hex32 = () => randomBytes(16).toString('hex');

/** A fresh, well-formed SID with the given prefix (`CA`, `RE`, `AC`…); unique per call. */
export const sid = (prefix: 'AC' | 'CA' | 'RE') => `${prefix}${hex32()}`;
export const newCallSid = () => sid('CA');
export const newRecordingSid = () => sid('RE');

/** A job of a callback that named a CallSid (every callback but a conference's may lack it). */
export function withCallSid<T extends { readonly callSid?: string | undefined }>(
  job: T,
): T & { readonly callSid: string } {
  if (job.callSid === undefined) throw new Error('The callback named no CallSid');
  return job as T & { readonly callSid: string };
}

export type SignedParams = Record<string, string | readonly string[]>;

/**
 * X-Twilio-Signature: base64(HMAC-SHA1(token, url + each parameter name+value, names sorted;
 * the values of a repeated parameter sorted too)). Blank parameters are included.
 */
export function twilioSignature(token: string, url: string, params: SignedParams): string {
  let data = url;
  for (const name of Object.keys(params).sort()) {
    const value = params[name];
    const values = typeof value === 'string' ? [value] : [...(value ?? [])].sort();
    for (const v of values) data += name + v;
  }
  return createHmac('sha1', token).update(Buffer.from(data, 'utf8')).digest('base64');
}

/** Encodes params as Twilio posts them (repeated names for array values). */
export function formBody(params: SignedParams): string {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    for (const v of typeof value === 'string' ? [value] : value) search.append(name, v);
  }
  return search.toString();
}

export interface CallbackOptions {
  readonly accountSid?: string;
  readonly callSid?: string;
  readonly recordingSid?: string;
  readonly status?: string;
  /** Extra or overriding parameters; `undefined` removes a parameter. */
  readonly extra?: Record<string, string | undefined>;
}

/** The start time of every fixture recording (RFC 2822, as Twilio sends it). */
export const FIXTURE_START_TIME = 'Mon, 22 Jul 2024 17:00:00 +0000';

/**
 * The parameters a recording status callback cannot do without: the four every callback carries,
 * and for `completed` its start time (it places the object).
 */
export function minimalCallbackParams(options: CallbackOptions = {}): Record<string, string> {
  const status = options.status ?? 'completed';
  return {
    AccountSid: options.accountSid ?? TEST_ACCOUNT_SID,
    CallSid: options.callSid ?? newCallSid(),
    RecordingSid: options.recordingSid ?? newRecordingSid(),
    RecordingStatus: status,
    ...(status === 'completed' ? { RecordingStartTime: FIXTURE_START_TIME } : {}),
  };
}

/** A full `completed` callback as Twilio sends it, with every documented parameter. */
export function recordingCallbackParams(options: CallbackOptions = {}): Record<string, string> {
  const base = minimalCallbackParams(options);
  const params: Record<string, string | undefined> = {
    ...base,
    RecordingUrl: `https://api.twilio.com/2010-04-01/Accounts/${base.AccountSid}/Recordings/${base.RecordingSid}`,
    RecordingDuration: '42',
    RecordingChannels: '2',
    RecordingStartTime: FIXTURE_START_TIME,
    RecordingSource: 'DialVerb',
    RecordingTrack: 'both',
    ErrorCode: '0',
    ...options.extra,
  };
  return Object.fromEntries(Object.entries(params).filter((e): e is [string, string] => e[1] !== undefined));
}
