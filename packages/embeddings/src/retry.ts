/**
 * Retrying one upstream request: exponential backoff with jitter (or the upstream's Retry-After, capped),
 * for retryable failures only, cut short by the call's AbortSignal.
 */
import type { UpstreamFailure } from './upstream.js';

/** One try: its value, or why it failed. */
export type Attempt<T> = { ok: true; value: T } | UpstreamFailure;

export interface RetryDelays {
  /** The first retry waits about this long; each further one twice as long. */
  baseMs: number;
  /** No wait is longer, Retry-After included. */
  maxMs: number;
}

export const DEFAULT_RETRY_DELAYS: RetryDelays = { baseMs: 200, maxMs: 5_000 };

export interface RetryPolicy extends RetryDelays {
  /** Extra attempts after the first. */
  maxRetries: number;
  /** Source of randomness for the jitter (tests pin it). */
  random: () => number;
}

/**
 * "Equal jitter": half of min(max, base·2^retry) plus a random share of the other half, so concurrent
 * callers spread out yet no retry comes back at once.
 */
export function backoffDelay(retry: number, delays: RetryDelays, random: () => number = Math.random): number {
  const ceiling = Math.min(delays.maxMs, delays.baseMs * 2 ** retry);
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}

/** Waits `ms`; rejects with the signal's reason as soon as it aborts. */
export function pause(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Runs `attempt` until it succeeds, fails for good, or the retries are spent; then returns its value or
 * throws the last failure's error. An aborted `signal` ends it at once with the signal's reason.
 */
export async function withRetries<T>(policy: RetryPolicy, signal: AbortSignal, attempt: () => Promise<Attempt<T>>): Promise<T> {
  for (let retry = 0; ; retry += 1) {
    signal.throwIfAborted();
    const result = await attempt();
    if (result.ok) return result.value;
    if (!result.retryable || retry >= policy.maxRetries) throw result.error;
    const wait = result.retryAfterMs === undefined
      ? backoffDelay(retry, policy, policy.random)
      : Math.min(result.retryAfterMs, policy.maxMs);
    await pause(wait, signal);
  }
}
