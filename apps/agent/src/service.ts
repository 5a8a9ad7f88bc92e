import type { FastifyPluginAsync } from 'fastify';
import type { MemoryClient, SearchClient } from '@pai/contracts';
import type { ModelProvider } from '@pai/model-provider';
import type { JobQueue, Store } from '@pai/store';
import { formationHandler, formationJob } from './domain/formation.js';
import { createJobWorker, type JobWorker } from './domain/job-worker.js';
import { summaryHandler, summaryJob } from './domain/summary.js';
import type { AgentConfig } from './config.js';
import { createRunRecorder } from './domain/agent-metrics.js';
import { createAgentPrometheusObserver } from './domain/agent-metrics-prometheus.js';
import { createEvaluationRunner } from './domain/evaluation.js';
import { createAgentRegistry } from './domain/registry.js';
import type { ChatDeps } from './domain/chat-turn.js';
import { createStreamLimiter } from './domain/limits.js';
import { createUsageRecorder } from './domain/usage.js';
import { createModelMetrics, guardModel, instrumentModel, modelPlugin } from './plugins/model.js';
import { chatRoutes } from './routes/chat/index.js';
import { chatCompletionsRoutes } from './routes/chat-completions/index.js';
import { usageRoutes } from './routes/usage/index.js';
import { agentRoutes } from './routes/agents/index.js';

export interface AgentServiceOptions {
  config: AgentConfig;
  model: ModelProvider;
  memory: MemoryClient;
  /** Retrieval of memories and document passages; without it memories come from the memory service. */
  search?: SearchClient | undefined;
  /** The agent's records (usage, agent registry, runs, evaluations). Its lifecycle belongs to the caller. */
  store: Store;
  /** The durable queue memory formation runs from. Its lifecycle belongs to the caller. */
  jobs: JobQueue;
  /** How long a judge call may take before the draft goes out unjudged (default 60 s). */
  judgeTimeoutMs?: number | undefined;
}

export const AGENT_TAGS = [
  { name: 'chat', description: 'Talk to the agent: JSON or streamed answers that remember the conversation' },
  { name: 'openai-compatible', description: 'The same chat through the OpenAI Chat Completions protocol, for any OpenAI client' },
  { name: 'usage', description: 'Token usage and cost per user' },
  { name: 'agents', description: 'Agent registry: versions, A/B routing, judge, evaluations and per-version metrics' },
];

declare module 'fastify' {
  interface FastifyInstance {
    backgroundJobs: JobWorker;
  }
}

/** Everything the agent service serves, as one encapsulated plugin. */
export const agentService: FastifyPluginAsync<AgentServiceOptions> = async (app, { config, model, memory, search, store, jobs, judgeTimeoutMs }) => {
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
  const registry = createAgentRegistry({
    store: store.agents,
    builtIn: { systemPrompt: config.chat.systemPrompt, model: config.llm.model, maxTokens: config.llm.maxOutputTokens },
  });
  const usage = { recorder: createUsageRecorder(store.usage, config.prices, metrics.observeUsage), store: store.usage };
  const runs = createRunRecorder({
    store: store.agents,
    observe: createAgentPrometheusObserver(app.metrics.registry),
    onError: (err, run) => app.log.warn({ agent: run.agentId, version: run.version, code: (err as { code?: string }).code }, 'could not store an agent run'),
  });
  const evaluations = createEvaluationRunner({
    store: store.agents, registry, model: instrumented, usage, log: app.log,
    dailyTokenBudget: config.limits.dailyTokenBudget, maxOutputTokens: config.llm.maxOutputTokens,
    ...(judgeTimeoutMs !== undefined ? { judgeTimeoutMs } : {}),
  });
  // Running evaluations stop (stored as failed) before the store closes.
  app.addHook('onClose', async () => evaluations.close());
  const deps: ChatDeps = {
    memory,
    search,
    log: app.log,
    formation: {
      schedule: (userId, turn) => enqueue(formationJob(userId, {
        conversation_id: turn.conversationId, user_message_id: turn.userMessageId, assistant_message_id: turn.assistantMessageId,
      })),
    },
    summaries: {
      schedule: (userId, conversationId, keepFrom) => enqueue(summaryJob(userId, { conversation_id: conversationId, keep_from_message_id: keepFrom })),
    },
    model: instrumented,
    agents: registry,
    usage,
    runs,
    judgeTimeoutMs,
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
  await app.register(agentRoutes, { registry, evaluations, runs: store.agents });
};
