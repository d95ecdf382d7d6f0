import type { TokenSource, TwilioTokens } from './signature';

/** The secret exists but holds no usable token yet (the stack creates it empty). */
export class SecretNotConfiguredError extends Error {
  override name = 'SecretNotConfiguredError';
}

/** Reads `{ "authToken": "…", "authTokenSecondary": "…" }`; anything else is "not configured". */
export function parseTwilioSecret(value: unknown): TwilioTokens {
  let parsed: unknown = value;
  if (typeof value === 'string') {
    try {
      parsed = JSON.parse(value);
    } catch {
      parsed = undefined;
    }
  }
  const record = parsed as { authToken?: unknown; authTokenSecondary?: unknown } | undefined;
  if (!record || typeof record.authToken !== 'string' || record.authToken.trim() === '') {
    throw new SecretNotConfiguredError(
      'The Twilio secret has no authToken: set it to {"authToken":"…"} (see README, "Set the Twilio auth token")',
    );
  }
  const secondary = typeof record.authTokenSecondary === 'string' ? record.authTokenSecondary.trim() : '';
  return { primary: record.authToken.trim(), secondary: secondary || undefined };
}

export interface SecretsManagerTokenOptions {
  /** Cache lifetime; short, so that a rotated token is picked up quickly. Default 60 s. */
  readonly maxAgeSeconds?: number;
  /** Forced refreshes are rate-limited so that a flood of bad signatures cannot hammer Secrets Manager. */
  readonly minRefreshIntervalMs?: number;
}

/**
 * Token source backed by Secrets Manager through Powertools Parameters (cached, short TTL).
 * The SDK client is loaded on first use, so that it costs nothing at module load.
 */
export function secretsManagerTokens(secretId: string, options: SecretsManagerTokenOptions = {}): TokenSource {
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
    return parseTwilioSecret(value);
  };
}
