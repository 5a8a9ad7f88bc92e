import { createHash } from 'node:crypto';
import { AgentErrors } from '@pai/errors';
import type { JudgeSettings } from '@pai/store';

export { AgentErrors };
export type { JudgeSettings };

/** The agent every user has without creating it. */
export const DEFAULT_AGENT_ID = 'default';

/** One immutable version of an agent: what the model is told and how it is called. */
export interface AgentVersion {
  agentId: string;
  version: number;
  systemPrompt: string;
  model: string;
  temperature?: number;
  maxTokens?: number;
  /** Scores every draft and retries weak ones; absent = answers go out unjudged. */
  judge?: JudgeSettings;
}

/** The traffic split of one agent, for one request. */
export interface AgentRoute {
  readonly agentId: string;
  /** The version serving this conversation: the same one for as long as the weights stay the same. */
  pick(conversationId: string): Promise<AgentVersion>;
}

export interface AgentCatalog {
  /**
   * The agent's routing as the user sees it. Throws PAI_AGENT_NOT_FOUND for unknown ids and for another
   * user's agents, before anything about the turn is stored.
   */
  route(userId: string, agentId: string): Promise<AgentRoute>;
}

/**
 * The sticky bucket 0..99 of a conversation: the first 4 bytes of sha256(`agentId:conversationId`) mod 100.
 * A hash (not a stored assignment) so it survives restarts and agrees across service instances.
 */
export function stickyBucket(agentId: string, conversationId: string): number {
  return createHash('sha256').update(`${agentId}:${conversationId}`).digest().readUInt32BE(0) % 100;
}

/**
 * Walks the weights in version order until the bucket falls inside one. Weights summing to 100 cover
 * every bucket; null only when no version has any weight.
 */
export function pickVersion(routing: Readonly<Record<string, number>>, bucket: number): number | null {
  const entries = Object.entries(routing)
    .map(([version, weight]) => [Number(version), weight] as const)
    .filter(([, weight]) => weight > 0)
    .sort(([a], [b]) => a - b);
  let upTo = 0;
  for (const [version, weight] of entries) {
    upTo += weight;
    if (bucket < upTo) return version;
  }
  return entries.at(-1)?.[0] ?? null;
}

/** Version 1 of `default`, configured from the environment. */
export function builtInVersion(defaults: { systemPrompt: string; model: string; maxTokens: number }): AgentVersion {
  return { agentId: DEFAULT_AGENT_ID, version: 1, systemPrompt: defaults.systemPrompt, model: defaults.model, maxTokens: defaults.maxTokens };
}

/**
 * Only the built-in `default` agent, configured from the environment: for callers without a registry
 * (tests, tools). The service uses the registry (registry.ts) behind the same interface.
 */
export function createDefaultAgentCatalog(defaults: { systemPrompt: string; model: string; maxTokens: number }): AgentCatalog {
  const version = builtInVersion(defaults);
  const route: AgentRoute = { agentId: DEFAULT_AGENT_ID, pick: async () => version };
  return {
    async route(_userId, agentId) {
      if (agentId !== DEFAULT_AGENT_ID) throw AgentErrors.notFound(agentId);
      return route;
    },
  };
}
