import { newId } from '@pai/ids';
import { RequestErrors } from '@pai/errors';
import type { TokenUsage } from '@pai/model-provider';
import type { UsageGroupBy, UsageStore, UsageTotals } from '@pai/store';
import { costOf, type PriceTable } from './pricing.js';
import { utcDay } from './limits.js';

export interface UsageEvent {
  userId: string;
  conversationId: string | null;
  agentId: string;
  agentVersion: number;
  provider: string;
  model: string;
  usage: TokenUsage;
}

export interface UsageRecorder {
  /** Prices and stores one call's usage; returns its cost in USD. */
  record(event: UsageEvent): Promise<number>;
}

/** Observes recorded usage (e.g. Prometheus counters). */
export type UsageObserver = (event: UsageEvent, costUsd: number) => void;

export function createUsageRecorder(store: UsageStore, prices: PriceTable, observe?: UsageObserver): UsageRecorder {
  return {
    async record(event) {
      const costUsd = costOf(prices, event.model, event.usage);
      const now = new Date();
      await store.record({
        id: newId('req'), userId: event.userId, at: now.toISOString(), day: utcDay(now), conversationId: event.conversationId,
        agentId: event.agentId, agentVersion: event.agentVersion, provider: event.provider, model: event.model,
        inputTokens: event.usage.inputTokens, outputTokens: event.usage.outputTokens, costUsd, estimated: event.usage.estimated,
      });
      observe?.(event, costUsd);
      return costUsd;
    },
  };
}

export interface UsageQuery {
  from?: string | undefined;
  to?: string | undefined;
  groupBy: UsageGroupBy;
}

const DAY = /^\d{4}-\d{2}-\d{2}/;
const MAX_RANGE_DAYS = 366;

function dayOf(value: string, field: 'from' | 'to'): string {
  const date = new Date(value);
  if (!DAY.test(value) || Number.isNaN(date.getTime())) {
    throw RequestErrors.validation({ details: [{ field: `query.${field}`, message: 'expected a date (YYYY-MM-DD) or an ISO 8601 timestamp' }] });
  }
  return utcDay(date);
}

/** Usage over a day range (default: the last 30 days, today included), grouped and totalled. */
export async function summarizeUsage(store: UsageStore, userId: string, query: UsageQuery, now = new Date()) {
  const toDay = query.to ? dayOf(query.to, 'to') : utcDay(now);
  const fromDay = query.from ? dayOf(query.from, 'from') : utcDay(new Date(Date.parse(`${toDay}T00:00:00Z`) - 29 * 86_400_000));
  if (fromDay > toDay) throw RequestErrors.validation({ details: [{ field: 'query.from', message: 'must not be after to' }] });
  if ((Date.parse(toDay) - Date.parse(fromDay)) / 86_400_000 > MAX_RANGE_DAYS) {
    throw RequestErrors.validation({ details: [{ field: 'query.from', message: `the range may span at most ${MAX_RANGE_DAYS} days` }] });
  }
  const groups = await store.summarize(userId, { fromDay, toDay, groupBy: query.groupBy });
  const total = groups.reduce<Omit<UsageTotals, 'key'>>((sum, g) => ({
    requests: sum.requests + g.requests,
    inputTokens: sum.inputTokens + g.inputTokens,
    outputTokens: sum.outputTokens + g.outputTokens,
    costUsd: Math.round((sum.costUsd + g.costUsd) * 1e9) / 1e9,
    estimatedRequests: sum.estimatedRequests + g.estimatedRequests,
  }), { requests: 0, inputTokens: 0, outputTokens: 0, costUsd: 0, estimatedRequests: 0 });
  return { fromDay, toDay, groups, total };
}
