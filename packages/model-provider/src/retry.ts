/**
 * Retrying a model call before its first token, shared by every adapter: jittered exponential backoff
 * (or the upstream's Retry-After), each retry paid for from a retry budget shared by all calls of one
 * provider, so that a failing upstream sees at most a fifth more calls than it would without retries.
 */
import { PaiError } from '@pai/errors';
import type { CallScope } from './call-scope.js';
import type { RetryPolicy } from './index.js';

/** Full-jitter exponential backoff: a random delay in [0, min(max, base·2^attempt)]. */
export function backoffDelay(attempt: number, policy: RetryPolicy, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** attempt);
  return Math.round(random() * ceiling);
}

export interface RetryBudgetOptions {
  /** Retries allowed per call made in the window: 0.2 lets retries add at most 20% extra calls. */
  ratio?: number;
  /** Retries always allowed per window, so a quiet provider can still retry its occasional failure. */
  minRetriesPerWindow?: number;
  /** The sliding window. */
  windowMs?: number;
  /** Clock, in ms (tests pin it). */
  now?: () => number;
}

export const DEFAULT_RETRY_BUDGET = { ratio: 0.2, minRetriesPerWindow: 10, windowMs: 60_000 } as const;

/** How many buckets the sliding window is counted in. */
const BUCKETS = 12;

interface Bucket {
  /** floor(time / bucket width) of the slot this bucket counts, or -1 when unused. */
  slot: number;
  calls: number;
  retries: number;
}

/**
 * A sliding-window retry budget: over the last `windowMs`, retries may number at most
 * max(minRetriesPerWindow, ratio × calls). Counted in fixed buckets, so it costs O(1) memory at any rate.
 */
export class RetryBudget {
  private readonly ratio: number;
  private readonly minRetries: number;
  private readonly bucketMs: number;
  private readonly now: () => number;
  private readonly buckets: Bucket[] = Array.from({ length: BUCKETS }, () => ({ slot: -1, calls: 0, retries: 0 }));

  constructor(options: RetryBudgetOptions = {}) {
    this.ratio = options.ratio ?? DEFAULT_RETRY_BUDGET.ratio;
    this.minRetries = options.minRetriesPerWindow ?? DEFAULT_RETRY_BUDGET.minRetriesPerWindow;
    this.bucketMs = Math.max(1, (options.windowMs ?? DEFAULT_RETRY_BUDGET.windowMs) / BUCKETS);
    this.now = options.now ?? Date.now;
  }

  /** Counts one call (its first attempt). */
  recordCall(): void {
    this.current().calls += 1;
  }

  /** Takes one retry from the budget; false when the window's retries are spent. */
  tryRetry(): boolean {
    if (this.available() < 1) return false;
    this.current().retries += 1;
    return true;
  }

  /** Retries left in the current window. */
  available(): number {
    const slot = this.slot();
    let calls = 0;
    let retries = 0;
    for (const bucket of this.buckets) {
      if (bucket.slot > slot - BUCKETS) {
        calls += bucket.calls;
        retries += bucket.retries;
      }
    }
    return Math.max(0, Math.floor(Math.max(this.minRetries, this.ratio * calls)) - retries);
  }

  private slot(): number {
    return Math.floor(this.now() / this.bucketMs);
  }

  private current(): Bucket {
    const slot = this.slot();
    const bucket = this.buckets[slot % BUCKETS]!;
    if (bucket.slot !== slot) {
      bucket.slot = slot;
      bucket.calls = 0;
      bucket.retries = 0;
    }
    return bucket;
  }
}

export type Attempt<T> = { ok: true; value: T } | AttemptFailure;

export interface AttemptFailure {
  ok: false;
  error: PaiError;
  retryable: boolean;
  /** The upstream's Retry-After, already capped by the policy's maximum delay. */
  retryAfterMs?: number;
}

export interface Retrying {
  policy: RetryPolicy;
  budget: RetryBudget;
  /** Source of randomness for the backoff jitter. */
  random: () => number;
  /** The first-token timeout, armed afresh for each attempt (a success leaves it armed). */
  firstTokenMs: number;
  firstTokenError: () => PaiError;
}

/**
 * Runs `attempt` until it succeeds, fails for good, or the policy or budget says stop. The scope's
 * stop reason (timeout, caller abort) ends the loop at once and is never retried.
 */
export async function withRetries<T>(
  scope: CallScope,
  retrying: Retrying,
  attempt: () => Promise<Attempt<T>>,
): Promise<T> {
  retrying.budget.recordCall();
  for (let retry = 0; ; retry += 1) {
    scope.throwIfStopped();
    scope.arm('first-token', retrying.firstTokenMs, retrying.firstTokenError);
    const result = await attempt();
    if (result.ok) return result.value;
    scope.disarm('first-token');
    if (!result.retryable || retry >= retrying.policy.maxRetries) throw result.error;
    if (!retrying.budget.tryRetry()) throw budgetSpent(result.error);
    await scope.pause(result.retryAfterMs ?? backoffDelay(retry, retrying.policy, retrying.random));
  }
}

/** The same error, saying why it was not retried. */
function budgetSpent(error: PaiError): PaiError {
  const message = `${error.message} (Not retried: this provider's retry budget is spent, so a failing upstream is not hammered.)`;
  return new PaiError(error.code, error.statusCode, message, { details: error.details, headers: error.headers, cause: error });
}
