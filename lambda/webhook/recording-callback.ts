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
import { SID } from '../shared/twilio/sids';
import type { FormParams } from '../shared/twilio/signature';

function single(params: FormParams, name: string): string | undefined {
  const value = params[name];
  const first = Array.isArray(value) ? value[0] : value;
  const trimmed = first?.trim();
  return trimmed ? trimmed : undefined;
}

/**
 * Validates a recording status callback. Required: AccountSid, RecordingSid, RecordingStatus,
 * and CallSid or ConferenceSid (a conference recording may carry no CallSid), with well-formed
 * SIDs. Unknown parameters are tolerated (Twilio adds parameters without notice); optional ones
 * that do not parse are dropped, not fatal.
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
  if (problems.length > 0) throw new CallbackValidationError(problems.join('; '));

  const rawStartTime = single(params, 'RecordingStartTime');
  const startedAt = plausibleStartTime(rawStartTime, receivedAt);
  const channels = parseDuration(single(params, 'RecordingChannels'));
  const errorCode = boundedText(single(params, 'ErrorCode'), MAX_OPTIONAL_CHARS);
  return {
    version: 1,
    jobId,
    accountSid,
    callSid,
    conferenceSid,
    recordingSid,
    status: status as RecordingStatus,
    durationSeconds: parseDuration(single(params, 'RecordingDuration')),
    channels: channels === 1 || channels === 2 ? channels : undefined,
    startedAt: startedAt ?? receivedAt.toISOString(),
    startTimeIgnored: startedAt ? undefined : boundedText(rawStartTime, MAX_IGNORED_START_CHARS),
    source: boundedText(single(params, 'RecordingSource'), MAX_OPTIONAL_CHARS),
    track: boundedText(single(params, 'RecordingTrack'), MAX_OPTIONAL_CHARS),
    errorCode: errorCode && errorCode !== '0' ? errorCode : undefined,
    receivedAt: receivedAt.toISOString(),
  };
}

/**
 * The call or the conference recorded. A conference recording names its conference and may name
 * no call, so one of the two is enough. Beside a CallSid, a ConferenceSid is optional and dropped
 * when malformed (as before it was read at all); alone, it must be well formed.
 */
function callOrConference(
  params: FormParams,
  problems: string[],
): { callSid: string | undefined; conferenceSid: string | undefined } {
  const callSid = single(params, 'CallSid');
  const conferenceSid = single(params, 'ConferenceSid');
  const conferenceValid = conferenceSid !== undefined && SID.ConferenceSid.test(conferenceSid);
  if (callSid !== undefined) {
    if (!SID.CallSid.test(callSid)) problems.push('CallSid is malformed');
    return { callSid, conferenceSid: conferenceValid ? conferenceSid : undefined };
  }
  if (conferenceSid === undefined) problems.push('CallSid or ConferenceSid is required');
  else if (!conferenceValid) problems.push('ConferenceSid is malformed');
  return { callSid: undefined, conferenceSid };
}
