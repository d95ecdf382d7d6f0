import { ENV } from '../shared/config/env-names';
import type { ConsoleAuth, ConsoleSettings } from './handler';

const AUTHS: readonly ConsoleAuth[] = ['local', 'jwt', 'iam'];

const list = (value: string | undefined) => (value ?? '').split(/[\s,]+/).filter(Boolean);

/**
 * The console function's settings from its environment (set by its construct from the stage):
 * CONSOLE_AUTH (jwt | iam), CONSOLE_ISSUER, CONSOLE_CLIENT_ID, CONSOLE_SCOPES, CONSOLE_MEDIA_ORIGIN,
 * CONSOLE_CONNECT_ORIGINS. A JWT stage without issuer or client id is served as IAM-only: the page
 * then says it cannot sign in rather than half working.
 */
export function consoleSettingsFromEnv(env: Readonly<Record<string, string | undefined>>): ConsoleSettings {
  const requested = (env[ENV.consoleAuth] ?? 'iam') as ConsoleAuth;
  const auth = AUTHS.includes(requested) ? requested : 'iam';
  const jwtReady = auth !== 'jwt' || (!!env[ENV.consoleIssuer] && !!env[ENV.consoleClientId]);
  return {
    auth: jwtReady ? auth : 'iam',
    issuer: env[ENV.consoleIssuer] || undefined,
    clientId: env[ENV.consoleClientId] || undefined,
    scopes: list(env[ENV.consoleScopes]),
    mediaOrigins: list(env[ENV.consoleMediaOrigin]),
    connectOrigins: list(env[ENV.consoleConnectOrigins]),
  };
}
