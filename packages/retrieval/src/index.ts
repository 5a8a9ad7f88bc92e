/**
 * Ranking shared by every retrieval path: text analysis (lowercase, Unicode word split, stop words, light
 * stemming), Okapi BM25 (one-shot over candidates, or an incremental inverted index), exact vector search
 * over a contiguous Float32Array, and keyword + vector fusion (RRF or weighted).
 */
export { analyze, isStopWord, stem } from './analyze.js';
export { Bm25Index, rankBm25 } from './bm25.js';
export type { Bm25Fields, Bm25IndexOptions, Bm25Options, Bm25SearchOptions, RankedItem } from './bm25.js';
export { fuseRankings } from './fusion.js';
export type { Fused, FusionMethod, FusionOptions } from './fusion.js';
export { TopK } from './top-k.js';
export type { Scored } from './top-k.js';
export { VectorIndex, normalize } from './vector-index.js';
export type { VectorSearchOptions } from './vector-index.js';
