import type { TokenUsage } from '@pai/model-provider';

/** US dollars per 1,000 tokens. */
export interface ModelPrice {
  input_per_1k: number;
  output_per_1k: number;
}

export type PriceTable = Readonly<Record<string, ModelPrice>>;

/**
 * On-demand prices of common Bedrock models (us-east-1 list prices, USD per 1K tokens). Override or
 * extend with PAI_MODEL_PRICES; models not listed (e.g. local Ollama models) cost 0.
 */
export const DEFAULT_PRICES: PriceTable = {
  'anthropic.claude-3-5-haiku-20241022-v1:0': { input_per_1k: 0.0008, output_per_1k: 0.004 },
  'anthropic.claude-3-haiku-20240307-v1:0': { input_per_1k: 0.00025, output_per_1k: 0.00125 },
  'anthropic.claude-3-5-sonnet-20241022-v2:0': { input_per_1k: 0.003, output_per_1k: 0.015 },
  'anthropic.claude-3-7-sonnet-20250219-v1:0': { input_per_1k: 0.003, output_per_1k: 0.015 },
  'anthropic.claude-sonnet-4-20250514-v1:0': { input_per_1k: 0.003, output_per_1k: 0.015 },
  'amazon.nova-micro-v1:0': { input_per_1k: 0.000035, output_per_1k: 0.00014 },
  'amazon.nova-lite-v1:0': { input_per_1k: 0.00006, output_per_1k: 0.00024 },
  'amazon.nova-pro-v1:0': { input_per_1k: 0.0008, output_per_1k: 0.0032 },
  'meta.llama3-1-8b-instruct-v1:0': { input_per_1k: 0.00022, output_per_1k: 0.00022 },
  'meta.llama3-1-70b-instruct-v1:0': { input_per_1k: 0.00072, output_per_1k: 0.00072 },
  'meta.llama3-3-70b-instruct-v1:0': { input_per_1k: 0.00072, output_per_1k: 0.00072 },
  'mistral.mistral-small-2402-v1:0': { input_per_1k: 0.001, output_per_1k: 0.003 },
  'mistral.mistral-large-2402-v1:0': { input_per_1k: 0.004, output_per_1k: 0.012 },
};

/** Cross-region inference profiles (us., eu., apac., global.) bill as their base model. */
const PROFILE_PREFIX = /^(us|eu|apac|global|us-gov)\./;

export function priceOf(prices: PriceTable, model: string): ModelPrice | null {
  return prices[model] ?? prices[model.replace(PROFILE_PREFIX, '')] ?? null;
}

export function costOf(prices: PriceTable, model: string, usage: Pick<TokenUsage, 'inputTokens' | 'outputTokens'>): number {
  const price = priceOf(prices, model);
  if (!price) return 0;
  const cost = (usage.inputTokens / 1000) * price.input_per_1k + (usage.outputTokens / 1000) * price.output_per_1k;
  return Math.round(cost * 1e9) / 1e9;
}
