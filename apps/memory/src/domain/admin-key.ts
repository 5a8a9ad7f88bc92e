import { existsSync, mkdirSync, readFileSync, writeFileSync, chmodSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { newApiKeySecret } from '@pai/ids';

export interface AdminKey {
  secret: string;
  /** Where the generated key was written; null when it came from PAI_ADMIN_API_KEY. */
  path: string | null;
  generated: boolean;
}

/**
 * The bootstrap admin key: PAI_ADMIN_API_KEY when set; otherwise the key in <dataDir>/admin-api-key,
 * generated on first start and written with mode 0600 (only its path is ever logged).
 */
export function resolveAdminKey(dataDir: string, configured: string | undefined): AdminKey {
  if (configured !== undefined) return { secret: configured, path: null, generated: false };
  const path = join(dataDir, 'admin-api-key');
  if (existsSync(path)) {
    // Tighten permissions if someone loosened them.
    if ((statSync(path).mode & 0o077) !== 0) chmodSync(path, 0o600);
    const secret = readFileSync(path, 'utf8').trim();
    if (secret.length >= 20) return { secret, path, generated: false };
  }
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const secret = newApiKeySecret();
  writeFileSync(path, `${secret}\n`, { mode: 0o600 });
  chmodSync(path, 0o600);
  return { secret, path, generated: true };
}
