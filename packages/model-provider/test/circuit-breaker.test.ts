import t from 'tap';
import { LlmErrors, type PaiError } from '@pai/errors';
import {
  countsAsProviderFailure,
  withCircuitBreaker,
  type CircuitBreakerOptions,
  type CircuitState,
  type ModelProvider,
  type ModelResponse,
  type ModelStreamEvent,
} from '../src/index.js';
import { bedrockRig, caught, collect } from './helpers.js';

/** What the fake provider does on one call. */
type Script =
  | { ok: true }
  | { error: PaiError }
  /** Streams these deltas, then `done` or the error. */
  | { deltas: string[]; then?: PaiError }
  /** Waits for `release` to settle the call like `outcome`. */
  | { held: Promise<Script> };

interface Fake extends ModelProvider {
  calls: number;
}

const ask = { messages: [{ role: 'user' as const, content: 'hi' }] };
const answer: ModelResponse = { text: 'fine', model: 'm', usage: { inputTokens: 1, outputTokens: 1, estimated: false }, finishReason: 'stop' };
const done: ModelStreamEvent = { type: 'done', model: 'm', usage: answer.usage, finishReason: 'stop' };

function fakeProvider(scripts: Script[]): Fake {
  const next = (): Script => scripts.shift() ?? { ok: true };
  async function settle(script: Script): Promise<ModelResponse> {
    if ('held' in script) return settle(await script.held);
    if ('error' in script) throw script.error;
    if ('deltas' in script && script.then) throw script.then;
    return answer;
  }
  const fake: Fake = {
    name: 'fake',
    endpoint: 'http://fake.example',
    defaultModel: 'm',
    calls: 0,
    complete: async () => {
      fake.calls += 1;
      return settle(next());
    },
    async *stream() {
      fake.calls += 1;
      let script = next();
      if ('held' in script) script = await script.held;
      if ('error' in script) throw script.error;
      for (const text of 'deltas' in script ? script.deltas : ['fine']) yield { type: 'delta', text };
      if ('deltas' in script && script.then) throw script.then;
      yield done;
    },
    check: async () => ({ ok: true }),
    close: async () => undefined,
  };
  return fake;
}

function breaker(scripts: Script[], options: Partial<CircuitBreakerOptions> = {}) {
  const clock = { now: 0 };
  const changes: Array<[CircuitState, string]> = [];
  const inner = fakeProvider(scripts);
  const provider = withCircuitBreaker(inner, {
    failureThreshold: 3,
    openMs: 30_000,
    now: () => clock.now,
    onStateChange: (state, name) => changes.push([state, name]),
    ...options,
  });
  return { inner, provider, clock, changes };
}

const unavailable = (): Script => ({ error: LlmErrors.unavailable('No model server reachable at http://fake.example (connection refused).') });

t.test('opens after N consecutive failures, then fails fast without calling the provider', async (t) => {
  const { inner, provider, clock, changes } = breaker([unavailable(), unavailable(), unavailable()]);
  t.equal(provider.state(), 'closed');
  for (let i = 0; i < 3; i += 1) t.ok(LlmErrors.unavailable.is(await caught(provider.complete(ask))));
  t.equal(provider.state(), 'open');
  t.same(changes, [['open', 'fake']]);
  t.equal(inner.calls, 3);

  const fast = (await caught(provider.complete(ask))) as PaiError;
  t.ok(LlmErrors.unavailable.is(fast), fast.code);
  t.match(fast.message, /^Circuit open for fake at http:\/\/fake\.example after 3 consecutive failures; retrying after 30 s\. Last failure: No model server reachable/);
  t.same(fast.headers, { 'Retry-After': '30' });
  const streamed = await collect(provider.stream(ask));
  t.ok(LlmErrors.unavailable.is(streamed.error), 'streams fail fast too');
  t.same(streamed.deltas, []);
  t.equal(inner.calls, 3, 'the provider was not called while open');

  clock.now = 29_500;
  t.same(((await caught(provider.complete(ask))) as PaiError).headers, { 'Retry-After': '1' }, 'Retry-After counts down');
  t.equal(provider.state(), 'open');
  t.same(await provider.check(), { ok: true }, 'check() goes through to the provider');
});

t.test('half-opens after openMs: one probe at a time; a failed probe re-opens, a good one closes', async (t) => {
  let release!: (script: Script) => void;
  const held = new Promise<Script>((resolve) => (release = resolve));
  const { inner, provider, clock, changes } = breaker([unavailable(), unavailable(), unavailable(), { held }, { ok: true }]);
  for (let i = 0; i < 3; i += 1) await caught(provider.complete(ask));
  clock.now = 30_000;
  t.equal(provider.state(), 'half-open');

  const probe = provider.complete(ask);
  const busy = (await caught(provider.complete(ask))) as PaiError;
  t.ok(LlmErrors.unavailable.is(busy), 'a second call while the probe runs fails fast');
  t.match(busy.message, /^Circuit half-open for fake .*a probe call is testing it/);
  t.equal(inner.calls, 4);
  release({ error: LlmErrors.timeout('No answer within the first-token timeout.') });
  t.ok(LlmErrors.timeout.is(await caught(probe)));
  t.equal(provider.state(), 'open', 'the failed probe opened the circuit again');
  t.match(((await caught(provider.complete(ask))) as PaiError).message, /after 4 consecutive failures; retrying after 30 s\. Last failure: No answer/);

  clock.now = 60_000;
  t.same(await provider.complete(ask), answer, 'the next probe succeeds');
  t.equal(provider.state(), 'closed');
  t.same(await provider.complete(ask), answer);
  t.same(changes.map(([state]) => state), ['open', 'half-open', 'open', 'half-open', 'closed']);
});

t.test('a success resets the count; aborts, 400-class errors and throttling do not count', async (t) => {
  const { provider } = breaker(
    [
      unavailable(),
      unavailable(),
      { ok: true },
      unavailable(),
      unavailable(),
      { error: LlmErrors.aborted() },
      { error: LlmErrors.invalidRequest('Bedrock rejected the request (ValidationException).') },
      { error: LlmErrors.rateLimited('Bedrock is throttling requests.') },
      { error: LlmErrors.upstream('The model server answered 400.', { details: { upstreamStatus: 400 } }) },
      { error: LlmErrors.upstream('The model server answered 500.', { details: { upstreamStatus: 500 } }) },
    ],
  );
  for (let i = 0; i < 9; i += 1) await provider.complete(ask).catch(() => undefined);
  t.equal(provider.state(), 'closed', 'two failures, a success, two failures, then only neutral outcomes');
  await provider.complete(ask).catch(() => undefined);
  t.equal(provider.state(), 'open', 'the upstream 500 was the third consecutive failure');
});

t.test('countsAsProviderFailure separates unhealthy providers from bad requests', async (t) => {
  t.ok(countsAsProviderFailure(LlmErrors.unavailable('x')));
  t.ok(countsAsProviderFailure(LlmErrors.timeout('x')));
  t.ok(countsAsProviderFailure(LlmErrors.badResponse('x')));
  t.ok(countsAsProviderFailure(LlmErrors.upstream('x')), 'an upstream error of unknown status counts');
  t.ok(countsAsProviderFailure(LlmErrors.upstream('x', { details: { upstreamStatus: 503 } })));
  t.ok(countsAsProviderFailure(new Error('a bug in an adapter')));
  t.notOk(countsAsProviderFailure(LlmErrors.upstream('x', { details: { upstreamStatus: 424 } })));
  t.notOk(countsAsProviderFailure(LlmErrors.aborted()));
  t.notOk(countsAsProviderFailure(LlmErrors.invalidRequest('x')));
  t.notOk(countsAsProviderFailure(LlmErrors.rateLimited('x')));
});

t.test('streams: done is a success, a mid-stream failure a failure, a consumer stopping early neither', async (t) => {
  const cut = LlmErrors.badResponse('The stream was cut off after 3 characters.');
  const { inner, provider, clock } = breaker(
    [
      { deltas: ['a', 'b'], then: cut },
      { deltas: ['a', 'b'], then: cut },
      { deltas: ['a'] },
      { deltas: ['a', 'b'], then: cut },
      { deltas: ['a', 'b'], then: cut },
      { deltas: ['a', 'b'], then: cut },
      { deltas: ['a', 'b', 'c'] },
      { deltas: ['a', 'b'] },
    ],
    { failureThreshold: 3 },
  );
  let result = await collect(provider.stream(ask));
  t.same(result.deltas, ['a', 'b']);
  t.ok(LlmErrors.badResponse.is(result.error));
  await collect(provider.stream(ask));
  result = await collect(provider.stream(ask));
  t.equal(result.done?.type, 'done');
  t.equal(provider.state(), 'closed', 'the stream reaching done reset the count');
  for (let i = 0; i < 3; i += 1) await collect(provider.stream(ask));
  t.equal(provider.state(), 'open', 'three streams failing midway opened it');

  clock.now = 30_000;
  for await (const event of provider.stream(ask)) {
    if (event.type === 'delta') break;
  }
  t.equal(provider.state(), 'half-open', 'a probe the consumer stopped says nothing');
  result = await collect(provider.stream(ask));
  t.equal(result.done?.type, 'done', 'the probe slot was freed for the next call');
  t.equal(provider.state(), 'closed');
  t.equal(inner.calls, 8);
});

t.test('an aborted probe leaves the circuit half-open for the next probe', async (t) => {
  const { provider, clock } = breaker([unavailable(), unavailable(), unavailable(), { error: LlmErrors.aborted() }, { ok: true }]);
  for (let i = 0; i < 3; i += 1) await caught(provider.complete(ask));
  clock.now = 30_000;
  t.ok(LlmErrors.aborted.is(await caught(provider.complete(ask))));
  t.equal(provider.state(), 'half-open');
  t.same(await provider.complete(ask), answer);
  t.equal(provider.state(), 'closed');
});

t.test('halfOpenMaxCalls lets several probes through at once', async (t) => {
  const { inner, provider, clock } = breaker([unavailable(), unavailable(), { ok: true }, { ok: true }], { failureThreshold: 2, halfOpenMaxCalls: 2 });
  await caught(provider.complete(ask));
  await caught(provider.complete(ask));
  clock.now = 30_000;
  const [first, second] = await Promise.all([provider.complete(ask), provider.complete(ask)]);
  t.same([first, second], [answer, answer]);
  t.equal(inner.calls, 4);
  t.equal(provider.state(), 'closed');
});

t.test('around a real adapter: a failing Bedrock endpoint stops being called', async (t) => {
  const { standIn, provider: bedrock } = await bedrockRig(t, { retry: { maxRetries: 0 } });
  const states: CircuitState[] = [];
  const provider = withCircuitBreaker(bedrock, { failureThreshold: 2, openMs: 60_000, onStateChange: (state) => states.push(state) });
  t.equal(provider.name, 'bedrock');
  t.equal(provider.endpoint, bedrock.endpoint);
  standIn.enqueue({ kind: 'fail', exception: 'ValidationException' }, { kind: 'fail', exception: 'ServiceUnavailableException' });
  standIn.enqueue({ kind: 'stream-exception', deltas: 1, exception: 'ModelStreamErrorException' });
  t.ok(LlmErrors.invalidRequest.is(await caught(provider.complete({ messages: [{ role: 'user', content: 'x' }] }))));
  t.ok(LlmErrors.unavailable.is(await caught(provider.complete({ messages: [{ role: 'user', content: 'x' }] }))));
  const streamed = await collect(provider.stream({ messages: [{ role: 'user', content: 'a b' }] }));
  t.same(streamed.deltas, ['Echo: ']);
  t.ok(LlmErrors.upstream.is(streamed.error));
  t.equal(provider.state(), 'open');
  t.same(states, ['open']);
  const fast = (await caught(provider.complete({ messages: [{ role: 'user', content: 'x' }] }))) as PaiError;
  t.match(fast.message, /^Circuit open for bedrock at http:\/\/127\.0\.0\.1:\d+ after 2 consecutive failures; retrying after 60 s\. Last failure: The model/);
  t.equal(standIn.requests.length, 3, 'the open circuit did not call Bedrock');
});
