import t from 'tap';
import { BedrockRuntimeClient, ConverseStreamCommand } from '@aws-sdk/client-bedrock-runtime';
import { NodeHttp2Handler } from '@smithy/node-http-handler';
import { LlmErrors, type ErrorFactory, type PaiError } from '@pai/errors';
import { createBedrockProvider, type ModelRequest } from '../src/index.js';
import { startBedrockStandIn } from '../src/testing/index.js';
import { CLAUDE, DUMMY_CREDENTIALS, bedrockRig, caught, closedPort, collect } from './helpers.js';

const ask = (content: string, extra: Partial<ModelRequest> = {}): ModelRequest => ({ messages: [{ role: 'user', content }], ...extra });

t.test('complete sends a Converse request and returns text, usage and finish reason', async (t) => {
  const { standIn, provider } = await bedrockRig(t);
  const answer = await provider.complete({
    messages: [
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'first' },
      { role: 'assistant', content: 'Echo: first' },
      { role: 'user', content: 'hello there' },
    ],
    temperature: 0.2,
    maxTokens: 50,
  });
  t.equal(answer.text, 'Echo: hello there');
  t.equal(answer.model, CLAUDE);
  t.equal(answer.finishReason, 'stop');
  t.same(answer.usage, { inputTokens: 19, outputTokens: 3, estimated: false });
  const [sent] = standIn.requests;
  t.equal(sent?.operation, 'converse');
  t.equal(sent?.path, `/model/${encodeURIComponent(CLAUDE)}/converse`, 'the model id travels URL-encoded');
  t.equal(sent?.modelId, CLAUDE);
  t.ok(sent?.signed, 'the request is SigV4-signed');
  t.match(sent?.headers.authorization, /Credential=AKIAIOSFODNN7EXAMPLE\/\d{8}\/us-east-1\/bedrock\/aws4_request/);
  t.equal(sent?.httpVersion, 'HTTP/1.1', 'NodeHttpHandler by default');
  t.same(sent?.body, {
    messages: [
      { role: 'user', content: [{ text: 'first' }] },
      { role: 'assistant', content: [{ text: 'Echo: first' }] },
      { role: 'user', content: [{ text: 'hello there' }] },
    ],
    system: [{ text: 'Be brief.' }],
    inferenceConfig: { maxTokens: 50, temperature: 0.2 },
  });
  t.equal(provider.name, 'bedrock');
  t.equal(provider.endpoint, standIn.url);
  t.equal(provider.defaultModel, CLAUDE);
});

t.test('turns are made Bedrock-shaped: merged, blank ones dropped, a user turn first', async (t) => {
  const { standIn, provider } = await bedrockRig(t);
  const answer = await provider.complete({
    messages: [
      { role: 'assistant', content: 'Hi! How can I help?' },
      { role: 'system', content: 'rule one' },
      { role: 'user', content: 'part one' },
      { role: 'user', content: '   ' },
      { role: 'user', content: 'part two' },
      { role: 'assistant', content: 'a' },
      { role: 'assistant', content: 'b' },
      { role: 'system', content: 'rule two' },
      { role: 'user', content: 'last' },
    ],
  });
  t.equal(answer.text, 'Echo: last', 'the stand-in (which validates like Bedrock) accepted it');
  const body = standIn.requests[0]?.body;
  t.same(body?.system, [{ text: 'rule one' }, { text: 'rule two' }]);
  t.same(body?.messages?.map((message) => message.role), ['user', 'assistant', 'user', 'assistant', 'user']);
  t.same(body?.messages?.[2]?.content, [{ text: 'part one\n\npart two' }]);
  t.same(body?.messages?.[3]?.content, [{ text: 'a\n\nb' }]);
  t.notOk(body && 'inferenceConfig' in body, 'no inference config when nothing is set');

  const error = (await caught(provider.complete({ messages: [{ role: 'system', content: 'only rules' }] }))) as PaiError;
  t.ok(LlmErrors.invalidRequest.is(error), error.code);
  t.equal(standIn.requests.length, 1, 'nothing sent for a request with no turns');
});

t.test('the model id is any family\'s and travels URL-encoded', async (t) => {
  const { standIn, provider } = await bedrockRig(t);
  const models = ['us.amazon.nova-lite-v1:0', 'meta.llama3-1-8b-instruct-v1:0', 'mistral.mistral-large-2407-v1:0', 'arn:aws:bedrock:us-east-1:123456789012:inference-profile/x'];
  for (const model of models) {
    const answer = await provider.complete(ask('hi', { model }));
    t.equal(answer.model, model);
    const result = await collect(provider.stream(ask('hi', { model })));
    t.equal(result.done?.model, model);
  }
  t.same(standIn.requests.map((request) => request.modelId), models.flatMap((model) => [model, model]));
  t.ok(standIn.requests.every((request) => !/[:/]/.test(request.path.slice('/model/'.length).split('/')[0]!)), 'encoded in the path');
});

t.test('stream yields deltas from ConverseStream frames and ends with done and the metadata usage', async (t) => {
  const { standIn, provider } = await bedrockRig(t);
  const result = await collect(provider.stream({ messages: [{ role: 'system', content: 'sys' }, { role: 'user', content: 'hello wide world' }], maxTokens: 9 }));
  t.equal(result.error, undefined);
  t.same(result.deltas, ['Echo: ', 'hello ', 'wide ', 'world']);
  t.same(result.done, { type: 'done', model: CLAUDE, usage: { inputTokens: 8, outputTokens: 4, estimated: false }, finishReason: 'stop' });
  t.equal(standIn.requests[0]?.operation, 'converse-stream');
  t.same(standIn.requests[0]?.body?.inferenceConfig, { maxTokens: 9 });
});

t.test('stop reasons map to finish reasons', async (t) => {
  const { provider } = await bedrockRig(t);
  const cases: Array<[string, string]> = [
    ['end_turn', 'stop'],
    ['stop_sequence', 'stop'],
    ['max_tokens', 'length'],
    ['model_context_window_exceeded', 'length'],
    ['content_filtered', 'content_filter'],
    ['guardrail_intervened', 'content_filter'],
    ['tool_use', 'other'],
  ];
  for (const [stopReason, finish] of cases) {
    t.equal((await provider.complete(ask(`[[stand-in:stop:${stopReason}]]`))).finishReason, finish, `complete ${stopReason}`);
    t.equal((await collect(provider.stream(ask(`[[stand-in:stop:${stopReason}]]`)))).done?.finishReason, finish, `stream ${stopReason}`);
  }
});

t.test('usage is estimated and marked so when Bedrock reports none', async (t) => {
  const { standIn, provider } = await bedrockRig(t);
  standIn.enqueue({ kind: 'no-usage', text: 'four score and seven' }, { kind: 'no-usage', text: 'four score and seven' });
  const answer = await provider.complete(ask('abcdefgh'));
  t.same(answer.usage, { inputTokens: 2, outputTokens: 5, estimated: true });
  const result = await collect(provider.stream(ask('abcdefgh')));
  t.equal(result.deltas.join(''), 'four score and seven');
  t.same(result.done?.usage, { inputTokens: 2, outputTokens: 5, estimated: true });
});

t.test('over HTTP/2 (h2c) with the SDK\'s NodeHttp2Handler', async (t) => {
  const { standIn, provider } = await bedrockRig(t, { requestHandler: new NodeHttp2Handler({}) }, { http2: true });
  t.equal((await provider.complete(ask('over h2'))).text, 'Echo: over h2');
  const result = await collect(provider.stream(ask('streamed over h2')));
  t.equal(result.deltas.join(''), 'Echo: streamed over h2');
  t.equal(result.done?.finishReason, 'stop');
  t.same(standIn.requests.map((request) => request.httpVersion), ['HTTP/2.0', 'HTTP/2.0']);
  t.same(await provider.check(), { ok: true });

  standIn.enqueue({ kind: 'stream-exception', deltas: 1, exception: 'ModelStreamErrorException' });
  const failed = await collect(provider.stream(ask('a b c')));
  t.same(failed.deltas, ['Echo: ']);
  t.ok(LlmErrors.upstream.is(failed.error), (failed.error as PaiError).code);

  // A client as the SDK makes it by default (its own HTTP/2 handler) understands the stand-in too.
  const client = new BedrockRuntimeClient({ region: 'us-west-2', endpoint: standIn.url, credentials: DUMMY_CREDENTIALS });
  t.teardown(() => client.destroy());
  const response = await client.send(new ConverseStreamCommand({ modelId: 'us.amazon.nova-lite-v1:0', messages: [{ role: 'user', content: [{ text: 'default client' }] }] }));
  const events: string[] = [];
  for await (const event of response.stream ?? []) events.push(Object.keys(event)[0]!);
  t.same(events, ['messageStart', 'contentBlockDelta', 'contentBlockDelta', 'contentBlockDelta', 'contentBlockStop', 'messageStop', 'metadata']);
  t.equal(standIn.requests.at(-1)?.httpVersion, 'HTTP/2.0');
  t.equal(standIn.requests.at(-1)?.modelId, 'us.amazon.nova-lite-v1:0');
});

interface ErrorCase {
  directive: string;
  factory: ErrorFactory<[string]>;
  status: number;
  message: RegExp;
  /** Requests the stand-in sees for one call (retries included), with maxRetries 2. */
  requests: number;
}

const errorCases: ErrorCase[] = [
  { directive: 'fail:ValidationException', factory: LlmErrors.invalidRequest, status: 400, message: /rejected the request .*ValidationException: The stand-in/, requests: 1 },
  { directive: 'fail:AccessDeniedException', factory: LlmErrors.unavailable, status: 503, message: /denied access to model .* Enable access to this model in the Bedrock console/, requests: 1 },
  { directive: 'fail:ResourceNotFoundException', factory: LlmErrors.unavailable, status: 503, message: /Check the model id .* and the region/, requests: 1 },
  { directive: 'fail:UnrecognizedClientException', factory: LlmErrors.unavailable, status: 503, message: /rejected the AWS credentials/, requests: 1 },
  { directive: 'fail:ModelTimeoutException', factory: LlmErrors.timeout, status: 504, message: /took too long .*ModelTimeoutException/, requests: 1 },
  { directive: 'throttle', factory: LlmErrors.rateLimited, status: 503, message: /throttling requests .*ThrottlingException: Too many requests/, requests: 3 },
  { directive: 'fail:ServiceUnavailableException', factory: LlmErrors.unavailable, status: 503, message: /Bedrock is unavailable/, requests: 3 },
  { directive: 'fail:ModelNotReadyException', factory: LlmErrors.unavailable, status: 503, message: /not ready to serve requests/, requests: 3 },
  { directive: 'fail:InternalServerException', factory: LlmErrors.upstream, status: 502, message: /failed internally/, requests: 3 },
  { directive: 'fail:ModelErrorException', factory: LlmErrors.upstream, status: 502, message: /failed processing the request/, requests: 1 },
  { directive: 'fail:ServiceQuotaExceededException', factory: LlmErrors.rateLimited, status: 503, message: /quota .* is exhausted/, requests: 1 },
  { directive: 'fail:SomethingNewException:502', factory: LlmErrors.upstream, status: 502, message: /answered 502 .*SomethingNewException/, requests: 3 },
];

t.test('Bedrock exceptions map to typed errors, retried only where retrying can help', async (t) => {
  for (const mode of ['complete', 'stream'] as const) {
    for (const { directive, factory, status, message, requests } of errorCases) {
      // A provider per case, so the retry budget of one case does not starve the next.
      const { standIn, provider } = await bedrockRig(t);
      const request = ask(`[[stand-in:${directive}]] please`);
      const error = (mode === 'complete' ? await caught(provider.complete(request)) : (await collect(provider.stream(request))).error) as PaiError;
      const label = `${mode} ${directive}`;
      t.ok(factory.is(error), `${label}: ${error.code}`);
      t.equal(error.statusCode, status, label);
      t.match(error.message, message, label);
      t.notMatch(error.message, /AKIA|wJalr/, `${label}: no credentials in the message`);
      t.equal(standIn.requests.length, requests, `${label}: ${requests} request(s)`);
    }
  }
});

t.test('throttling ends as rate limited with a Retry-After; upstream errors carry their status', async (t) => {
  const { standIn, provider } = await bedrockRig(t, { retry: { maxRetries: 0, baseDelayMs: 1, maxDelayMs: 3_000 } });
  standIn.enqueue({ kind: 'throttle' });
  const throttled = (await caught(provider.complete(ask('x')))) as PaiError;
  t.same(throttled.headers, { 'Retry-After': '3' }, 'the longest backoff, in seconds');

  standIn.enqueue({ kind: 'fail', exception: 'ModelErrorException' }, { kind: 'fail', exception: 'InternalServerException' });
  t.same(((await caught(provider.complete(ask('x')))) as PaiError).details, { upstreamStatus: 424 });
  t.same(((await caught(provider.complete(ask('x')))) as PaiError).details, { upstreamStatus: 500 });
});

t.test('a Converse answer that is not JSON, or is cut off, is a bad response', async (t) => {
  const { standIn, provider } = await bedrockRig(t);
  standIn.enqueue({ kind: 'malformed' });
  let error = (await caught(provider.complete(ask('x')))) as PaiError;
  t.ok(LlmErrors.badResponse.is(error), error.code);
  t.match(error.message, /could not be read \(.*JSON/);

  standIn.enqueue({ kind: 'cut-after', deltas: 0 });
  error = (await caught(provider.complete(ask('x')))) as PaiError;
  t.ok(LlmErrors.badResponse.is(error), error.code);
  t.match(error.message, /could not be read \(connection reset\)/);
  t.equal(standIn.requests.length, 2, 'neither is retried');
});

t.test('check() resolves credentials and sees the endpoint answer, without calling a model', async (t) => {
  const { standIn, provider } = await bedrockRig(t);
  t.same(await provider.check(), { ok: true });
  t.same(standIn.requests.map((request) => [request.method, request.path, request.operation]), [['GET', '/', undefined]]);

  const refusedAt = `http://127.0.0.1:${await closedPort()}`;
  const down = createBedrockProvider({ region: 'us-east-1', endpoint: refusedAt, defaultModel: 'm', credentials: DUMMY_CREDENTIALS });
  t.teardown(() => down.close());
  t.same(await down.check(), { ok: false, reason: `connection refused at ${refusedAt}` });

  const noCredentials = createBedrockProvider({
    region: 'eu-central-1',
    endpoint: standIn.url,
    defaultModel: 'm',
    credentials: async () => {
      throw Object.assign(new Error('Could not load credentials from any providers'), { name: 'CredentialsProviderError' });
    },
  });
  t.teardown(() => noCredentials.close());
  t.same(await noCredentials.check(), { ok: false, reason: 'no AWS credentials for Bedrock (Could not load credentials from any providers)' });
  const error = (await caught(noCredentials.complete(ask('x')))) as PaiError;
  t.ok(LlmErrors.unavailable.is(error), error.code);
  t.match(error.message, /No AWS credentials found for Bedrock/);
  t.equal(standIn.requests.length, 1, 'nothing sent without credentials');

  t.same(await provider.check({ signal: AbortSignal.abort() }), { ok: false, reason: 'check cancelled' });
});

t.test('the endpoint defaults to the region\'s; a closed provider fails fast', async (t) => {
  const regional = createBedrockProvider({ region: 'eu-west-3', defaultModel: 'm', credentials: DUMMY_CREDENTIALS });
  t.equal(regional.endpoint, 'https://bedrock-runtime.eu-west-3.amazonaws.com');
  await regional.close();
  const error = (await caught(regional.complete(ask('x')))) as PaiError;
  t.ok(LlmErrors.unavailable.is(error), error.code);
  t.match(error.message, /is closed/);
  t.ok(LlmErrors.unavailable.is((await collect(regional.stream(ask('x')))).error));
  t.match(await regional.check(), { ok: false });

  const withUser = createBedrockProvider({ region: 'us-east-1', endpoint: 'http://me:hunter2@127.0.0.1:1/', defaultModel: 'm', credentials: DUMMY_CREDENTIALS, retry: { maxRetries: 0 } });
  t.teardown(() => withUser.close());
  t.equal(withUser.endpoint, 'http://127.0.0.1:1');
});

t.test('the stand-in validates turns the way Bedrock does and answers unknown routes like it', async (t) => {
  const standIn = await startBedrockStandIn();
  t.teardown(() => standIn.close());
  const post = (body: unknown, model = 'm') =>
    fetch(`${standIn.url}/model/${encodeURIComponent(model)}/converse`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  let response = await post({ messages: [{ role: 'assistant', content: [{ text: 'hi' }] }] });
  t.equal(response.status, 400);
  t.match(response.headers.get('x-amzn-errortype'), /^ValidationException:/);
  t.match(await response.json(), { message: /must start with a user message/ });
  response = await post({ messages: [{ role: 'user', content: [{ text: 'a' }] }, { role: 'user', content: [{ text: 'b' }] }] });
  t.match(await response.json(), { message: /must alternate between user and assistant/ });
  response = await post({ messages: [{ role: 'user', content: [{ text: ' ' }] }] });
  t.match(await response.json(), { message: /messages\.0\.content\.0 is blank/ });
  response = await post({ messages: [{ role: 'user', content: [{ text: 'hi' }] }] });
  t.match(await response.json(), { output: { message: { role: 'assistant', content: [{ text: 'Echo: hi' }] } }, stopReason: 'end_turn', usage: { inputTokens: 5, outputTokens: 2, totalTokens: 7 } });
  t.equal(standIn.requests.at(-1)?.signed, false, 'unsigned requests are recorded as such');
  response = await fetch(`${standIn.url}/model/m/invoke`, { method: 'POST', body: '{}' });
  t.equal(response.status, 404);
  t.match(response.headers.get('x-amzn-errortype'), /^UnknownOperationException:/);
});
