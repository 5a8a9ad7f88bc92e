import { z } from 'zod';
import { choiceVar, deepFreeze, parseEnv, serverConfigFrom, serverEnv, urlVar, type Env, type ServerConfig } from '@pai/config';

export const searchEnv = {
  ...serverEnv,
  SEARCH_BACKEND: choiceVar(['embedded'], 'embedded', ['opensearch']),
  EMBEDDINGS_PROVIDER: choiceVar(['none'], 'none', ['openai', 'bedrock']),
  MEMORY_SERVICE_URL: urlVar().optional(),
};

export interface SearchConfig {
  server: ServerConfig;
  backend: 'embedded';
  embeddings: 'none';
  memoryServiceUrl: string | undefined;
}

export function searchConfigFrom(env: z.output<z.ZodObject<typeof searchEnv>>): SearchConfig {
  return {
    server: serverConfigFrom(env),
    backend: env.SEARCH_BACKEND,
    embeddings: env.EMBEDDINGS_PROVIDER,
    memoryServiceUrl: env.MEMORY_SERVICE_URL,
  };
}

export function loadSearchConfig(env: Env): SearchConfig {
  return deepFreeze(searchConfigFrom(parseEnv(z.object(searchEnv), env)));
}
