import fp from 'fastify-plugin';
import { performance } from 'node:perf_hooks';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { LATENCY_BUCKETS } from '@pai/service-kit';
import { isPaiError } from '@pai/errors';
import {
  createBedrockProvider, createOpenAiProvider, withCircuitBreaker, type CircuitState, type ModelHealth, type ModelProvider,
} from '@pai/model-provider';
import type { LlmConfig } from '../config.js';
import type { UsageObserver } from '../domain/usage.js';

declare module 'fastify' {
  interface FastifyInstance {
    model: ModelProvider;
  }
}

/** The provider the configuration names (credentials for Bedrock come from the AWS SDK's default chain). */
export function createModelProvider(config: LlmConfig): ModelProvider {
  const retry = { maxRetries: config.maxRetries };
  switch (config.provider) {
    case 'openai':
      return createOpenAiProvider({ baseUrl: config.baseUrl, apiKey: config.apiKey, defaultModel: config.model, timeouts: config.timeouts, retry });
    case 'bedrock':
      return createBedrockProvider({
        region: config.region, ...(config.endpoint ? { endpoint: config.endpoint } : {}), defaultModel: config.model, timeouts: config.timeouts, retry,
      });
  }
}

const CIRCUIT_VALUE: Record<CircuitState, number> = { closed: 0, 'half-open': 1, open: 2 };

/** Wraps a provider in its circuit breaker, reporting the state as a gauge. */
export function guardModel(provider: ModelProvider, breaker: { failureThreshold: number; openMs: number }, metrics: ModelMetrics): ModelProvider {
  metrics.circuit.set({ provider: provider.name }, 0);
  return withCircuitBreaker(provider, {
    ...breaker,
    onStateChange: (state, name) => metrics.circuit.set({ provider: name }, CIRCUIT_VALUE[state]),
  });
}

export interface ModelMetrics {
  ttft: Histogram<'provider' | 'model'>;
  duration: Histogram<'provider' | 'model' | 'outcome'>;
  tokens: Counter<'provider' | 'model' | 'kind'>;
  cost: Counter<'provider' | 'model'>;
  circuit: Gauge<'provider'>;
  observeUsage: UsageObserver;
}

export function createModelMetrics(registry: Registry): ModelMetrics {
  const tokens = new Counter({
    name: 'pai_model_tokens_total', help: 'Tokens by provider, model and kind (input|output).',
    labelNames: ['provider', 'model', 'kind'], registers: [registry],
  });
  const cost = new Counter({
    name: 'pai_model_cost_usd_total', help: 'Cost of model calls in USD at the configured prices.',
    labelNames: ['provider', 'model'], registers: [registry],
  });
  return {
    ttft: new Histogram({
      name: 'pai_model_ttft_seconds', help: 'Time from the model call to its first token (whole answer when not streaming).',
      labelNames: ['provider', 'model'], buckets: LATENCY_BUCKETS, registers: [registry],
    }),
    duration: new Histogram({
      name: 'pai_model_duration_seconds', help: 'Duration of model calls by outcome (ok|error|aborted).',
      labelNames: ['provider', 'model', 'outcome'], buckets: LATENCY_BUCKETS, registers: [registry],
    }),
    tokens,
    cost,
    circuit: new Gauge({
      name: 'pai_model_circuit_state', help: 'Circuit breaker per provider: 0 closed, 1 half-open, 2 open.',
      labelNames: ['provider'], registers: [registry],
    }),
    observeUsage(event, costUsd) {
      tokens.inc({ provider: event.provider, model: event.model, kind: 'input' }, event.usage.inputTokens);
      tokens.inc({ provider: event.provider, model: event.model, kind: 'output' }, event.usage.outputTokens);
      cost.inc({ provider: event.provider, model: event.model }, costUsd);
    },
  };
}

const outcomeOf = (error: unknown) => (isPaiError(error) && error.code === 'PAI_LLM_ABORTED' ? 'aborted' : 'error');

/** The same provider, timing each call's first token and duration into the metrics. */
export function instrumentModel(provider: ModelProvider, metrics: ModelMetrics): ModelProvider {
  const labels = (model: string | undefined) => ({ provider: provider.name, model: model ?? provider.defaultModel });
  return {
    name: provider.name,
    endpoint: provider.endpoint,
    defaultModel: provider.defaultModel,
    async complete(request, options) {
      const started = performance.now();
      try {
        const result = await provider.complete(request, options);
        const seconds = (performance.now() - started) / 1000;
        metrics.ttft.observe(labels(request.model), seconds);
        metrics.duration.observe({ ...labels(request.model), outcome: 'ok' }, seconds);
        return result;
      } catch (error) {
        metrics.duration.observe({ ...labels(request.model), outcome: outcomeOf(error) }, (performance.now() - started) / 1000);
        throw error;
      }
    },
    async *stream(request, options) {
      const started = performance.now();
      let first = true;
      let outcome = 'aborted';
      try {
        for await (const event of provider.stream(request, options)) {
          if (first && event.type === 'delta') {
            first = false;
            metrics.ttft.observe(labels(request.model), (performance.now() - started) / 1000);
          }
          if (event.type === 'done') outcome = 'ok';
          yield event;
        }
      } catch (error) {
        outcome = outcomeOf(error);
        throw error;
      } finally {
        metrics.duration.observe({ ...labels(request.model), outcome }, (performance.now() - started) / 1000);
      }
    },
    check: (options) => provider.check(options),
    close: () => provider.close(),
  };
}

const HEALTH_CACHE_MS = 5_000;

/**
 * Decorates the app with the model provider and reports it in /readyz (cached briefly, so probes do
 * not hammer the model server). A missing model never stops the service from starting.
 */
export const modelPlugin = fp<{ model: ModelProvider }>(async (app, { model }) => {
  app.decorate('model', model);
  let cached: { at: number; health: ModelHealth } | null = null;
  app.readiness.register('model', async () => {
    if (cached && Date.now() - cached.at < HEALTH_CACHE_MS) return cached.health;
    cached = { at: Date.now(), health: await model.check() };
    return cached.health;
  });
  app.addHook('onClose', async () => {
    await model.close();
  });
}, { name: 'pai-model' });
