import type { FastifyPluginAsync } from 'fastify';
import type { MemoryClient } from '@pai/contracts';
import type { ModelProvider } from '@pai/model-provider';
import type { JobQueue, Store } from '@pai/store';
import { formationHandler, formationJob } from './domain/formation.js';
import { createJobWorker, type JobWorker } from './domain/job-worker.js';
import { summaryHandler, summaryJob } from './domain/summary.js';
import type { AgentConfig } from './config.js';
import { createDefaultAgentCatalog, type AgentCatalog } from './domain/agents.js';
import type { ChatDeps } from './domain/chat-turn.js';
import { createStreamLimiter } from './domain/limits.js';
import { createUsageRecorder } from './domain/usage.js';
import { createModelMetrics, guardModel, instrumentModel, modelPlugin } from './plugins/model.js';
import { chatRoutes } from './routes/chat/index.js';
import { chatCompletionsRoutes } from './routes/chat-completions/index.js';
import { usageRoutes } from './routes/usage/index.js';

export interface AgentServiceOptions {
  config: AgentConfig;
  model: ModelProvider;
  memory: MemoryClient;
  /** The agent's records (usage). Its lifecycle belongs to the caller. */
  store: Store;
  /** The durable queue memory formation runs from. Its lifecycle belongs to the caller. */
  jobs: JobQueue;
  agents?: AgentCatalog;
}

export const AGENT_TAGS = [
  { name: 'chat', description: 'Talk to the agent: JSON or streamed answers that remember the conversation' },
  { name: 'openai-compatible', description: 'The same chat through the OpenAI Chat Completions protocol, for any OpenAI client' },
  { name: 'usage', description: 'Token usage and cost per user' },
];

declare module 'fastify' {
  interface FastifyInstance {
    backgroundJobs: JobWorker;
  }
}

/** Everything the agent service serves, as one encapsulated plugin. */
export const agentService: FastifyPluginAsync<AgentServiceOptions> = async (app, { config, model, memory, store, jobs, agents }) => {
  const metrics = createModelMetrics(app.metrics.registry);
  const instrumented = instrumentModel(guardModel(model, config.llm.breaker, metrics), metrics);
  await app.register(modelPlugin, { model: instrumented });
  const worker = createJobWorker({
    queue: jobs,
    handlers: [formationHandler(memory, instrumented, app.log), summaryHandler(memory, instrumented, app.log)],
    log: app.log,
    retryDelayMs: (attempt) => config.formation.retryMs * 2 ** (attempt - 1),
  });
  /** Queues background work; the answer is already stored and sent, so a queue failure costs only this work. */
  const enqueue = async (job: Parameters<JobQueue['enqueue']>[0]) => {
    try {
      await jobs.enqueue(job);
      worker.kick();
    } catch (err) {
      app.log.warn({ kind: job.kind, code: (err as { code?: string }).code }, 'could not queue background work');
    }
  };
  app.addHook('onReady', async () => worker.start());
  app.addHook('onClose', async () => worker.stop());
  app.decorate('backgroundJobs', worker);
  const deps: ChatDeps = {
    memory,
    formation: {
      schedule: (userId, turn) => enqueue(formationJob(userId, {
        conversation_id: turn.conversationId, user_message_id: turn.userMessageId, assistant_message_id: turn.assistantMessageId,
      })),
    },
    summaries: {
      schedule: (userId, conversationId, keepFrom) => enqueue(summaryJob(userId, { conversation_id: conversationId, keep_from_message_id: keepFrom })),
    },
    model: instrumented,
    agents: agents ?? createDefaultAgentCatalog({ systemPrompt: config.chat.systemPrompt, model: config.llm.model, maxTokens: config.llm.maxOutputTokens }),
    usage: { recorder: createUsageRecorder(store.usage, config.prices, metrics.observeUsage), store: store.usage },
    settings: {
      historyMessages: config.chat.historyMessages,
      contextTokens: config.llm.contextTokens,
      maxOutputTokens: config.llm.maxOutputTokens,
      dailyTokenBudget: config.limits.dailyTokenBudget,
    },
  };
  const streams = createStreamLimiter(config.limits.maxConcurrentStreams);
  await app.register(chatRoutes, { deps, streams, ssePingMs: config.chat.ssePingMs });
  await app.register(chatCompletionsRoutes, { deps, streams, ssePingMs: config.chat.ssePingMs });
  await app.register(usageRoutes, { store: store.usage });
};
