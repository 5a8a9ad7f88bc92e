import t from 'tap';
import { SearchErrors, type PaiError } from '@pai/errors';
import { createOpenAiEmbeddings } from '../src/index.js';
import { standInEmbedding } from '../src/testing/index.js';
import { FAST_RETRY, caught, closedPort, norm, openAiRig } from './helpers.js';

t.test('embeds texts with the request OpenAI expects and answers unit Float32 vectors', async (t) => {
  const { standIn, provider } = await openAiRig(t, { apiKey: 'sk-test' });
  t.equal(provider.name, 'openai');
  t.equal(provider.model, 'text-embedding-3-small');
  t.equal(provider.dimensions, 64);
  const vectors = await provider.embed(['My car broke down', 'See a doctor']);
  t.equal(vectors.length, 2);
  for (const vector of vectors) {
    t.ok(vector instanceof Float32Array);
    t.equal(vector.length, 64);
    t.ok(Math.abs(norm(vector) - 1) < 1e-5, 'unit length');
  }
  t.same(Array.from(vectors[0]!), Array.from(standInEmbedding('My car broke down', 64)), 'exactly the stand-in vector');
  t.same(Array.from(vectors[1]!), Array.from(standInEmbedding('See a doctor', 64)));
  const [sent] = standIn.requests;
  t.equal(sent?.method, 'POST');
  t.equal(sent?.path, '/v1/embeddings');
  t.equal(sent?.headers.authorization, 'Bearer sk-test');
  t.same(sent?.body, { model: 'text-embedding-3-small', input: ['My car broke down', 'See a doctor'], dimensions: 64, encoding_format: 'float' });
});

t.test('splits the input into batches of batchSize, a bounded number in flight, and keeps the order', async (t) => {
  const { standIn, provider } = await openAiRig(t, { batchSize: 3 }, { delayMs: 80 });
  const texts = Array.from({ length: 8 }, (_, i) => `text number ${i}`);
  const vectors = await provider.embed(texts);
  t.equal(standIn.calls, 3);
  t.same(standIn.requests.map((request) => (request.body?.input as string[]).length), [3, 3, 2]);
  t.same(standIn.texts, texts, 'each text sent once');
  t.equal(standIn.maxInFlight, 2, 'two requests at once by default');
  texts.forEach((text, i) => t.same(Array.from(vectors[i]!), Array.from(standInEmbedding(text, 64)), `vector ${i} in place`));

  const { standIn: serial, provider: one } = await openAiRig(t, { batchSize: 1, concurrency: 1 }, { delayMs: 20 });
  await one.embed(['a', 'b', 'c']);
  t.equal(serial.calls, 3);
  t.equal(serial.maxInFlight, 1, 'concurrency 1 sends one request at a time');
});

t.test('items answered out of order are put back by their index', async (t) => {
  const { standIn, provider } = await openAiRig(t);
  standIn.enqueue({ kind: 'shuffle' });
  const texts = ['alpha', 'beta', 'gamma', 'delta'];
  const vectors = await provider.embed(texts);
  texts.forEach((text, i) => t.same(Array.from(vectors[i]!), Array.from(standInEmbedding(text, 64))));
});

t.test('base64 embeddings (a server ignoring encoding_format) are decoded', async (t) => {
  const { standIn, provider } = await openAiRig(t);
  standIn.enqueue({ kind: 'base64' });
  const [vector] = await provider.embed(['holiday at home']);
  t.same(Array.from(vector!), Array.from(standInEmbedding('holiday at home', 64)));
});

t.test('vectors that are not unit length are normalized', async (t) => {
  const { provider } = await openAiRig(t, {}, { unnormalized: true });
  const vectors = await provider.embed(['one', 'three words here', 'fifteen chars!!']);
  for (const [i, vector] of vectors.entries()) {
    t.ok(Math.abs(norm(vector) - 1) < 1e-5, `vector ${i} has unit length`);
  }
  const expected = standInEmbedding('three words here', 64);
  for (let i = 0; i < 64; i += 1) t.ok(Math.abs(vectors[1]![i]! - expected[i]!) < 1e-6);
});

t.test('a model answering another size is a bad response naming EMBEDDINGS_DIMENSIONS, not retried', async (t) => {
  const { standIn, provider } = await openAiRig(t, { maxRetries: 2 }, { fixedDimensions: 32 });
  const error = (await caught(provider.embed(['x']))) as PaiError;
  t.ok(SearchErrors.embeddingsBadResponse.is(error), error.code);
  t.equal(error.statusCode, 502);
  t.match(error.message, /returned vectors of 32 dimensions, but EMBEDDINGS_DIMENSIONS is 64\. Set EMBEDDINGS_DIMENSIONS=32/);
  t.equal(standIn.calls, 1);
});

t.test('garbage answers are 502 PAI_EMBEDDINGS_BAD_RESPONSE and are not retried', async (t) => {
  const { standIn, provider } = await openAiRig(t, { maxRetries: 2 });
  const cases = [
    ['not-json', /not JSON/],
    ['wrong-length', /67 dimensions, but EMBEDDINGS_DIMENSIONS is 64/],
    ['missing-item', /no embedding for input 1 of 2/],
    ['wrong-shape', /not an embeddings list \(data: /],
  ] as const;
  for (const [what, message] of cases) {
    standIn.reset();
    standIn.enqueue({ kind: 'garbage', what });
    const error = (await caught(provider.embed(['first text', 'second text']))) as PaiError;
    t.ok(SearchErrors.embeddingsBadResponse.is(error), `${what}: ${error.code}`);
    t.match(error.message, message, what);
    t.equal(standIn.calls, 1, `${what}: not retried`);
  }
});

t.test('429 and 503 are retried with backoff, then the call succeeds', async (t) => {
  const { standIn, provider } = await openAiRig(t, { maxRetries: 2 });
  standIn.failNext(1, 429);
  standIn.failNext(1, 503);
  const [vector] = await provider.embed(['retry me']);
  t.same(Array.from(vector!), Array.from(standInEmbedding('retry me', 64)));
  t.equal(standIn.calls, 3);
});

t.test('Retry-After is honoured, capped by the longest backoff', async (t) => {
  const { standIn, provider } = await openAiRig(t, { maxRetries: 1, retryDelays: { baseMs: 1, maxMs: 80 } });
  standIn.enqueue({ kind: 'fail', status: 429, headers: { 'retry-after': '30' } });
  const started = performance.now();
  await provider.embed(['patience']);
  const elapsed = performance.now() - started;
  t.ok(elapsed >= 75, `waited ${elapsed.toFixed(0)} ms, the cap`);
  t.ok(elapsed < 1_000, 'not the 30 s asked for');
});

t.test('after maxRetries the error is 503 PAI_EMBEDDINGS_UNAVAILABLE with the upstream status', async (t) => {
  const { standIn, provider } = await openAiRig(t, { maxRetries: 2 });
  standIn.failNext(3, 503, 'overloaded, try later');
  const error = (await caught(provider.embed(['x']))) as PaiError;
  t.ok(SearchErrors.embeddingsUnavailable.is(error), error.code);
  t.equal(error.statusCode, 503);
  t.match(error.message, /answered HTTP 503: overloaded, try later/);
  t.same(error.details, { upstreamStatus: 503 });
  t.equal(standIn.calls, 3, 'first attempt plus two retries');

  standIn.reset();
  standIn.enqueue({ kind: 'fail', status: 429, headers: { 'retry-after': '0' } }, { kind: 'fail', status: 429, headers: { 'retry-after': '0' } }, { kind: 'fail', status: 429, headers: { 'retry-after': '7' } });
  const limited = (await caught(provider.embed(['x']))) as PaiError;
  t.match(limited.message, /rate limiting requests \(HTTP 429\)/);
  t.same(limited.headers, { 'Retry-After': '7' }, 'the upstream Retry-After is passed on');
});

t.test('400 is PAI_EMBEDDINGS_INVALID_REQUEST and is not retried', async (t) => {
  const { standIn, provider } = await openAiRig(t, { maxRetries: 3 });
  standIn.failNext(1, 400, "This model's maximum context length is 8192 tokens.");
  const error = (await caught(provider.embed(['a very long text']))) as PaiError;
  t.ok(SearchErrors.embeddingsInvalidRequest.is(error), error.code);
  t.equal(error.statusCode, 400);
  t.match(error.message, /rejected the request \(HTTP 400\): This model's maximum context length is 8192 tokens\./);
  t.equal(standIn.calls, 1);
});

t.test('a wrong or missing API key and an unknown model are 503s that say what to fix, never showing the key', async (t) => {
  const { standIn, provider } = await openAiRig(t, { apiKey: 'sk-wrong-key-123', maxRetries: 2 }, { apiKey: 'sk-right' });
  let error = (await caught(provider.embed(['x']))) as PaiError;
  t.ok(SearchErrors.embeddingsUnavailable.is(error), error.code);
  t.match(error.message, /rejected the API key \(HTTP 401\); check OPENAI_API_KEY/);
  t.equal(standIn.calls, 1, 'not retried');

  const { standIn: open, provider: keyless } = await openAiRig(t, { maxRetries: 2 });
  open.failNext(1, 401);
  error = (await caught(keyless.embed(['x']))) as PaiError;
  t.match(error.message, /requires an API key \(HTTP 401\); set OPENAI_API_KEY/);
  open.failNext(1, 404, "model 'nomic-embed-text' not found");
  error = (await caught(keyless.embed(['x']))) as PaiError;
  t.ok(SearchErrors.embeddingsUnavailable.is(error));
  t.match(error.message, /model 'text-embedding-3-small' was not found .*Check EMBEDDINGS_MODEL and OPENAI_BASE_URL/);
  t.equal(open.calls, 2, 'neither retried');

  const { standIn: echoing, provider: keyed } = await openAiRig(t, { apiKey: 'sk-secret-999' });
  echoing.failNext(1, 400, 'Bad request from key sk-secret-999');
  error = (await caught(keyed.embed(['x']))) as PaiError;
  t.notMatch(error.message, /sk-secret-999/);
  t.match(error.message, /key \[redacted\]/);
});

t.test('no answer within timeoutMs is 504 PAI_EMBEDDINGS_TIMEOUT and the request is closed', async (t) => {
  const { standIn, provider } = await openAiRig(t, { timeoutMs: 150, maxRetries: 2 });
  standIn.enqueue({ kind: 'hang' });
  const started = performance.now();
  const error = (await caught(provider.embed(['slow']))) as PaiError;
  t.ok(SearchErrors.embeddingsTimeout.is(error), error.code);
  t.equal(error.statusCode, 504);
  t.match(error.message, /did not answer within 150 ms/);
  t.ok(performance.now() - started < 1_000);
  t.ok(await standIn.waitForAborted(1, 1_000), 'the upstream connection was closed');
  t.equal(standIn.calls, 1, 'a timeout is not retried');

  standIn.enqueue({ kind: 'delay', ms: 30 });
  t.equal((await provider.embed(['a bit slow'])).length, 1, 'a slower answer within the limit is fine');
});

t.test('connection failures are retried, then 503', async (t) => {
  const port = await closedPort();
  const provider = createOpenAiEmbeddings({
    baseUrl: `http://127.0.0.1:${port}/v1`, model: 'm', dimensions: 8, batchSize: 4, timeoutMs: 1_000, maxRetries: 1, ...FAST_RETRY,
  });
  t.teardown(() => provider.close());
  const error = (await caught(provider.embed(['x']))) as PaiError;
  t.ok(SearchErrors.embeddingsUnavailable.is(error), error.code);
  t.match(error.message, new RegExp(`No embedding server reachable at http://127.0.0.1:${port}/v1 \\(connection refused\\)`));

  const { standIn, provider: dropped } = await openAiRig(t, { maxRetries: 1 });
  standIn.enqueue({ kind: 'drop' });
  t.equal((await dropped.embed(['x'])).length, 1, 'a dropped connection is retried');
  t.equal(standIn.calls, 2);
});

t.test('the caller\'s AbortSignal ends the call with its reason and closes the request', async (t) => {
  const { standIn, provider } = await openAiRig(t, { maxRetries: 2 });
  standIn.enqueue({ kind: 'hang' });
  const controller = new AbortController();
  const reason = new Error('client went away');
  setTimeout(() => controller.abort(reason), 50);
  const started = performance.now();
  const error = await caught(provider.embed(['never answered'], { signal: controller.signal }));
  t.equal(error, reason, 'rejects with the signal\'s reason');
  t.ok(performance.now() - started < 1_000);
  t.ok(await standIn.waitForAborted(1, 1_000), 'the upstream connection was closed');
  t.equal(standIn.calls, 1, 'not retried');

  const aborted = AbortSignal.abort();
  const early = (await caught(provider.embed(['x'], { signal: aborted }))) as Error;
  t.equal(early.name, 'AbortError');
  t.equal(standIn.calls, 1, 'nothing sent for an already aborted signal');

  // Aborting during the backoff between retries ends the wait at once.
  const during = new AbortController();
  const { standIn: failing, provider: patient } = await openAiRig(t, { maxRetries: 3, retryDelays: { baseMs: 5_000, maxMs: 5_000 } });
  failing.failNext(1, 503);
  setTimeout(() => during.abort(reason), 100);
  const startedBackoff = performance.now();
  t.equal(await caught(patient.embed(['x'], { signal: during.signal })), reason);
  t.ok(performance.now() - startedBackoff < 1_000, 'the backoff was cut short');
  t.equal(failing.calls, 1);
});

t.test('a batch that fails for good stops the other batches of the call', async (t) => {
  const { standIn, provider } = await openAiRig(t, { batchSize: 1, concurrency: 2, timeoutMs: 5_000 });
  standIn.enqueue({ kind: 'hang' }, { kind: 'fail', status: 400, message: 'bad input' });
  const started = performance.now();
  const error = (await caught(provider.embed(['one', 'two', 'three', 'four']))) as PaiError;
  t.ok(SearchErrors.embeddingsInvalidRequest.is(error), error.code);
  t.ok(performance.now() - started < 2_000, 'without waiting for the hung batch');
  t.ok(await standIn.waitForAborted(1, 1_000), 'the hung batch was closed');
  t.equal(standIn.calls, 2, 'batches three and four were never sent');
});

t.test('input checks and construction errors', async (t) => {
  const { standIn, provider } = await openAiRig(t);
  t.same(await provider.embed([]), [], 'nothing to embed');
  let error = (await caught(provider.embed(['fine', '']))) as PaiError;
  t.ok(SearchErrors.embeddingsInvalidRequest.is(error), error.code);
  t.match(error.message, /Text 2 of 2 to embed is empty/);
  error = (await caught(provider.embed(['fine', 7 as unknown as string]))) as PaiError;
  t.match(error.message, /Text 2 of 2 to embed is not a string/);
  error = (await caught(provider.embed('text' as unknown as string[]))) as PaiError;
  t.ok(SearchErrors.embeddingsInvalidRequest.is(error));
  t.equal(standIn.calls, 0, 'nothing sent');

  const base = { baseUrl: 'http://127.0.0.1:1/v1', model: 'm', dimensions: 8, batchSize: 4, timeoutMs: 1_000 };
  t.throws(() => createOpenAiEmbeddings({ ...base, baseUrl: 'localhost:11434' }), /OPENAI_BASE_URL must be an http\(s\) URL/);
  t.throws(() => createOpenAiEmbeddings({ ...base, baseUrl: 'http://user:hunter2@' }), { message: /^(?!.*hunter2)/ });
  t.throws(() => createOpenAiEmbeddings({ ...base, dimensions: 0 }), /EMBEDDINGS_DIMENSIONS must be a whole number of at least 1 \(got 0\)/);
  t.throws(() => createOpenAiEmbeddings({ ...base, batchSize: 0 }), /batch size must be a whole number of at least 1/);
  t.throws(() => createOpenAiEmbeddings({ ...base, timeoutMs: 0 }), /timeout \(ms\) must be/);
  t.throws(() => createOpenAiEmbeddings({ ...base, model: '' }), /EMBEDDINGS_MODEL is required/);
  t.throws(() => createOpenAiEmbeddings({ ...base, maxRetries: -1 }), /retries must be a whole number of at least 0/);
});

t.test('ping embeds a probe, throws the provider\'s error when unusable, and fails after close', async (t) => {
  const { standIn, provider } = await openAiRig(t, { maxRetries: 3 });
  await provider.ping();
  t.equal(standIn.calls, 1);
  t.same(standIn.texts, ['PAI readiness probe']);
  standIn.failNext(1, 503);
  const error = (await caught(provider.ping())) as PaiError;
  t.ok(SearchErrors.embeddingsUnavailable.is(error), error.code);
  t.equal(standIn.calls, 2, 'ping does not retry');
  const { standIn: hung, provider: quick } = await openAiRig(t, { timeoutMs: 100 });
  hung.enqueue({ kind: 'hang' });
  t.ok(SearchErrors.embeddingsTimeout.is(await caught(quick.ping())), 'a hung provider is a timeout');

  await provider.close();
  const closed = (await caught(provider.embed(['x']))) as PaiError;
  t.ok(SearchErrors.embeddingsUnavailable.is(closed));
  t.match(closed.message, /is closed/);
  t.ok(SearchErrors.embeddingsUnavailable.is(await caught(provider.ping())));
});
