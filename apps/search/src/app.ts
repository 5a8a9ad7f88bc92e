import { createHttpTransport, createMemoryClient } from '@pai/contracts';
import { openMemoryStores } from '@pai/memory';
import { openJobQueue, type Store } from '@pai/store';
import { authPlugin, createRemoteAuthenticator, createServiceApp, type LoggerSettings, type ServiceApp } from '@pai/service-kit';
import type { SearchConfig } from './config.js';
import { createSearchStack, SEARCH_TAGS, searchService, type SearchStackOverrides } from './service.js';

export const VERSION = '0.1.0';

export interface SearchOverrides extends SearchStackOverrides {
  /** The raw store adapter (tests); sealed here like the memory service does. */
  store?: Store;
  logger?: LoggerSettings | false;
}

/**
 * The search service on its own. It verifies API keys with the memory service, and reads the records it
 * indexes (memories, messages) and writes documents through the same store and keys as the memory
 * service (STORE_BACKEND, KEY_PROVIDER: the same tables on AWS, the same data directory locally).
 */
export async function buildApp(config: SearchConfig, overrides: SearchOverrides = {}): Promise<ServiceApp> {
  const internalToken = config.server.internalToken;
  if (internalToken === undefined || config.memoryServiceUrl === undefined) {
    throw new Error('the search service on its own needs MEMORY_SERVICE_URL and PAI_INTERNAL_TOKEN');
  }
  const app = await createServiceApp({
    name: 'search',
    title: 'PAI search service',
    description: 'Hybrid search, embeddings and documents.',
    version: VERSION,
    bodyLimitBytes: config.server.bodyLimitBytes,
    logger: overrides.logger ?? { level: config.server.logLevel },
    tags: SEARCH_TAGS,
  });
  const memory = createMemoryClient({ transport: createHttpTransport({ baseUrl: config.memoryServiceUrl }), internalToken });
  app.readiness.register('memory-service', async () => {
    await memory.ready();
    return { ok: true };
  });
  const stores = await openMemoryStores(config.memory, overrides.store);
  app.readiness.register('store', async () => {
    await stores.raw.ping();
    return { ok: true };
  });
  app.readiness.register('keys', () => stores.keyProvider.check());
  const jobs = openJobQueue(config.memory.store.backend === 'dynamodb' ? config.memory.store : { backend: 'embedded', dataDir: config.memory.dataDir });
  app.addHook('onClose', async () => {
    await memory.close();
    await jobs.close();
    await stores.raw.close();
  });
  const engine = createSearchStack(config, stores.sealed, app.log, overrides);
  await app.register(authPlugin, { authenticator: createRemoteAuthenticator(memory), internalToken });
  await app.register(searchService, { config, engine, store: stores.sealed, jobs });
  return app;
}
