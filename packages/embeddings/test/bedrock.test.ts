import t from 'tap';
import { BedrockRuntimeClient } from '@aws-sdk/client-bedrock-runtime';
import { NodeHttp2Handler, NodeHttpHandler } from '@smithy/node-http-handler';
import { SearchErrors, type ErrorFactory, type PaiError } from '@pai/errors';
import { TITAN_V2_DIMENSIONS, createBedrockEmbeddings } from '../src/index.js';
import { standInEmbedding, startBedrockEmbeddingsStandIn } from '../src/testing/index.js';
import { DUMMY_CREDENTIALS, FAST_RETRY, TITAN, bedrockRig, caught, closedPort, norm } from './helpers.js';

t.test('embeds each text with an InvokeModel call Titan v2 understands', async (t) => {
  const { standIn, provider } = await bedrockRig(t);
  t.equal(provider.name, 'bedrock');
  t.equal(provider.model, TITAN);
  t.equal(provider.dimensions, 256);
  const vectors = await provider.embed(['Visit the physician', 'Buy a sofa']);
  t.same(Array.from(vectors[0]!), Array.from(standInEmbedding('Visit the physician', 256)), 'exactly the stand-in vector');
  t.same(Array.from(vectors[1]!), Array.from(standInEmbedding('Buy a sofa', 256)));
  for (const vector of vectors) {
    t.ok(vector instanceof Float32Array);
    t.ok(Math.abs(norm(vector) - 1) < 1e-5);
  }
  t.equal(standIn.calls, 2, 'one call per text');
  const [sent] = standIn.requests;
  t.equal(sent?.path, `/model/${encodeURIComponent(TITAN)}/invoke`, 'the model id travels URL-encoded');
  t.equal(sent?.modelId, TITAN);
  t.ok(sent?.signed, 'SigV4-signed');
  t.match(sent?.headers.authorization, /Credential=AKIAIOSFODNN7EXAMPLE\/\d{8}\/us-east-1\/bedrock\/aws4_request/);
  t.equal(sent?.headers['content-type'], 'application/json');
  t.equal(sent?.httpVersion, 'HTTP/1.1', 'NodeHttpHandler by default');
  t.same(sent?.body, { inputText: 'Visit the physician', dimensions: 256, normalize: true });
});

t.test('a batch is a bounded number of calls in flight, answered in input order', async (t) => {
  const { standIn, provider } = await bedrockRig(t, {}, { delayMs: 100 });
  const texts = Array.from({ length: 20 }, (_, i) => `sentence ${i}`);
  const vectors = await provider.embed(texts);
  t.equal(standIn.calls, 20);
  t.equal(standIn.maxInFlight, 8, 'eight calls at once by default');
  texts.forEach((text, i) => t.same(Array.from(vectors[i]!), Array.from(standInEmbedding(text, 256)), `vector ${i} in place`));

  const { standIn: narrow, provider: three } = await bedrockRig(t, { concurrency: 3 });
  // Earlier texts answer later, so answers arrive out of order.
  narrow.enqueue({ kind: 'delay', ms: 200 }, { kind: 'delay', ms: 100 }, { kind: 'reply' });
  const ordered = await three.embed(['first', 'second', 'third', 'fourth', 'fifth']);
  t.equal(narrow.maxInFlight, 3);
  ['first', 'second', 'third', 'fourth', 'fifth'].forEach((text, i) => t.same(Array.from(ordered[i]!), Array.from(standInEmbedding(text, 256))));
});

t.test('Titan v2 takes 256, 512 or 1024 dimensions: others are refused when the provider is made', async (t) => {
  t.same(TITAN_V2_DIMENSIONS, [256, 512, 1024]);
  const base = { region: 'us-east-1', endpoint: 'http://127.0.0.1:1', credentials: DUMMY_CREDENTIALS, model: TITAN, timeoutMs: 1_000 };
  t.throws(() => createBedrockEmbeddings({ ...base, dimensions: 768 }), /EMBEDDINGS_DIMENSIONS must be 256, 512 or 1024 for amazon\.titan-embed-text-v2:0 \(got 768\)/);
  t.throws(() => createBedrockEmbeddings({ ...base, dimensions: 1536 }), RangeError);
  t.throws(() => createBedrockEmbeddings({ ...base, region: '', dimensions: 256 }), /AWS_REGION is required/);
  t.throws(() => createBedrockEmbeddings({ ...base, model: '', dimensions: 256 }), /EMBEDDINGS_MODEL is required/);
  for (const dimensions of [256, 512, 1024]) {
    const provider = createBedrockEmbeddings({ ...base, dimensions });
    t.equal(provider.dimensions, dimensions);
    await provider.close();
  }
  const arn = 'arn:aws:bedrock:us-east-1:123456789012:provisioned-model/abc123';
  const other = createBedrockEmbeddings({ ...base, model: arn, dimensions: 768 });
  t.equal(other.model, arn, 'an opaque model id is not second-guessed');
  await other.close();

  const { standIn, provider } = await bedrockRig(t, { dimensions: 1024 });
  const [vector] = await provider.embed(['large house']);
  t.equal(vector!.length, 1024);
  t.equal(standIn.requests[0]?.body?.dimensions, 1024);
});

t.test('Bedrock exceptions become PAI_EMBEDDINGS_* errors; only transient ones are retried', async (t) => {
  const { standIn, provider } = await bedrockRig(t, { maxRetries: 1 });
  const cases: Array<[exception: string, factory: ErrorFactory<[string]>, retried: boolean, message: RegExp]> = [
    ['ThrottlingException', SearchErrors.embeddingsUnavailable, true, /Bedrock is throttling embedding requests for model 'amazon\.titan-embed-text-v2:0' in us-east-1 \(ThrottlingException: /],
    ['ServiceUnavailableException', SearchErrors.embeddingsUnavailable, true, /Bedrock is unavailable/],
    ['InternalServerException', SearchErrors.embeddingsUnavailable, true, /failed internally/],
    ['ModelNotReadyException', SearchErrors.embeddingsUnavailable, true, /not ready/],
    ['ModelTimeoutException', SearchErrors.embeddingsTimeout, false, /took too long/],
    ['ValidationException', SearchErrors.embeddingsInvalidRequest, false, /rejected the embedding request/],
    ['AccessDeniedException', SearchErrors.embeddingsUnavailable, false, /Model access.*bedrock:InvokeModel/],
    ['ResourceNotFoundException', SearchErrors.embeddingsUnavailable, false, /Check EMBEDDINGS_MODEL and AWS_REGION/],
    ['ServiceQuotaExceededException', SearchErrors.embeddingsUnavailable, false, /quota/],
    ['ModelErrorException', SearchErrors.embeddingsUnavailable, false, /failed processing the text/],
    ['UnrecognizedClientException', SearchErrors.embeddingsUnavailable, false, /rejected the AWS credentials/],
  ];
  for (const [exception, factory, retried, message] of cases) {
    standIn.reset();
    standIn.failNext(2, exception);
    const error = (await caught(provider.embed(['x']))) as PaiError;
    t.ok(factory.is(error), `${exception} → ${error.code}`);
    t.match(error.message, message, exception);
    t.equal(standIn.calls, retried ? 2 : 1, `${exception} ${retried ? 'retried' : 'not retried'}`);
  }
});

t.test('throttling then success', async (t) => {
  const { standIn, provider } = await bedrockRig(t, { maxRetries: 2 });
  standIn.failNext(2, 'ThrottlingException');
  const [vector] = await provider.embed(['eventually']);
  t.same(Array.from(vector!), Array.from(standInEmbedding('eventually', 256)));
  t.equal(standIn.calls, 3);
});

t.test('what Titan itself rejects is 400 PAI_EMBEDDINGS_INVALID_REQUEST with its reason', async (t) => {
  const { standIn, provider } = await bedrockRig(t, { maxRetries: 2 });
  const error = (await caught(provider.embed(['x'.repeat(50_001)]))) as PaiError;
  t.ok(SearchErrors.embeddingsInvalidRequest.is(error), error.code);
  t.match(error.message, /expected maxLength: 50000, actual: 50001/);
  t.equal(standIn.calls, 1);
});

t.test('garbage answers are 502 PAI_EMBEDDINGS_BAD_RESPONSE and are not retried', async (t) => {
  const { standIn, provider } = await bedrockRig(t, { maxRetries: 2 });
  const cases = [
    ['not-json', /is not JSON/],
    ['wrong-length', /259 dimensions, but EMBEDDINGS_DIMENSIONS is 256/],
    ['wrong-shape', /no list of numbers under "embedding"/],
  ] as const;
  for (const [what, message] of cases) {
    standIn.reset();
    standIn.enqueue({ kind: 'garbage', what });
    const error = (await caught(provider.embed(['x']))) as PaiError;
    t.ok(SearchErrors.embeddingsBadResponse.is(error), `${what}: ${error.code}`);
    t.match(error.message, message, what);
    t.equal(standIn.calls, 1, `${what}: not retried`);
  }
});

t.test('no answer within timeoutMs is 504 and the call is closed; the caller\'s signal ends a call too', async (t) => {
  const { standIn, provider } = await bedrockRig(t, { timeoutMs: 150, maxRetries: 2 });
  standIn.enqueue({ kind: 'hang' });
  const error = (await caught(provider.embed(['slow']))) as PaiError;
  t.ok(SearchErrors.embeddingsTimeout.is(error), error.code);
  t.match(error.message, new RegExp(`provider at ${standIn.url} did not answer within 150 ms`));
  t.ok(await standIn.waitForAborted(1, 1_000), 'the connection was closed');
  t.equal(standIn.calls, 1);

  standIn.reset();
  standIn.enqueue({ kind: 'hang' }, { kind: 'hang' });
  const controller = new AbortController();
  setTimeout(() => controller.abort(), 40);
  const aborted = (await caught(provider.embed(['a', 'b'], { signal: controller.signal }))) as Error;
  t.equal(aborted.name, 'AbortError', 'the signal\'s reason');
  t.ok(await standIn.waitForAborted(2, 1_000), 'both calls were closed');
});

t.test('connection failures are retried, then 503', async (t) => {
  const port = await closedPort();
  const provider = createBedrockEmbeddings({
    region: 'eu-west-1', endpoint: `http://127.0.0.1:${port}`, credentials: DUMMY_CREDENTIALS, model: TITAN, dimensions: 256,
    timeoutMs: 1_000, maxRetries: 1, ...FAST_RETRY,
  });
  t.teardown(() => provider.close());
  const error = (await caught(provider.embed(['x']))) as PaiError;
  t.ok(SearchErrors.embeddingsUnavailable.is(error), error.code);
  t.match(error.message, /No Bedrock endpoint reachable at http:\/\/127\.0\.0\.1:\d+ \(connection refused\)/);

  const { standIn, provider: dropped } = await bedrockRig(t, { maxRetries: 1 });
  standIn.enqueue({ kind: 'drop' });
  t.equal((await dropped.embed(['x'])).length, 1, 'a dropped connection is retried');
  t.equal(standIn.calls, 2);
});

t.test('missing AWS credentials say how to provide them', async (t) => {
  const noCredentials = async (): Promise<never> => {
    throw Object.assign(new Error('Could not load credentials from any providers'), { name: 'CredentialsProviderError' });
  };
  const { standIn, provider } = await bedrockRig(t, { credentials: noCredentials, maxRetries: 2 });
  const error = (await caught(provider.embed(['x']))) as PaiError;
  t.ok(SearchErrors.embeddingsUnavailable.is(error), error.code);
  t.match(error.message, /No AWS credentials found for Bedrock .*IAM role/);
  t.equal(standIn.calls, 0);
});

t.test('h2c through NodeHttp2Handler, and an injected client that close() leaves alone', async (t) => {
  const { standIn, provider } = await bedrockRig(t, { requestHandler: new NodeHttp2Handler() }, { http2: true });
  const [vector] = await provider.embed(['over http2']);
  t.same(Array.from(vector!), Array.from(standInEmbedding('over http2', 256)));
  t.equal(standIn.requests[0]?.httpVersion, 'HTTP/2.0');

  const plain = await startBedrockEmbeddingsStandIn();
  const client = new BedrockRuntimeClient({
    region: 'us-west-2', endpoint: plain.url, credentials: DUMMY_CREDENTIALS, maxAttempts: 1, requestHandler: new NodeHttpHandler(),
  });
  t.teardown(async () => {
    client.destroy();
    await plain.close();
  });
  const first = createBedrockEmbeddings({ region: 'us-west-2', client, model: TITAN, dimensions: 512, timeoutMs: 1_000 });
  t.equal((await first.embed(['injected']))[0]!.length, 512);
  await first.close();
  const second = createBedrockEmbeddings({ region: 'us-west-2', client, model: TITAN, dimensions: 512, timeoutMs: 1_000 });
  t.equal((await second.embed(['still usable'])).length, 1, 'the injected client was not destroyed');
  await second.close();
  t.match(plain.requests[0]?.headers.authorization, /\/us-west-2\/bedrock\/aws4_request/);
});

t.test('ping embeds a probe and throws when Bedrock is unusable', async (t) => {
  const { standIn, provider } = await bedrockRig(t);
  await provider.ping();
  t.same(standIn.texts, ['PAI readiness probe']);
  standIn.failNext(1, 'AccessDeniedException');
  t.ok(SearchErrors.embeddingsUnavailable.is(await caught(provider.ping())));
});
