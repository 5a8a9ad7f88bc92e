import { z } from 'zod';
import { SearchResponseSchema, type IndexSyncBody, type SearchBody, type SearchResponseDto } from '../search.js';
import { callService, type CallContext, type ServiceClientOptions } from './memory-client.js';

/** The search service, as the agent (retrieval) and memory (index upkeep) services see it. */
export interface SearchClient {
  /** Searches the user's items (the same as POST /v1/search for that user). */
  search(body: SearchBody, ctx: CallContext & { userId: string }): Promise<SearchResponseDto>;
  /** Adds, replaces and removes the user's memories and messages in the index. */
  sync(body: IndexSyncBody, ctx: CallContext & { userId: string }): Promise<void>;
  /** Drops everything of the user's from the index (account deletion). */
  purgeUser(ctx: CallContext & { userId: string }): Promise<void>;
  ready(): Promise<void>;
  close(): Promise<void>;
}

const Ok = z.object({ ok: z.literal(true) });

export function createSearchClient(options: Omit<ServiceClientOptions, 'service'>): SearchClient {
  const o = { ...options, service: 'search' };
  return {
    search: (body, ctx) => callService(o, { method: 'POST', path: '/internal/v1/search', body }, ctx, SearchResponseSchema),
    async sync(body, ctx) {
      await callService(o, { method: 'POST', path: '/internal/v1/index/sync', body }, ctx, Ok);
    },
    async purgeUser(ctx) {
      await callService(o, { method: 'POST', path: '/internal/v1/index/purge', body: {} }, ctx, Ok);
    },
    async ready() {
      const response = await options.transport.send({ method: 'GET', path: '/healthz', headers: {} });
      if (response.status !== 200) throw new Error(`search service at ${options.transport.target} answered ${response.status}`);
    },
    close: () => options.transport.close(),
  };
}
