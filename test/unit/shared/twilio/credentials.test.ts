import '../../../helpers/setup-env';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import {
  parseTwilioSecret,
  SecretNotConfiguredError,
  secretsManagerTokens,
} from '../../../../lambda/shared/twilio/credentials';

const SECRET_ID = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:twilio-AbCdEf';

describe('parseTwilioSecret', () => {
  it('reads the primary and secondary tokens from JSON', () => {
    expect(parseTwilioSecret('{"authToken":" primary ","authTokenSecondary":"secondary"}')).toEqual({
      primary: 'primary',
      secondary: 'secondary',
    });
  });

  it('leaves the secondary unset when it is absent or blank', () => {
    expect(parseTwilioSecret('{"authToken":"primary"}')).toEqual({ primary: 'primary', secondary: undefined });
    expect(parseTwilioSecret({ authToken: 'primary', authTokenSecondary: '  ' })).toEqual({
      primary: 'primary',
      secondary: undefined,
    });
  });

  it.each([
    ['an empty object', '{}'],
    ['a blank authToken', '{"authToken":"  "}'],
    ['a numeric authToken', '{"authToken":123}'],
    ['plain text', 'my-token'],
    ['an empty string', ''],
    ['null', null],
    ['undefined', undefined],
  ])('reports a secret holding %s as not configured', (_case, value) => {
    expect(() => parseTwilioSecret(value)).toThrow(SecretNotConfiguredError);
  });

  it('does not echo the secret value in the error', () => {
    expect(() => parseTwilioSecret('{"authTokn":"s3cr3t-value"}')).toThrow(/^(?!.*s3cr3t-value).*$/);
  });
});

describe('secretsManagerTokens', () => {
  const secretsManager = mockClient(SecretsManagerClient);

  beforeEach(() => {
    secretsManager.reset();
    secretsManager.on(GetSecretValueCommand, { SecretId: SECRET_ID }).resolves({
      SecretString: JSON.stringify({ authToken: 'token-1' }),
    });
  });

  afterEach(() => {
    jest.useRealTimers();
  });

  /** Fakes only the clock (Date), so that the SDK mock's promises and timers run as usual. */
  function freezeClock(at: number): (ms: number) => void {
    jest.useFakeTimers({
      now: at,
      doNotFake: [
        'nextTick',
        'setImmediate',
        'clearImmediate',
        'setTimeout',
        'clearTimeout',
        'setInterval',
        'clearInterval',
        'queueMicrotask',
        'performance',
        'hrtime',
      ],
    });
    return (ms) => jest.setSystemTime(Date.now() + ms);
  }

  afterAll(() => {
    secretsManager.restore();
  });

  it('reads the secret once and serves later calls from the cache', async () => {
    const tokens = secretsManagerTokens(SECRET_ID);

    const first = await tokens();
    const second = await tokens();

    expect(first).toEqual({ primary: 'token-1', secondary: undefined });
    expect(second).toEqual(first);
    expect(secretsManager.commandCalls(GetSecretValueCommand)).toHaveLength(1);
  });

  it('fetches again when a refresh is asked for, picking up a rotated token', async () => {
    const tokens = secretsManagerTokens(SECRET_ID);
    await tokens();
    secretsManager.on(GetSecretValueCommand).resolves({
      SecretString: JSON.stringify({ authToken: 'token-2', authTokenSecondary: 'token-1' }),
    });

    const refreshed = await tokens({ refresh: true });

    expect(refreshed).toEqual({ primary: 'token-2', secondary: 'token-1' });
    expect(secretsManager.commandCalls(GetSecretValueCommand)).toHaveLength(2);
  });

  it('rate-limits forced refreshes so a flood of bad signatures cannot hammer Secrets Manager', async () => {
    const advance = freezeClock(Date.UTC(2024, 6, 22, 17));
    const tokens = secretsManagerTokens(SECRET_ID, { minRefreshIntervalMs: 10_000 });
    await tokens();

    await tokens({ refresh: true });
    await tokens({ refresh: true });
    await tokens({ refresh: true });
    expect(secretsManager.commandCalls(GetSecretValueCommand)).toHaveLength(2);

    advance(10_000);
    await tokens({ refresh: true });
    expect(secretsManager.commandCalls(GetSecretValueCommand)).toHaveLength(3);
  });

  it('fetches again once the cache has expired', async () => {
    const advance = freezeClock(Date.UTC(2024, 6, 22, 17));
    const tokens = secretsManagerTokens(SECRET_ID, { maxAgeSeconds: 5 });
    await tokens();

    advance(6_000);
    await tokens();

    expect(secretsManager.commandCalls(GetSecretValueCommand)).toHaveLength(2);
  });

  it('reports an empty secret as not configured', async () => {
    secretsManager.on(GetSecretValueCommand).resolves({ SecretString: '{}' });

    await expect(secretsManagerTokens(SECRET_ID)()).rejects.toBeInstanceOf(SecretNotConfiguredError);
  });
});
