import type { TwilioSecretConfig } from '../config/function-config';
import { type AccountTokenSource, twilioAccounts } from './accounts';
import { type TwilioApi, type TwilioApiFor, twilioApiPerAccount } from './rest-api';
import type { TokenSource } from './signature';

/** What a function's runtime holds to reach Twilio as each of its accounts. */
export interface TwilioRuntime {
  readonly config: Pick<TwilioSecretConfig, 'accountSid' | 'subaccountSids'> & { readonly twilioApiBaseUrl: string };
  /** The parent account's tokens. */
  readonly tokens: TokenSource;
  /** Each listed subaccount's tokens (required when `config.subaccountSids` lists any). */
  readonly subaccountTokens?: AccountTokenSource;
  /** Tests: one Twilio for every account. */
  readonly twilio?: TwilioApi;
}

/** Twilio as each account the function serves (its path, its token); `runtime.twilio` for all when set. */
export function twilioForRuntime(runtime: TwilioRuntime): TwilioApiFor {
  const { config } = runtime;
  if (runtime.twilio) {
    const twilio = runtime.twilio;
    return () => twilio;
  }
  return twilioApiPerAccount({
    baseUrl: config.twilioApiBaseUrl,
    accounts: twilioAccounts({
      parentSid: config.accountSid,
      parentTokens: runtime.tokens,
      subaccountSids: config.subaccountSids ?? [],
      ...(runtime.subaccountTokens ? { subaccountTokens: runtime.subaccountTokens } : {}),
    }),
  });
}
