import { defineError } from '@pai/errors';

export const AgentErrors = {
  notFound: defineError<[id: string]>('PAI_AGENT_NOT_FOUND', 404, (id) => `Agent '${id}' not found.`),
};

/** One immutable version of an agent: what the model is told and how it is called. */
export interface AgentVersion {
  agentId: string;
  version: number;
  systemPrompt: string;
  model: string;
  temperature?: number;
  maxTokens?: number;
}

export interface AgentCatalog {
  /** The version to serve for this agent (and conversation); throws PAI_AGENT_NOT_FOUND. */
  resolve(agentId: string, conversationId: string): Promise<AgentVersion>;
}

/**
 * The built-in `default` agent, configured from the environment. The agent registry (versions,
 * routing weights) replaces this catalog behind the same interface.
 */
export function createDefaultAgentCatalog(defaults: { systemPrompt: string; model: string; maxTokens: number }): AgentCatalog {
  const version: AgentVersion = { agentId: 'default', version: 1, systemPrompt: defaults.systemPrompt, model: defaults.model, maxTokens: defaults.maxTokens };
  return {
    async resolve(agentId) {
      if (agentId !== 'default') throw AgentErrors.notFound(agentId);
      return version;
    },
  };
}
