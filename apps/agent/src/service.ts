import type { FastifyPluginAsync } from 'fastify';
import type { MemoryClient } from '@pai/contracts';
import type { ModelProvider } from '@pai/model-provider';
import type { AgentConfig } from './config.js';
import { createDefaultAgentCatalog, type AgentCatalog } from './domain/agents.js';
import { modelPlugin } from './plugins/model.js';
import { chatRoutes } from './routes/chat/index.js';

export interface AgentServiceOptions {
  config: AgentConfig;
  model: ModelProvider;
  memory: MemoryClient;
  agents?: AgentCatalog;
}

export const AGENT_TAGS = [{ name: 'chat', description: 'Talk to the agent: JSON or streamed answers that remember the conversation' }];

/** Everything the agent service serves, as one encapsulated plugin. */
export const agentService: FastifyPluginAsync<AgentServiceOptions> = async (app, { config, model, memory, agents }) => {
  await app.register(modelPlugin, { model });
  const catalog = agents ?? createDefaultAgentCatalog({
    systemPrompt: config.chat.systemPrompt, model: config.llm.model, maxTokens: config.llm.maxOutputTokens,
  });
  await app.register(chatRoutes, {
    deps: {
      memory,
      model,
      agents: catalog,
      settings: {
        historyMessages: config.chat.historyMessages,
        contextTokens: config.llm.contextTokens,
        maxOutputTokens: config.llm.maxOutputTokens,
      },
    },
    ssePingMs: config.chat.ssePingMs,
  });
};
