import { createHttpTransport, createMemoryClient, createSearchClient, type MemoryClient, type SearchClient } from '@pai/contracts';
import { authPlugin, createRemoteAuthenticator, createServiceApp, type LoggerSettings, type ServiceApp } from '@pai/service-kit';
import type { ModelProvider } from '@pai/model-provider';
import { openJobQueue, openStore, type JobQueue, type Store } from '@pai/store';
import type { AgentConfig } from './config.js';
import { createModelProvider } from './plugins/model.js';
import { AGENT_TAGS, agentService } from './service.js';

export interface AgentOverrides {
  model?: ModelProvider;
  memory?: MemoryClient;
  search?: SearchClient;
  store?: Store;
  jobs?: JobQueue;
  logger?: LoggerSettings | false;
}

export const VERSION = '0.1.0';

/**
 * The agent service on its own: it reaches the memory service over HTTP (MEMORY_SERVICE_URL) with the
 * internal token, and verifies API keys through it.
 */
export async function buildApp(config: AgentConfig, overrides: AgentOverrides = {}): Promise<ServiceApp> {
  const internalToken = config.server.internalToken;
  if (internalToken === undefined || config.memoryServiceUrl === undefined) {
    throw new Error('the agent service on its own needs MEMORY_SERVICE_URL and PAI_INTERNAL_TOKEN');
  }
  const app = await createServiceApp({
    name: 'agent',
    title: 'PAI agent service',
    description: 'Chat orchestration.',
    version: VERSION,
    bodyLimitBytes: config.server.bodyLimitBytes,
    logger: overrides.logger ?? { level: config.server.logLevel },
    tags: AGENT_TAGS,
  });
  const memory = overrides.memory ?? createMemoryClient({ transport: createHttpTransport({ baseUrl: config.memoryServiceUrl }), internalToken });
  app.readiness.register('memory-service', async () => {
    await memory.ready();
    return { ok: true };
  });
  app.addHook('onClose', async () => memory.close());
  const search = overrides.search ?? (config.searchServiceUrl === undefined
    ? undefined
    : createSearchClient({ transport: createHttpTransport({ baseUrl: config.searchServiceUrl }), internalToken }));
  if (search !== undefined) {
    app.readiness.register('search-service', async () => {
      await search.ready();
      return { ok: true };
    });
    app.addHook('onClose', async () => search.close());
  }
  // The agent's own records (usage) live in its own database when it runs apart.
  const selection = config.store.backend === 'dynamodb' ? config.store : { backend: 'embedded' as const, dataDir: config.dataDir, file: 'agent.db' };
  const store = overrides.store ?? openStore(selection);
  app.readiness.register('store', async () => {
    await store.ping();
    return { ok: true };
  });
  const jobs = overrides.jobs ?? openJobQueue(selection);
  app.addHook('onClose', async () => {
    await jobs.close();
    await store.close();
  });
  await app.register(authPlugin, { authenticator: createRemoteAuthenticator(memory), internalToken });
  await app.register(agentService, { config, model: overrides.model ?? createModelProvider(config.llm), memory, search, store, jobs });
  return app;
}
