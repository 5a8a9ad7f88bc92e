import fp from 'fastify-plugin';
import { createOpenAiProvider, type ModelHealth, type ModelProvider } from '@pai/model-provider';
import type { LlmConfig } from '../config.js';

declare module 'fastify' {
  interface FastifyInstance {
    model: ModelProvider;
  }
}

/** The provider the configuration names. */
export function createModelProvider(config: LlmConfig): ModelProvider {
  switch (config.provider) {
    case 'openai':
      return createOpenAiProvider({
        baseUrl: config.baseUrl,
        apiKey: config.apiKey,
        defaultModel: config.model,
        timeouts: config.timeouts,
        retry: { maxRetries: config.maxRetries },
      });
  }
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
