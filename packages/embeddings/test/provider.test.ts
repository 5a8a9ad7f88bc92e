import t, { type Test } from 'tap';
import { SearchErrors, type PaiError } from '@pai/errors';
import {
  DEFAULT_RETRY_DELAYS,
  backoffDelay,
  cosineSimilarity,
  createEmbeddingProvider,
  createOpenAiEmbeddings,
  normalize,
  vectorFromBase64,
  vectorToBase64,
  type ClosableEmbeddingProvider,
  type EmbeddingsConfig,
} from '../src/index.js';
import { cacheKey, VectorCache } from '../src/cache.js';
import {
  standInEmbedding,
  startBedrockEmbeddingsStandIn,
  startOpenAiEmbeddingsStandIn,
  type OpenAiEmbeddingsStandIn,
} from '../src/testing/index.js';
import { DUMMY_CREDENTIALS, FAST_RETRY, TITAN, caught, closedPort, norm } from './helpers.js';

const BASE: EmbeddingsConfig = {
  provider: 'openai',
  model: 'nomic-embed-text',
  dimensions: 32,
  batchSize: 8,
  timeoutMs: 2_000,
  maxRetries: 2,
  cacheEntries: 100,
};

/** A stand-in and the configured provider over it, both closed at the end. */
async function configured(
  t: Test,
  overrides: Partial<EmbeddingsConfig> = {},
): Promise<{ standIn: OpenAiEmbeddingsStandIn; provider: ClosableEmbeddingProvider }> {
  const standIn = await startOpenAiEmbeddingsStandIn();
  const provider = createEmbeddingProvider({ ...BASE, openai: { baseUrl: standIn.url }, ...overrides }, FAST_RETRY);
  if (!provider) throw new Error('expected a provider');
  t.teardown(async () => {
    await provider.close();
    await standIn.close();
  });
  return { standIn, provider };
}

const values = (vectors: Float32Array[]): number[][] => vectors.map((vector) => Array.from(vector));

t.test('provider "none" means no embeddings', async (t) => {
  t.equal(createEmbeddingProvider({ ...BASE, provider: 'none' }), null);
});

t.test('a config that cannot work fails at once, naming the setting', async (t) => {
  t.throws(() => createEmbeddingProvider({ ...BASE }), /EMBEDDINGS_PROVIDER=openai needs OPENAI_BASE_URL/);
  t.throws(() => createEmbeddingProvider({ ...BASE, provider: 'bedrock', model: TITAN }), /EMBEDDINGS_PROVIDER=bedrock needs AWS_REGION/);
  t.throws(() => createEmbeddingProvider({ ...BASE, provider: 'cohere' as 'openai' }), /EMBEDDINGS_PROVIDER must be none, openai or bedrock \(got 'cohere'\)/);
  const openai = { baseUrl: 'http://127.0.0.1:1/v1' };
  t.throws(() => createEmbeddingProvider({ ...BASE, openai, dimensions: -5 }), /EMBEDDINGS_DIMENSIONS must be a whole number/);
  t.throws(() => createEmbeddingProvider({ ...BASE, openai, model: '' }), /EMBEDDINGS_MODEL is required/);
  t.throws(() => createEmbeddingProvider({ ...BASE, openai, cacheEntries: 1.5 }), /cached embeddings must be a whole number/);
  t.throws(() => createEmbeddingProvider({ ...BASE, openai, maxRetries: Number.NaN }), /retries must be a whole number/);
  t.throws(
    () => createEmbeddingProvider({ ...BASE, provider: 'bedrock', model: TITAN, dimensions: 768, bedrock: { region: 'us-east-1' } }),
    /EMBEDDINGS_DIMENSIONS must be 256, 512 or 1024/,
  );
});

t.test('the cache: the same texts again make no upstream call, and callers get their own copies', async (t) => {
  const { standIn, provider } = await configured(t);
  const first = await provider.embed(['the quick fox', 'a lazy dog']);
  t.equal(standIn.calls, 1);
  const second = await provider.embed(['the quick fox', 'a lazy dog']);
  t.equal(standIn.calls, 1, 'answered from the cache');
  t.same(values(second), values(first));
  t.not(second[0], first[0], 'a fresh array each time');

  second[0]!.fill(0);
  const third = await provider.embed(['the quick fox']);
  t.same(Array.from(third[0]!), Array.from(standInEmbedding('the quick fox', 32)), 'changing a result does not change the cache');
});

t.test('duplicates within one call are embedded once; only texts not cached go upstream', async (t) => {
  const { standIn, provider } = await configured(t);
  const vectors = await provider.embed(['apple', 'pear', 'apple', 'apple', 'pear']);
  t.same(standIn.texts, ['apple', 'pear']);
  t.same(values(vectors), values(['apple', 'pear', 'apple', 'apple', 'pear'].map((text) => standInEmbedding(text, 32))));
  t.not(vectors[0], vectors[2], 'duplicates are separate arrays');

  const mixed = await provider.embed(['plum', 'pear', 'fig', 'apple', 'plum']);
  t.same(standIn.texts, ['apple', 'pear', 'plum', 'fig'], 'only plum and fig were sent');
  t.equal(standIn.calls, 2);
  t.same(values(mixed), values(['plum', 'pear', 'fig', 'apple', 'plum'].map((text) => standInEmbedding(text, 32))));
});

t.test('the cache keeps the most recently used entries', async (t) => {
  const { standIn, provider } = await configured(t, { cacheEntries: 2 });
  await provider.embed(['a1']);
  await provider.embed(['b1']);
  await provider.embed(['a1']);
  t.equal(standIn.calls, 2, 'a1 was cached');
  await provider.embed(['c1']);
  await provider.embed(['a1']);
  t.equal(standIn.calls, 3, 'a1 survived: it was used more recently than b1');
  await provider.embed(['b1']);
  t.equal(standIn.calls, 4, 'b1 was evicted');

  const cache = new VectorCache(2);
  cache.set('x', new Float32Array([1]));
  cache.set('y', new Float32Array([2]));
  cache.set('x', new Float32Array([3]));
  cache.set('z', new Float32Array([4]));
  t.equal(cache.size, 2);
  t.same(Array.from(cache.get('x')!), [3], 'a re-set entry counts as recent');
  t.equal(cache.get('y'), undefined);
});

t.test('cacheEntries 0 caches nothing, yet embeds each distinct text of a call once', async (t) => {
  const { standIn, provider } = await configured(t, { cacheEntries: 0 });
  await provider.embed(['same', 'same']);
  await provider.embed(['same']);
  t.same(standIn.texts, ['same', 'same'], 'once per call');
});

t.test('cache keys depend on provider, model, dimensions and the exact text', async (t) => {
  const key = cacheKey('openai', 'm', 32, 'text');
  t.equal(cacheKey('openai', 'm', 32, 'text'), key);
  t.not(cacheKey('bedrock', 'm', 32, 'text'), key);
  t.not(cacheKey('openai', 'm2', 32, 'text'), key);
  t.not(cacheKey('openai', 'm', 64, 'text'), key);
  t.not(cacheKey('openai', 'm', 32, 'text '), key);
  t.notMatch(key, /text/, 'a digest, not the text');
});

t.test('batches that succeeded stay cached when a later batch fails', async (t) => {
  const standIn = await startOpenAiEmbeddingsStandIn();
  const provider = createOpenAiEmbeddings({
    baseUrl: standIn.url, model: 'm', dimensions: 16, batchSize: 1, concurrency: 1, timeoutMs: 1_000, cacheEntries: 10, ...FAST_RETRY,
  });
  t.teardown(async () => {
    await provider.close();
    await standIn.close();
  });
  standIn.enqueue({ kind: 'reply' }, { kind: 'fail', status: 400 });
  t.ok(SearchErrors.embeddingsInvalidRequest.is(await caught(provider.embed(['kept', 'rejected']))));
  await provider.embed(['kept']);
  t.equal(standIn.calls, 2, 'the first batch came from the cache');
});

t.test('maxRetries comes from the config', async (t) => {
  const { standIn, provider } = await configured(t, { maxRetries: 0 });
  standIn.failNext(1, 503);
  t.ok(SearchErrors.embeddingsUnavailable.is(await caught(provider.embed(['x']))));
  t.equal(standIn.calls, 1);

  const { standIn: twice, provider: retrying } = await configured(t, { maxRetries: 2 });
  twice.failNext(2, 502);
  await retrying.embed(['x']);
  t.equal(twice.calls, 3);
});

t.test('backoff grows exponentially with jitter, within the maximum', async (t) => {
  t.same(DEFAULT_RETRY_DELAYS, { baseMs: 200, maxMs: 5_000 });
  const delays = { baseMs: 100, maxMs: 1_000 };
  t.equal(backoffDelay(0, delays, () => 0), 50);
  t.equal(backoffDelay(0, delays, () => 1), 100);
  t.equal(backoffDelay(2, delays, () => 0), 200);
  t.equal(backoffDelay(2, delays, () => 1), 400);
  t.equal(backoffDelay(10, delays, () => 1), 1_000, 'capped');
  for (let retry = 0; retry < 8; retry += 1) {
    const delay = backoffDelay(retry, delays);
    const ceiling = Math.min(1_000, 100 * 2 ** retry);
    t.ok(delay >= ceiling / 2 && delay <= ceiling, `retry ${retry}: ${delay} ms`);
  }
});

t.test('ping bypasses the cache and reports an unreachable provider', async (t) => {
  const { standIn, provider } = await configured(t);
  await provider.ping();
  await provider.ping();
  t.equal(standIn.calls, 2, 'each ping reaches the provider');

  const port = await closedPort();
  const down = createEmbeddingProvider({ ...BASE, openai: { baseUrl: `http://127.0.0.1:${port}/v1` } }, FAST_RETRY)!;
  t.teardown(() => down.close());
  const error = (await caught(down.ping())) as PaiError;
  t.ok(SearchErrors.embeddingsUnavailable.is(error), error.code);
  t.match(error.message, /connection refused/);
});

t.test('aborting a call whose texts are partly cached', async (t) => {
  const { standIn, provider } = await configured(t);
  await provider.embed(['cached']);
  standIn.enqueue({ kind: 'hang' });
  const controller = new AbortController();
  setTimeout(() => controller.abort(new Error('stop')), 30);
  const error = (await caught(provider.embed(['cached', 'fresh'], { signal: controller.signal }))) as Error;
  t.equal(error.message, 'stop');
  t.ok(await standIn.waitForAborted(1, 1_000));
  t.same(values(await provider.embed(['cached'])), [Array.from(standInEmbedding('cached', 32))], 'the cache is intact');
});

t.test('Bedrock through the config, with injected credentials and the cache', async (t) => {
  const standIn = await startBedrockEmbeddingsStandIn();
  const provider = createEmbeddingProvider(
    { ...BASE, provider: 'bedrock', model: TITAN, dimensions: 512, bedrock: { region: 'us-east-1', endpoint: standIn.url } },
    { ...FAST_RETRY, bedrock: { credentials: DUMMY_CREDENTIALS } },
  )!;
  t.teardown(async () => {
    await provider.close();
    await standIn.close();
  });
  t.equal(provider.name, 'bedrock');
  const texts = ['my automobile broke down', 'car repair shop', 'stock market news'];
  const vectors = await provider.embed(texts);
  await provider.embed(texts);
  t.equal(standIn.calls, 3, 'the second call came from the cache');
  t.ok(cosineSimilarity(vectors[0]!, vectors[1]!) > 0.3, 'synonyms meet without sharing a keyword');
  t.equal(cosineSimilarity(vectors[0]!, vectors[2]!), 0, 'unrelated texts do not');
});

t.test('cosineSimilarity', async (t) => {
  t.equal(cosineSimilarity([1, 0], [1, 0]), 1);
  t.equal(cosineSimilarity([1, 0], [0, 1]), 0);
  t.equal(cosineSimilarity([1, 0], [-1, 0]), -1);
  t.ok(Math.abs(cosineSimilarity([3, 4], [6, 8]) - 1) < 1e-12, 'independent of length');
  t.ok(Math.abs(cosineSimilarity(new Float32Array([1, 1]), new Float32Array([1, 0])) - Math.SQRT1_2) < 1e-7);
  t.equal(cosineSimilarity([0, 0], [1, 0]), 0, 'the zero vector is similar to nothing');
  t.throws(() => cosineSimilarity([1, 2], [1, 2, 3]), /one length \(got 2 and 3\)/);
});

t.test('normalize scales to unit length without touching its input', async (t) => {
  const input = [3, 4];
  const out = normalize(input);
  t.ok(out instanceof Float32Array);
  t.same(Array.from(out), [Math.fround(0.6), Math.fround(0.8)]);
  t.same(input, [3, 4], 'input unchanged');
  t.same(Array.from(normalize([0, 0, 0])), [0, 0, 0], 'the zero vector stays zero');
  const unit = new Float32Array([0.6, 0.8]);
  const again = normalize(unit);
  t.not(again, unit, 'always a new array');
  t.same(Array.from(again), Array.from(unit), 'a unit vector is kept bit for bit');
  const many = normalize(Array.from({ length: 1024 }, (_, i) => Math.sin(i) * 10));
  t.ok(Math.abs(norm(many) - 1) < 1e-6);
});

t.test('base64 vectors are little-endian Float32 and round-trip exactly', async (t) => {
  t.equal(vectorToBase64(new Float32Array([1])), 'AACAPw==', '1.0f is 00 00 80 3f');
  t.equal(vectorToBase64(new Float32Array([1, -2])), Buffer.from([0, 0, 0x80, 0x3f, 0, 0, 0, 0xc0]).toString('base64'));
  const vector = standInEmbedding('round trip through base64', 384);
  t.same(Array.from(vectorFromBase64(vectorToBase64(vector))), Array.from(vector));
  const view = new Float32Array(new Float32Array([9, 1.5, 2.5, 9]).buffer, 4, 2);
  t.same(Array.from(vectorFromBase64(vectorToBase64(view))), [1.5, 2.5], 'a view encodes only its own elements');
  t.same(Array.from(vectorFromBase64('')), []);
  t.throws(() => vectorFromBase64('AACA'), /whole 4-byte floats \(got 3 bytes\)/);
  t.throws(() => vectorFromBase64('not base64!'), /not base64/);
});
