// The signature module alone: loading the whole twilio SDK costs ~160 ms of cold start.
import { validateRequest } from 'twilio/lib/webhooks/webhooks';

/** Twilio credentials and webhook signatures (X-Twilio-Signature). */

/** The account's auth token and, while rotating, the secondary one. */
export interface TwilioTokens {
  readonly primary: string;
  readonly secondary?: string | undefined;
}

/**
 * Supplies the current tokens (cached). `refresh: true` asks for a fresh read, e.g. after a
 * signature fails, in case the token was rotated since the cache was filled.
 */
export type TokenSource = (options?: { readonly refresh?: boolean }) => Promise<TwilioTokens>;

/** A fixed pair of tokens (local stack, tests). */
export function staticTokens(primary: string, secondary?: string): TokenSource {
  const tokens: TwilioTokens = { primary, secondary: secondary || undefined };
  return async () => tokens;
}

export type FormParams = Record<string, string | string[]>;

/** Parses an x-www-form-urlencoded body, keeping blank and repeated parameters (they are signed too). */
export function parseForm(body: string): FormParams {
  // No prototype: a parameter named `constructor` or `__proto__` is a parameter like any other.
  const params: FormParams = Object.create(null);
  for (const [name, value] of new URLSearchParams(body)) {
    const existing = params[name];
    if (existing === undefined) params[name] = value;
    else if (Array.isArray(existing)) existing.push(value);
    else params[name] = [existing, value];
  }
  return params;
}

/**
 * True when `signature` is Twilio's HMAC-SHA1 of `url` + the sorted parameters under the
 * primary or the secondary token. twilio's own `validateRequest` compares in constant time
 * and accepts the URL with and without the default port.
 */
export function validateTwilioSignature(
  tokens: TwilioTokens,
  signature: string | undefined,
  url: string,
  params: FormParams,
): boolean {
  if (!signature) return false;
  const candidates = [tokens.primary, tokens.secondary].filter((t): t is string => Boolean(t));
  return candidates.some((token) => {
    try {
      return validateRequest(token, signature, url, params);
    } catch {
      return false; // an unparsable URL never validates
    }
  });
}
