import { z } from 'zod';
import { DEFAULT_PRICES, type PriceTable } from './domain/pricing.js';
import { choiceVar, intVar, deepFreeze, parseEnv, refineStoreEnv, storeConfigFrom, storeEnv, type StoreConfig, serverConfigFrom, serverEnv, urlVar, type Env, type ServerConfig } from '@pai/config';

export const DEFAULT_SYSTEM_PROMPT =
  'You are PAI, a personal assistant that remembers. Answer helpfully, honestly and concisely. ' +
  'When you do not know something, say so.';

export const agentEnv = {
  ...serverEnv,
  LLM_PROVIDER: choiceVar(['openai', 'bedrock'], 'openai'),
  BEDROCK_ENDPOINT: urlVar().optional(),
  OPENAI_BASE_URL: urlVar().default('http://127.0.0.1:11434/v1'),
  OPENAI_API_KEY: z.string().min(1).optional(),
  LLM_MODEL: z.string().min(1).max(200).optional(),
  LLM_CONNECT_TIMEOUT_MS: intVar(5_000, 100, 120_000),
  LLM_FIRST_TOKEN_TIMEOUT_MS: intVar(120_000, 100, 1_800_000),
  LLM_TOTAL_TIMEOUT_MS: intVar(600_000, 100, 3_600_000),
  LLM_IDLE_TIMEOUT_MS: intVar(60_000, 100, 1_800_000),
  LLM_BREAKER_FAILURES: intVar(5, 1, 1000),
  LLM_BREAKER_OPEN_MS: intVar(30_000, 100, 3_600_000),
  LLM_MAX_RETRIES: intVar(2, 0, 10),
  LLM_CONTEXT_TOKENS: intVar(8_192, 512, 2_000_000),
  LLM_MAX_OUTPUT_TOKENS: intVar(1_024, 16, 200_000),
  PAI_HISTORY_MESSAGES: intVar(40, 0, 1000),
  PAI_SYSTEM_PROMPT: z.string().min(1).optional(),
  PAI_SSE_PING_MS: intVar(15_000, 10, 600_000),
  MEMORY_SERVICE_URL: urlVar().optional(),
  SEARCH_SERVICE_URL: urlVar().optional(),
  ...storeEnv,
  PAI_MODEL_PRICES: z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined) return {};
      let json: unknown;
      try {
        json = JSON.parse(v);
      } catch {
        ctx.addIssue({ code: 'custom', message: 'expected JSON like {"model-id": {"input_per_1k": 0.001, "output_per_1k": 0.002}}' });
        return z.NEVER;
      }
      const parsed = priceTableSchema.safeParse(json);
      if (!parsed.success) {
        ctx.addIssue({ code: 'custom', message: `expected {"model-id": {"input_per_1k": number, "output_per_1k": number}} (${parsed.error.issues[0]?.message})` });
        return z.NEVER;
      }
      return parsed.data;
    }),
  PAI_DAILY_TOKEN_BUDGET: intVar(0, 0, 1_000_000_000_000),
  PAI_MAX_CONCURRENT_STREAMS: intVar(4, 0, 10_000),
  PAI_FORMATION_RETRY_MS: intVar(2_000, 1, 600_000),
};

const priceTableSchema = z.record(z.string().min(1), z.object({ input_per_1k: z.number().min(0), output_per_1k: z.number().min(0) }).strict());

/** The provider's default model when LLM_MODEL is unset. */
export const DEFAULT_MODELS = { openai: 'llama3.2', bedrock: 'amazon.nova-lite-v1:0' } as const;

interface LlmCommon {
  model: string;
  timeouts: { connectMs: number; firstTokenMs: number; idleMs: number; totalMs: number };
  maxRetries: number;
  breaker: { failureThreshold: number; openMs: number };
  contextTokens: number;
  maxOutputTokens: number;
}

export type LlmConfig =
  | (LlmCommon & { provider: 'openai'; baseUrl: string; apiKey: string | undefined })
  | (LlmCommon & { provider: 'bedrock'; region: string; endpoint: string | undefined });

export interface AgentConfig {
  server: ServerConfig;
  llm: LlmConfig;
  chat: { historyMessages: number; systemPrompt: string; ssePingMs: number };
  /** Where the memory service is; undefined → in-process (embedded). */
  memoryServiceUrl: string | undefined;
  /** Retrieval (memories and document passages) when the services run apart. */
  searchServiceUrl: string | undefined;
  /** The agent's own records (usage): its store when it runs apart. */
  dataDir: string;
  store: StoreConfig;
  /** Default prices with PAI_MODEL_PRICES on top. */
  prices: PriceTable;
  /** Memory formation: first retry delay (doubles per attempt). */
  formation: { retryMs: number };
  limits: {
    /** Input + output tokens per user per UTC day; 0 = unlimited. */
    dailyTokenBudget: number;
    /** Concurrent streamed answers per user (per instance); 0 = unlimited. */
    maxConcurrentStreams: number;
  };
}

/** Cross-variable rules, shared with the embedded app's combined schema. */
export function refineAgentEnv(
  env: { LLM_CONTEXT_TOKENS: number; LLM_MAX_OUTPUT_TOKENS: number; LLM_PROVIDER: string; STORE_BACKEND: string; AWS_REGION?: string | undefined },
  ctx: z.RefinementCtx,
): void {
  refineStoreEnv(env, ctx);
  if (env.LLM_CONTEXT_TOKENS <= env.LLM_MAX_OUTPUT_TOKENS) {
    ctx.addIssue({ code: 'custom', path: ['LLM_MAX_OUTPUT_TOKENS'], message: 'must be smaller than LLM_CONTEXT_TOKENS' });
  }
  if (env.LLM_PROVIDER === 'bedrock' && env.AWS_REGION === undefined) {
    ctx.addIssue({ code: 'custom', path: ['AWS_REGION'], message: 'is required with LLM_PROVIDER=bedrock' });
  }
}

const schema = z.object(agentEnv).superRefine(refineAgentEnv);

export function agentConfigFrom(env: z.output<typeof schema>): AgentConfig {
  return {
    server: serverConfigFrom(env),
    llm: llmConfigFrom(env),
    chat: {
      historyMessages: env.PAI_HISTORY_MESSAGES,
      systemPrompt: env.PAI_SYSTEM_PROMPT ?? DEFAULT_SYSTEM_PROMPT,
      ssePingMs: env.PAI_SSE_PING_MS,
    },
    memoryServiceUrl: env.MEMORY_SERVICE_URL,
    searchServiceUrl: env.SEARCH_SERVICE_URL,
    dataDir: env.PAI_DATA_DIR,
    store: storeConfigFrom(env),
    prices: { ...DEFAULT_PRICES, ...env.PAI_MODEL_PRICES },
    limits: { dailyTokenBudget: env.PAI_DAILY_TOKEN_BUDGET, maxConcurrentStreams: env.PAI_MAX_CONCURRENT_STREAMS },
    formation: { retryMs: env.PAI_FORMATION_RETRY_MS },
  };
}

function llmConfigFrom(env: z.output<typeof schema>): LlmConfig {
  const common: LlmCommon = {
    model: env.LLM_MODEL ?? DEFAULT_MODELS[env.LLM_PROVIDER],
    timeouts: {
      connectMs: env.LLM_CONNECT_TIMEOUT_MS, firstTokenMs: env.LLM_FIRST_TOKEN_TIMEOUT_MS,
      idleMs: env.LLM_IDLE_TIMEOUT_MS, totalMs: env.LLM_TOTAL_TIMEOUT_MS,
    },
    maxRetries: env.LLM_MAX_RETRIES,
    breaker: { failureThreshold: env.LLM_BREAKER_FAILURES, openMs: env.LLM_BREAKER_OPEN_MS },
    contextTokens: env.LLM_CONTEXT_TOKENS,
    maxOutputTokens: env.LLM_MAX_OUTPUT_TOKENS,
  };
  return env.LLM_PROVIDER === 'bedrock'
    ? { ...common, provider: 'bedrock', region: env.AWS_REGION!, endpoint: env.BEDROCK_ENDPOINT }
    : { ...common, provider: 'openai', baseUrl: env.OPENAI_BASE_URL, apiKey: env.OPENAI_API_KEY };
}

export const agentEnvSchema = schema;

export function loadAgentConfig(env: Env): AgentConfig {
  return deepFreeze(agentConfigFrom(parseEnv(schema, env)));
}
