/**
 * The embeddings port: turns texts into unit vectors for semantic search. Adapters (src/adapters/*) speak
 * one vendor protocol each; the shared pipeline (pipeline.ts) gives every provider the same batching,
 * per-request timeout, retries with backoff, in-memory LRU cache and checks. Failures are the catalogue's
 * PAI_EMBEDDINGS_* errors (@pai/errors SearchErrors):
 *
 *   PAI_EMBEDDINGS_UNAVAILABLE (503)      unreachable, throttled or failing upstream (after retries), or
 *                                         one that refuses access, lacks the model or is closed
 *   PAI_EMBEDDINGS_TIMEOUT (504)          no whole answer within the timeout
 *   PAI_EMBEDDINGS_BAD_RESPONSE (502)     not the protocol's JSON, missing items, or vectors of another size
 *   PAI_EMBEDDINGS_INVALID_REQUEST (400)  an empty text, or input the provider rejects (e.g. too long)
 *
 * A caller's AbortSignal ends a call at once, rejecting with the signal's reason (as fetch does).
 */
import { createBedrockEmbeddings, type BedrockEmbeddingsOptions } from './adapters/bedrock.js';
import { createOpenAiEmbeddings } from './adapters/openai.js';
import type { RetryDelays } from './retry.js';

export interface EmbedOptions {
  /** Aborting it closes the upstream requests; the call rejects with the signal's reason. */
  signal?: AbortSignal;
}

export interface EmbeddingProvider {
  readonly name: 'openai' | 'bedrock';
  readonly model: string;
  readonly dimensions: number;
  /** One vector per text, same order; vectors are L2-normalized Float32Array of length `dimensions`. */
  embed(texts: readonly string[], options?: EmbedOptions): Promise<Float32Array[]>;
  /** Cheap check for /readyz (embeds a short probe text); throws a PaiError when unusable. */
  ping(): Promise<void>;
}

/** A provider this package made, with the connections it holds. */
export interface ClosableEmbeddingProvider extends EmbeddingProvider {
  /** Releases connections and forgets the cache; later calls fail with PAI_EMBEDDINGS_UNAVAILABLE. */
  close(): Promise<void>;
}

export interface EmbeddingsConfig {
  provider: 'none' | 'openai' | 'bedrock';
  model: string;
  dimensions: number;
  openai?: { baseUrl: string; apiKey?: string | undefined };
  bedrock?: { region: string; endpoint?: string | undefined };
  /** Texts per request (OpenAI protocol; Titan takes one text per call). */
  batchSize: number;
  /** Limit for each request. */
  timeoutMs: number;
  /** Extra attempts for retryable failures (429, 5xx, network). */
  maxRetries: number;
  /** Vectors kept in the in-memory LRU cache (0: none). */
  cacheEntries: number;
}

/** What the config does not carry: test knobs and AWS client pieces. */
export interface EmbeddingProviderDeps {
  /** Backoff between retries (default 200 ms doubling, at most 5 s). */
  retryDelays?: Partial<RetryDelays>;
  /** Source of randomness for the backoff jitter. */
  random?: () => number;
  /** For Bedrock: an injected client, static credentials, or another HTTP handler. */
  bedrock?: Pick<BedrockEmbeddingsOptions, 'client' | 'credentials' | 'requestHandler'>;
}

/**
 * The configured provider, with retries and the cache; null when embeddings are off (`none`).
 * Throws a RangeError naming the setting when the config cannot work (e.g. Titan with 768 dimensions).
 */
export function createEmbeddingProvider(config: EmbeddingsConfig, deps: EmbeddingProviderDeps = {}): ClosableEmbeddingProvider | null {
  const resilience = {
    maxRetries: config.maxRetries,
    cacheEntries: config.cacheEntries,
    retryDelays: deps.retryDelays,
    random: deps.random,
  };
  switch (config.provider) {
    case 'none':
      return null;
    case 'openai':
      if (!config.openai?.baseUrl) throw new RangeError('EMBEDDINGS_PROVIDER=openai needs OPENAI_BASE_URL (an OpenAI-compatible endpoint).');
      return createOpenAiEmbeddings({
        baseUrl: config.openai.baseUrl,
        apiKey: config.openai.apiKey,
        model: config.model,
        dimensions: config.dimensions,
        batchSize: config.batchSize,
        timeoutMs: config.timeoutMs,
        ...resilience,
      });
    case 'bedrock':
      if (!config.bedrock?.region) throw new RangeError('EMBEDDINGS_PROVIDER=bedrock needs AWS_REGION.');
      return createBedrockEmbeddings({
        region: config.bedrock.region,
        endpoint: config.bedrock.endpoint,
        model: config.model,
        dimensions: config.dimensions,
        timeoutMs: config.timeoutMs,
        ...deps.bedrock,
        ...resilience,
      });
    default:
      throw new RangeError(`EMBEDDINGS_PROVIDER must be none, openai or bedrock (got '${String(config.provider)}').`);
  }
}

export { cosineSimilarity, normalize, vectorFromBase64, vectorToBase64 } from './vector.js';
export { DEFAULT_RETRY_DELAYS, backoffDelay, type RetryDelays } from './retry.js';
export type { ResilienceOptions } from './pipeline.js';
export { createOpenAiEmbeddings, type OpenAiEmbeddingsOptions } from './adapters/openai.js';
export { createBedrockEmbeddings, TITAN_V2_DIMENSIONS, type BedrockEmbeddingsOptions } from './adapters/bedrock.js';
