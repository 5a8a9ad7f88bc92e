import type { FastifyPluginAsync } from 'fastify';
import type { EmbeddingProvider } from '@pai/embeddings';
import type { SearchIndex } from '@pai/search-index';
import { createJobWorker, type JobQueue, type Store } from '@pai/store';
import type { SearchConfig } from './config.js';
import { documentIndexHandler, type DocumentDeps } from './domain/documents.js';
import { createSearchEngine, type EngineLog, type SearchEngine } from './domain/search-engine.js';
import { openEmbeddings, openSearchIndex } from './plugins/search-backend.js';
import { documentRoutes } from './routes/documents/index.js';
import { internalSearchRoutes } from './routes/internal/index.js';
import { searchRoutes } from './routes/search/index.js';

export const SEARCH_TAGS = [
  { name: 'search', description: 'Hybrid keyword + vector search over memories, document chunks and messages' },
  { name: 'documents', description: 'Documents for retrieval-augmented answers: upload, indexing progress, delete' },
];

export interface SearchStackOverrides {
  index?: SearchIndex;
  /** null = no embedding provider, whatever the configuration says. */
  embeddings?: EmbeddingProvider | null;
}

/**
 * The search engine over the configured index and embedding provider, reading what it indexes from
 * `store` (the sealed store: user content arrives here decrypted and is never written to disk by the
 * embedded index). Its index is closed by the search service plugin.
 */
export function createSearchStack(config: SearchConfig, store: Store, log: EngineLog, overrides: SearchStackOverrides = {}): SearchEngine {
  const embeddings = overrides.embeddings !== undefined ? overrides.embeddings : openEmbeddings(config);
  let engine: SearchEngine | null = null;
  const index = overrides.index ?? openSearchIndex({ ...config }, (userId) => engine!.loadUser(userId));
  engine = createSearchEngine({ index, embeddings, store, fusion: config.fusion, log });
  return engine;
}

export interface SearchServiceOptions {
  config: SearchConfig;
  engine: SearchEngine;
  /** The sealed store (documents and chunks are encrypted per user). Its lifecycle belongs to the caller. */
  store: Store;
  /** Where document indexing jobs wait. Its lifecycle belongs to the caller. */
  jobs: JobQueue;
}

/** Everything the search service serves, as one encapsulated plugin: search, documents, index upkeep. */
export const searchService: FastifyPluginAsync<SearchServiceOptions> = async (app, { config, engine, store, jobs }) => {
  app.readiness.register('search-index', async () => {
    await engine.index.ping();
    return { ok: true };
  });
  if (engine.embeddings !== null) {
    const embeddings = engine.embeddings;
    app.readiness.register('embeddings', async () => {
      await embeddings.ping();
      return { ok: true };
    });
  }
  const worker = createJobWorker({
    queue: jobs,
    handlers: [documentIndexHandler({ store, engine }, app.log)],
    log: app.log,
    retryDelayMs: (attempt) => Math.min(60_000, 1_000 * 2 ** (attempt - 1)),
  });
  app.addHook('onReady', async () => {
    await engine.index.init();
    worker.start();
  });
  app.addHook('onClose', async () => {
    await worker.stop();
    await engine.index.close();
  });
  const deps: DocumentDeps = { store, jobs, engine, settings: config.documents, kick: () => worker.kick() };
  await app.register(searchRoutes, { engine });
  await app.register(documentRoutes, { deps });
  await app.register(internalSearchRoutes, { engine });
};
