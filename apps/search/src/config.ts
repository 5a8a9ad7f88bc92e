import { z } from 'zod';
import { choiceVar, deepFreeze, intVar, parseEnv, serverConfigFrom, serverEnv, urlVar, type Env, type ServerConfig } from '@pai/config';
import { memoryConfigFrom, memoryEnv, refineMemoryEnv, type MemoryConfig } from '@pai/memory';

/** Titan Text Embeddings v2 sizes; other Bedrock embedding models are not supported. */
const TITAN_DIMENSIONS = [256, 512, 1024];
const DEFAULT_EMBEDDING_MODELS = { openai: 'nomic-embed-text', bedrock: 'amazon.titan-embed-text-v2:0' } as const;
const DEFAULT_DIMENSIONS = { openai: 768, bedrock: 1024 } as const;

export const searchEnv = {
  ...serverEnv,
  SEARCH_BACKEND: choiceVar(['embedded', 'opensearch'], 'embedded'),
  OPENSEARCH_URL: urlVar().optional(),
  OPENSEARCH_AUTH: choiceVar(['none', 'sigv4'], 'none'),
  OPENSEARCH_INDEX_PREFIX: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,100}$/, 'lowercase letters, digits, _ and - only').default('pai-'),
  SEARCH_FUSION: choiceVar(['rrf', 'weighted'], 'rrf'),
  EMBEDDINGS_PROVIDER: choiceVar(['none', 'openai', 'bedrock'], 'none'),
  EMBEDDINGS_MODEL: z.string().min(1).max(200).optional(),
  EMBEDDINGS_DIMENSIONS: intVar(0, 0, 8192),
  EMBEDDINGS_BASE_URL: urlVar().optional(),
  EMBEDDINGS_BATCH_SIZE: intVar(64, 1, 2048),
  EMBEDDINGS_TIMEOUT_MS: intVar(30_000, 100, 600_000),
  OPENAI_BASE_URL: urlVar().default('http://127.0.0.1:11434/v1'),
  OPENAI_API_KEY: z.string().min(1).optional(),
  BEDROCK_ENDPOINT: urlVar().optional(),
  PAI_DOCUMENT_MAX_BYTES: intVar(20 * 1024 * 1024, 1024, 1024 * 1024 * 1024),
  PAI_CHUNK_TOKENS: intVar(400, 32, 8192),
  PAI_CHUNK_OVERLAP_TOKENS: intVar(60, 0, 2048),
  PAI_SEARCH_CACHE_USERS: intVar(1000, 1, 1_000_000),
  MEMORY_SERVICE_URL: urlVar().optional(),
};

const schema = z.object({ ...memoryEnv, ...searchEnv });
type SearchEnv = z.output<typeof schema>;

export function refineSearchEnv(env: Pick<SearchEnv, 'SEARCH_BACKEND' | 'OPENSEARCH_URL' | 'OPENSEARCH_AUTH' | 'EMBEDDINGS_PROVIDER' | 'EMBEDDINGS_MODEL' | 'EMBEDDINGS_DIMENSIONS' | 'AWS_REGION' | 'PAI_CHUNK_TOKENS' | 'PAI_CHUNK_OVERLAP_TOKENS'>, ctx: z.RefinementCtx): void {
  if (env.SEARCH_BACKEND === 'opensearch' && env.OPENSEARCH_URL === undefined) {
    ctx.addIssue({ code: 'custom', path: ['OPENSEARCH_URL'], message: 'is required with SEARCH_BACKEND=opensearch' });
  }
  if (env.OPENSEARCH_AUTH === 'sigv4' && env.AWS_REGION === undefined) {
    ctx.addIssue({ code: 'custom', path: ['AWS_REGION'], message: 'is required with OPENSEARCH_AUTH=sigv4' });
  }
  if (env.EMBEDDINGS_PROVIDER === 'bedrock') {
    if (env.AWS_REGION === undefined) ctx.addIssue({ code: 'custom', path: ['AWS_REGION'], message: 'is required with EMBEDDINGS_PROVIDER=bedrock' });
    const model = env.EMBEDDINGS_MODEL ?? DEFAULT_EMBEDDING_MODELS.bedrock;
    if (model.startsWith('amazon.titan-embed-text-v2') && env.EMBEDDINGS_DIMENSIONS !== 0 && !TITAN_DIMENSIONS.includes(env.EMBEDDINGS_DIMENSIONS)) {
      ctx.addIssue({ code: 'custom', path: ['EMBEDDINGS_DIMENSIONS'], message: `must be one of ${TITAN_DIMENSIONS.join(', ')} for ${model}` });
    }
  }
  if (env.PAI_CHUNK_OVERLAP_TOKENS >= env.PAI_CHUNK_TOKENS) {
    ctx.addIssue({ code: 'custom', path: ['PAI_CHUNK_OVERLAP_TOKENS'], message: 'must be smaller than PAI_CHUNK_TOKENS' });
  }
}

export type EmbeddingsSettings =
  | { provider: 'none' }
  | {
    provider: 'openai' | 'bedrock';
    model: string;
    dimensions: number;
    baseUrl: string;
    apiKey: string | undefined;
    region: string | undefined;
    endpoint: string | undefined;
    batchSize: number;
    timeoutMs: number;
  };

export interface SearchConfig {
  server: ServerConfig;
  backend: { kind: 'embedded'; cachedUsers: number } | { kind: 'opensearch'; url: string; indexPrefix: string; auth: 'none' | 'sigv4'; region: string | undefined };
  fusion: 'rrf' | 'weighted';
  embeddings: EmbeddingsSettings;
  documents: { maxBytes: number; chunkTokens: number; overlapTokens: number };
  /** Where the records the index is built from live (the memory service's store, keys included). */
  memory: MemoryConfig;
  memoryServiceUrl: string | undefined;
}

export function searchConfigFrom(env: SearchEnv): SearchConfig {
  const provider = env.EMBEDDINGS_PROVIDER;
  return {
    server: serverConfigFrom(env),
    backend: env.SEARCH_BACKEND === 'opensearch'
      ? { kind: 'opensearch', url: env.OPENSEARCH_URL!, indexPrefix: env.OPENSEARCH_INDEX_PREFIX, auth: env.OPENSEARCH_AUTH, region: env.AWS_REGION }
      : { kind: 'embedded', cachedUsers: env.PAI_SEARCH_CACHE_USERS },
    fusion: env.SEARCH_FUSION,
    embeddings: provider === 'none'
      ? { provider }
      : {
        provider,
        model: env.EMBEDDINGS_MODEL ?? DEFAULT_EMBEDDING_MODELS[provider],
        dimensions: env.EMBEDDINGS_DIMENSIONS || DEFAULT_DIMENSIONS[provider],
        baseUrl: env.EMBEDDINGS_BASE_URL ?? env.OPENAI_BASE_URL,
        apiKey: env.OPENAI_API_KEY,
        region: env.AWS_REGION,
        endpoint: env.BEDROCK_ENDPOINT,
        batchSize: env.EMBEDDINGS_BATCH_SIZE,
        timeoutMs: env.EMBEDDINGS_TIMEOUT_MS,
      },
    documents: { maxBytes: env.PAI_DOCUMENT_MAX_BYTES, chunkTokens: env.PAI_CHUNK_TOKENS, overlapTokens: env.PAI_CHUNK_OVERLAP_TOKENS },
    memory: memoryConfigFrom(env),
    memoryServiceUrl: env.MEMORY_SERVICE_URL,
  };
}

export function loadSearchConfig(env: Env): SearchConfig {
  return deepFreeze(searchConfigFrom(parseEnv(schema.superRefine((e, ctx) => {
    refineMemoryEnv(e, ctx);
    refineSearchEnv(e, ctx);
  }), env)));
}
