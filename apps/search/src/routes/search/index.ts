import { RebuildResponseSchema, SearchBodySchema, SearchResponseSchema, errorResponses } from '@pai/contracts';
import { userIdOf, type RoutePlugin } from '@pai/service-kit';
import type { SearchEngine } from '../../domain/search-engine.js';

const security = [{ bearer: [] }];

export const searchRoutes: RoutePlugin<{ engine: SearchEngine }> = async (app, { engine }) => {
  app.post('/v1/search', {
    schema: {
      tags: ['search'], security,
      summary: "Search the caller's memories, document chunks and messages",
      description:
        'Hybrid search fuses BM25 keyword scores with vector similarity (reciprocal-rank fusion by default, SEARCH_FUSION). ' +
        'Without an embedding provider (EMBEDDINGS_PROVIDER=none) every mode runs as keyword search and mode_used says so; ' +
        'when the provider fails during a hybrid query the keyword half still answers. Only the caller\'s own items are ever searched.',
      body: SearchBodySchema,
      response: { 200: SearchResponseSchema, ...errorResponses(400, 401, 403, 413, 503, 504) },
    },
  }, async (request) => engine.search(userIdOf(request), request.body));

  app.post('/v1/search/rebuild', {
    config: { auth: 'admin' },
    schema: {
      tags: ['search'], security,
      summary: 'Rebuild the whole search index from the stored records (admin)',
      description:
        'Re-reads every user\'s memories, messages and document chunks from the store, embeds them with the configured ' +
        'provider and rewrites each user\'s index entries. Use it after restoring a backup, after index loss, or after ' +
        'changing EMBEDDINGS_MODEL / EMBEDDINGS_DIMENSIONS. The same runs from the command line: `npm run rebuild-index`. ' +
        'The front door (ALB, nginx edge) does not route this path: call the embedded server or the search service directly. ' +
        'Runs synchronously; searches keep working meanwhile (a user\'s results are briefly incomplete while that user is rewritten).',
      response: { 200: RebuildResponseSchema, ...errorResponses(401, 403, 503, 504) },
    },
  }, async (request) => {
    const report = await engine.rebuild();
    request.log.info({ users: report.users, items: report.items, ms: report.durationMs }, 'search index rebuilt');
    return { users: report.users, items: report.items, embedded: report.embedded, duration_ms: report.durationMs };
  });
};
