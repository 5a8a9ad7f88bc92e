export { buildApp, VERSION, type AgentOverrides } from './app.js';
export { agentService, AGENT_TAGS, type AgentServiceOptions } from './service.js';
export { loadAgentConfig, agentConfigFrom, agentEnv, agentEnvSchema, refineAgentEnv, DEFAULT_SYSTEM_PROMPT, type AgentConfig, type LlmConfig } from './config.js';
export { createModelProvider } from './plugins/model.js';
export { createDefaultAgentCatalog, AgentErrors, type AgentCatalog, type AgentVersion } from './domain/agents.js';
export { buildPrompt, budgetTokens } from './domain/prompt.js';
