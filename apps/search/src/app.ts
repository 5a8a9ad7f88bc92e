import { createHttpTransport, createMemoryClient } from '@pai/contracts';
import { authPlugin, createRemoteAuthenticator, createServiceApp, type LoggerSettings, type ServiceApp } from '@pai/service-kit';
import type { SearchConfig } from './config.js';
import { SEARCH_TAGS, searchService } from './service.js';

export const VERSION = '0.1.0';

/** The search service on its own; it verifies API keys with the memory service. */
export async function buildApp(config: SearchConfig, overrides: { logger?: LoggerSettings | false } = {}): Promise<ServiceApp> {
  const internalToken = config.server.internalToken;
  if (internalToken === undefined || config.memoryServiceUrl === undefined) {
    throw new Error('the search service on its own needs MEMORY_SERVICE_URL and PAI_INTERNAL_TOKEN');
  }
  const app = await createServiceApp({
    name: 'search',
    title: 'PAI search service',
    description: 'Search index and documents.',
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
  app.addHook('onClose', async () => memory.close());
  await app.register(authPlugin, { authenticator: createRemoteAuthenticator(memory), internalToken });
  await app.register(searchService, { config });
  return app;
}
