import { z } from 'zod';
import { deepFreeze, parseEnv, type Env } from '@pai/config';
import { agentConfigFrom, agentEnv, refineAgentEnv, type AgentConfig } from '@pai/agent';
import { memoryConfigFrom, memoryEnv, refineMemoryEnv, type MemoryConfig } from '@pai/memory';
import { refineSearchEnv, searchConfigFrom, searchEnv, type SearchConfig } from '@pai/search';

const schema = z.object({ ...memoryEnv, ...searchEnv, ...agentEnv }).superRefine((env, ctx) => {
  refineAgentEnv(env, ctx);
  refineMemoryEnv(env, ctx);
  refineSearchEnv(env, ctx);
});

/** The whole system in one process: each service's configuration, parsed from one environment. */
export interface EmbeddedConfig {
  memory: MemoryConfig;
  agent: AgentConfig;
  search: SearchConfig;
}

export function loadEmbeddedConfig(env: Env): EmbeddedConfig {
  const parsed = parseEnv(schema, env);
  return deepFreeze({ memory: memoryConfigFrom(parsed), agent: agentConfigFrom(parsed), search: searchConfigFrom(parsed) });
}
