import '../../../helpers/setup-env';
import { formatPhoneNumber, maskPhoneNumber } from '../../../../lambda/transfer/phone-numbers';
import {
  CallbackValidationError,
  parseDuration,
  parseRecordingCallback,
  parseRecordingJob,
  parseStartTime,
} from '../../../../lambda/shared/job/recording-job';
import { isRetryableStatus } from '../../../../lambda/shared/twilio/rest-api';
import { parseForm, staticTokens, validateTwilioSignature } from '../../../../lambda/shared/twilio/signature';
import {
  formBody,
  minimalCallbackParams,
  newCallSid,
  recordingCallbackParams,
  TEST_ACCOUNT_SID,
  TEST_AUTH_TOKEN,
  TEST_AUTH_TOKEN_SECONDARY,
  twilioSignature,
} from '../../../helpers/twilio-fixtures';

const URL = 'https://abc123.execute-api.us-east-1.amazonaws.com/twilio/recording';
const tokens = { primary: TEST_AUTH_TOKEN, secondary: TEST_AUTH_TOKEN_SECONDARY };
const receivedAt = new Date('2024-07-22T17:05:00.000Z');

describe('validateTwilioSignature', () => {
  const params = recordingCallbackParams();

  it('accepts a signature made with the primary token', () => {
    expect(validateTwilioSignature(tokens, twilioSignature(TEST_AUTH_TOKEN, URL, params), URL, params)).toBe(true);
  });

  it('accepts a signature made with the secondary token while rotating', () => {
    const signature = twilioSignature(TEST_AUTH_TOKEN_SECONDARY, URL, params);

    expect(validateTwilioSignature(tokens, signature, URL, params)).toBe(true);
  });

  it('rejects a signature made with the secondary token once no secondary is configured', () => {
    const signature = twilioSignature(TEST_AUTH_TOKEN_SECONDARY, URL, params);

    expect(validateTwilioSignature({ primary: TEST_AUTH_TOKEN }, signature, URL, params)).toBe(false);
  });

  it('rejects a signature made with another token', () => {
    expect(validateTwilioSignature(tokens, twilioSignature('someone-else', URL, params), URL, params)).toBe(false);
  });

  it.each([undefined, ''])('rejects a missing signature (%p)', (signature) => {
    expect(validateTwilioSignature(tokens, signature, URL, params)).toBe(false);
  });

  it('rejects a signature when one parameter was tampered with', () => {
    const signature = twilioSignature(TEST_AUTH_TOKEN, URL, params);

    expect(validateTwilioSignature(tokens, signature, URL, { ...params, RecordingDuration: '4200' })).toBe(false);
  });

  it('rejects a signature when a parameter was added', () => {
    const signature = twilioSignature(TEST_AUTH_TOKEN, URL, params);

    expect(validateTwilioSignature(tokens, signature, URL, { ...params, Extra: 'x' })).toBe(false);
  });

  it('includes blank parameters in the signed data', () => {
    const withBlank = { ...params, RecordingTrack: '' };
    const signature = twilioSignature(TEST_AUTH_TOKEN, URL, withBlank);

    expect(validateTwilioSignature(tokens, signature, URL, parseForm(formBody(withBlank)))).toBe(true);
    expect(validateTwilioSignature(tokens, signature, URL, params)).toBe(false);
  });

  it('signs the query string as part of the URL', () => {
    const url = `${URL}?tenant=acme&x=%2F`;
    const signature = twilioSignature(TEST_AUTH_TOKEN, url, params);

    expect(validateTwilioSignature(tokens, signature, url, params)).toBe(true);
    expect(validateTwilioSignature(tokens, signature, URL, params)).toBe(false);
  });

  it('signs the stage path as part of the URL', () => {
    const staged = 'https://abc123.execute-api.us-east-1.amazonaws.com/prod/twilio/recording';
    const signature = twilioSignature(TEST_AUTH_TOKEN, staged, params);

    expect(validateTwilioSignature(tokens, signature, staged, params)).toBe(true);
    expect(validateTwilioSignature(tokens, signature, URL, params)).toBe(false);
  });

  it('accepts a signature over the URL with the explicit :443 port', () => {
    const withPort = 'https://abc123.execute-api.us-east-1.amazonaws.com:443/twilio/recording';
    const signature = twilioSignature(TEST_AUTH_TOKEN, withPort, params);

    expect(validateTwilioSignature(tokens, signature, URL, params)).toBe(true);
  });

  it('covers every value of a repeated parameter', () => {
    const repeated = { ...params, Tag: ['b', 'a'] };
    const signature = twilioSignature(TEST_AUTH_TOKEN, URL, repeated);
    const parsed = parseForm(formBody(repeated));

    expect(parsed.Tag).toEqual(['b', 'a']);
    expect(validateTwilioSignature(tokens, signature, URL, parsed)).toBe(true);
    expect(validateTwilioSignature(tokens, signature, URL, { ...parsed, Tag: 'a' })).toBe(false);
  });

  it.each(['constructor', 'toString', 'hasOwnProperty', '__proto__'])(
    'treats a parameter named %s like any other, so its signature still validates',
    (name) => {
      const withOdd = { ...params, [name]: 'x' };
      const body = `${formBody(params)}&${encodeURIComponent(name)}=x`;
      const signature = twilioSignature(TEST_AUTH_TOKEN, URL, Object.fromEntries(Object.entries(withOdd)));
      const parsed = parseForm(body);

      expect(Object.keys(parsed)).toContain(name);
      expect(parsed[name]).toBe('x');
      expect(validateTwilioSignature(tokens, signature, URL, parsed)).toBe(true);
    },
  );

  it('answers false rather than throwing when the URL does not parse', () => {
    const signature = twilioSignature(TEST_AUTH_TOKEN, URL, params);

    expect(validateTwilioSignature(tokens, signature, 'not a url', params)).toBe(false);
  });

  it('gets the same tokens from a static token source every time', async () => {
    const source = staticTokens('p', '');

    await expect(source()).resolves.toEqual({ primary: 'p', secondary: undefined });
    await expect(source({ refresh: true })).resolves.toEqual({ primary: 'p', secondary: undefined });
  });
});

describe('parseForm', () => {
  it('keeps blank and repeated parameters and decodes + and %XX', () => {
    expect(parseForm('A=1&B=&C=x+y&C=%2Fz&D')).toEqual({ A: '1', B: '', C: ['x y', '/z'], D: '' });
  });
});

describe('parseRecordingCallback', () => {
  it('accepts a minimal payload with only the four required fields', () => {
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
      startedAt: receivedAt.toISOString(),
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

  it('drops channel counts other than 1 or 2', () => {
    expect(
      parseRecordingCallback(recordingCallbackParams({ extra: { RecordingChannels: '3' } }), receivedAt).channels,
    ).toBeUndefined();
    expect(
      parseRecordingCallback(recordingCallbackParams({ extra: { RecordingChannels: '1' } }), receivedAt).channels,
    ).toBe(1);
  });

  it('falls back to the arrival time when the start time does not parse', () => {
    const job = parseRecordingCallback(
      recordingCallbackParams({ extra: { RecordingStartTime: 'yesterday' } }),
      receivedAt,
    );

    expect(job.startedAt).toBe(receivedAt.toISOString());
  });

  it('notes a start time that does not parse when it falls back to the arrival time', () => {
    const job = parseRecordingCallback(
      recordingCallbackParams({ extra: { RecordingStartTime: 'yesterday' } }),
      receivedAt,
    );

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
  ])('ignores %s in favour of the arrival time, and notes it', (_case, raw) => {
    const params = recordingCallbackParams({ extra: { RecordingStartTime: raw } });

    const job = parseRecordingCallback(params, receivedAt);

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

    const job = parseRecordingCallback(recordingCallbackParams({ extra: { RecordingStartTime: raw } }), receivedAt);

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

  it('copies source, track and error code without unfit characters and at most 128 characters each', () => {
    const params = recordingCallbackParams({
      status: 'absent',
      extra: {
        RecordingSource: 'Dial\u0000Verb\ufffe',
        RecordingTrack: `\ud800${'t'.repeat(300)}`,
        ErrorCode: '16102\u0007',
      },
    });

    const job = parseRecordingCallback(params, receivedAt);

    expect(job).toMatchObject({ source: 'DialVerb', track: 't'.repeat(128), errorCode: '16102' });
  });

  it('drops an optional value made only of unfit characters', () => {
    const params = recordingCallbackParams({ extra: { RecordingSource: '\u0000\uffff\ud800', ErrorCode: '\u0001' } });

    const job = parseRecordingCallback(params, receivedAt);

    expect(job.source).toBeUndefined();
    expect(job.errorCode).toBeUndefined();
  });

  it('tolerates parameters Twilio adds without notice', () => {
    const job = parseRecordingCallback(
      recordingCallbackParams({ extra: { NewTwilioParam: 'x', ConferenceSid: 'CF123' } }),
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
    ['CallSid', 'CallSid is required'],
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

  it('uses the first value of a repeated parameter', () => {
    const callSid = newCallSid();
    const params = { ...minimalCallbackParams(), CallSid: [callSid, newCallSid()] };

    expect(parseRecordingCallback(params, receivedAt).callSid).toBe(callSid);
  });
});

describe('parseRecordingJob', () => {
  const job = parseRecordingCallback(recordingCallbackParams(), receivedAt);

  it('round-trips a job the webhook queued', () => {
    expect(parseRecordingJob(JSON.stringify(job))).toEqual(job);
  });

  it('accepts a job that notes an ignored start time, and one without the note', () => {
    const noted = { ...job, startTimeIgnored: '0001' };

    expect(parseRecordingJob(JSON.stringify(noted))).toEqual(noted);
    expect(parseRecordingJob(JSON.stringify({ ...job, startTimeIgnored: undefined }))).toEqual(job);
  });

  it.each([
    ['not JSON', '{', 'job is not JSON'],
    ['null', 'null', 'job is malformed'],
    ['a number', '42', 'job is malformed'],
    ['another version', JSON.stringify({ ...job, version: 2 }), 'job is malformed'],
    ['a bad CallSid', JSON.stringify({ ...job, callSid: 'CA1' }), 'job is malformed'],
    ['a bad RecordingSid', JSON.stringify({ ...job, recordingSid: '../etc' }), 'job is malformed'],
    ['a bad AccountSid', JSON.stringify({ ...job, accountSid: 42 }), 'job is malformed'],
    ['an unknown status', JSON.stringify({ ...job, status: 'done' }), 'job is malformed'],
    ['no start time', JSON.stringify({ ...job, startedAt: undefined }), 'job is malformed'],
    ['a bad start time', JSON.stringify({ ...job, startedAt: 'soon' }), 'job is malformed'],
    ['a non-string job id', JSON.stringify({ ...job, jobId: 7 }), 'job is malformed'],
    ['a non-string start time note', JSON.stringify({ ...job, startTimeIgnored: 1 }), 'job is malformed'],
  ])('rejects %s', (_case, body, message) => {
    expect(() => parseRecordingJob(body)).toThrow(new CallbackValidationError(message));
  });
});

describe('small parsers', () => {
  it('parses durations strictly', () => {
    expect(parseDuration('10')).toBe(10);
    expect(parseDuration(undefined)).toBeUndefined();
    expect(parseDuration('1.5e3x')).toBeUndefined();
  });

  it('parses RFC 2822 and ISO start times', () => {
    expect(parseStartTime('Tue, 31 Dec 2024 23:30:00 -0100')).toBe('2025-01-01T00:30:00.000Z');
    expect(parseStartTime('2024-07-22T17:00:00Z')).toBe('2024-07-22T17:00:00.000Z');
    expect(parseStartTime('')).toBeUndefined();
    expect(parseStartTime('nonsense')).toBeUndefined();
  });

  it.each([404, 408, 409, 425, 429, 500, 502, 503])('treats HTTP %i as worth retrying', (status) => {
    expect(isRetryableStatus(status)).toBe(true);
  });

  it.each([400, 401, 403, 410, 422])('treats HTTP %i as permanent', (status) => {
    expect(isRetryableStatus(status)).toBe(false);
  });
});

describe('formatPhoneNumber', () => {
  it.each([
    ['+1 (415) 555-0100', '+14155550100'],
    ['(415) 555-0100', '+14155550100'],
    ['14155550100', '+14155550100'],
    ['0044 20 7946 0958', '+442079460958'],
    ['+44 20 7946 0958', '+442079460958'],
  ])('normalises %s to %s', (raw, expected) => {
    expect(formatPhoneNumber(raw)).toBe(expected);
  });

  it('uses the given default country code for national numbers', () => {
    expect(formatPhoneNumber('2079460958', '44')).toBe('+442079460958');
  });

  it.each([undefined, '', 'client:alice', '12345', '+1234567', '+1234567890123456'])(
    'answers undefined for %p',
    (raw) => {
      expect(formatPhoneNumber(raw)).toBeUndefined();
    },
  );
});

describe('maskPhoneNumber', () => {
  it('keeps the first digit and the last two', () => {
    expect(maskPhoneNumber('+14155550100')).toBe('+1********00');
    expect(maskPhoneNumber('4155550100')).toBe('4*******00');
  });

  it('masks short numbers entirely and passes nothing through for empty input', () => {
    expect(maskPhoneNumber('1234')).toBe('****');
    expect(maskPhoneNumber(undefined)).toBeUndefined();
  });

  it('never shows the middle digits', () => {
    expect(maskPhoneNumber('+14155550100')).not.toContain('555');
  });
});
