import { randomBytes } from 'node:crypto';
import { authPlugin, createServiceApp, type LoggerSettings, type ServiceApp } from '@pai/service-kit';
import type { Store } from '@pai/store';
import { createHttpTransport, createSearchClient } from '@pai/contracts';
import { createIndexFeedStore } from './plugins/index-feed.js';
import type { MemoryConfig } from './config.js';
import { resolveAdminKey } from './domain/admin-key.js';
import { createStoreAuthenticator } from './domain/accounts.js';
import { openMemoryStores } from './plugins/open-store.js';
import { MEMORY_TAGS, memoryService } from './service.js';

export interface MemoryOverrides {
  store?: Store;
  logger?: LoggerSettings | false;
}

export const VERSION = '0.1.0';

/** The memory service on its own (users, keys, conversations). */
export async function buildApp(config: MemoryConfig, overrides: MemoryOverrides = {}): Promise<ServiceApp> {
  const app = await createServiceApp({
    name: 'memory',
    title: 'PAI memory service',
    description: 'Users, API keys, conversations and messages.',
    version: VERSION,
    bodyLimitBytes: config.server.bodyLimitBytes,
    logger: overrides.logger ?? { level: config.server.logLevel },
    tags: MEMORY_TAGS,
  });
  const stores = await openMemoryStores(config, overrides.store);
  if (stores.notice) app.log.warn(stores.notice);
  const internalToken = config.server.internalToken ?? randomBytes(32).toString('base64url');
  let store = stores.sealed;
  if (config.searchServiceUrl !== undefined) {
    // Memories and messages are indexed by the search service as they are written.
    const search = createSearchClient({ transport: createHttpTransport({ baseUrl: config.searchServiceUrl }), internalToken });
    app.addHook('onClose', async () => search.close());
    store = createIndexFeedStore(store, search, app.log);
  }
  const adminKey = resolveAdminKey(config.dataDir, config.adminApiKey);
  if (adminKey.generated) app.log.info({ path: adminKey.path }, 'generated the admin API key; read it from this file');
  const authenticator = createStoreAuthenticator(store, adminKey.secret);
  app.readiness.register('keys', () => stores.keyProvider.check());
  await app.register(authPlugin, { authenticator, internalToken });
  await app.register(memoryService, { store, authenticator, shred: (userId) => stores.keyring.shred(userId), importLimitBytes: config.importLimitBytes });
  return app;
}
