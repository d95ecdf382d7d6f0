import '../../../helpers/setup-env';
import {
  CallbackValidationError,
  parseDuration,
  parseRecordingJob,
  parseStartTime,
} from '../../../../lambda/shared/job/recording-job';
import { parseRecordingCallback } from '../../../../lambda/webhook/recording-callback';

import { recordingCallbackParams } from '../../../helpers/twilio-fixtures';

const receivedAt = new Date('2024-07-22T17:05:00.000Z');

describe('parseRecordingJob', () => {
  const job = parseRecordingCallback(recordingCallbackParams(), receivedAt);

  it('round-trips a job the webhook queued', () => {
    expect(parseRecordingJob(JSON.stringify(job))).toEqual(job);
  });

  it('accepts a conference recording job with a ConferenceSid and no CallSid', () => {
    const conference = { ...job, callSid: undefined, conferenceSid: `CF${'1'.repeat(32)}` };

    expect(parseRecordingJob(JSON.stringify(conference))).toEqual(conference);
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
    ['neither CallSid nor ConferenceSid', JSON.stringify({ ...job, callSid: undefined }), 'job is malformed'],
    ['a bad ConferenceSid', JSON.stringify({ ...job, conferenceSid: 'CF1' }), 'job is malformed'],
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
});
