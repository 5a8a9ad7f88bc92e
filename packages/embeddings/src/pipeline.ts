/**
 * The shared part of every provider: input checks, the cache (and de-duplication within a call), batching
 * with bounded concurrency, a timeout per request, retries, and checking that what came back is one
 * unit vector of the configured size per text. Adapters only speak their protocol (see upstream.ts).
 */
import { SearchErrors, isPaiError, type PaiError } from '@pai/errors';
import { VectorCache, cacheKey } from './cache.js';
import { DEFAULT_RETRY_DELAYS, withRetries, type Attempt, type RetryDelays, type RetryPolicy } from './retry.js';
import { failure, type EmbeddingUpstream, type UpstreamResult } from './upstream.js';
import { normalize } from './vector.js';
import type { ClosableEmbeddingProvider, EmbedOptions } from './index.js';

/** Retries and caching, the same for every adapter. */
export interface ResilienceOptions {
  /** Extra attempts for a request that failed in a retryable way (429, 5xx, network); 0 when omitted. */
  maxRetries?: number;
  /** Backoff between retries. */
  retryDelays?: Partial<RetryDelays>;
  /** Source of randomness for the backoff jitter (tests pin it). */
  random?: () => number;
  /** Vectors kept in the in-memory LRU cache; 0 (the default) keeps none, yet a call still embeds each distinct text once. */
  cacheEntries?: number;
}

export interface PipelineOptions extends ResilienceOptions {
  /** Limit for each request (each attempt), from sending it to having read the whole answer. */
  timeoutMs: number;
}

/** What ping() embeds: short, and never taken from the cache. */
export const PROBE_TEXT = 'PAI readiness probe';
/** A readiness probe answers quickly or not at all, whatever the timeout for large batches. */
const PING_TIMEOUT_MS = 5_000;

/** Throws a RangeError naming `what` unless `value` is a whole number of at least `min`. */
export function requireWhole(what: string, value: number, min: number): void {
  if (!Number.isSafeInteger(value) || value < min) {
    throw new RangeError(`${what} must be a whole number of at least ${min} (got ${String(value)}).`);
  }
}

function checkTexts(texts: unknown): asserts texts is readonly string[] {
  if (!Array.isArray(texts)) throw SearchErrors.embeddingsInvalidRequest('Embedding takes a list of texts.');
  texts.forEach((text: unknown, index) => {
    if (typeof text !== 'string') {
      throw SearchErrors.embeddingsInvalidRequest(`Text ${index + 1} of ${texts.length} to embed is not a string.`);
    }
    if (text.length === 0) {
      throw SearchErrors.embeddingsInvalidRequest(`Text ${index + 1} of ${texts.length} to embed is empty; providers reject empty input.`);
    }
  });
}

/** Rejects with the signal's reason as soon as it aborts, whatever `promise` is still doing. */
function settleWithin<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  promise.catch(() => undefined);
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

function batchesOf<T>(items: readonly T[], size: number): T[][] {
  const batches: T[][] = [];
  for (let start = 0; start < items.length; start += size) batches.push(items.slice(start, start + size));
  return batches;
}

export function createPipelineProvider(upstream: EmbeddingUpstream, options: PipelineOptions): ClosableEmbeddingProvider {
  const { name, model, dimensions, endpoint } = upstream;
  requireWhole('The embedding request timeout (ms)', options.timeoutMs, 1);
  requireWhole('The number of embedding retries', options.maxRetries ?? 0, 0);
  requireWhole('The number of cached embeddings', options.cacheEntries ?? 0, 0);
  const policy: RetryPolicy = {
    ...DEFAULT_RETRY_DELAYS,
    ...options.retryDelays,
    maxRetries: options.maxRetries ?? 0,
    random: options.random ?? Math.random,
  };
  const cache = new VectorCache(options.cacheEntries ?? 0);
  const never = new AbortController().signal;
  let closed = false;

  const closedError = (): PaiError => SearchErrors.embeddingsUnavailable(`The embedding provider for ${endpoint} is closed.`);

  /** One vector as the port promises it, or why it is not one. */
  function unitVector(raw: ArrayLike<number>): Float32Array | PaiError {
    if (raw.length !== dimensions) {
      return SearchErrors.embeddingsBadResponse(
        `The embedding model '${model}' at ${endpoint} returned vectors of ${raw.length} dimensions, but EMBEDDINGS_DIMENSIONS is ` +
          `${dimensions}. Set EMBEDDINGS_DIMENSIONS=${raw.length}, or use a model that produces ${dimensions}-dimension vectors.`,
      );
    }
    let sum = 0;
    for (let i = 0; i < raw.length; i += 1) {
      const value = raw[i]!;
      if (typeof value !== 'number' || !Number.isFinite(value)) {
        return SearchErrors.embeddingsBadResponse(`The embedding provider at ${endpoint} returned a vector holding something other than finite numbers.`);
      }
      sum += value * value;
    }
    if (sum === 0) {
      return SearchErrors.embeddingsBadResponse(`The embedding provider at ${endpoint} returned an all-zero vector, which has no direction to compare.`);
    }
    return normalize(raw);
  }

  function checked(result: UpstreamResult, count: number): Attempt<Float32Array[]> {
    if (!result.ok) return result;
    if (result.value.length !== count) {
      const error = SearchErrors.embeddingsBadResponse(`The embedding provider at ${endpoint} returned ${result.value.length} vectors for ${count} texts.`);
      return failure(error, false);
    }
    const vectors: Float32Array[] = [];
    for (const raw of result.value) {
      const vector = unitVector(raw);
      if (!(vector instanceof Float32Array)) return failure(vector, false);
      vectors.push(vector);
    }
    return { ok: true, value: vectors };
  }

  /** One request under the timeout; `stop` (the whole call's signal) ends it with its reason. */
  async function attemptOnce(texts: readonly string[], stop: AbortSignal, timeoutMs = options.timeoutMs): Promise<Attempt<Float32Array[]>> {
    stop.throwIfAborted();
    const controller = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, timeoutMs);
    const onStop = (): void => controller.abort(stop.reason);
    stop.addEventListener('abort', onStop, { once: true });
    try {
      let result: UpstreamResult | undefined;
      try {
        result = await settleWithin(upstream.send(texts, controller.signal), controller.signal);
      } catch (error) {
        // send() reports failures as results; a throw is either the stop or the timeout, or a bug.
        if (!controller.signal.aborted) {
          if (!isPaiError(error)) throw error;
          result = failure(error, false);
        }
      }
      stop.throwIfAborted();
      if (timedOut || result === undefined) {
        const error = SearchErrors.embeddingsTimeout(`The embedding provider at ${endpoint} did not answer within ${timeoutMs} ms.`);
        return failure(error, false);
      }
      return checked(result, texts.length);
    } finally {
      clearTimeout(timer);
      stop.removeEventListener('abort', onStop);
    }
  }

  /** Embeds the missing texts batch by batch, a few batches at once; each batch lands in the cache as it arrives. */
  async function embedMissing(missing: Array<[key: string, text: string]>, found: Map<string, Float32Array>, signal: AbortSignal | undefined): Promise<void> {
    // One signal for the call: the caller's abort, or the first batch that fails for good, stops every batch.
    const call = new AbortController();
    const onCallerAbort = (): void => call.abort(signal?.reason);
    signal?.addEventListener('abort', onCallerAbort, { once: true });
    const batches = batchesOf(missing, upstream.maxBatchSize);
    let next = 0;
    const worker = async (): Promise<void> => {
      while (!call.signal.aborted && next < batches.length) {
        const batch = batches[next]!;
        next += 1;
        try {
          const vectors = await withRetries(policy, call.signal, () => attemptOnce(batch.map(([, text]) => text), call.signal));
          batch.forEach(([key], index) => {
            cache.set(key, vectors[index]!);
            found.set(key, vectors[index]!);
          });
        } catch (error) {
          // The first failure becomes the call's reason; later ones (aborted batches) change nothing.
          call.abort(error);
        }
      }
    };
    try {
      await Promise.all(Array.from({ length: Math.min(upstream.concurrency, batches.length) }, worker));
    } finally {
      signal?.removeEventListener('abort', onCallerAbort);
    }
    if (call.signal.aborted) throw call.signal.reason;
  }

  return {
    name,
    model,
    dimensions,
    async embed(texts: readonly string[], embedOptions: EmbedOptions = {}): Promise<Float32Array[]> {
      checkTexts(texts);
      if (closed) throw closedError();
      embedOptions.signal?.throwIfAborted();
      const keys = texts.map((text) => cacheKey(name, model, dimensions, text));
      const found = new Map<string, Float32Array>();
      const missing = new Map<string, string>();
      keys.forEach((key, index) => {
        if (found.has(key) || missing.has(key)) return;
        const hit = cache.get(key);
        if (hit) found.set(key, hit);
        else missing.set(key, texts[index]!);
      });
      if (missing.size > 0) await embedMissing([...missing], found, embedOptions.signal);
      // Copies: callers may change their vectors without touching the cache or each other.
      return keys.map((key) => found.get(key)!.slice());
    },
    async ping(): Promise<void> {
      if (closed) throw closedError();
      const result = await attemptOnce([PROBE_TEXT], never, Math.min(options.timeoutMs, PING_TIMEOUT_MS));
      if (!result.ok) throw result.error;
    },
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      cache.clear();
      await upstream.close();
    },
  };
}
