export { buildApp, VERSION } from './app.js';
export { searchService, SEARCH_TAGS, type SearchServiceOptions } from './service.js';
export { loadSearchConfig, searchConfigFrom, searchEnv, type SearchConfig } from './config.js';
