/** Stage options for subaccounts, Twilio regions and the connection-override fragment: parsed, validated, deployed. */
import { parseStageConfig, StageConfigError } from '../../lib/config';
import { type Json, synthStage } from './synth-stage';

const PARENT = `AC${'0'.repeat(32)}`;
const SUB_A = `AC${'a'.repeat(32)}`;
const SUB_B = `AC${'b'.repeat(32)}`;

function problemsOf(fn: () => unknown): readonly string[] {
  try {
    fn();
  } catch (e) {
    if (e instanceof StageConfigError) return e.problems;
    throw e;
  }
  throw new Error('expected a StageConfigError');
}

describe('stage options', () => {
  test('a stage without them accepts one account at api.twilio.com, with no fragment', () => {
    const c = parseStageConfig('test', { twilioAccountSid: PARENT });

    expect(c.twilioSubaccountSids).toEqual([]);
    expect(c.twilioApiBaseUrl).toBe('https://api.twilio.com');
    expect(c.twilioRegion).toBeUndefined();
    expect(c.webhookConnectionOverrides).toBeUndefined();
  });

  test('lists subaccounts besides the parent', () => {
    const c = parseStageConfig('test', { twilioAccountSid: PARENT, twilioSubaccountSids: [SUB_A, SUB_B] });

    expect(c.twilioSubaccountSids).toEqual([SUB_A, SUB_B]);
  });

  test('a region through its own edge, or through the edge named, sets the API host', () => {
    expect(parseStageConfig('t', { twilioAccountSid: PARENT, twilioRegion: 'ie1' }).twilioApiBaseUrl).toBe(
      'https://api.dublin.ie1.twilio.com',
    );
    expect(
      parseStageConfig('t', { twilioAccountSid: PARENT, twilioRegion: 'au1', twilioEdge: 'sydney' }).twilioApiBaseUrl,
    ).toBe('https://api.sydney.au1.twilio.com');
    expect(
      parseStageConfig('t', { twilioAccountSid: PARENT, twilioRegion: 'ie1', twilioEdge: 'frankfurt' })
        .twilioApiBaseUrl,
    ).toBe('https://api.frankfurt.ie1.twilio.com');
  });

  test('names every problem with these options at once', () => {
    expect(
      problemsOf(() =>
        parseStageConfig('x', {
          twilioAccountSid: PARENT,
          twilioSubaccountSids: ['AC123', SUB_A],
          twilioRegion: 'eu1',
          twilioEdge: 'paris',
          webhookConnectionOverrides: 'rc=9&zz=1',
        }),
      ),
    ).toEqual([
      'twilioSubaccountSids.0 must be a Twilio Account SID: AC followed by 32 hex characters (got "AC123")',
      expect.stringMatching(/^twilioRegion must be one of us1, us2, ie1, .* \(got "eu1"\)$/),
      expect.stringMatching(/^twilioEdge must be one of ashburn, .* \(got "paris"\)$/),
      'webhookConnectionOverrides has a bad value for rc ("rc=9")',
      expect.stringMatching(/^webhookConnectionOverrides has an unknown override "zz=1"/),
    ]);
  });

  test('refuses conflicting options, each with its reason', () => {
    expect(
      problemsOf(() =>
        parseStageConfig('x', { twilioAccountSid: PARENT, twilioSubaccountSids: [PARENT, SUB_A, SUB_A] }),
      ),
    ).toEqual(['twilioSubaccountSids must not name an account twice']);
    expect(
      problemsOf(() => parseStageConfig('x', { twilioAccountSid: PARENT, twilioSubaccountSids: [PARENT] })),
    ).toEqual(['twilioSubaccountSids must not list twilioAccountSid (the parent account is always accepted)']);
    expect(problemsOf(() => parseStageConfig('x', { twilioAccountSid: PARENT, twilioEdge: 'dublin' }))).toEqual([
      'twilioEdge requires twilioRegion (the edge only says how that region is reached)',
    ]);
    expect(
      problemsOf(() =>
        parseStageConfig('x', {
          twilioAccountSid: PARENT,
          twilioRegion: 'ie1',
          twilioApiBaseUrl: 'https://api.twilio.com',
        }),
      ),
    ).toEqual(['twilioRegion cannot be combined with twilioApiBaseUrl (the region and edge name the API host)']);
    expect(
      problemsOf(() => parseStageConfig('x', { twilioAccountSid: PARENT, webhookConnectionOverrides: '#rc=3' })),
    ).toEqual(['webhookConnectionOverrides must be given without its leading "#" (e.g. rc=3&rp=all)']);
  });
});

describe('deployed', () => {
  const { resources, template } = synthStage({
    stage: 'accounts',
    base: 'dev',
    overrides: {
      twilioSubaccountSids: [SUB_A, SUB_B],
      twilioRegion: 'ie1',
      webhookConnectionOverrides: 'rc=3&rp=all',
    },
  });
  const functions = Object.values(resources).filter((r) => r.Type === 'AWS::Lambda::Function');
  const envOf = (description: string): Json =>
    functions.find((f) => String(f.Properties.Description ?? '').startsWith(description))?.Properties.Environment
      .Variables;

  test('every function that talks to Twilio knows the subaccounts and the regional host', () => {
    for (const name of [
      'Recording Vault transfer',
      'Recording Vault reconciler',
      'Recording Vault erasure',
      'Recording Vault retention',
    ]) {
      const env = envOf(name);
      expect(env).toMatchObject({
        TWILIO_ACCOUNT_SID: PARENT,
        TWILIO_SUBACCOUNT_SIDS: `${SUB_A},${SUB_B}`,
        TWILIO_API_BASE_URL: 'https://api.dublin.ie1.twilio.com',
      });
    }
    expect(envOf('Recording Vault webhook')).toMatchObject({
      TWILIO_SUBACCOUNT_SIDS: `${SUB_A},${SUB_B}`,
      WEBHOOK_CONNECTION_OVERRIDES: 'rc=3&rp=all',
    });
  });

  test('the reconciler may keep one checkpoint per account and no other item', () => {
    const statements = Object.values(resources)
      .filter((r) => r.Type === 'AWS::IAM::Policy')
      .flatMap((p) => p.Properties.PolicyDocument.Statement as Json[]);
    const checkpoint = statements.find((s) => s.Sid === 'KeepCheckpoint');

    expect(checkpoint?.Condition).toEqual({
      'ForAllValues:StringEquals': {
        'dynamodb:LeadingKeys': [
          '~checkpoint:reconciler',
          `~checkpoint:reconciler:${SUB_A}`,
          `~checkpoint:reconciler:${SUB_B}`,
        ],
      },
    });
  });

  test('the webhook URL output carries the fragment to give Twilio', () => {
    const output = JSON.stringify(template.Outputs.WebhookUrl.Value);

    expect(output).toContain('/twilio/recording#rc=3&rp=all');
  });
});
