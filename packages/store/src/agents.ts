/**
 * The agent registry's records: agents a user created, their immutable versions, routing weights, one
 * record per served request (for per-version metrics) and evaluations. Every read and write takes the
 * owner's id; another user's agent is simply not found.
 */
import type { Page, PageRequest } from './index.js';

export interface AgentRecord {
  /** A slug, unique per user. */
  id: string;
  userId: string;
  name: string;
  description: string | null;
  /** Version number (as a string) → percent of traffic; the percents sum to 100. Empty before any version. */
  routing: Record<string, number>;
  /** The highest version number created so far (0 before the first). */
  latestVersion: number;
  createdAt: string;
  updatedAt: string;
}

export interface JudgeSettings {
  /** The judge's model; null = the version's own model. */
  model: string | null;
  rubric: string;
  /** 0..10: drafts scoring below it are retried with the judge's feedback. */
  minScore: number;
  /** Drafts generated at most (the first included). */
  maxAttempts: number;
}

export interface AgentVersionRecord {
  agentId: string;
  userId: string;
  /** 1, 2, 3… assigned by the store. */
  version: number;
  systemPrompt: string;
  model: string;
  temperature: number | null;
  maxTokens: number | null;
  judge: JudgeSettings | null;
  createdAt: string;
}

/** One judged draft of a request. */
export interface AttemptRecord {
  attempt: number;
  /** null when the judge failed (judgeError says why). */
  score: number | null;
  passed: boolean | null;
  inputTokens: number;
  outputTokens: number;
  judgeInputTokens: number;
  judgeOutputTokens: number;
  latencyMs: number;
  judgeLatencyMs: number;
  judgeError: string | null;
}

/** One request an agent version served (or failed), as the metrics see it. */
export interface AgentRunRecord {
  id: string;
  userId: string;
  agentId: string;
  version: number;
  /** When the request finished (ISO). */
  at: string;
  conversationId: string | null;
  ok: boolean;
  /** The error code when ok is false. */
  errorCode: string | null;
  latencyMs: number;
  /** Time to first token (streaming) or to the full answer; null when nothing came. */
  ttftMs: number | null;
  inputTokens: number;
  outputTokens: number;
  costUsd: number;
  /** The judge's verdict on the returned draft; null when the version has no judge or the judge failed. */
  score: number | null;
  passed: boolean | null;
  /** Every attempt when the version has a judge; empty otherwise. */
  attempts: AttemptRecord[];
}

export type EvaluationStatus = 'running' | 'completed' | 'failed';

export interface EvaluationRecord {
  id: string;
  userId: string;
  agentId: string;
  versions: number[];
  status: EvaluationStatus;
  casesTotal: number;
  casesDone: number;
  /** The request (cases) and results so far, as JSON text the registry defines. */
  body: string;
  error: string | null;
  createdAt: string;
  updatedAt: string;
}

export interface AgentStore {
  /** Throws PAI_AGENT_CONFLICT when the user already has an agent with this id. */
  create(agent: AgentRecord): Promise<void>;
  get(userId: string, id: string): Promise<AgentRecord | null>;
  /** By id. */
  list(userId: string, page: PageRequest): Promise<Page<AgentRecord>>;
  /**
   * Adds the next version (the store assigns `version` = latestVersion + 1, atomically, so two writers
   * never get the same number) and returns it. Throws PAI_AGENT_NOT_FOUND when the agent is not the user's.
   * `routing`, when given, replaces the agent's weights in the same write. Without it, the first version
   * of an agent that has no weights takes 100 %, and later versions get no traffic until routed.
   */
  addVersion(version: Omit<AgentVersionRecord, 'version'>, routing?: Record<string, number>): Promise<AgentVersionRecord>;
  getVersion(userId: string, agentId: string, version: number): Promise<AgentVersionRecord | null>;
  /** Oldest first. */
  listVersions(userId: string, agentId: string): Promise<AgentVersionRecord[]>;
  /** Replaces the weights; null when the agent is not the user's. */
  setRouting(userId: string, agentId: string, routing: Record<string, number>, updatedAt: string): Promise<AgentRecord | null>;
  recordRun(run: AgentRunRecord): Promise<void>;
  /** The agent's runs with from <= at < to (ISO instants), oldest first. */
  listRuns(userId: string, agentId: string, range: { from: string; to: string }): Promise<AgentRunRecord[]>;
  /** Creates or replaces the evaluation. */
  putEvaluation(evaluation: EvaluationRecord): Promise<void>;
  getEvaluation(userId: string, agentId: string, id: string): Promise<EvaluationRecord | null>;
}
