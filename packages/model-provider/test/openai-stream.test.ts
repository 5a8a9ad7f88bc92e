import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import t, { type Test } from 'tap';
import { LlmErrors, type PaiError } from '@pai/errors';
import { createOpenAiProvider, type ModelProvider } from '../src/index.js';
import { activeTimeouts, collect, rig } from './helpers.js';

const ask = (content: string) => ({ messages: [{ role: 'user' as const, content }] });

t.test('stream yields the answer as deltas and ends with done and the reported usage', async (t) => {
  const { standIn, provider } = await rig(t);
  const result = await collect(provider.stream(ask('hello wide world')));
  t.equal(result.error, undefined);
  t.same(result.deltas, ['Echo: ', 'hello ', 'wide ', 'world']);
  t.same(result.done, {
    type: 'done',
    model: 'stand-in',
    usage: { inputTokens: 7, outputTokens: 4, estimated: false },
    finishReason: 'stop',
  });
  t.match(standIn.requests[0]?.body, { stream: true, stream_options: { include_usage: true } });
  t.equal(standIn.requests[0]?.headers.accept, 'text/event-stream');
});

t.test('stream estimates usage when the server sends none', async (t) => {
  const { standIn, provider } = await rig(t);
  standIn.enqueue({ kind: 'no-usage' });
  const result = await collect(provider.stream(ask('abcd')));
  t.equal(result.deltas.join(''), 'Echo: abcd');
  t.same(result.done?.usage, { inputTokens: 1, outputTokens: 3, estimated: true });
});

t.test('a connection dropped before the first token is retried', async (t) => {
  const r = await rig(t);
  r.standIn.enqueue({ kind: 'drop' }, { kind: 'fail', status: 502 });
  const result = await collect(r.provider.stream(ask('retry me')));
  t.equal(result.error, undefined);
  t.equal(result.deltas.join(''), 'Echo: retry me');
  t.equal(r.standIn.requests.length, 3);
});

t.test('garbage mid-stream is a bad response after the deltas already yielded', async (t) => {
  const { standIn, provider } = await rig(t);
  standIn.enqueue({ kind: 'garbage', deltas: 2 });
  const result = await collect(provider.stream(ask('one two three')));
  t.same(result.deltas, ['Echo: ', 'one ']);
  t.ok(LlmErrors.badResponse.is(result.error), (result.error as PaiError).code);
  t.match((result.error as PaiError).message, /not JSON/);
  t.equal(result.done, undefined);
});

t.test('a stream cut mid-way is a bad response and is not retried', async (t) => {
  const r = await rig(t);
  r.standIn.enqueue({ kind: 'cut-after', deltas: 1 });
  const result = await collect(r.provider.stream(ask('one two three')));
  t.same(result.deltas, ['Echo: ']);
  const error = result.error as PaiError;
  t.ok(LlmErrors.badResponse.is(error), error.code);
  t.match(error.message, /cut off after 6 characters/);
  t.equal(r.standIn.requests.length, 1, 'never retried once a token was handed out');
  t.equal(r.jitterDraws, 0);
});

t.test('a stream that stops talking after some deltas hits the total timeout', async (t) => {
  const r = await rig(t, { timeouts: { firstTokenMs: 5_000, totalMs: 250 } });
  const timersBefore = activeTimeouts();
  r.standIn.enqueue({ kind: 'hang-after', deltas: 2 });
  const started = performance.now();
  const result = await collect(r.provider.stream(ask('a b c')));
  const error = result.error as PaiError;
  t.same(result.deltas, ['Echo: ', 'a ']);
  t.ok(LlmErrors.timeout.is(error), error.code);
  t.match(error.message, /total timeout of 250 ms/);
  t.ok(performance.now() - started < 1_000);
  t.ok(await r.standIn.waitForAborted(1, 100), 'the upstream connection was closed');
  t.equal(activeTimeouts(), timersBefore, 'every timer was cleared');
});

t.test('the first-token timeout runs until the first delta, not the response headers', async (t) => {
  const r = await rig(t, { timeouts: { firstTokenMs: 150 } });
  r.standIn.enqueue({ kind: 'hang-after', deltas: 0 });
  let result = await collect(r.provider.stream(ask('x')));
  t.ok(LlmErrors.timeout.is(result.error), (result.error as PaiError).code);
  t.match((result.error as PaiError).message, /first-token timeout of 150 ms/);
  t.equal(r.standIn.requests.length, 1, 'not retried');

  r.standIn.enqueue({ kind: 'hang' });
  result = await collect(r.provider.stream(ask('x')));
  t.ok(LlmErrors.timeout.is(result.error), 'no headers at all: first-token timeout too');

  r.standIn.enqueue({ kind: 'slow-first-token', delayMs: 40 });
  result = await collect(r.provider.stream(ask('x')));
  t.equal(result.deltas.join(''), 'Echo: x', 'a slow start within the limit is fine');
});

t.test('the caller aborting mid-stream closes the socket and throws PAI_LLM_ABORTED', async (t) => {
  const { standIn, provider } = await rig(t);
  standIn.enqueue({ kind: 'hang-after', deltas: 1 });
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
  t.same(deltas, ['Echo: ']);
  t.ok(LlmErrors.aborted.is(error), (error as PaiError).code);
  t.ok(await observed, 'the stand-in saw the connection close within 100 ms');
});

t.test('breaking out of the loop closes the upstream request', async (t) => {
  const { standIn, provider } = await rig(t);
  standIn.enqueue({ kind: 'hang-after', deltas: 2 });
  const timersBefore = activeTimeouts();
  for await (const event of provider.stream(ask('stop early'))) {
    if (event.type === 'delta') break;
  }
  t.ok(await standIn.waitForAborted(1, 100), 'the stand-in saw the connection close within 100 ms');
  t.equal(activeTimeouts(), timersBefore, 'every timer was cleared');
});

t.test('directives in the message text choose the behaviour', async (t) => {
  const { standIn, provider } = await rig(t);
  let result = await collect(provider.stream(ask('[[stand-in:reply:fixed answer here]]')));
  t.equal(result.deltas.join(''), 'fixed answer here');

  result = await collect(provider.stream({ model: 'ghost', ...ask('please [[stand-in:fail:404]]') }));
  t.ok(LlmErrors.unavailable.is(result.error));
  t.match((result.error as PaiError).message, `Model 'ghost' was not found at ${standIn.url}`);

  result = await collect(provider.stream(ask('[[stand-in:garbage:1]] hi')));
  t.same(result.deltas, ['Echo: ']);
  t.ok(LlmErrors.badResponse.is(result.error));
});

/** A provider talking to a server that sends exactly `sse` as the stream body. */
async function rawStream(t: Test, sse: string): Promise<ModelProvider> {
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.end(sse);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const provider = createOpenAiProvider({
    baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`,
    defaultModel: 'raw',
  });
  t.teardown(async () => {
    await provider.close();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });
  return provider;
}

t.test('other servers\' streams: error events, no [DONE], odd usage', async (t) => {
  const delta = (content: string, finish: string | null = null) =>
    `data: ${JSON.stringify({ choices: [{ delta: { content }, finish_reason: finish }] })}\n\n`;

  let provider = await rawStream(t, `${delta('partial ')}data: {"error":{"message":"CUDA out of memory"}}\n\n`);
  let result = await collect(provider.stream(ask('x')));
  t.same(result.deltas, ['partial ']);
  t.ok(LlmErrors.upstream.is(result.error), 'an error event is an upstream error');
  t.match((result.error as PaiError).message, /mid-stream: CUDA out of memory$/);

  // Ends after finish_reason without [DONE], the last event lacking its blank line; usage of another shape.
  const usage = `data: ${JSON.stringify({ choices: [], usage: { input_tokens: 3 } })}`;
  provider = await rawStream(t, `${delta('all ')}${delta('done', 'length')}${usage}`);
  result = await collect(provider.stream(ask('x')));
  t.equal(result.error, undefined);
  t.same(result.deltas, ['all ', 'done']);
  t.match(result.done, { model: 'raw', finishReason: 'length', usage: { estimated: true } });

  provider = await rawStream(t, delta('no end '));
  result = await collect(provider.stream(ask('x')));
  t.ok(LlmErrors.badResponse.is(result.error), 'a clean end without finish_reason or [DONE] is a bad response');
});
