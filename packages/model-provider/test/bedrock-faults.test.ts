import t from 'tap';
import { NodeHttp2Handler } from '@smithy/node-http-handler';
import { LlmErrors, type PaiError } from '@pai/errors';
import { RetryBudget, createBedrockProvider, type ModelProvider, type ModelRequest } from '../src/index.js';
import type { BedrockStandIn } from '../src/testing/index.js';
import { DUMMY_CREDENTIALS, activeTimeouts, bedrockRig, caught, closedPort, collect } from './helpers.js';

const ask = (content: string): ModelRequest => ({ messages: [{ role: 'user', content }] });
const codeOf = (error: unknown): string => (error as PaiError | undefined)?.code ?? String(error);

t.test('throttling and 503s before the first token are retried with backoff until one succeeds', async (t) => {
  const r = await bedrockRig(t);
  r.standIn.enqueue({ kind: 'throttle' }, { kind: 'fail', exception: 'ServiceUnavailableException' });
  t.equal((await r.provider.complete(ask('again'))).text, 'Echo: again');
  t.equal(r.standIn.requests.length, 3, 'two failures, then the answer');
  t.equal(r.jitterDraws, 2, 'one backoff delay per retry');

  r.standIn.reset();
  r.standIn.enqueue({ kind: 'fail', exception: 'ModelNotReadyException' }, { kind: 'throttle' });
  const result = await collect(r.provider.stream(ask('streamed')));
  t.equal(result.error, undefined);
  t.equal(result.deltas.join(''), 'Echo: streamed');
  t.equal(r.standIn.requests.length, 3);
});

t.test('failures inside the event stream before the first token are retried too', async (t) => {
  const r = await bedrockRig(t);
  r.standIn.enqueue(
    { kind: 'stream-exception', deltas: 0, exception: 'ThrottlingException' },
    { kind: 'cut-after', deltas: 0 },
    { kind: 'reply', text: 'made it' },
  );
  const result = await collect(r.provider.stream(ask('x')));
  t.equal(result.error, undefined, codeOf(result.error));
  t.equal(result.deltas.join(''), 'made it');
  t.equal(r.standIn.requests.length, 3);
});

t.test('nothing is retried once a token has been handed out', async (t) => {
  const cases = [
    { behaviour: { kind: 'cut-after', deltas: 1 } as const, is: LlmErrors.badResponse, message: /cut off after 6 characters \(connection reset\)/ },
    { behaviour: { kind: 'stream-exception', deltas: 1, exception: 'ThrottlingException' } as const, is: LlmErrors.rateLimited, message: /ThrottlingException/ },
    { behaviour: { kind: 'stream-exception', deltas: 1, exception: 'InternalServerException' } as const, is: LlmErrors.upstream, message: /InternalServerException/ },
  ];
  for (const { behaviour, is, message } of cases) {
    const r = await bedrockRig(t);
    r.standIn.enqueue(behaviour);
    const result = await collect(r.provider.stream(ask('one two three')));
    t.same(result.deltas, ['Echo: '], behaviour.kind);
    t.ok(is.is(result.error), codeOf(result.error));
    t.match((result.error as PaiError).message, message);
    t.equal(r.standIn.requests.length, 1, 'not retried');
    t.equal(r.jitterDraws, 0);
    t.equal(result.done, undefined);
  }
});

t.test('connection refused ends as PAI_LLM_UNAVAILABLE after the configured retries', async (t) => {
  let draws = 0;
  const endpoint = `http://127.0.0.1:${await closedPort()}`;
  const provider = createBedrockProvider({
    region: 'us-east-1',
    endpoint,
    defaultModel: 'm',
    credentials: DUMMY_CREDENTIALS,
    retry: { maxRetries: 3, baseDelayMs: 1, maxDelayMs: 2 },
    random: () => (draws += 1, 1),
  });
  t.teardown(() => provider.close());
  const error = (await caught(provider.complete(ask('hi')))) as PaiError;
  t.ok(LlmErrors.unavailable.is(error), error.code);
  t.equal(error.message, `No Bedrock endpoint reachable at ${endpoint} (connection refused).`);
  t.equal(draws, 3, 'three retries after the first attempt');
  const streamed = await collect(provider.stream(ask('hi')));
  t.ok(LlmErrors.unavailable.is(streamed.error), codeOf(streamed.error));
});

t.test('no answer within the first-token timeout is a timeout, not retried, upstream closed, no timer left', async (t) => {
  const r = await bedrockRig(t, { timeouts: { firstTokenMs: 150 } });
  const timersBefore = activeTimeouts();
  r.standIn.enqueue({ kind: 'hang' });
  const started = performance.now();
  const error = (await caught(r.provider.complete(ask('x')))) as PaiError;
  t.ok(LlmErrors.timeout.is(error), error.code);
  t.match(error.message, /No answer from the model server at .* within the first-token timeout of 150 ms/);
  t.ok(performance.now() - started < 1_000);
  t.ok(await r.standIn.waitForAborted(1, 100), 'the upstream connection was closed');

  // Streaming: the response headers and messageStart arrive, then nothing.
  r.standIn.enqueue({ kind: 'hang-after', deltas: 0 });
  const result = await collect(r.provider.stream(ask('x')));
  t.ok(LlmErrors.timeout.is(result.error), codeOf(result.error));
  t.match((result.error as PaiError).message, /No token .* first-token timeout of 150 ms/);
  t.ok(await r.standIn.waitForAborted(2, 100), 'closed as well');
  t.equal(r.standIn.requests.length, 2, 'a first-token timeout is not retried');
  t.equal(activeTimeouts(), timersBefore, 'every timer was cleared');

  r.standIn.enqueue({ kind: 'slow-first-token', delayMs: 30 });
  t.equal((await collect(r.provider.stream(ask('x')))).deltas.join(''), 'Echo: x', 'a slow start within the limit is fine');
});

t.test('a stream that pauses longer than the idle timeout between chunks is a timeout', async (t) => {
  const r = await bedrockRig(t, { timeouts: { firstTokenMs: 2_000, idleMs: 120, totalMs: 5_000 } });
  r.standIn.enqueue({ kind: 'slow-chunks', delayMs: 400 });
  const started = performance.now();
  const result = await collect(r.provider.stream(ask('a b c')));
  t.same(result.deltas, ['Echo: ']);
  t.ok(LlmErrors.timeout.is(result.error), codeOf(result.error));
  t.match((result.error as PaiError).message, /sent nothing for the idle timeout of 120 ms/);
  t.ok(performance.now() - started < 400, 'well before the next chunk');
  t.ok(await r.standIn.waitForAborted(1, 100), 'the upstream connection was closed');

  r.standIn.enqueue({ kind: 'slow-chunks', delayMs: 20 });
  const fine = await collect(r.provider.stream(ask('a b c')));
  t.equal(fine.error, undefined, 'gaps within the idle limit are fine');
  t.equal(fine.deltas.join(''), 'Echo: a b c');

  // The wait for the first token is the first-token timeout's business, not the idle timeout's.
  r.standIn.enqueue({ kind: 'slow-first-token', delayMs: 250 });
  t.equal((await collect(r.provider.stream(ask('late')))).deltas.join(''), 'Echo: late');
});

t.test('a stream that keeps going past the total timeout is stopped', async (t) => {
  const r = await bedrockRig(t, { timeouts: { firstTokenMs: 5_000, idleMs: 5_000, totalMs: 250 } });
  const timersBefore = activeTimeouts();
  r.standIn.enqueue({ kind: 'hang-after', deltas: 2 });
  const started = performance.now();
  const result = await collect(r.provider.stream(ask('a b c')));
  t.same(result.deltas, ['Echo: ', 'a ']);
  t.ok(LlmErrors.timeout.is(result.error), codeOf(result.error));
  t.match((result.error as PaiError).message, /total timeout of 250 ms/);
  t.ok(performance.now() - started < 1_000);
  t.ok(await r.standIn.waitForAborted(1, 100), 'the upstream connection was closed');
  t.equal(activeTimeouts(), timersBefore, 'every timer was cleared');
});

t.test('malformed event-stream frames are a bad response after the deltas already yielded', async (t) => {
  const r = await bedrockRig(t);
  const frames = [
    ['bad-crc', /malformed event-stream frame \(The message checksum/],
    ['garbage', /malformed event-stream frame \(The prelude checksum/],
    ['truncated', /malformed event-stream frame \(Truncated event message/],
  ] as const;
  for (const [frame, message] of frames) {
    r.standIn.enqueue({ kind: 'malformed', deltas: 2, frame });
    const result = await collect(r.provider.stream(ask('one two three')));
    t.same(result.deltas, ['Echo: ', 'one '], frame);
    t.ok(LlmErrors.badResponse.is(result.error), codeOf(result.error));
    t.match((result.error as PaiError).message, message);
    t.equal(result.done, undefined);
  }
  t.equal(r.standIn.requests.length, 3, 'never retried');

  r.standIn.enqueue({ kind: 'malformed', deltas: 0 });
  const early = await collect(r.provider.stream(ask('x')));
  t.ok(LlmErrors.badResponse.is(early.error), 'a malformed first frame is not retried either');
  t.equal(r.standIn.requests.length, 4);
});

t.test('exceptions in the middle of the stream surface as their typed errors after the deltas', async (t) => {
  const r = await bedrockRig(t);
  const cases = [
    ['ModelStreamErrorException', LlmErrors.upstream],
    ['ValidationException', LlmErrors.invalidRequest],
    ['ServiceUnavailableException', LlmErrors.unavailable],
    ['SomeFutureException', LlmErrors.upstream],
  ] as const;
  for (const [exception, factory] of cases) {
    r.standIn.enqueue({ kind: 'stream-exception', deltas: 2, exception, message: `${exception} happened` });
    const result = await collect(r.provider.stream(ask('one two three')));
    t.same(result.deltas, ['Echo: ', 'one '], exception);
    t.ok(factory.is(result.error), `${exception}: ${codeOf(result.error)}`);
    t.match((result.error as PaiError).message, `(${exception}: ${exception} happened)`);
  }
  t.equal(r.standIn.requests.length, cases.length);
});

/** Aborts the caller's signal at the first delta; resolves with what the consumer saw and whether the stand-in saw the close. */
async function abortAtFirstDelta(provider: ModelProvider, standIn: BedrockStandIn): Promise<{ deltas: string[]; error: unknown; closed: boolean }> {
  const controller = new AbortController();
  const deltas: string[] = [];
  let error: unknown;
  let abortedAt = 0;
  const observed = (async () => {
    while (abortedAt === 0) await new Promise((resolve) => setTimeout(resolve, 1));
    return standIn.waitForAborted(1, 100);
  })();
  try {
    for await (const event of provider.stream(ask('go on'), { signal: controller.signal })) {
      if (event.type !== 'delta') continue;
      deltas.push(event.text);
      abortedAt = performance.now();
      controller.abort();
    }
  } catch (caughtError) {
    error = caughtError;
  }
  return { deltas, error, closed: await observed };
}

t.test('the caller aborting mid-stream throws PAI_LLM_ABORTED and closes the upstream within 100 ms', async (t) => {
  for (const http2 of [false, true]) {
    const { standIn, provider } = await bedrockRig(t, http2 ? { requestHandler: new NodeHttp2Handler({}) } : {}, { http2 });
    standIn.enqueue({ kind: 'hang-after', deltas: 1 });
    const timersBefore = activeTimeouts();
    const { deltas, error, closed } = await abortAtFirstDelta(provider, standIn);
    const label = http2 ? 'HTTP/2' : 'HTTP/1.1';
    t.same(deltas, ['Echo: '], label);
    t.ok(LlmErrors.aborted.is(error), `${label}: ${codeOf(error)}`);
    t.ok(closed, `${label}: the stand-in saw the connection close within 100 ms`);
    t.equal(activeTimeouts(), timersBefore, `${label}: every timer was cleared`);
  }
});

t.test('aborting a complete() closes the request; an aborted signal sends nothing', async (t) => {
  const r = await bedrockRig(t);
  r.standIn.enqueue({ kind: 'hang' });
  const controller = new AbortController();
  const call = r.provider.complete(ask('x'), { signal: controller.signal });
  while (r.standIn.requests.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
  controller.abort();
  const error = (await caught(call)) as PaiError;
  t.ok(LlmErrors.aborted.is(error), error.code);
  t.ok(await r.standIn.waitForAborted(1, 100), 'the stand-in saw the connection close');

  const early = (await caught(r.provider.complete(ask('x'), { signal: AbortSignal.abort() }))) as PaiError;
  t.ok(LlmErrors.aborted.is(early), 'an already aborted signal fails fast');
  t.equal(r.standIn.requests.length, 1, 'without sending anything');
});

t.test('breaking out of the loop closes the upstream request', async (t) => {
  for (const http2 of [false, true]) {
    const { standIn, provider } = await bedrockRig(t, http2 ? { requestHandler: new NodeHttp2Handler({}) } : {}, { http2 });
    standIn.enqueue({ kind: 'hang-after', deltas: 2 });
    const timersBefore = activeTimeouts();
    for await (const event of provider.stream(ask('stop early'))) {
      if (event.type === 'delta') break;
    }
    t.ok(await standIn.waitForAborted(1, 100), `${http2 ? 'HTTP/2' : 'HTTP/1.1'}: closed within 100 ms`);
    t.equal(activeTimeouts(), timersBefore, 'every timer was cleared');
  }
});

t.test('a spent retry budget stops retries until the window moves on', async (t) => {
  let now = 1_000_000;
  const budget = new RetryBudget({ ratio: 0, minRetriesPerWindow: 1, windowMs: 60_000, now: () => now });
  const r = await bedrockRig(t, { retryBudget: budget });
  r.standIn.enqueue(...Array.from({ length: 3 }, () => ({ kind: 'throttle' as const })));
  let error = (await caught(r.provider.complete(ask('x')))) as PaiError;
  t.ok(LlmErrors.rateLimited.is(error), error.code);
  t.match(error.message, /Not retried: this provider's retry budget is spent/);
  t.same(error.headers, { 'Retry-After': '1' }, 'the error keeps its headers');
  t.equal(r.standIn.requests.length, 2, 'one retry, then the budget was spent');

  r.standIn.reset();
  r.standIn.enqueue({ kind: 'fail', exception: 'ServiceUnavailableException' });
  error = (await caught(r.provider.complete(ask('x')))) as PaiError;
  t.ok(LlmErrors.unavailable.is(error), error.code);
  t.equal(r.standIn.requests.length, 1, 'no retry at all');

  now += 60_000;
  r.standIn.reset();
  r.standIn.enqueue({ kind: 'throttle' });
  t.equal((await r.provider.complete(ask('x'))).text, 'Echo: x', 'a new window, a new retry');
  t.equal(r.standIn.requests.length, 2);
});
