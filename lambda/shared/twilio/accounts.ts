import { SecretNotConfiguredError } from './credentials';
import { SID } from './sids';
import type { TokenSource, TwilioTokens } from './signature';

/**
 * The Twilio accounts a stage accepts: its parent account and the subaccounts it lists, each
 * with its own auth token(s). Twilio signs a subaccount's callbacks with the subaccount's token
 * and keeps its media under `/Accounts/{SubaccountSid}/…`, so every call to Twilio and every
 * signature check is made as the account the recording belongs to.
 */

/** The tokens of one listed subaccount; `refresh` as for TokenSource. */
export type AccountTokenSource = (
  accountSid: string,
  options?: { readonly refresh?: boolean },
) => Promise<TwilioTokens>;

export interface TwilioAccounts {
  readonly parentSid: string;
  /** Every accepted account, the parent first. */
  readonly sids: readonly string[];
  accepts(accountSid: string): boolean;
  /** The account's tokens. Throws for an account the stage does not list. */
  tokens(accountSid: string): TokenSource;
}

export interface TwilioAccountsOptions {
  readonly parentSid: string;
  readonly parentTokens: TokenSource;
  readonly subaccountSids?: readonly string[];
  /** Required when subaccounts are listed. */
  readonly subaccountTokens?: AccountTokenSource;
}

/** An account the stage does not list: never called, never accepted. */
export class UnknownAccountError extends Error {
  override name = 'UnknownAccountError';
}

export function twilioAccounts(options: TwilioAccountsOptions): TwilioAccounts {
  const subaccounts = [...new Set(options.subaccountSids ?? [])].filter((sid) => sid !== options.parentSid);
  const subaccountTokens = options.subaccountTokens;
  if (subaccounts.length > 0 && !subaccountTokens) {
    throw new Error('Subaccounts are listed but no source of their tokens was given');
  }
  const sources = new Map<string, TokenSource>([[options.parentSid, options.parentTokens]]);
  for (const sid of subaccounts) {
    sources.set(sid, (refresh) => (subaccountTokens as AccountTokenSource)(sid, refresh));
  }
  const sids = [...sources.keys()];
  return {
    parentSid: options.parentSid,
    sids,
    accepts: (accountSid) => sources.has(accountSid),
    tokens(accountSid) {
      const source = sources.get(accountSid);
      if (!source) throw new UnknownAccountError(`Account ${safeSid(accountSid)} is not one of this stage's accounts`);
      return source;
    },
  };
}

/** Fixed subaccount tokens (local stack, tests). */
export function staticAccountTokens(tokens: ReadonlyMap<string, TwilioTokens>): AccountTokenSource {
  return async (accountSid) => {
    const found = tokens.get(accountSid);
    if (!found) throw new SecretNotConfiguredError(`No auth token is configured for subaccount ${safeSid(accountSid)}`);
    return found;
  };
}

/**
 * `TWILIO_SUBACCOUNTS` of the local stack: `AC…:token,AC…:token` (spaces around entries
 * ignored). Every problem is named; a token never appears in a message.
 */
export function parseSubaccountsSetting(
  value: string | undefined,
  name = 'TWILIO_SUBACCOUNTS',
): { readonly accounts: ReadonlyMap<string, TwilioTokens>; readonly problems: readonly string[] } {
  const accounts = new Map<string, TwilioTokens>();
  const problems: string[] = [];
  const entries = (value ?? '')
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '');
  entries.forEach((entry, index) => {
    const colon = entry.indexOf(':');
    const sid = (colon < 0 ? entry : entry.slice(0, colon)).trim();
    const token = colon < 0 ? '' : entry.slice(colon + 1).trim();
    if (!SID.AccountSid.test(sid)) {
      problems.push(`${name} entry ${index + 1} must start with an AccountSid (AC followed by 32 hex characters)`);
    } else if (token === '') {
      problems.push(`${name} entry ${index + 1} (${sid}) must be AccountSid:authToken`);
    } else if (accounts.has(sid)) {
      problems.push(`${name} names ${sid} twice`);
    } else {
      accounts.set(sid, { primary: token });
    }
  });
  return { accounts, problems };
}

/** A SID for a message: only its form if it is one, never a long or odd value. */
function safeSid(value: string): string {
  return SID.AccountSid.test(value) ? value : 'that is not an AccountSid';
}
