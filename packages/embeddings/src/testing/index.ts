/**
 * Stand-in servers speaking the embedding providers' real protocols, deterministic and able to fail on
 * demand, plus the vectors they answer (`standInEmbedding`) so other tests can compute the same ones.
 */
export { standInEmbedding, standInTerms } from './stand-in-embedding.js';
export type { EmbeddingsStandInTraffic } from './stand-in-kit.js';
export * from './openai-embeddings-stand-in.js';
export * from './bedrock-embeddings-stand-in.js';
