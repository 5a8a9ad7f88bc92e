import { hashApiKey, newApiKeySecret, newId } from '@pai/ids';
import { NotFoundErrors } from '@pai/errors';
import type { Authenticator, Principal } from '@pai/service-kit';
import { safeEqual } from '@pai/service-kit';
import type { ApiKeyRecord, Page, PageRequest, Store, UserRecord } from '@pai/store';

export async function createUser(store: Store, name: string): Promise<UserRecord> {
  const user: UserRecord = { id: newId('usr'), name, createdAt: new Date().toISOString() };
  await store.users.create(user);
  return user;
}

export async function getUser(store: Store, id: string): Promise<UserRecord> {
  const user = await store.users.get(id);
  if (!user) throw NotFoundErrors.user(id);
  return user;
}

export function listUsers(store: Store, page: PageRequest): Promise<Page<UserRecord>> {
  return store.users.list(page);
}

/** Creates a key for the user; the secret is returned once and only its hash is stored. */
export async function createApiKey(store: Store, userId: string, name: string | null): Promise<{ record: ApiKeyRecord; secret: string }> {
  await getUser(store, userId);
  const secret = newApiKeySecret();
  const record: ApiKeyRecord = {
    id: newId('key'),
    userId,
    keyHash: hashApiKey(secret),
    prefix: secret.slice(0, 10),
    name,
    createdAt: new Date().toISOString(),
    revokedAt: null,
  };
  await store.apiKeys.create(record);
  return { record, secret };
}

export async function listApiKeys(store: Store, userId: string, page: PageRequest): Promise<Page<ApiKeyRecord>> {
  await getUser(store, userId);
  return store.apiKeys.listForUser(userId, page);
}

/** The admin revokes any key; a user only their own (another user's key id is answered 404). */
export async function revokeApiKey(store: Store, principal: Principal, keyId: string): Promise<void> {
  const key = await store.apiKeys.get(keyId);
  if (!key || key.revokedAt !== null) throw NotFoundErrors.apiKey(keyId);
  if (principal.kind === 'user' && principal.userId !== key.userId) throw NotFoundErrors.apiKey(keyId);
  if (!(await store.apiKeys.revoke(keyId, new Date().toISOString()))) throw NotFoundErrors.apiKey(keyId);
}

/** Resolves bearer secrets against the admin key and the stored key hashes. */
export function createStoreAuthenticator(store: Store, adminSecret: string): Authenticator {
  return {
    async authenticate(secret) {
      if (safeEqual(secret, adminSecret)) return { kind: 'admin' };
      const key = await store.apiKeys.findActiveByHash(hashApiKey(secret));
      return key ? { kind: 'user', userId: key.userId, keyId: key.id } : null;
    },
  };
}
