/**
 * The model provider port. A provider turns a list of chat messages into an answer, whole or streamed.
 * Adapters (src/adapters/*) speak one vendor protocol each and translate every failure into the
 * catalogue's PAI_LLM_* errors (see @pai/errors LlmErrors), so callers never see an SDK or socket error:
 *
 *   PAI_LLM_UNAVAILABLE (503)      nothing answers at the endpoint, the model does not exist there, access
 *                                  to it is denied, or the circuit breaker is open (with Retry-After)
 *   PAI_LLM_TIMEOUT (504)          connect / first-token / idle-between-chunks / total timeout, or the
 *                                  provider's own model timeout
 *   PAI_LLM_BAD_RESPONSE (502)     the answer is not what the protocol promises (garbage, malformed
 *                                  event-stream frame, cut stream)
 *   PAI_LLM_UPSTREAM_ERROR (502)   the provider answered an error (details.upstreamStatus when known)
 *   PAI_LLM_RATE_LIMITED (503)     the provider kept throttling after retries (Retry-After when known)
 *   PAI_LLM_INVALID_REQUEST (400)  the provider rejected the request itself (e.g. Bedrock validation)
 *   PAI_LLM_ABORTED (499)          the caller's AbortSignal fired
 *
 * Retries (with jittered exponential backoff, paid from a per-provider retry budget) happen only before
 * the first token: once text has been handed to the caller, a failure surfaces as an error from the
 * stream. The shared machinery lives in call-scope.ts (timers, cancellation), retry.ts (retry loop,
 * budget) and resilience/circuit-breaker.ts (a wrapper for any provider).
 */
export type ChatRole = 'system' | 'user' | 'assistant';

export interface ChatMessage {
  role: ChatRole;
  content: string;
}

export interface ModelRequest {
  /** Model id; the provider's default when omitted. */
  model?: string;
  messages: ChatMessage[];
  temperature?: number;
  maxTokens?: number;
}

export interface TokenUsage {
  inputTokens: number;
  outputTokens: number;
  /** True when the provider did not report usage and the numbers are PAI's estimate. */
  estimated: boolean;
}

export type FinishReason = 'stop' | 'length' | 'content_filter' | 'other';

export interface ModelResponse {
  text: string;
  model: string;
  usage: TokenUsage;
  finishReason: FinishReason;
}

export type ModelStreamEvent =
  | { type: 'delta'; text: string }
  | { type: 'done'; model: string; usage: TokenUsage; finishReason: FinishReason };

export interface CallOptions {
  /** Aborting it cancels the upstream call (the socket is closed) and rejects with PAI_LLM_ABORTED. */
  signal?: AbortSignal;
}

export type ModelHealth = { ok: true } | { ok: false; reason: string };

export interface ModelProvider {
  /** Provider kind, e.g. "openai" or "bedrock". */
  readonly name: string;
  /** Where it sends requests, for messages and logs (never contains credentials). */
  readonly endpoint: string;
  readonly defaultModel: string;
  complete(request: ModelRequest, options?: CallOptions): Promise<ModelResponse>;
  /**
   * Streams the answer. Stopping the iteration early (break / return) closes the upstream call.
   * The last event is always `done`; failures are thrown from the iterator.
   */
  stream(request: ModelRequest, options?: CallOptions): AsyncIterable<ModelStreamEvent>;
  /** Cheap reachability probe for /readyz. Never throws. */
  check(options?: CallOptions): Promise<ModelHealth>;
  close(): Promise<void>;
}

export interface ModelTimeouts {
  /** TCP/TLS connect. */
  connectMs: number;
  /** From sending the request to the first token (or the whole answer when not streaming). */
  firstTokenMs: number;
  /** Longest silence between two chunks of a stream, once the first token has arrived. */
  idleMs: number;
  /** Whole call, including the stream. */
  totalMs: number;
}

export interface RetryPolicy {
  /** Extra attempts after the first, only before the first token. */
  maxRetries: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_TIMEOUTS: ModelTimeouts = { connectMs: 5_000, firstTokenMs: 120_000, idleMs: 60_000, totalMs: 600_000 };
export const DEFAULT_RETRY: RetryPolicy = { maxRetries: 2, baseDelayMs: 250, maxDelayMs: 4_000 };

/**
 * Conservative token estimate for text whose usage a provider did not report: about 4 characters
 * per token for English, rounded up, never below one token per whitespace-separated word.
 */
export function estimateTokens(text: string): number {
  if (text.length === 0) return 0;
  const words = text.split(/\s+/).filter(Boolean).length;
  return Math.max(Math.ceil(text.length / 4), words);
}

export { backoffDelay, RetryBudget, DEFAULT_RETRY_BUDGET, type RetryBudgetOptions } from './retry.js';
export {
  withCircuitBreaker,
  countsAsProviderFailure,
  type CircuitBreakerOptions,
  type CircuitBreakerProvider,
  type CircuitState,
} from './resilience/circuit-breaker.js';
export { createOpenAiProvider, type OpenAiProviderOptions } from './adapters/openai.js';
export { createBedrockProvider, type BedrockProviderOptions } from './adapters/bedrock.js';
