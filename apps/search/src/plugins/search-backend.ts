import { Client } from '@opensearch-project/opensearch';
import { AwsSigv4Signer } from '@opensearch-project/opensearch/aws';
import { defaultProvider } from '@aws-sdk/credential-provider-node';
import { createEmbeddingProvider, type EmbeddingProvider } from '@pai/embeddings';
import { createEmbeddedSearchIndex, createOpenSearchIndex, type IndexItem, type SearchIndex } from '@pai/search-index';
import type { SearchConfig } from '../config.js';

/**
 * The configured search index. The embedded one lives in memory and rebuilds each user from the store
 * on first use (`loadUser`), so nothing of the user's content is written to disk in plaintext; the
 * OpenSearch one is the shared index of the AWS deployment.
 */
export function openSearchIndex(config: SearchConfig, loadUser: (userId: string) => Promise<IndexItem[]>): SearchIndex {
  const dimensions = config.embeddings.provider === 'none' ? null : config.embeddings.dimensions;
  if (config.backend.kind === 'embedded') {
    return createEmbeddedSearchIndex({ hydrate: loadUser, maxUsers: config.backend.cachedUsers, fusion: config.fusion });
  }
  const backend = config.backend;
  const client = backend.auth === 'sigv4'
    ? new Client({
      node: backend.url,
      ...AwsSigv4Signer({ region: backend.region!, service: 'es', getCredentials: () => defaultProvider()() }),
    })
    : new Client({ node: backend.url });
  return createOpenSearchIndex({ client, indexPrefix: backend.indexPrefix, dimensions, fusion: config.fusion });
}

/** The configured embedding provider, or null (keyword search only). */
export function openEmbeddings(config: SearchConfig): EmbeddingProvider | null {
  const e = config.embeddings;
  if (e.provider === 'none') return null;
  return createEmbeddingProvider({
    provider: e.provider,
    model: e.model,
    dimensions: e.dimensions,
    openai: { baseUrl: e.baseUrl, apiKey: e.apiKey },
    bedrock: { region: e.region ?? 'us-east-1', endpoint: e.endpoint },
    batchSize: e.batchSize,
    timeoutMs: e.timeoutMs,
    maxRetries: 3,
    cacheEntries: 10_000,
  });
}
