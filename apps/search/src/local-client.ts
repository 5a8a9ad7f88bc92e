import { IndexSyncBodySchema, SearchBodySchema, type SearchClient } from '@pai/contracts';
import type { SearchEngine } from './domain/search-engine.js';

/**
 * The search service for callers in the same process (the embedded default): the same interface the
 * agent and memory services use across processes, answered by direct calls into the engine. Bodies are
 * validated with the same schemas the HTTP routes use.
 */
export function createLocalSearchClient(engine: SearchEngine): SearchClient {
  return {
    search: (body, ctx) => engine.search(ctx.userId, SearchBodySchema.parse(body), ctx.signal),
    sync: (body, ctx) => engine.sync(ctx.userId, IndexSyncBodySchema.parse(body)),
    purgeUser: (ctx) => engine.purgeUser(ctx.userId),
    ready: async () => {},
    close: async () => {},
  };
}
