import type { MemoryClient } from '@pai/contracts';
import type { Authenticator, Principal } from './auth.js';
import { createHash, randomUUID } from 'node:crypto';

export interface RemoteAuthenticatorOptions {
  /** How long a verified key is trusted before asking again; bounds how late a revocation bites. */
  ttlMs?: number;
  maxEntries?: number;
}

/**
 * Verifies keys with the memory service (which owns them), caching answers briefly by key hash so a
 * busy client costs one verification per TTL, not one per request.
 */
export function createRemoteAuthenticator(memory: MemoryClient, options: RemoteAuthenticatorOptions = {}): Authenticator {
  const ttlMs = options.ttlMs ?? 5_000;
  const maxEntries = options.maxEntries ?? 10_000;
  const cache = new Map<string, { at: number; principal: Principal | null }>();
  return {
    async authenticate(secret) {
      const id = createHash('sha256').update(secret).digest('base64url');
      const hit = cache.get(id);
      if (hit && Date.now() - hit.at < ttlMs) return hit.principal;
      const verified = await memory.verifyKey(secret, { requestId: randomUUID() });
      const principal: Principal | null = verified === null
        ? null
        : verified.kind === 'admin' ? { kind: 'admin' } : { kind: 'user', userId: verified.user_id, keyId: verified.key_id };
      if (cache.size >= maxEntries) cache.delete(cache.keys().next().value!);
      cache.set(id, { at: Date.now(), principal });
      return principal;
    },
  };
}
