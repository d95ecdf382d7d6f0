/**
 * The signed-in user's bearer token, kept in sessionStorage (this tab only, gone when it closes).
 * Locally it is the stack's LOCAL_API_TOKEN, pasted or carried in the banner URL's fragment
 * (`#token=…`, read once and removed from the address bar); on a JWT stage, the access token.
 */
const KEY = 'recording-vault.token';

interface Stored {
  readonly token: string;
  /** Epoch ms; absent: no known expiry (the local token). */
  readonly expiresAt?: number;
}

export function currentToken(): string | undefined {
  const raw = sessionStorage.getItem(KEY);
  if (!raw) return undefined;
  try {
    const stored = JSON.parse(raw) as Stored;
    if (stored.expiresAt !== undefined && stored.expiresAt <= Date.now()) {
      sessionStorage.removeItem(KEY);
      return undefined;
    }
    return stored.token || undefined;
  } catch {
    sessionStorage.removeItem(KEY);
    return undefined;
  }
}

export function saveToken(token: string, expiresInSeconds?: number): void {
  const stored: Stored = {
    token,
    ...(expiresInSeconds ? { expiresAt: Date.now() + expiresInSeconds * 1000 } : {}),
  };
  sessionStorage.setItem(KEY, JSON.stringify(stored));
}

export function forgetToken(): void {
  sessionStorage.removeItem(KEY);
}

/** Takes `#token=…` from the address (the local banner's link), saves it, and removes it from the address bar. */
export function takeTokenFromFragment(): boolean {
  const fragment = new URLSearchParams(location.hash.replace(/^#/, ''));
  const token = fragment.get('token');
  if (!location.hash) return false;
  history.replaceState(null, '', `${location.pathname}${location.search}`);
  if (!token) return false;
  saveToken(token.trim());
  return true;
}
