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

interface StandInRig<S> {
  standIn: S;
  provider: ModelProvider;
  /** How many backoff delays were drawn, i.e. how many retries happened without a Retry-After. */
  readonly jitterDraws: number;
}

export type Rig = StandInRig<OpenAiStandIn>;
export type BedrockRig = StandInRig<BedrockStandIn>;

/** Tiny timeouts and backoff, so failure paths run in milliseconds. */
const FAST_TIMEOUTS = { connectMs: 500, firstTokenMs: 2_000, totalMs: 5_000 };
const FAST_RETRY = { maxRetries: 2, baseDelayMs: 1, maxDelayMs: 5 };

/** A stand-in plus a provider built over it (counting jitter draws), both closed when the test ends. */
async function standInRig<S extends { close(): Promise<void> }>(
  t: Test, standIn: S, makeProvider: (random: () => number) => ModelProvider,
): Promise<StandInRig<S>> {
  let draws = 0;
  const provider = makeProvider(() => {
    draws += 1;
    return 0.5;
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

/** An OpenAI-compatible stand-in and a provider over it. */
export async function rig(t: Test, options: Partial<OpenAiProviderOptions> = {}): Promise<Rig> {
  const standIn = await startOpenAiStandIn();
  return standInRig(t, standIn, (random) => createOpenAiProvider({
    baseUrl: standIn.url, defaultModel: 'stand-in', timeouts: FAST_TIMEOUTS, retry: FAST_RETRY, random, ...options,
  }));
}

/** Dummy static credentials: the stand-in accepts any signature. */
export const DUMMY_CREDENTIALS = { accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY' };
export const CLAUDE = 'anthropic.claude-3-5-haiku-20241022-v1:0';

/** A Bedrock-protocol stand-in and a provider over it. */
export async function bedrockRig(
  t: Test,
  options: Partial<BedrockProviderOptions> = {},
  standInOptions: BedrockStandInOptions = {},
): Promise<BedrockRig> {
  const standIn = await startBedrockStandIn(standInOptions);
  return standInRig(t, standIn, (random) => createBedrockProvider({
    region: 'us-east-1', endpoint: standIn.url, defaultModel: CLAUDE, credentials: DUMMY_CREDENTIALS,
    timeouts: { ...FAST_TIMEOUTS, idleMs: 2_000 }, retry: FAST_RETRY, random, ...options,
  }));
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
