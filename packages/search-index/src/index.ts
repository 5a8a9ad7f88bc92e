export * from './port.js';
export { FIELD_BOOSTS, FIELD_TIE_BREAKER, hybridDepth, type FusionSetting, type HybridFusionSettings } from './ranking.js';
export { createEmbeddedSearchIndex, type EmbeddedSearchIndexOptions } from './adapters/embedded.js';
export {
  createOpenSearchIndex, openSearchDocumentId, openSearchIndexBody, ownerFilter, type OpenSearchIndexOptions, type OwnerScope,
} from './adapters/opensearch.js';
