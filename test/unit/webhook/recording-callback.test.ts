import '../../helpers/setup-env';
import { CallbackValidationError } from '../../../lambda/shared/job/recording-job';
import { parseRecordingCallback } from '../../../lambda/webhook/recording-callback';
import {
  minimalCallbackParams,
  newCallSid,
  recordingCallbackParams,
  TEST_ACCOUNT_SID,
} from '../../helpers/twilio-fixtures';

const receivedAt = new Date('2024-07-22T17:05:00.000Z');

describe('parseRecordingCallback', () => {
  it('accepts a minimal completed payload: the four required fields and its start time', () => {
    const params = minimalCallbackParams();

    const job = parseRecordingCallback(params, receivedAt);

    expect(job).toEqual({
      version: 1,
      accountSid: params.AccountSid,
      callSid: params.CallSid,
      recordingSid: params.RecordingSid,
      status: 'completed',
      durationSeconds: undefined,
      channels: undefined,
      startedAt: '2024-07-22T17:00:00.000Z',
      source: undefined,
      track: undefined,
      errorCode: undefined,
      receivedAt: receivedAt.toISOString(),
    });
  });

  it('maps a full payload, RFC 2822 start time to ISO-8601', () => {
    const params = recordingCallbackParams();

    const job = parseRecordingCallback(params, receivedAt);

    expect(job).toEqual({
      version: 1,
      accountSid: TEST_ACCOUNT_SID,
      callSid: params.CallSid,
      recordingSid: params.RecordingSid,
      status: 'completed',
      durationSeconds: 42,
      channels: 2,
      startedAt: '2024-07-22T17:00:00.000Z',
      source: 'DialVerb',
      track: 'both',
      errorCode: undefined,
      receivedAt: receivedAt.toISOString(),
    });
  });

  it.each([
    ['0', 0],
    ['7', 7],
    ['3600', 3600],
    [' 15 ', 15],
  ])('parses a duration of "%s" seconds', (raw, expected) => {
    const job = parseRecordingCallback(recordingCallbackParams({ extra: { RecordingDuration: raw } }), receivedAt);

    expect(job.durationSeconds).toBe(expected);
  });

  it.each(['abc', '', '-1', '1.5', '12s', '99999999999999999999'])('drops a non-numeric duration "%s"', (raw) => {
    const job = parseRecordingCallback(recordingCallbackParams({ extra: { RecordingDuration: raw } }), receivedAt);

    expect(job.durationSeconds).toBeUndefined();
    expect(job.status).toBe('completed');
  });

  it.each(['3', '0', '2RecordingDuration42', 'two'])('refuses a channel count of "%s"', (raw) => {
    expect(() =>
      parseRecordingCallback(recordingCallbackParams({ extra: { RecordingChannels: raw } }), receivedAt),
    ).toThrow(new CallbackValidationError("RecordingChannels is not one of Twilio's values"));
  });

  it('takes a channel count of 1 or 2', () => {
    expect(
      parseRecordingCallback(recordingCallbackParams({ extra: { RecordingChannels: '2' } }), receivedAt).channels,
    ).toBe(2);
    expect(
      parseRecordingCallback(recordingCallbackParams({ extra: { RecordingChannels: '1' } }), receivedAt).channels,
    ).toBe(1);
  });

  it('refuses a completed callback whose start time does not parse', () => {
    expect(() =>
      parseRecordingCallback(recordingCallbackParams({ extra: { RecordingStartTime: 'yesterday' } }), receivedAt),
    ).toThrow(new CallbackValidationError('RecordingStartTime is not a plausible RFC 2822 time'));
  });

  it('refuses a completed callback without a start time', () => {
    expect(() =>
      parseRecordingCallback(recordingCallbackParams({ extra: { RecordingStartTime: undefined } }), receivedAt),
    ).toThrow(new CallbackValidationError('RecordingStartTime is required'));
  });

  it("falls back to the arrival time, and notes it, when an absent recording's start time does not parse", () => {
    const job = parseRecordingCallback(
      recordingCallbackParams({ status: 'absent', extra: { RecordingStartTime: 'yesterday', ErrorCode: '16101' } }),
      receivedAt,
    );

    expect(job.startedAt).toBe(receivedAt.toISOString());
    expect(job.startTimeIgnored).toBe('yesterday');
  });

  it.each([
    ['year 275760 (RFC 2822)', 'Sat, 13 Sep 275760 00:00:00 +0000'],
    ['year 275760 (ISO)', '+275760-09-13T00:00:00.000Z'],
    ['year -1', '-000001-01-01T00:00:00Z'],
    ['year 0001 alone', '0001'],
    ['year 0001, which Date.parse reads as 2001', 'Mon, 22 Jul 0001 17:00:00 +0000'],
    ['a time before 2008', 'Mon, 31 Dec 2007 23:59:59 +0000'],
    ['a time more than a day ahead of arrival', 'Tue, 23 Jul 2024 17:05:01 +0000'],
    ['a two-digit year', 'Mon, 22 Jul 24 17:00:00 +0000'],
  ])('refuses a completed callback with %s as its start time; an absent one falls back and notes it', (_case, raw) => {
    const completed = recordingCallbackParams({ extra: { RecordingStartTime: raw } });
    const absent = recordingCallbackParams({ status: 'absent', extra: { RecordingStartTime: raw } });

    expect(() => parseRecordingCallback(completed, receivedAt)).toThrow(CallbackValidationError);
    const job = parseRecordingCallback(absent, receivedAt);
    expect(job.startedAt).toBe(receivedAt.toISOString());
    expect(job.startTimeIgnored).toBe(raw);
  });

  it.each([
    ['the first moment of 2008', 'Tue, 01 Jan 2008 00:00:00 +0000', '2008-01-01T00:00:00.000Z'],
    ['exactly a day ahead of arrival', 'Tue, 23 Jul 2024 17:05:00 +0000', '2024-07-23T17:05:00.000Z'],
  ])('keeps a start time at the edge of the plausible window: %s', (_case, raw, expected) => {
    const job = parseRecordingCallback(recordingCallbackParams({ extra: { RecordingStartTime: raw } }), receivedAt);

    expect(job.startedAt).toBe(expected);
    expect(job.startTimeIgnored).toBeUndefined();
  });

  it('keeps a start time whose UTC year differs from the year written in its own zone', () => {
    const arrival = new Date('2025-01-01T00:40:00.000Z');
    const params = recordingCallbackParams({ extra: { RecordingStartTime: 'Tue, 31 Dec 2024 23:30:00 -0100' } });

    const job = parseRecordingCallback(params, arrival);

    expect(job.startedAt).toBe('2025-01-01T00:30:00.000Z');
    expect(job.startTimeIgnored).toBeUndefined();
  });

  it('keeps at most 64 characters of an ignored start time', () => {
    const raw = `9${'x'.repeat(500)}`;

    const job = parseRecordingCallback(
      recordingCallbackParams({ status: 'absent', extra: { RecordingStartTime: raw } }),
      receivedAt,
    );

    expect(job.startTimeIgnored).toBe(raw.slice(0, 64));
  });

  it('drops ErrorCode 0 and keeps a real error code', () => {
    expect(parseRecordingCallback(recordingCallbackParams(), receivedAt).errorCode).toBeUndefined();
    const absent = parseRecordingCallback(
      recordingCallbackParams({ status: 'absent', extra: { ErrorCode: '16102' } }),
      receivedAt,
    );
    expect(absent).toMatchObject({ status: 'absent', errorCode: '16102' });
  });

  it.each([
    ['RecordingSource', 'DialVerbRecordingStartTimeMon, 22 Jul 2024 17:00:00 +0000'],
    ['RecordingSource', 'dialverb'],
    ['RecordingSource', 'Dial\u0000Verb'],
    ['RecordingTrack', 'bothRecordingUrlhttps://evil.example'],
    ['RecordingTrack', 't'.repeat(300)],
  ])("refuses a %s outside Twilio's values (%s)", (name, value) => {
    expect(() => parseRecordingCallback(recordingCallbackParams({ extra: { [name]: value } }), receivedAt)).toThrow(
      new CallbackValidationError(`${name} is not one of Twilio's values`),
    );
  });

  it.each(['0RecordingChannels2', '16102\u0007', 'none'])('refuses an ErrorCode that is not a number (%s)', (raw) => {
    expect(() => parseRecordingCallback(recordingCallbackParams({ extra: { ErrorCode: raw } }), receivedAt)).toThrow(
      new CallbackValidationError('ErrorCode is not a number'),
    );
  });

  it.each([
    'DialVerb',
    'Conference',
    'OutboundAPI',
    'Trunking',
    'RecordVerb',
    'StartCallRecordingAPI',
    'StartConferenceRecordingAPI',
  ])('takes the source %s', (source) => {
    const job = parseRecordingCallback(recordingCallbackParams({ extra: { RecordingSource: source } }), receivedAt);

    expect(job.source).toBe(source);
  });

  it.each(['inbound', 'outbound', 'both'])('takes the track %s', (track) => {
    const job = parseRecordingCallback(recordingCallbackParams({ extra: { RecordingTrack: track } }), receivedAt);

    expect(job.track).toBe(track);
  });

  it('takes a blank enumerated value as not sent', () => {
    const job = parseRecordingCallback(
      recordingCallbackParams({ extra: { RecordingSource: '', RecordingTrack: ' ', RecordingChannels: '' } }),
      receivedAt,
    );

    expect(job).toMatchObject({ source: undefined, track: undefined, channels: undefined });
  });

  it('tolerates parameters Twilio adds without notice', () => {
    const job = parseRecordingCallback(
      recordingCallbackParams({ extra: { NewTwilioParam: 'x', QueueSid: 'QU123' } }),
      receivedAt,
    );

    expect(job.status).toBe('completed');
    expect(job).not.toHaveProperty('NewTwilioParam');
  });

  it.each(['in-progress', 'completed', 'absent', 'failed'])('accepts the status "%s"', (status) => {
    expect(parseRecordingCallback(minimalCallbackParams({ status }), receivedAt).status).toBe(status);
  });

  it.each([
    ['AccountSid', 'AccountSid is required'],
    ['CallSid', 'CallSid or ConferenceSid is required'],
    ['RecordingSid', 'RecordingSid is required'],
    ['RecordingStatus', 'RecordingStatus is required'],
  ])('rejects a callback without %s', (name, message) => {
    const params: Record<string, string> = minimalCallbackParams();
    delete params[name];

    expect(() => parseRecordingCallback(params, receivedAt)).toThrow(new CallbackValidationError(message));
  });

  it.each([
    ['AccountSid', `CA${'0'.repeat(32)}`],
    ['CallSid', 'CA123'],
    ['RecordingSid', `RE${'g'.repeat(32)}`],
    ['RecordingSid', `RE${'0'.repeat(32)}/../x`],
  ])('rejects a malformed %s (%s)', (name, value) => {
    const params = { ...minimalCallbackParams(), [name]: value };

    expect(() => parseRecordingCallback(params, receivedAt)).toThrow(`${name} is malformed`);
  });

  it('rejects an unknown status', () => {
    expect(() => parseRecordingCallback(minimalCallbackParams({ status: 'done' }), receivedAt)).toThrow(
      'RecordingStatus is not recognised',
    );
  });

  it('names every problem at once', () => {
    expect(() => parseRecordingCallback({ CallSid: 'x', RecordingStatus: 'done' }, receivedAt)).toThrow(
      'AccountSid is required; CallSid is malformed; RecordingSid is required; RecordingStatus is not recognised',
    );
  });

  it('accepts a conference recording that names its ConferenceSid and no CallSid', () => {
    const conferenceSid = `CF${'0123456789abcdef'.repeat(2)}`;
    const params = recordingCallbackParams({ extra: { CallSid: undefined, ConferenceSid: conferenceSid } });

    const job = parseRecordingCallback(params, receivedAt);

    expect(job.conferenceSid).toBe(conferenceSid);
    expect(job.callSid).toBeUndefined();
    expect(job.recordingSid).toBe(params.RecordingSid);
  });

  it('keeps both SIDs of a conference recording that names its call too', () => {
    const conferenceSid = `CF${'f'.repeat(32)}`;
    const params = recordingCallbackParams({ extra: { ConferenceSid: conferenceSid } });

    const job = parseRecordingCallback(params, receivedAt);

    expect(job).toMatchObject({ callSid: params.CallSid, conferenceSid });
  });

  it('rejects a callback with neither CallSid nor ConferenceSid', () => {
    const params: Record<string, string> = minimalCallbackParams();
    delete params.CallSid;

    expect(() => parseRecordingCallback(params, receivedAt)).toThrow(
      new CallbackValidationError('CallSid or ConferenceSid is required'),
    );
  });

  it('rejects a malformed ConferenceSid when it is the only call reference', () => {
    const params = recordingCallbackParams({ extra: { CallSid: undefined, ConferenceSid: `CF${'0'.repeat(31)}` } });

    expect(() => parseRecordingCallback(params, receivedAt)).toThrow('ConferenceSid is malformed');
  });

  it("rejects a malformed ConferenceSid beside a valid CallSid: it is not Twilio's", () => {
    expect(() =>
      parseRecordingCallback(recordingCallbackParams({ extra: { ConferenceSid: 'CF123' } }), receivedAt),
    ).toThrow(new CallbackValidationError('ConferenceSid is malformed'));
  });

  it('uses the first value of a repeated parameter', () => {
    const callSid = newCallSid();
    const params = { ...minimalCallbackParams(), CallSid: [callSid, newCallSid()] };

    expect(parseRecordingCallback(params, receivedAt).callSid).toBe(callSid);
  });
});
