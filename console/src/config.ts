/** What `GET /config.json` tells the console about its stage (served by lambda/console). */
export type ConsoleAuth = 'local' | 'jwt' | 'iam';

export interface ConsoleConfig {
  readonly auth: ConsoleAuth;
  /** JWT stages: the OpenID Connect issuer (its discovery document is at `{issuer}/.well-known/openid-configuration`). */
  readonly issuer?: string;
  /** JWT stages: the console's public client (authorization code with PKCE, no secret). */
  readonly clientId?: string;
  /** JWT stages: the scopes asked for, e.g. `recordings/read recordings/erase`. */
  readonly scopes?: readonly string[];
}

export async function loadConfig(): Promise<ConsoleConfig> {
  const response = await fetch('config.json', { cache: 'no-cache' });
  if (!response.ok) throw new Error(`The console's configuration did not load (HTTP ${response.status})`);
  const config = (await response.json()) as ConsoleConfig;
  if (!['local', 'jwt', 'iam'].includes(config.auth))
    throw new Error('The console configuration names no known sign-in');
  return config;
}
