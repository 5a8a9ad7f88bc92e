import { createServer, type AddressInfo } from 'node:net';
import type { Test } from 'tap';
import {
  createBedrockEmbeddings,
  createOpenAiEmbeddings,
  type BedrockEmbeddingsOptions,
  type ClosableEmbeddingProvider,
  type OpenAiEmbeddingsOptions,
} from '../src/index.js';
import {
  startBedrockEmbeddingsStandIn,
  startOpenAiEmbeddingsStandIn,
  type BedrockEmbeddingsStandIn,
  type BedrockEmbeddingsStandInOptions,
  type OpenAiEmbeddingsStandIn,
  type OpenAiEmbeddingsStandInOptions,
} from '../src/testing/index.js';

/** Backoff in single milliseconds, so retry paths run fast. */
export const FAST_RETRY = { retryDelays: { baseMs: 1, maxMs: 5 }, random: () => 0.5 };
/** Dummy static credentials: the stand-in accepts any signature. */
export const DUMMY_CREDENTIALS = { accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY' };
export const TITAN = 'amazon.titan-embed-text-v2:0';

export interface Rig<S> {
  standIn: S;
  provider: ClosableEmbeddingProvider;
}

/** An OpenAI-protocol stand-in and a provider over it (64 dimensions, batches of 16), both closed at the end. */
export async function openAiRig(
  t: Test,
  options: Partial<OpenAiEmbeddingsOptions> = {},
  standInOptions: OpenAiEmbeddingsStandInOptions = {},
): Promise<Rig<OpenAiEmbeddingsStandIn>> {
  const standIn = await startOpenAiEmbeddingsStandIn(standInOptions);
  const provider = createOpenAiEmbeddings({
    baseUrl: standIn.url, model: 'text-embedding-3-small', dimensions: 64, batchSize: 16, timeoutMs: 2_000, ...FAST_RETRY, ...options,
  });
  t.teardown(async () => {
    await provider.close();
    await standIn.close();
  });
  return { standIn, provider };
}

/** A Bedrock-protocol stand-in and a Titan v2 provider over it (256 dimensions), both closed at the end. */
export async function bedrockRig(
  t: Test,
  options: Partial<BedrockEmbeddingsOptions> = {},
  standInOptions: BedrockEmbeddingsStandInOptions = {},
): Promise<Rig<BedrockEmbeddingsStandIn>> {
  const standIn = await startBedrockEmbeddingsStandIn(standInOptions);
  const provider = createBedrockEmbeddings({
    region: 'us-east-1', endpoint: standIn.url, credentials: DUMMY_CREDENTIALS, model: TITAN, dimensions: 256, timeoutMs: 2_000,
    ...FAST_RETRY, ...options,
  });
  t.teardown(async () => {
    await provider.close();
    await standIn.close();
  });
  return { standIn, provider };
}

/** What `promise` rejected with; fails the test when it resolves. */
export async function caught(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

/** A localhost port nothing listens on. */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export function norm(vector: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < vector.length; i += 1) sum += vector[i]! * vector[i]!;
  return Math.sqrt(sum);
}
