import { z } from 'zod';
import { choiceVar, deepFreeze, parseEnv, serverConfigFrom, serverEnv, type Env, type ServerConfig } from '@pai/config';

export const memoryEnv = {
  ...serverEnv,
  PAI_DATA_DIR: z.string().default('./.pai'),
  PAI_ADMIN_API_KEY: z.string().min(20, 'must be at least 20 characters').optional(),
  STORE_BACKEND: choiceVar(['embedded'], 'embedded', ['dynamodb']),
};

export interface MemoryConfig {
  server: ServerConfig;
  dataDir: string;
  /** Set → used as is; unset → generated into <dataDir>/admin-api-key on first start. */
  adminApiKey: string | undefined;
  store: { backend: 'embedded' };
}

export function memoryConfigFrom(env: z.output<z.ZodObject<typeof memoryEnv>>): MemoryConfig {
  return {
    server: serverConfigFrom(env),
    dataDir: env.PAI_DATA_DIR,
    adminApiKey: env.PAI_ADMIN_API_KEY,
    store: { backend: env.STORE_BACKEND },
  };
}

export function loadMemoryConfig(env: Env): MemoryConfig {
  return deepFreeze(memoryConfigFrom(parseEnv(z.object(memoryEnv), env)));
}
