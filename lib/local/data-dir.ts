/**
 * The local stack's data directory (LOCAL_DATA_DIR, `.local/` by default): owner-only (0700),
 * whatever it was before, so that other users of the machine read neither the recordings nor
 * the tables, the queue journal or the API token kept in it (0600).
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const OWNER_ONLY_DIR = 0o700;
export const OWNER_ONLY_FILE = 0o600;
/** The generated LOCAL_API_TOKEN, kept so that it stays the same across restarts on the same data. */
export const API_TOKEN_FILE = 'api-token';

/** Creates `dir` (and the missing parents) owner-only, and takes group and other access off an existing one. */
export function ownerOnlyDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: OWNER_ONLY_DIR });
  if ((statSync(dir).mode & 0o077) !== 0) chmodSync(dir, OWNER_ONLY_DIR);
}

/** The API token stored in `dir`, created (0600) on the first start. */
export function storedApiToken(dir: string): string {
  const file = join(dir, API_TOKEN_FILE);
  const read = () => {
    const token = readFileSync(file, 'utf8').trim();
    if ((statSync(file).mode & 0o077) !== 0) chmodSync(file, OWNER_ONLY_FILE);
    return token;
  };
  try {
    const token = read();
    if (token) return token;
  } catch (error) {
    if ((error as { code?: string }).code !== 'ENOENT') throw error;
  }
  const token = randomBytes(24).toString('base64url');
  writeFileSync(file, `${token}\n`, { mode: OWNER_ONLY_FILE });
  return token;
}
