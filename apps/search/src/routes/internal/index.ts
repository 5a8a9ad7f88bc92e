import { z } from 'zod';
import { IndexSyncBodySchema, SearchBodySchema, SearchResponseSchema, errorResponses } from '@pai/contracts';
import { userIdOf, type RoutePlugin } from '@pai/service-kit';
import type { SearchEngine } from '../../domain/search-engine.js';

const security = [{ internalToken: [] }];
const Ok = z.object({ ok: z.literal(true) });

/** Routes the agent and memory services call with the internal token and the user they act for. */
export const internalSearchRoutes: RoutePlugin<{ engine: SearchEngine }> = async (app, { engine }) => {
  app.post('/internal/v1/search', {
    config: { auth: 'internal' },
    schema: {
      tags: ['internal'], security, summary: 'Search for the forwarded user (the agent retrieves context for a turn)',
      body: SearchBodySchema,
      response: { 200: SearchResponseSchema, ...errorResponses(400, 401, 503, 504) },
    },
  }, async (request) => engine.search(userIdOf(request), request.body));

  app.post('/internal/v1/index/sync', {
    config: { auth: 'internal' },
    bodyLimit: 64 * 1024 * 1024,
    schema: {
      tags: ['internal'], security, summary: "Apply the memory service's changes (memories, messages) to the forwarded user's index entries",
      body: IndexSyncBodySchema,
      response: { 200: Ok, ...errorResponses(400, 401, 503, 504) },
    },
  }, async (request) => {
    await engine.sync(userIdOf(request), request.body);
    return { ok: true as const };
  });

  app.post('/internal/v1/index/purge', {
    config: { auth: 'internal' },
    schema: {
      tags: ['internal'], security, summary: "Remove every index entry of the forwarded user (account deletion)",
      body: z.object({}).strict(),
      response: { 200: Ok, ...errorResponses(401, 503) },
    },
  }, async (request) => {
    await engine.purgeUser(userIdOf(request));
    return { ok: true as const };
  });
};
