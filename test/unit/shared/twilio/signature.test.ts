import '../../../helpers/setup-env';
import { parseForm, staticTokens, validateTwilioSignature } from '../../../../lambda/shared/twilio/signature';
import {
  formBody,
  recordingCallbackParams,
  TEST_AUTH_TOKEN,
  TEST_AUTH_TOKEN_SECONDARY,
  twilioSignature,
} from '../../../helpers/twilio-fixtures';

const URL = 'https://abc123.execute-api.us-east-1.amazonaws.com/twilio/recording';
const tokens = { primary: TEST_AUTH_TOKEN, secondary: TEST_AUTH_TOKEN_SECONDARY };

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
