export { runSearchIndexContract, direction, CONTRACT_VECTOR_DIMENSIONS, type SearchIndexContractOptions } from './search-index-contract.js';
export {
  startOpenSearchStandIn, type FaultOptions, type OpenSearchStandIn, type OpenSearchStandInOptions, type RecordedRequest, type StoredDocument,
} from './opensearch-stand-in.js';
