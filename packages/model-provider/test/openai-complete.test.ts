import t from 'tap';
import { LlmErrors, type PaiError } from '@pai/errors';
import { backoffDelay, createOpenAiProvider, DEFAULT_RETRY } from '../src/index.js';
import { activeTimeouts, caught, closedPort, rig } from './helpers.js';

t.test('complete returns the answer with the reported usage', async (t) => {
  const { standIn, provider } = await rig(t);
  const answer = await provider.complete({ messages: [{ role: 'user', content: 'hello there' }], temperature: 0.2, maxTokens: 50 });
  t.equal(answer.text, 'Echo: hello there');
  t.equal(answer.model, 'stand-in');
  t.equal(answer.finishReason, 'stop');
  t.same(answer.usage, { inputTokens: 6, outputTokens: 3, estimated: false });
  const [sent] = standIn.requests;
  t.equal(sent?.path, '/v1/chat/completions');
  t.match(sent?.body, { model: 'stand-in', stream: false, temperature: 0.2, max_tokens: 50 });
  t.notOk(sent?.body && 'stream_options' in sent.body, 'no stream options when not streaming');
  t.notOk(sent?.headers.authorization, 'no Authorization header without an API key');
  t.equal(provider.name, 'openai');
  t.equal(provider.endpoint, standIn.url);
});

t.test('the whole history is forwarded in order, with the requested model', async (t) => {
  const { standIn, provider } = await rig(t);
  const messages = [
    { role: 'system', content: 'be brief' },
    { role: 'user', content: 'first' },
    { role: 'assistant', content: 'Echo: first' },
    { role: 'user', content: 'second' },
  ] as const;
  const answer = await provider.complete({ model: 'llama3', messages: [...messages] });
  t.equal(answer.text, 'Echo: second');
  t.equal(answer.model, 'llama3');
  t.same(standIn.requests[0]?.body?.messages, messages);
  t.equal(standIn.requests[0]?.body?.model, 'llama3');
  t.notOk(standIn.requests[0]?.body && 'temperature' in standIn.requests[0].body, 'unset options are not sent');
});

t.test('the API key is sent as a bearer token when configured', async (t) => {
  const { standIn, provider } = await rig(t, { apiKey: 'sk-test-123' });
  await provider.complete({ messages: [{ role: 'user', content: 'hi' }] });
  t.equal(standIn.requests[0]?.headers.authorization, 'Bearer sk-test-123');
});

t.test('usage is estimated when the server reports none', async (t) => {
  const { standIn, provider } = await rig(t);
  standIn.enqueue({ kind: 'no-usage', text: 'four score and seven' });
  const answer = await provider.complete({ messages: [{ role: 'user', content: 'abcdefgh' }] });
  t.equal(answer.text, 'four score and seven');
  t.same(answer.usage, { inputTokens: 2, outputTokens: 5, estimated: true });
});

t.test('dropped connections are retried with backoff until one succeeds', async (t) => {
  const r = await rig(t);
  r.standIn.enqueue({ kind: 'drop' }, { kind: 'drop' });
  const answer = await r.provider.complete({ messages: [{ role: 'user', content: 'again' }] });
  t.equal(answer.text, 'Echo: again');
  t.equal(r.standIn.requests.length, 3, 'two failures, then the answer');
  t.equal(r.jitterDraws, 2, 'one backoff delay per retry');
});

t.test('connection refused ends as PAI_LLM_UNAVAILABLE after the configured retries', async (t) => {
  let draws = 0;
  const baseUrl = `http://127.0.0.1:${await closedPort()}/v1`;
  const provider = createOpenAiProvider({
    baseUrl,
    defaultModel: 'm',
    retry: { maxRetries: 3, baseDelayMs: 1, maxDelayMs: 2 },
    random: () => (draws += 1, 1),
  });
  t.teardown(() => provider.close());
  const error = (await caught(provider.complete({ messages: [{ role: 'user', content: 'hi' }] }))) as PaiError;
  t.ok(LlmErrors.unavailable.is(error), error.code);
  t.equal(error.message, `No model server reachable at ${baseUrl} (connection refused).`);
  t.equal(draws, 3, 'three retries after the first attempt');
});

t.test('503 then success is retried; a persistent 503 is an upstream error with its message', async (t) => {
  const r = await rig(t);
  r.standIn.enqueue({ kind: 'fail', status: 503 });
  t.equal((await r.provider.complete({ messages: [{ role: 'user', content: 'x' }] })).text, 'Echo: x');
  t.equal(r.standIn.requests.length, 2);

  r.standIn.reset();
  const long = `overloaded ${'z'.repeat(1_000)}`;
  r.standIn.enqueue(...Array.from({ length: 3 }, () => ({ kind: 'fail' as const, status: 503, message: long })));
  const error = (await caught(r.provider.complete({ messages: [{ role: 'user', content: 'x' }] }))) as PaiError;
  t.ok(LlmErrors.upstream.is(error), error.code);
  t.match(error.message, /answered 503: overloaded z+…$/);
  t.ok(error.message.length < 300, 'the upstream message is truncated');
  t.equal(r.standIn.requests.length, 3, 'first attempt plus two retries');
});

t.test('429 honours Retry-After, capped by maxDelayMs, and ends as rate limited', async (t) => {
  const r = await rig(t, { retry: { maxRetries: 1, baseDelayMs: 1, maxDelayMs: 60 } });
  r.standIn.enqueue({ kind: 'fail', status: 429, headers: { 'retry-after': '30' } });
  const started = performance.now();
  t.equal((await r.provider.complete({ messages: [{ role: 'user', content: 'x' }] })).text, 'Echo: x');
  const elapsed = performance.now() - started;
  t.ok(elapsed >= 55 && elapsed < 1_000, `waited the capped Retry-After (${Math.round(elapsed)} ms)`);
  t.equal(r.jitterDraws, 0, 'no jitter when the server says how long to wait');

  r.standIn.enqueue(
    { kind: 'fail', status: 429, headers: { 'retry-after': '2' } },
    { kind: 'fail', status: 429, headers: { 'retry-after': '2' } },
  );
  const error = (await caught(r.provider.complete({ messages: [{ role: 'user', content: 'x' }] }))) as PaiError;
  t.ok(LlmErrors.rateLimited.is(error), error.code);
  t.same(error.headers, { 'Retry-After': '2' }, 'the upstream Retry-After is passed on');
});

t.test('404, 401 and 400 are not retried and say what is wrong', async (t) => {
  const r = await rig(t, { apiKey: 'sk-secret-999' });
  r.standIn.enqueue({ kind: 'fail', status: 404, message: "model 'nope' not found" });
  let error = (await caught(r.provider.complete({ model: 'nope', messages: [{ role: 'user', content: 'x' }] }))) as PaiError;
  t.ok(LlmErrors.unavailable.is(error), error.code);
  t.match(error.message, `Model 'nope' was not found at ${r.standIn.url}`);

  r.standIn.enqueue({ kind: 'fail', status: 401, message: 'Incorrect API key provided: sk-secret-999' });
  error = (await caught(r.provider.complete({ messages: [{ role: 'user', content: 'x' }] }))) as PaiError;
  t.ok(LlmErrors.unavailable.is(error), error.code);
  t.match(error.message, /rejected the API key \(HTTP 401\)/);
  t.notMatch(error.message, 'sk-secret-999');

  r.standIn.enqueue({ kind: 'fail', status: 400, message: 'sk-secret-999 is not a valid temperature' });
  error = (await caught(r.provider.complete({ messages: [{ role: 'user', content: 'x' }] }))) as PaiError;
  t.ok(LlmErrors.upstream.is(error), error.code);
  t.match(error.message, /answered 400: \[redacted\] is not a valid temperature/);
  t.equal(r.standIn.requests.length, 3, 'one request each');
  t.equal(r.jitterDraws, 0);
});

t.test('a body that is not JSON, or not a completion, is a bad response', async (t) => {
  const r = await rig(t);
  r.standIn.enqueue({ kind: 'garbage' });
  let error = (await caught(r.provider.complete({ messages: [{ role: 'user', content: 'x' }] }))) as PaiError;
  t.ok(LlmErrors.badResponse.is(error), error.code);
  t.match(error.message, /not JSON/);

  r.standIn.enqueue({ kind: 'cut-after', deltas: 0 });
  error = (await caught(r.provider.complete({ messages: [{ role: 'user', content: 'x' }] }))) as PaiError;
  t.ok(LlmErrors.badResponse.is(error), `cut body: ${error.code}`);
});

t.test('no answer within the first-token timeout is a timeout, not retried, with no timer left behind', async (t) => {
  const r = await rig(t, { timeouts: { firstTokenMs: 150 } });
  const timersBefore = activeTimeouts();
  r.standIn.enqueue({ kind: 'hang' });
  const started = performance.now();
  const error = (await caught(r.provider.complete({ messages: [{ role: 'user', content: 'x' }] }))) as PaiError;
  t.ok(LlmErrors.timeout.is(error), error.code);
  t.match(error.message, /first-token timeout of 150 ms/);
  t.ok(performance.now() - started < 1_000);
  t.equal(r.standIn.requests.length, 1, 'a first-token timeout is not retried');
  t.ok(await r.standIn.waitForAborted(1, 100), 'the upstream connection was closed');
  t.equal(activeTimeouts(), timersBefore, 'every timer was cleared');

  r.standIn.enqueue({ kind: 'slow-first-token', delayMs: 30 });
  t.equal((await r.provider.complete({ messages: [{ role: 'user', content: 'x' }] })).text, 'Echo: x', 'a slow answer within the limit is fine');
});

t.test('the caller aborting closes the upstream request and rejects with PAI_LLM_ABORTED', async (t) => {
  const r = await rig(t);
  r.standIn.enqueue({ kind: 'hang' });
  const controller = new AbortController();
  const call = r.provider.complete({ messages: [{ role: 'user', content: 'x' }] }, { signal: controller.signal });
  while (r.standIn.requests.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
  controller.abort();
  const error = (await caught(call)) as PaiError;
  t.ok(LlmErrors.aborted.is(error), error.code);
  t.ok(await r.standIn.waitForAborted(1, 100), 'the stand-in saw the connection close');

  const early = (await caught(r.provider.complete({ messages: [{ role: 'user', content: 'x' }] }, { signal: AbortSignal.abort() }))) as PaiError;
  t.ok(LlmErrors.aborted.is(early), 'an already aborted signal fails fast');
  t.equal(r.standIn.requests.length, 1, 'without sending anything');
});

t.test('check() reports reachability and never throws', async (t) => {
  const r = await rig(t);
  t.same(await r.provider.check(), { ok: true });
  t.equal(r.standIn.requests[0]?.path, '/v1/models');

  const baseUrl = `http://127.0.0.1:${await closedPort()}/v1`;
  const down = createOpenAiProvider({ baseUrl, defaultModel: 'm' });
  t.teardown(() => down.close());
  t.same(await down.check(), { ok: false, reason: `connection refused at ${baseUrl}` });

  const cancelled = await r.provider.check({ signal: AbortSignal.abort() });
  t.same(cancelled, { ok: false, reason: 'check cancelled' });
});

t.test('backoffDelay draws full jitter below an exponential, capped ceiling', async (t) => {
  const policy = { ...DEFAULT_RETRY, baseDelayMs: 100, maxDelayMs: 1_000 };
  t.equal(backoffDelay(0, policy, () => 0), 0);
  t.equal(backoffDelay(0, policy, () => 1), 100);
  t.equal(backoffDelay(2, policy, () => 1), 400);
  t.equal(backoffDelay(3, policy, () => 0.5), 400);
  t.equal(backoffDelay(10, policy, () => 1), 1_000, 'capped by maxDelayMs');
  for (let attempt = 0; attempt < 8; attempt += 1) {
    const delay = backoffDelay(attempt, policy);
    t.ok(delay >= 0 && delay <= Math.min(1_000, 100 * 2 ** attempt), `attempt ${attempt}: ${delay}`);
  }
});

t.test('a closed provider fails with PAI_LLM_UNAVAILABLE; credentials never show in the endpoint', async (t) => {
  const r = await rig(t);
  await r.provider.close();
  const error = (await caught(r.provider.complete({ messages: [{ role: 'user', content: 'x' }] }))) as PaiError;
  t.ok(LlmErrors.unavailable.is(error), error.code);
  t.match(error.message, /is closed/);

  const withUser = createOpenAiProvider({ baseUrl: 'http://me:hunter2@127.0.0.1:1/v1/', defaultModel: 'm', retry: { maxRetries: 0 } });
  t.teardown(() => withUser.close());
  t.equal(withUser.endpoint, 'http://127.0.0.1:1/v1');
  const refused = (await caught(withUser.complete({ messages: [{ role: 'user', content: 'x' }] }))) as PaiError;
  t.notMatch(refused.message, 'hunter2');
});
