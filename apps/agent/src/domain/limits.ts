import { defineError } from '@pai/errors';
import type { UsageStore } from '@pai/store';

export const LimitErrors = {
  budgetExceeded: defineError<[budget: number]>('PAI_USAGE_BUDGET_EXCEEDED', 429,
    (budget) => `The daily token budget of ${budget} tokens is used up; it resets at 00:00 UTC.`),
  streamLimit: defineError<[max: number]>('PAI_USAGE_STREAM_LIMIT', 429,
    (max) => `At most ${max} answers can stream at once per user; wait for one to finish.`),
};

export const utcDay = (at: Date): string => at.toISOString().slice(0, 10);

function secondsUntilNextUtcDay(now: Date): number {
  const next = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 1);
  return Math.max(1, Math.ceil((next - now.getTime()) / 1000));
}

/** Throws PAI_USAGE_BUDGET_EXCEEDED (429, Retry-After until midnight UTC) once today's tokens reach the budget. */
export async function checkDailyBudget(usage: UsageStore, userId: string, budget: number, now = new Date()): Promise<void> {
  if (budget <= 0) return;
  const spent = await usage.tokensOnDay(userId, utcDay(now));
  if (spent >= budget) {
    throw LimitErrors.budgetExceeded(budget, { headers: { 'retry-after': String(secondsUntilNextUtcDay(now)) }, details: { spent, budget } });
  }
}

export interface StreamLimiter {
  /** Reserves a stream slot for the user; the returned function frees it. */
  acquire(userId: string): () => void;
  active(userId: string): number;
}

/**
 * Concurrent streams per user, counted in this process (behind a load balancer each instance enforces
 * it on its own share of the traffic).
 */
export function createStreamLimiter(max: number): StreamLimiter {
  const counts = new Map<string, number>();
  return {
    acquire(userId) {
      const current = counts.get(userId) ?? 0;
      if (max > 0 && current >= max) throw LimitErrors.streamLimit(max, { headers: { 'retry-after': '1' } });
      counts.set(userId, current + 1);
      let released = false;
      return () => {
        if (released) return;
        released = true;
        const left = (counts.get(userId) ?? 1) - 1;
        if (left <= 0) counts.delete(userId);
        else counts.set(userId, left);
      };
    },
    active: (userId) => counts.get(userId) ?? 0,
  };
}
