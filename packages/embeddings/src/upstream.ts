/**
 * What an adapter gives the shared pipeline (pipeline.ts): one request to one vendor protocol. Batching,
 * concurrency, timeouts, retries, the cache and checking the vectors are the pipeline's, so every adapter
 * behaves the same way.
 */
import type { PaiError } from '@pai/errors';

/** Why one request failed, and whether sending it again may help. */
export interface UpstreamFailure {
  ok: false;
  /** A PAI_EMBEDDINGS_* catalogue error. */
  error: PaiError;
  retryable: boolean;
  /** The upstream's Retry-After, uncapped (the pipeline caps it). */
  retryAfterMs?: number | undefined;
}

/** Vectors in the order of the texts sent, not yet checked or normalized; or why the request failed. */
export type UpstreamResult = { ok: true; value: ArrayLike<number>[] } | UpstreamFailure;

export interface EmbeddingUpstream {
  readonly name: 'openai' | 'bedrock';
  readonly model: string;
  readonly dimensions: number;
  /** Where requests go, without credentials (for messages). */
  readonly endpoint: string;
  /** Most texts in one request. */
  readonly maxBatchSize: number;
  /** Most requests of one embed call in flight at once. */
  readonly concurrency: number;
  /**
   * Sends one request for `texts` (at most `maxBatchSize`). Never throws: failures come back as an
   * UpstreamFailure. Aborting `signal` closes the request (the pipeline then decides what to report).
   */
  send(texts: readonly string[], signal: AbortSignal): Promise<UpstreamResult>;
  /** Releases connections. */
  close(): Promise<void>;
}

export function failure(error: PaiError, retryable: boolean, retryAfterMs?: number): UpstreamFailure {
  return { ok: false, error, retryable, retryAfterMs };
}

const MAX_UPSTREAM_MESSAGE_CHARS = 200;

/**
 * An upstream's own error text fit for a message: secrets removed, shortened (upstreams may quote the
 * input back; a short excerpt is all a person needs to act on).
 */
export function upstreamText(text: string, secrets: ReadonlyArray<string | undefined> = []): string {
  let out = text.trim();
  for (const secret of secrets) if (secret) out = out.replaceAll(secret, '[redacted]');
  // AWS access key ids are not secrets, but they have no place in a message shown to users.
  out = out.replace(/\b(AKIA|ASIA)[A-Z0-9]{12,}\b/g, '[redacted]');
  return out.length <= MAX_UPSTREAM_MESSAGE_CHARS ? out : `${out.slice(0, MAX_UPSTREAM_MESSAGE_CHARS - 1)}…`;
}

/** The URL without user info, for messages. */
export function withoutCredentials(url: string): string {
  try {
    const parsed = new URL(url);
    if (!parsed.username && !parsed.password) return url.replace(/\/+$/, '');
    parsed.username = '';
    parsed.password = '';
    return parsed.toString().replace(/\/+$/, '');
  } catch {
    // Not a URL, yet it may still carry user info.
    return url.replace(/\/\/[^/@]*@/, '//').replace(/\/+$/, '');
  }
}
