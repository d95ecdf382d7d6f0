import {
  parseSubaccountsSetting,
  staticAccountTokens,
  twilioAccounts,
  UnknownAccountError,
} from '../../../../lambda/shared/twilio/accounts';
import { TWILIO_REGION_EDGES, twilioApiBaseUrlFor } from '../../../../lambda/shared/twilio/api-host';
import {
  connectionOverridesProblems,
  signedUrlCandidates,
  withConnectionOverrides,
} from '../../../../lambda/shared/twilio/connection-overrides';
import {
  parseTwilioSecretValue,
  SecretNotConfiguredError,
  subaccountTokens,
} from '../../../../lambda/shared/twilio/credentials';
import { staticTokens } from '../../../../lambda/shared/twilio/signature';

const PARENT = `AC${'0'.repeat(32)}`;
const SUB_A = `AC${'a'.repeat(32)}`;
const SUB_B = `AC${'b'.repeat(32)}`;

describe('the secret', () => {
  it("reads the parent's tokens and each subaccount's, as a token or as a pair", () => {
    const secret = parseTwilioSecretValue(
      JSON.stringify({
        authToken: 'parent',
        authTokenSecondary: 'parent-old',
        accounts: { [SUB_A]: 'token-a', [SUB_B]: { authToken: 'token-b', authTokenSecondary: 'token-b-old' } },
      }),
    );

    expect(secret.parent).toEqual({ primary: 'parent', secondary: 'parent-old' });
    expect([...secret.accounts]).toEqual([
      [SUB_A, { primary: 'token-a', secondary: undefined }],
      [SUB_B, { primary: 'token-b', secondary: 'token-b-old' }],
    ]);
  });

  it('leaves out entries that are not an AccountSid with a token', () => {
    const secret = parseTwilioSecretValue({
      authToken: 'parent',
      accounts: { 'not-a-sid': 'x', [SUB_A]: '  ', [SUB_B]: { token: 'wrong field' } },
    });

    expect(secret.accounts.size).toBe(0);
  });

  it('names the subaccount whose token is missing, never a token', async () => {
    const tokensOf = subaccountTokens(async () => parseTwilioSecretValue({ authToken: 'parent-secret-value' }));

    const error = await tokensOf(SUB_A).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(SecretNotConfiguredError);
    expect((error as Error).message).toContain(SUB_A);
    expect((error as Error).message).not.toContain('parent-secret-value');
  });
});

describe('twilioAccounts', () => {
  const accounts = twilioAccounts({
    parentSid: PARENT,
    parentTokens: staticTokens('parent'),
    subaccountSids: [SUB_A, SUB_B, SUB_A, PARENT],
    subaccountTokens: staticAccountTokens(new Map([[SUB_A, { primary: 'token-a' }]])),
  });

  it('accepts the parent and each listed subaccount once, the parent first', () => {
    expect(accounts.sids).toEqual([PARENT, SUB_A, SUB_B]);
    expect(accounts.accepts(SUB_B)).toBe(true);
    expect(accounts.accepts(`AC${'c'.repeat(32)}`)).toBe(false);
  });

  it("gives each account its own tokens; a listed account without one is 'not configured'", async () => {
    expect((await accounts.tokens(PARENT)()).primary).toBe('parent');
    expect((await accounts.tokens(SUB_A)()).primary).toBe('token-a');
    await expect(accounts.tokens(SUB_B)()).rejects.toBeInstanceOf(SecretNotConfiguredError);
  });

  it('refuses an account that is not listed', () => {
    expect(() => accounts.tokens(`AC${'c'.repeat(32)}`)).toThrow(UnknownAccountError);
  });
});

describe('TWILIO_SUBACCOUNTS', () => {
  it('reads AccountSid:token pairs, spaces ignored', () => {
    const { accounts, problems } = parseSubaccountsSetting(` ${SUB_A}:token-a , ${SUB_B}:token:with:colons,`);

    expect(problems).toEqual([]);
    expect([...accounts]).toEqual([
      [SUB_A, { primary: 'token-a' }],
      [SUB_B, { primary: 'token:with:colons' }],
    ]);
  });

  it('names every bad entry without printing a token', () => {
    const { problems } = parseSubaccountsSetting(`AC123:secret-1,${SUB_A},${SUB_B}:t,${SUB_B}:secret-2`);

    expect(problems).toEqual([
      'TWILIO_SUBACCOUNTS entry 1 must start with an AccountSid (AC followed by 32 hex characters)',
      `TWILIO_SUBACCOUNTS entry 2 (${SUB_A}) must be AccountSid:authToken`,
      `TWILIO_SUBACCOUNTS names ${SUB_B} twice`,
    ]);
    expect(problems.join(' ')).not.toMatch(/secret-/);
  });
});

describe('regions', () => {
  it('builds api.{edge}.{region}.twilio.com, with the region’s own edge by default', () => {
    expect(twilioApiBaseUrlFor('ie1')).toBe('https://api.dublin.ie1.twilio.com');
    expect(twilioApiBaseUrlFor('au1')).toBe('https://api.sydney.au1.twilio.com');
    expect(twilioApiBaseUrlFor('ie1', 'frankfurt')).toBe('https://api.frankfurt.ie1.twilio.com');
    expect(Object.keys(TWILIO_REGION_EDGES)).toEqual(expect.arrayContaining(['us1', 'ie1', 'au1']));
  });

  it('refuses an unknown edge', () => {
    expect(() => twilioApiBaseUrlFor('ie1', 'evil.example.com/')).toThrow('Unknown Twilio edge');
  });
});

describe('connection overrides', () => {
  it("accepts Twilio's overrides in their ranges", () => {
    expect(connectionOverridesProblems('rc=3&rp=all')).toEqual([]);
    expect(connectionOverridesProblems('ct=1000&rt=14000&tt=15000&rc=5&rp=4xx,5xx,ct,rt&e=dublin&sni=y')).toEqual([]);
  });

  it('names each bad part', () => {
    expect(connectionOverridesProblems('rc=6&rp=sometimes&rc=1&x=1&ct')).toEqual([
      'has a bad value for rc ("rc=6")',
      'has a bad value for rp ("rp=sometimes")',
      'names rc twice',
      'has an unknown override "x=1" (known: ct, rt, tt, rc, rp, e, sni)',
      'has a bad value for ct ("ct")',
    ]);
    expect(connectionOverridesProblems('')).toEqual(['must not be empty']);
  });

  it('adds the fragment to a URL, replacing any, and offers both forms for the signature', () => {
    expect(withConnectionOverrides('https://h/twilio/recording', 'rc=3')).toBe('https://h/twilio/recording#rc=3');
    expect(withConnectionOverrides('https://h/x#old', 'rc=3')).toBe('https://h/x#rc=3');
    expect(withConnectionOverrides('https://h/x', undefined)).toBe('https://h/x');
    expect(signedUrlCandidates(['https://h/x', 'https://h/x?'], 'rc=3')).toEqual([
      'https://h/x',
      'https://h/x#rc=3',
      'https://h/x?',
      'https://h/x?#rc=3',
    ]);
    expect(signedUrlCandidates(['https://h/x'], undefined)).toEqual(['https://h/x']);
  });
});
