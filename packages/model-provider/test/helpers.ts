import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import type { Test } from 'tap';
import {
  createBedrockProvider,
  createOpenAiProvider,
  type BedrockProviderOptions,
  type ModelProvider,
  type ModelStreamEvent,
  type OpenAiProviderOptions,
} from '../src/index.js';
import {
  startBedrockStandIn,
  startOpenAiStandIn,
  type BedrockStandIn,
  type BedrockStandInOptions,
  type OpenAiStandIn,
} from '../src/testing/index.js';

export interface Rig {
  standIn: OpenAiStandIn;
  provider: ModelProvider;
  /** How many backoff delays were drawn, i.e. how many retries happened without a Retry-After. */
  readonly jitterDraws: number;
}

/** A stand-in plus a provider with tiny timeouts and backoff, both closed when the test ends. */
export async function rig(t: Test, options: Partial<OpenAiProviderOptions> = {}): Promise<Rig> {
  const standIn = await startOpenAiStandIn();
  let draws = 0;
  const provider = createOpenAiProvider({
    baseUrl: standIn.url,
    defaultModel: 'stand-in',
    timeouts: { connectMs: 500, firstTokenMs: 2_000, totalMs: 5_000 },
    retry: { maxRetries: 2, baseDelayMs: 1, maxDelayMs: 5 },
    random: () => {
      draws += 1;
      return 0.5;
    },
    ...options,
  });
  t.teardown(async () => {
    await provider.close();
    await standIn.close();
  });
  return {
    standIn,
    provider,
    get jitterDraws() {
      return draws;
    },
  };
}

export interface BedrockRig {
  standIn: BedrockStandIn;
  provider: ModelProvider;
  /** How many backoff delays were drawn, i.e. how many retries happened. */
  readonly jitterDraws: number;
}

/** Dummy static credentials: the stand-in accepts any signature. */
export const DUMMY_CREDENTIALS = { accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY' };
export const CLAUDE = 'anthropic.claude-3-5-haiku-20241022-v1:0';

/** A Bedrock-protocol stand-in plus a provider with tiny timeouts and backoff, both closed when the test ends. */
export async function bedrockRig(
  t: Test,
  options: Partial<BedrockProviderOptions> = {},
  standInOptions: BedrockStandInOptions = {},
): Promise<BedrockRig> {
  const standIn = await startBedrockStandIn(standInOptions);
  let draws = 0;
  const provider = createBedrockProvider({
    region: 'us-east-1',
    endpoint: standIn.url,
    defaultModel: CLAUDE,
    credentials: DUMMY_CREDENTIALS,
    timeouts: { connectMs: 500, firstTokenMs: 2_000, idleMs: 2_000, totalMs: 5_000 },
    retry: { maxRetries: 2, baseDelayMs: 1, maxDelayMs: 5 },
    random: () => {
      draws += 1;
      return 0.5;
    },
    ...options,
  });
  t.teardown(async () => {
    await provider.close();
    await standIn.close();
  });
  return {
    standIn,
    provider,
    get jitterDraws() {
      return draws;
    },
  };
}

/** A localhost port nothing listens on. */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export interface Collected {
  deltas: string[];
  done: Extract<ModelStreamEvent, { type: 'done' }> | undefined;
  error: unknown;
}

/** Drains a stream, keeping what arrived before a failure. */
export async function collect(stream: AsyncIterable<ModelStreamEvent>): Promise<Collected> {
  const collected: Collected = { deltas: [], done: undefined, error: undefined };
  try {
    for await (const event of stream) {
      if (event.type === 'delta') collected.deltas.push(event.text);
      else collected.done = event;
    }
  } catch (error) {
    collected.error = error;
  }
  return collected;
}

export async function caught(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

export function activeTimeouts(): number {
  return process.getActiveResourcesInfo().filter((kind) => kind === 'Timeout').length;
}
