/**
 * Twilio's side of a recording status callback: the parameters it posts for a recording, and the
 * signed, form-encoded POST itself (X-Twilio-Signature computed by twilio's own signer).
 */
import { randomUUID } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { getExpectedTwilioSignature } from 'twilio/lib/webhooks/webhooks';
import { toTwilioJson } from '../../lambda/shared/twilio/encryption-details';
import { accountPath, rfc2822, type SimulatedRecording } from './store';

/** Twilio waits this long for a webhook's answer. */
const TWILIO_WEBHOOK_TIMEOUT_MS = 15_000;

/**
 * The recording status callback parameters Twilio posts for `recording` (all strings): a
 * conference recording carries `ConferenceSid`, and no `CallSid` when it names no call.
 * `overrides` replace parameters or add unknown ones; an `undefined` value removes a parameter.
 */
export function recordingCallbackParams(
  recording: SimulatedRecording,
  baseUrl: string,
  overrides: Record<string, string | undefined> = {},
): Record<string, string> {
  const params: Record<string, string | undefined> = {
    AccountSid: recording.accountSid,
    CallSid: recording.callSid ?? undefined,
    ConferenceSid: recording.conferenceSid ?? undefined,
    RecordingSid: recording.sid,
    RecordingUrl: `${baseUrl}${accountPath(recording.accountSid)}/Recordings/${recording.sid}`,
    RecordingStatus: recording.status,
    RecordingDuration: String(recording.duration),
    RecordingChannels: String(recording.channels),
    RecordingStartTime: rfc2822(recording.startTime),
    RecordingSource: recording.source,
    RecordingTrack: recording.track,
    ErrorCode: String(recording.errorCode ?? 0),
    ...(recording.encryptionDetails
      ? { EncryptionDetails: JSON.stringify(toTwilioJson(recording.encryptionDetails)) }
      : {}),
    ...overrides,
  };
  return Object.fromEntries(Object.entries(params).filter((e): e is [string, string] => e[1] !== undefined));
}

export interface SendCallbackOptions {
  /** Sign with this token instead of the account's (rotation, or a wrong token on purpose). */
  readonly authToken?: string;
  /** `I-Twilio-Idempotency-Token`; Twilio repeats it on its own retries. Default: a fresh one. */
  readonly idempotencyToken?: string;
  /** Extra headers; a `x-twilio-signature` here replaces the computed one. */
  readonly headers?: Record<string, string>;
  /** Default 15 s, Twilio's own limit. */
  readonly timeoutMs?: number;
}

/**
 * POSTs `params` form-encoded to `webhookUrl` the way Twilio does, signed with `authToken` over
 * the URL as called (a `#fragment` of retry options is neither sent nor signed) and every
 * parameter. Resolves with the HTTP status; rejects when the endpoint cannot be reached or does
 * not answer within the timeout.
 */
export function postSignedCallback(
  webhookUrl: string,
  params: Record<string, string>,
  authToken: string,
  options: SendCallbackOptions = {},
): Promise<number> {
  const url = webhookUrl.replace(/#.*$/, '');
  const body = new URLSearchParams(params).toString();
  const headers: Record<string, string> = {
    'content-type': 'application/x-www-form-urlencoded',
    'content-length': String(Buffer.byteLength(body)),
    'user-agent': 'TwilioProxy/1.1',
    'i-twilio-idempotency-token': options.idempotencyToken ?? randomUUID(),
    'x-twilio-signature': getExpectedTwilioSignature(options.authToken ?? authToken, url, params),
    ...options.headers,
  };
  const send = new URL(url).protocol === 'https:' ? httpsRequest : httpRequest;
  const timeoutMs = options.timeoutMs ?? TWILIO_WEBHOOK_TIMEOUT_MS;
  return new Promise((resolve, reject) => {
    const req = send(url, { method: 'POST', headers, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.on('error', reject);
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer from ${url} within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(body);
  });
}
