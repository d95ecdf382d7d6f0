import { ConfigError, loadWebhookConfig } from '../../../../lambda/shared/config/function-config';
import { loadLocalConfig } from '../../../../lib/local/config';

const PARENT = `AC${'0'.repeat(32)}`;
const SUB_A = `AC${'a'.repeat(32)}`;
const SUB_B = `AC${'b'.repeat(32)}`;
const webhookEnv = {
  TWILIO_ACCOUNT_SID: PARENT,
  TWILIO_SECRET_ARN: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:twilio-AbCdEf',
  TRANSFER_QUEUE_URL: 'https://sqs.us-east-1.amazonaws.com/123456789012/recording-transfer',
};

function problemsOf(fn: () => unknown): readonly string[] {
  try {
    fn();
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('function environment', () => {
  it('reads the subaccounts and the connection-override fragment', () => {
    const config = loadWebhookConfig({
      ...webhookEnv,
      TWILIO_SUBACCOUNT_SIDS: ` ${SUB_A}, ${SUB_B} `,
      WEBHOOK_CONNECTION_OVERRIDES: 'rc=3&rp=all',
    });

    expect(config.subaccountSids).toEqual([SUB_A, SUB_B]);
    expect(config.connectionOverrides).toBe('rc=3&rp=all');
  });

  it('names every problem with them', () => {
    expect(
      problemsOf(() =>
        loadWebhookConfig({
          ...webhookEnv,
          TWILIO_SUBACCOUNT_SIDS: `${PARENT},AC12,${SUB_A},${SUB_A}`,
          WEBHOOK_CONNECTION_OVERRIDES: 'rc=10',
        }),
      ),
    ).toEqual([
      'TWILIO_SUBACCOUNT_SIDS must list AccountSids (AC followed by 32 hex characters)',
      'TWILIO_SUBACCOUNT_SIDS must not list TWILIO_ACCOUNT_SID',
      'TWILIO_SUBACCOUNT_SIDS names an account twice',
      'WEBHOOK_CONNECTION_OVERRIDES has a bad value for rc ("rc=10")',
    ]);
  });
});

describe('local stack', () => {
  const localEnv = { TWILIO_ACCOUNT_SID: PARENT, TWILIO_AUTH_TOKEN: 'parent-token', LOCAL_API_TOKEN: 't' };

  it('reads TWILIO_SUBACCOUNTS beside TWILIO_ACCOUNT_SID, and a region as the API host', () => {
    const config = loadLocalConfig({
      ...localEnv,
      TWILIO_SUBACCOUNTS: `${SUB_A}:token-a,${SUB_B}:token-b`,
      TWILIO_REGION: 'ie1',
    });

    expect(config.subaccounts).toEqual([
      { accountSid: SUB_A, authToken: 'token-a' },
      { accountSid: SUB_B, authToken: 'token-b' },
    ]);
    expect(config.twilioApiBaseUrl).toBe('https://api.dublin.ie1.twilio.com');
  });

  it('names every problem with the accounts and the region', () => {
    expect(
      problemsOf(() =>
        loadLocalConfig({
          ...localEnv,
          TWILIO_SUBACCOUNTS: `${PARENT}:x`,
          TWILIO_REGION: 'ie1',
          TWILIO_API_BASE_URL: 'http://127.0.0.1:9',
        }),
      ),
    ).toEqual([
      'TWILIO_SUBACCOUNTS must not name TWILIO_ACCOUNT_SID',
      'TWILIO_REGION cannot be combined with TWILIO_API_BASE_URL',
    ]);
    expect(problemsOf(() => loadLocalConfig({ ...localEnv, TWILIO_REGION: 'xx1', TWILIO_EDGE: 'dublin' }))).toEqual([
      expect.stringMatching(/^TWILIO_REGION must be one of us1, /),
    ]);
    expect(problemsOf(() => loadLocalConfig({ ...localEnv, TWILIO_EDGE: 'dublin' }))).toEqual([
      'TWILIO_EDGE requires TWILIO_REGION',
    ]);
  });
});
