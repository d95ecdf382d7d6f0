/**
 * Sign-in on a JWT stage: OAuth 2.0 authorization code flow with PKCE (RFC 7636) against the
 * stage's OpenID Connect issuer, as a public client (no secret). The endpoints come from the
 * issuer's discovery document; the verifier and state live in sessionStorage for the round trip.
 */
import type { ConsoleConfig } from './config';

const PENDING_KEY = 'recording-vault.oidc';

interface Discovery {
  readonly authorization_endpoint: string;
  readonly token_endpoint: string;
}

interface Pending {
  readonly verifier: string;
  readonly state: string;
  readonly redirectUri: string;
}

export interface TokenSet {
  readonly accessToken: string;
  readonly expiresIn: number | undefined;
}

function base64url(bytes: Uint8Array): string {
  let text = '';
  for (const byte of bytes) text += String.fromCharCode(byte);
  return btoa(text).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function randomString(bytes = 32): string {
  return base64url(crypto.getRandomValues(new Uint8Array(bytes)));
}

/** `code_challenge` = BASE64URL(SHA-256(verifier)), method S256. */
export async function codeChallenge(verifier: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier));
  return base64url(new Uint8Array(digest));
}

async function discover(issuer: string): Promise<Discovery> {
  const url = `${issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`;
  const response = await fetch(url, { cache: 'no-cache' });
  if (!response.ok) throw new Error(`The sign-in service did not answer (HTTP ${response.status})`);
  const discovery = (await response.json()) as Partial<Discovery>;
  if (!discovery.authorization_endpoint || !discovery.token_endpoint) {
    throw new Error('The sign-in service describes no authorization or token endpoint');
  }
  return discovery as Discovery;
}

function required(config: ConsoleConfig): { issuer: string; clientId: string; scopes: readonly string[] } {
  if (!config.issuer || !config.clientId) throw new Error('The console configuration lacks the issuer or client id');
  return { issuer: config.issuer, clientId: config.clientId, scopes: config.scopes ?? [] };
}

/** The page itself, without query or fragment: where the issuer sends the user back. */
function redirectUri(): string {
  return `${location.origin}${location.pathname}`;
}

/** Sends the browser to the issuer's sign-in page. */
export async function beginSignIn(config: ConsoleConfig): Promise<void> {
  const { issuer, clientId, scopes } = required(config);
  const discovery = await discover(issuer);
  const pending: Pending = { verifier: randomString(48), state: randomString(16), redirectUri: redirectUri() };
  sessionStorage.setItem(PENDING_KEY, JSON.stringify(pending));
  const query = new URLSearchParams({
    response_type: 'code',
    client_id: clientId,
    redirect_uri: pending.redirectUri,
    scope: ['openid', ...scopes].join(' '),
    state: pending.state,
    code_challenge: await codeChallenge(pending.verifier),
    code_challenge_method: 'S256',
  });
  location.assign(`${discovery.authorization_endpoint}?${query}`);
}

/**
 * On the way back from the issuer (`?code=…&state=…`, or `?error=…`): checks the state, exchanges
 * the code for tokens, and cleans the address bar. Undefined when this is not such a return.
 */
export async function completeSignIn(config: ConsoleConfig): Promise<TokenSet | undefined> {
  const params = new URLSearchParams(location.search);
  const code = params.get('code');
  const error = params.get('error');
  if (!code && !error) return undefined;
  history.replaceState(null, '', location.pathname);
  const raw = sessionStorage.getItem(PENDING_KEY);
  sessionStorage.removeItem(PENDING_KEY);
  if (error) throw new Error(`Sign-in was refused: ${params.get('error_description') ?? error}`);
  const pending = raw ? (JSON.parse(raw) as Pending) : undefined;
  if (!pending || pending.state !== params.get('state')) {
    throw new Error('Sign-in could not be completed (its state did not match); sign in again');
  }
  const { issuer, clientId } = required(config);
  const discovery = await discover(issuer);
  const response = await fetch(discovery.token_endpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      code: code as string,
      redirect_uri: pending.redirectUri,
      client_id: clientId,
      code_verifier: pending.verifier,
    }),
  });
  if (!response.ok) throw new Error(`The sign-in service refused the code (HTTP ${response.status})`);
  const tokens = (await response.json()) as { access_token?: string; expires_in?: number };
  if (!tokens.access_token) throw new Error('The sign-in service returned no access token');
  return { accessToken: tokens.access_token, expiresIn: tokens.expires_in };
}
