import type { FastifyPluginAsync } from 'fastify';
import type { SearchConfig } from './config.js';

export interface SearchServiceOptions {
  config: SearchConfig;
}

export const SEARCH_TAGS: { name: string; description: string }[] = [];

/**
 * The search service's routes. Search and documents (/v1/search, /v1/documents) are built on the
 * search-index port in their own milestone; until then the service runs its probes and docs only.
 */
export const searchService: FastifyPluginAsync<SearchServiceOptions> = async () => {};
