import { SID } from './sids';
import type { TokenSource, TwilioTokens } from './signature';

/** The secret exists but holds no usable token yet (the stack creates it empty). */
export class SecretNotConfiguredError extends Error {
  override name = 'SecretNotConfiguredError';
}

/**
 * The stage's secret: the parent account's tokens and, for each listed subaccount, its own:
 * `{ "authToken": "…", "authTokenSecondary": "…", "accounts": { "AC…": "token" | { "authToken": "…", "authTokenSecondary": "…" } } }`.
 */
export interface TwilioSecretValue {
  readonly parent: TwilioTokens;
  /** By AccountSid; entries that are not an AccountSid with a token are left out. */
  readonly accounts: ReadonlyMap<string, TwilioTokens>;
}

/** Reads `{ "authToken": "…", "authTokenSecondary": "…" }`; anything else is "not configured". */
export function parseTwilioSecret(value: unknown): TwilioTokens {
  return parseTwilioSecretValue(value).parent;
}

/** The whole secret: the parent's tokens (required) and each subaccount's under `accounts`. */
export function parseTwilioSecretValue(value: unknown): TwilioSecretValue {
  let parsed: unknown = value;
  if (typeof value === 'string') {
    try {
      parsed = JSON.parse(value);
    } catch {
      parsed = undefined;
    }
  }
  const record = parsed as { accounts?: unknown } | undefined;
  const parent = typeof parsed === 'object' && parsed !== null ? tokensOf(parsed) : undefined;
  if (!parent) {
    throw new SecretNotConfiguredError(
      'The Twilio secret has no authToken: set it to {"authToken":"…"} (see README, "Set the Twilio auth token")',
    );
  }
  const accounts = new Map<string, TwilioTokens>();
  const listed = record?.accounts;
  if (typeof listed === 'object' && listed !== null && !Array.isArray(listed)) {
    for (const [sid, entry] of Object.entries(listed)) {
      if (!SID.AccountSid.test(sid)) continue;
      const tokens = typeof entry === 'string' ? tokensOf({ authToken: entry }) : tokensOf(entry);
      if (tokens) accounts.set(sid, tokens);
    }
  }
  return { parent, accounts };
}

function tokensOf(value: unknown): TwilioTokens | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const record = value as { authToken?: unknown; authTokenSecondary?: unknown };
  if (typeof record.authToken !== 'string' || record.authToken.trim() === '') return undefined;
  const secondary = typeof record.authTokenSecondary === 'string' ? record.authTokenSecondary.trim() : '';
  return { primary: record.authToken.trim(), secondary: secondary || undefined };
}

/** The secret, read through a cache; `refresh` as for TokenSource. */
export type TwilioSecretSource = (options?: { readonly refresh?: boolean }) => Promise<TwilioSecretValue>;

/** The parent account's tokens from the secret. */
export function parentTokens(secret: TwilioSecretSource): TokenSource {
  return async (options) => (await secret(options)).parent;
}

/** A subaccount's tokens from the secret's `accounts`; missing: the secret is not configured for it. */
export function subaccountTokens(
  secret: TwilioSecretSource,
): (accountSid: string, options?: { readonly refresh?: boolean }) => Promise<TwilioTokens> {
  return async (accountSid, options) => {
    const tokens = (await secret(options)).accounts.get(accountSid);
    if (!tokens) {
      throw new SecretNotConfiguredError(
        `The Twilio secret has no token for subaccount ${SID.AccountSid.test(accountSid) ? accountSid : '(malformed)'}: add it under "accounts" (see docs/accounts-and-regions.md)`,
      );
    }
    return tokens;
  };
}

export interface SecretsManagerTokenOptions {
  /** Cache lifetime; short, so that a rotated token is picked up quickly. Default 60 s. */
  readonly maxAgeSeconds?: number;
  /** Forced refreshes are rate-limited so that a flood of bad signatures cannot hammer Secrets Manager. */
  readonly minRefreshIntervalMs?: number;
}

/**
 * Token source backed by Secrets Manager through Powertools Parameters (cached, short TTL): the
 * parent account's tokens. See secretsManagerSecret for the whole secret.
 */
export function secretsManagerTokens(secretId: string, options: SecretsManagerTokenOptions = {}): TokenSource {
  return parentTokens(secretsManagerSecret(secretId, options));
}

/**
 * The whole secret from Secrets Manager through Powertools Parameters (cached, short TTL), for
 * the parent's and every subaccount's tokens alike. The SDK client is loaded on first use, so
 * that it costs nothing at module load.
 */
export function secretsManagerSecret(secretId: string, options: SecretsManagerTokenOptions = {}): TwilioSecretSource {
  const maxAge = options.maxAgeSeconds ?? 60;
  const minRefreshIntervalMs = options.minRefreshIntervalMs ?? 10_000;
  let provider: { get(name: string, options: Record<string, unknown>): Promise<unknown> } | undefined;
  let lastForcedAt = 0;
  return async ({ refresh = false } = {}) => {
    if (!provider) {
      const { SecretsProvider } = await import('@aws-lambda-powertools/parameters/secrets');
      provider = new SecretsProvider() as unknown as typeof provider;
    }
    const now = Date.now();
    const forceFetch = refresh && now - lastForcedAt >= minRefreshIntervalMs;
    if (forceFetch) lastForcedAt = now;
    const value = await provider?.get(secretId, { maxAge, forceFetch });
    return parseTwilioSecretValue(value);
  };
}
