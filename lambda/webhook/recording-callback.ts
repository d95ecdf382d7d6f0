/** Twilio's recording status callback, validated into the job the webhook queues. */
import {
  boundedText,
  CallbackValidationError,
  MAX_IGNORED_START_CHARS,
  MAX_OPTIONAL_CHARS,
  parseDuration,
  plausibleStartTime,
  RECORDING_STATUSES,
  type RecordingJob,
  type RecordingStatus,
} from '../shared/job/recording-job';
import { encryptionJobFields, parseEncryptionDetailsParam } from '../shared/twilio/encryption-details';
import { SID } from '../shared/twilio/sids';
import type { FormParams } from '../shared/twilio/signature';
import { DIGITS, isOneOf, RECORDING_CHANNELS, RECORDING_SOURCES, RECORDING_TRACKS } from './callback-values';

function single(params: FormParams, name: string): string | undefined {
  const value = params[name];
  const first = Array.isArray(value) ? value[0] : value;
  const trimmed = first?.trim();
  return trimmed ? trimmed : undefined;
}

/**
 * Validates a recording status callback. Required: AccountSid, RecordingSid, RecordingStatus,
 * CallSid or ConferenceSid (a conference recording may carry no CallSid), with well-formed SIDs,
 * and for `completed` a RecordingStartTime that parses (it places the object). RecordingSource,
 * RecordingTrack, RecordingChannels and ErrorCode, when sent, must hold Twilio's own values: the
 * signature leaves the boundary between a name and the next unsigned, and an enumerated value is
 * what gives a re-split away (./callback-values.ts). Unknown parameters are tolerated (Twilio
 * adds parameters without notice); a duration that does not parse is dropped, not fatal.
 */
export function parseRecordingCallback(params: FormParams, receivedAt: Date, jobId?: string): RecordingJob {
  const problems: string[] = [];
  const sid = (name: 'AccountSid' | 'RecordingSid'): string | undefined => {
    const value = single(params, name);
    if (!value) problems.push(`${name} is required`);
    else if (!SID[name].test(value)) problems.push(`${name} is malformed`);
    return value;
  };
  const accountSid = sid('AccountSid') ?? '';
  const { callSid, conferenceSid } = callOrConference(params, problems);
  const recordingSid = sid('RecordingSid') ?? '';
  const status = single(params, 'RecordingStatus');
  if (!status) problems.push('RecordingStatus is required');
  else if (!(RECORDING_STATUSES as readonly string[]).includes(status))
    problems.push('RecordingStatus is not recognised');
  const enumerated = (name: string, values: readonly string[]): string | undefined => {
    const value = single(params, name);
    if (value !== undefined && !isOneOf(values, value)) problems.push(`${name} is not one of Twilio's values`);
    return value;
  };
  const source = enumerated('RecordingSource', RECORDING_SOURCES);
  const track = enumerated('RecordingTrack', RECORDING_TRACKS);
  const channels = enumerated('RecordingChannels', RECORDING_CHANNELS);
  const rawErrorCode = single(params, 'ErrorCode');
  if (rawErrorCode !== undefined && !DIGITS.test(rawErrorCode)) problems.push('ErrorCode is not a number');
  const rawStartTime = single(params, 'RecordingStartTime');
  const startedAt = plausibleStartTime(rawStartTime, receivedAt);
  // The start time picks the object's key: a completed recording without a real one is not taken.
  if (status === 'completed' && !startedAt) {
    problems.push(
      rawStartTime ? 'RecordingStartTime is not a plausible RFC 2822 time' : 'RecordingStartTime is required',
    );
  }
  if (problems.length > 0) throw new CallbackValidationError(problems.join('; '));

  const errorCode = boundedText(rawErrorCode, MAX_OPTIONAL_CHARS);
  return {
    version: 1,
    jobId,
    accountSid,
    callSid,
    conferenceSid,
    recordingSid,
    status: status as RecordingStatus,
    durationSeconds: parseDuration(single(params, 'RecordingDuration')),
    channels: channels === undefined ? undefined : Number(channels),
    startedAt: startedAt ?? receivedAt.toISOString(),
    startTimeIgnored: startedAt ? undefined : boundedText(rawStartTime, MAX_IGNORED_START_CHARS),
    source,
    track,
    errorCode: errorCode && errorCode !== '0' ? errorCode : undefined,
    ...encryptionJobFields(parseEncryptionDetailsParam(single(params, 'EncryptionDetails'))),
    receivedAt: receivedAt.toISOString(),
  };
}

/**
 * The call or the conference recorded. A conference recording names its conference and may name
 * no call, so one of the two is enough; whichever is sent must be well formed (a malformed SID is
 * not Twilio's, or hides a re-split of the signed parameters).
 */
function callOrConference(
  params: FormParams,
  problems: string[],
): { callSid: string | undefined; conferenceSid: string | undefined } {
  const callSid = single(params, 'CallSid');
  const conferenceSid = single(params, 'ConferenceSid');
  if (callSid === undefined && conferenceSid === undefined) problems.push('CallSid or ConferenceSid is required');
  if (callSid !== undefined && !SID.CallSid.test(callSid)) problems.push('CallSid is malformed');
  if (conferenceSid !== undefined && !SID.ConferenceSid.test(conferenceSid))
    problems.push('ConferenceSid is malformed');
  return { callSid, conferenceSid };
}
