import { z } from 'zod';
import { choiceVar, deepFreeze, intVar, parseEnv, refineStoreEnv, storeConfigFrom, storeEnv, type StoreConfig, serverConfigFrom, serverEnv, urlVar, type Env, type ServerConfig } from '@pai/config';

export const memoryEnv = {
  ...serverEnv,
  PAI_ADMIN_API_KEY: z.string().min(20, 'must be at least 20 characters').optional(),
  ...storeEnv,
  KEY_PROVIDER: choiceVar(['local', 'kms'], 'local'),
  PAI_IMPORT_LIMIT_BYTES: intVar(52_428_800, 1024, 2_147_483_647),
  PAI_MASTER_KEY: z.string().min(1).optional(),
  PAI_PREVIOUS_MASTER_KEYS: z.string().min(1).optional(),
  KMS_KEY_ID: z.string().min(1).max(2048).optional(),
  KMS_ENDPOINT: urlVar().optional(),
  SEARCH_SERVICE_URL: urlVar().optional(),
};

export function refineMemoryEnv(
  env: { KEY_PROVIDER: string; KMS_KEY_ID?: string | undefined; STORE_BACKEND: string; AWS_REGION?: string | undefined },
  ctx: z.RefinementCtx,
): void {
  refineStoreEnv(env, ctx);
  if (env.KEY_PROVIDER === 'kms' && env.KMS_KEY_ID === undefined) {
    ctx.addIssue({ code: 'custom', path: ['KMS_KEY_ID'], message: 'is required with KEY_PROVIDER=kms' });
  }
}

export interface MemoryConfig {
  server: ServerConfig;
  dataDir: string;
  importLimitBytes: number;
  /** Set → used as is; unset → generated into <dataDir>/admin-api-key on first start. */
  adminApiKey: string | undefined;
  store: StoreConfig;
  /** The search service to keep in step with memories and messages (when the services run apart). */
  searchServiceUrl: string | undefined;
  keys:
    | { provider: 'local'; masterKey: string | undefined; previousMasterKeys: string[] }
    | { provider: 'kms'; keyId: string; endpoint: string | undefined; region: string | undefined };
}

export function memoryConfigFrom(env: z.output<z.ZodObject<typeof memoryEnv>>): MemoryConfig {
  return {
    server: serverConfigFrom(env),
    dataDir: env.PAI_DATA_DIR,
    importLimitBytes: env.PAI_IMPORT_LIMIT_BYTES,
    adminApiKey: env.PAI_ADMIN_API_KEY,
    store: storeConfigFrom(env),
    searchServiceUrl: env.SEARCH_SERVICE_URL,
    keys: env.KEY_PROVIDER === 'kms'
      ? { provider: 'kms', keyId: env.KMS_KEY_ID!, endpoint: env.KMS_ENDPOINT, region: env.AWS_REGION }
      : { provider: 'local', masterKey: env.PAI_MASTER_KEY, previousMasterKeys: env.PAI_PREVIOUS_MASTER_KEYS?.split(',').map((k) => k.trim()).filter(Boolean) ?? [] },
  };
}

export function loadMemoryConfig(env: Env): MemoryConfig {
  return deepFreeze(memoryConfigFrom(parseEnv(z.object(memoryEnv).superRefine(refineMemoryEnv), env)));
}
