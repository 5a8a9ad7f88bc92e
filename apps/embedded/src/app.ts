import { randomBytes } from 'node:crypto';
import { authPlugin, createServiceApp, type LoggerSettings, type ServiceApp } from '@pai/service-kit';
import type { ModelProvider } from '@pai/model-provider';
import type { Store } from '@pai/store';
import { agentService, AGENT_TAGS, createModelProvider } from '@pai/agent';
import {
  memoryService, MEMORY_TAGS, createIndexFeedStore, createLocalMemoryClient, createStoreAuthenticator, openMemoryStores, resolveAdminKey,
} from '@pai/memory';
import { createLocalSearchClient, createSearchStack, searchService, SEARCH_TAGS, type SearchStackOverrides } from '@pai/search';
import { openJobQueue } from '@pai/store';
import type { EmbeddedConfig } from './config.js';

export interface EmbeddedOverrides {
  model?: ModelProvider;
  /** The search index and embedding provider (tests). */
  search?: SearchStackOverrides;
  store?: Store;
  logger?: LoggerSettings | false;
}

export const VERSION = '0.1.0';

export interface EmbeddedApp {
  app: ServiceApp;
  /** Where the generated admin key is (null when PAI_ADMIN_API_KEY is set). */
  adminKeyPath: string | null;
}

/**
 * The embedded default: agent, memory and search in one Fastify instance on one port, with one merged
 * OpenAPI document. The agent reaches the memory service through the same MemoryClient interface it uses
 * across processes, implemented here by direct calls into the memory domain.
 */
export async function buildEmbeddedApp(config: EmbeddedConfig, overrides: EmbeddedOverrides = {}): Promise<EmbeddedApp> {
  const server = config.memory.server;
  const app = await createServiceApp({
    name: 'pai',
    title: 'PAI',
    description: 'A self-hostable personal AI agent that remembers. Every route of the agent, memory and search services.',
    version: VERSION,
    bodyLimitBytes: server.bodyLimitBytes,
    logger: overrides.logger ?? { level: server.logLevel },
    tags: [...AGENT_TAGS, ...MEMORY_TAGS, ...SEARCH_TAGS],
  });
  const stores = await openMemoryStores(config.memory, overrides.store);
  if (stores.notice) app.log.warn(stores.notice);
  // The search engine reads what it indexes from the sealed store; the memory service's writes of
  // memories and messages reach the index through the feed.
  const engine = createSearchStack(config.search, stores.sealed, app.log, overrides.search);
  const search = createLocalSearchClient(engine);
  const store = createIndexFeedStore(stores.sealed, search, app.log);
  app.readiness.register('keys', () => stores.keyProvider.check());
  const adminKey = resolveAdminKey(config.memory.dataDir, config.memory.adminApiKey);
  if (adminKey.generated) app.log.info({ path: adminKey.path }, 'generated the admin API key; read it from this file');
  const authenticator = createStoreAuthenticator(store, adminKey.secret);
  const internalToken = server.internalToken ?? randomBytes(32).toString('base64url');

  await app.register(authPlugin, { authenticator, internalToken });
  await app.register(memoryService, { store, authenticator, shred: (userId) => stores.keyring.shred(userId), importLimitBytes: config.memory.importLimitBytes });
  const memory = createLocalMemoryClient(store, authenticator);
  const jobs = openJobQueue(config.memory.store.backend === 'dynamodb' ? config.memory.store : { backend: 'embedded', dataDir: config.memory.dataDir });
  // Registered before the agent: Fastify runs onClose hooks last-in first-out, so the worker stops first.
  app.addHook('onClose', async () => jobs.close());
  await app.register(agentService, { config: config.agent, model: overrides.model ?? createModelProvider(config.agent.llm), memory, search, store: stores.raw, jobs });
  await app.register(searchService, { config: config.search, engine, store: stores.sealed, jobs });
  return { app, adminKeyPath: adminKey.path };
}
