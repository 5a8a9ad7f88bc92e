import { newId } from '@pai/ids';
import { RequestErrors } from '@pai/errors';
import type { AgentRunRecord, AgentStore, AttemptRecord } from '@pai/store';

/** One chat turn as the per-version metrics see it (the recorder adds the id and the time). */
export interface TurnRun {
  userId: string;
  agentId: string;
  version: number;
  conversationId: string | null;
  ok: boolean;
  errorCode: string | null;
  latencyMs: number;
  ttftMs: number | null;
  inputTokens: number;
  outputTokens: number;
  costUsd: number;
  score: number | null;
  passed: boolean | null;
  attempts: AttemptRecord[];
}

export interface RunRecorder {
  /** Stores the run and updates the live series. Never throws: the answer is already out. */
  record(run: TurnRun): Promise<void>;
}

/** Live series of the runs (Prometheus). */
export type RunObserver = (run: AgentRunRecord) => void;

export function createRunRecorder(options: {
  store: AgentStore;
  observe?: RunObserver;
  /** Told when storing a run failed (the metrics route then under-counts it). */
  onError(error: unknown, run: AgentRunRecord): void;
  now?: () => Date;
}): RunRecorder {
  const now = options.now ?? (() => new Date());
  return {
    async record(turn) {
      // A run is one served request: it shares the usage records' `req_` prefix.
      const run: AgentRunRecord = { id: newId('req'), at: now().toISOString(), ...turn };
      options.observe?.(run);
      try {
        await options.store.recordRun(run);
      } catch (error) {
        options.onError(error, run);
      }
    },
  };
}

export interface Percentiles {
  p50: number | null;
  p95: number | null;
  p99: number | null;
}

/** Nearest-rank percentile of ascending values: the smallest value with at least p % of values at or below it. */
export function nearestRank(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null;
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(rank, sorted.length) - 1]!;
}

function percentilesOf(values: number[]): Percentiles {
  const sorted = [...values].sort((a, b) => a - b);
  return { p50: nearestRank(sorted, 50), p95: nearestRank(sorted, 95), p99: nearestRank(sorted, 99) };
}

export interface VersionMetrics {
  /** null for the totals. */
  version: number | null;
  requests: number;
  errors: number;
  errorCodes: Record<string, number>;
  latencyMs: Percentiles;
  ttftMs: Percentiles;
  inputTokens: number;
  outputTokens: number;
  costUsd: number;
  judge: {
    judged: number;
    passed: number;
    passRate: number | null;
    meanScore: number | null;
    unjudged: number;
    retried: number;
    attempts: number;
  };
}

const round = (value: number, digits: number) => Math.round(value * 10 ** digits) / 10 ** digits;

export function metricsOf(version: number | null, runs: readonly AgentRunRecord[]): VersionMetrics {
  const errorCodes: Record<string, number> = {};
  let inputTokens = 0;
  let outputTokens = 0;
  let costUsd = 0;
  let judged = 0;
  let passed = 0;
  let scoreSum = 0;
  let unjudged = 0;
  let retried = 0;
  let attempts = 0;
  for (const run of runs) {
    if (!run.ok) {
      const code = run.errorCode ?? 'unknown';
      errorCodes[code] = (errorCodes[code] ?? 0) + 1;
    }
    inputTokens += run.inputTokens;
    outputTokens += run.outputTokens;
    costUsd += run.costUsd;
    if (run.score !== null) {
      judged += 1;
      scoreSum += run.score;
      if (run.passed === true) passed += 1;
    } else if (run.ok && run.attempts.length > 0) {
      unjudged += 1;
    }
    if (run.attempts.length > 1) retried += 1;
    attempts += run.attempts.length;
  }
  return {
    version,
    requests: runs.length,
    errors: runs.filter((r) => !r.ok).length,
    errorCodes,
    latencyMs: percentilesOf(runs.map((r) => r.latencyMs)),
    ttftMs: percentilesOf(runs.flatMap((r) => (r.ttftMs === null ? [] : [r.ttftMs]))),
    inputTokens,
    outputTokens,
    costUsd: round(costUsd, 9),
    judge: {
      judged,
      passed,
      passRate: judged === 0 ? null : round(passed / judged, 4),
      meanScore: judged === 0 ? null : round(scoreSum / judged, 4),
      unjudged,
      retried,
      attempts,
    },
  };
}

/** Per version (ascending) and in total. */
export function summarizeRuns(runs: readonly AgentRunRecord[]): { versions: VersionMetrics[]; total: VersionMetrics } {
  const byVersion = new Map<number, AgentRunRecord[]>();
  for (const run of runs) {
    const list = byVersion.get(run.version);
    if (list) list.push(run);
    else byVersion.set(run.version, [run]);
  }
  const versions = [...byVersion.keys()].sort((a, b) => a - b).map((v) => metricsOf(v, byVersion.get(v)!));
  return { versions, total: metricsOf(null, runs) };
}

const DAY_MS = 86_400_000;
/** Runs are read into memory to rank them: the window is bounded. */
export const MAX_WINDOW_DAYS = 31;

function instantOf(value: string, field: 'from' | 'to'): Date {
  const date = new Date(value);
  if (!/^\d{4}-\d{2}-\d{2}/.test(value) || Number.isNaN(date.getTime())) {
    throw RequestErrors.validation({ details: [{ field: `query.${field}`, message: 'expected an ISO 8601 instant or date' }] });
  }
  return date;
}

/** The window [from, to): default the last 24 h; at most MAX_WINDOW_DAYS. */
export function metricsWindow(query: { from?: string | undefined; to?: string | undefined }, now = new Date()): { from: string; to: string } {
  const to = query.to === undefined ? now : instantOf(query.to, 'to');
  const from = query.from === undefined ? new Date(to.getTime() - DAY_MS) : instantOf(query.from, 'from');
  if (from.getTime() >= to.getTime()) throw RequestErrors.validation({ details: [{ field: 'query.from', message: 'must be before to' }] });
  if (to.getTime() - from.getTime() > MAX_WINDOW_DAYS * DAY_MS) {
    throw RequestErrors.validation({ details: [{ field: 'query.from', message: `the window may span at most ${MAX_WINDOW_DAYS} days` }] });
  }
  return { from: from.toISOString(), to: to.toISOString() };
}

/** Per-version metrics of one of the user's agents over a window (404 for unknown and other users' agents). */
export async function agentMetrics(
  deps: { agents: { get(userId: string, id: string): Promise<{ id: string }> }; runs: Pick<AgentStore, 'listRuns'> },
  userId: string, agentId: string, query: { from?: string | undefined; to?: string | undefined }, now = new Date(),
) {
  const agent = await deps.agents.get(userId, agentId);
  const window = metricsWindow(query, now);
  const runs = await deps.runs.listRuns(userId, agent.id, window);
  return { agentId: agent.id, ...window, ...summarizeRuns(runs) };
}
