import { CallbackValidationError, parseRecordingJob } from '../../../../lambda/shared/job/recording-job';
import {
  encryptionJobFields,
  MAX_ENCRYPTION_DETAILS_CHARS,
  MAX_INVALID_RAW_CHARS,
  parseEncryptionDetailsField,
  parseEncryptionDetailsParam,
  toTwilioJson,
} from '../../../../lambda/shared/twilio/encryption-details';
import { parseRecordingCallback } from '../../../../lambda/webhook/recording-callback';
import { encryptLikeTwilio, generateRecordingKeyPair } from '../../../../lib/simulated-twilio';
import { recordingCallbackParams } from '../../../helpers/twilio-fixtures';

const keys = generateRecordingKeyPair();
const { details } = encryptLikeTwilio(Buffer.from('RIFF audio'), keys);
const twilioJson = toTwilioJson(details);
const receivedAt = new Date('2024-07-22T17:05:00.000Z');

describe('EncryptionDetails as the callback posts them (a JSON string)', () => {
  it('reads Twilio snake_case details into the vault camelCase ones', () => {
    const parsed = parseEncryptionDetailsParam(JSON.stringify(twilioJson));

    expect(parsed).toEqual({ kind: 'valid', details });
    expect(details).toEqual({
      type: 'rsa-aes',
      publicKeySid: keys.publicKeySid,
      encryptedCek: expect.stringMatching(/^[A-Za-z0-9+/]{342}==$/),
      iv: expect.stringMatching(/^[A-Za-z0-9+/]{16}$/),
    });
  });

  it.each([undefined, '', 'null'])('treats %p as a recording that is not encrypted', (raw) => {
    expect(parseEncryptionDetailsParam(raw)).toEqual({ kind: 'none' });
  });

  it.each([
    ['not JSON', '{type: rsa-aes', /not JSON/],
    ['a JSON array', '[1,2]', /not a JSON object/],
    ['another scheme', JSON.stringify({ ...twilioJson, type: 'rsa-aes-cbc' }), /type is not rsa-aes/],
    ['a malformed key SID', JSON.stringify({ ...twilioJson, public_key_sid: 'PK123' }), /public_key_sid/],
    ['a CEK that is not base64', JSON.stringify({ ...twilioJson, encrypted_cek: 'not*base64' }), /encrypted_cek/],
    ['a CEK too short to be RSA', JSON.stringify({ ...twilioJson, encrypted_cek: 'AAAA' }), /encrypted_cek/],
    ['an IV of 4 bytes', JSON.stringify({ ...twilioJson, iv: 'AAAAAA==' }), /iv is not/],
    ['a missing IV', JSON.stringify({ ...twilioJson, iv: undefined }), /iv is not/],
    ['a numeric IV', JSON.stringify({ ...twilioJson, iv: 12 }), /iv is not/],
  ])('notes %s as unusable, saying why', (_what, raw, why) => {
    const parsed = parseEncryptionDetailsParam(raw);

    expect(parsed.kind).toBe('invalid');
    if (parsed.kind === 'invalid') expect(parsed.problem).toMatch(why);
  });

  it('bounds what it keeps of a huge or unprintable value', () => {
    const huge = parseEncryptionDetailsParam(`{"type":"${'x'.repeat(MAX_ENCRYPTION_DETAILS_CHARS)}"}`);
    const odd = parseEncryptionDetailsParam('\u0000\uffff{💥');

    expect(huge).toEqual({
      kind: 'invalid',
      problem: expect.stringMatching(/longer than 4096/),
      raw: expect.any(String),
    });
    if (huge.kind === 'invalid') expect(huge.raw.length).toBeLessThanOrEqual(MAX_INVALID_RAW_CHARS + 1);
    expect(odd).toEqual({ kind: 'invalid', problem: 'not JSON', raw: expect.stringMatching(/^[\x20-\x7e]+$/) });
  });
});

describe('encryption_details as the recording list renders them (an object or null)', () => {
  it('reads an object, and null as not encrypted', () => {
    expect(parseEncryptionDetailsField(twilioJson)).toEqual({ kind: 'valid', details });
    expect(parseEncryptionDetailsField(null)).toEqual({ kind: 'none' });
    expect(parseEncryptionDetailsField(undefined)).toEqual({ kind: 'none' });
  });

  it('notes an object that is not usable', () => {
    expect(parseEncryptionDetailsField({ type: 'rsa-aes' })).toMatchObject({ kind: 'invalid' });
    expect(parseEncryptionDetailsField(42)).toMatchObject({ kind: 'invalid', problem: 'not a JSON object' });
  });
});

describe('the callback and the job', () => {
  it('puts valid details on the job the webhook queues, and the queue reads them back', () => {
    const params = { ...recordingCallbackParams(), EncryptionDetails: JSON.stringify(twilioJson) };

    const job = parseRecordingCallback(params, receivedAt, 'job-1');

    expect(job.encryption).toEqual(details);
    expect(job.encryptionIgnored).toBeUndefined();
    expect(parseRecordingJob(JSON.stringify(job))).toEqual(job);
  });

  it('accepts a callback whose details are unusable, with a note of why instead of the details', () => {
    const params = { ...recordingCallbackParams(), EncryptionDetails: '{"type":"rsa-aes"}' };

    const job = parseRecordingCallback(params, receivedAt, 'job-1');

    expect(job.encryption).toBeUndefined();
    expect(job.encryptionIgnored).toMatch(/^public_key_sid .*: \{"type":"rsa-aes"\}$/);
    expect(parseRecordingJob(JSON.stringify(job))).toEqual(job);
  });

  it('refuses a queued job whose details are malformed (a poison message fails loudly)', () => {
    const params = recordingCallbackParams();
    const job = { ...parseRecordingCallback(params, receivedAt), encryption: { ...details, iv: 'short' } };

    expect(() => parseRecordingJob(JSON.stringify(job))).toThrow(CallbackValidationError);
  });

  it('gives a job no encryption fields for a plain recording', () => {
    expect(encryptionJobFields({ kind: 'none' })).toEqual({});
  });
});
