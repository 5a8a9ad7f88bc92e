export { buildApp, VERSION, type SearchOverrides } from './app.js';
export { createSearchStack, searchService, SEARCH_TAGS, type SearchServiceOptions, type SearchStackOverrides } from './service.js';
export { loadSearchConfig, refineSearchEnv, searchConfigFrom, searchEnv, type SearchConfig } from './config.js';
export { createLocalSearchClient } from './local-client.js';
export { createSearchEngine, type SearchEngine, type RebuildReport } from './domain/search-engine.js';
