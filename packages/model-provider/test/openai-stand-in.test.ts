import t, { type Test } from 'tap';
import { startOpenAiStandIn, type OpenAiStandIn } from '../src/testing/index.js';

async function standIn(t: Test): Promise<OpenAiStandIn> {
  const server = await startOpenAiStandIn();
  t.teardown(() => server.close());
  return server;
}

function chat(url: string, body: Record<string, unknown>): Promise<Response> {
  return fetch(`${url}/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-probe': 'yes' },
    body: JSON.stringify(body),
  });
}

function sseData(text: string): string[] {
  return text
    .split('\n\n')
    .filter((event) => event.startsWith('data: '))
    .map((event) => event.slice('data: '.length));
}

const hello = [{ role: 'user', content: 'hello world' }];

t.test('lists one model', async (t) => {
  const server = await standIn(t);
  const response = await fetch(`${server.url}/models`);
  t.match(await response.json(), { object: 'list', data: [{ id: 'stand-in', object: 'model' }] });
  t.match(server.url, /^http:\/\/127\.0\.0\.1:\d+\/v1$/);
});

t.test('answers a non-streaming completion in the OpenAI format', async (t) => {
  const server = await standIn(t);
  const response = await chat(server.url, { model: 'm1', messages: hello });
  t.equal(response.status, 200);
  t.match(await response.json(), {
    object: 'chat.completion',
    model: 'm1',
    choices: [{ index: 0, message: { role: 'assistant', content: 'Echo: hello world' }, finish_reason: 'stop' }],
    usage: { prompt_tokens: 6, completion_tokens: 3, total_tokens: 9 },
  });
  t.match(server.requests[0], { method: 'POST', path: '/v1/chat/completions', headers: { 'x-probe': 'yes' }, body: { model: 'm1', messages: hello } });
});

t.test('streams chat.completion.chunk events, a usage chunk on request, then [DONE]', async (t) => {
  const server = await standIn(t);
  const response = await chat(server.url, { messages: hello, stream: true, stream_options: { include_usage: true } });
  t.match(response.headers.get('content-type'), 'text/event-stream');
  const data = sseData(await response.text());
  t.equal(data.at(-1), '[DONE]');
  const chunks = data.slice(0, -1).map((line) => JSON.parse(line) as { object: string; choices: Array<{ delta: { role?: string; content?: string }; finish_reason: string | null }>; usage: unknown });
  t.ok(chunks.every((chunk) => chunk.object === 'chat.completion.chunk'));
  t.same(chunks[0]?.choices[0]?.delta, { role: 'assistant', content: '' });
  t.equal(chunks.map((chunk) => chunk.choices[0]?.delta.content ?? '').join(''), 'Echo: hello world');
  t.equal(chunks.at(-2)?.choices[0]?.finish_reason, 'stop');
  t.match(chunks.at(-1), { choices: [], usage: { prompt_tokens: 6, completion_tokens: 3 } });

  const plain = sseData(await (await chat(server.url, { messages: hello, stream: true })).text());
  t.notOk(plain.some((line) => line.includes('usage')), 'no usage without stream_options.include_usage');
});

t.test('queued behaviours come first, then directives, then the echo; reset forgets', async (t) => {
  const server = await standIn(t);
  server.enqueue({ kind: 'fail', status: 418, message: 'teapot' }, { kind: 'reply', text: 'queued' });
  const directive = [{ role: 'user', content: 'x [[stand-in:fail:503]]' }];
  const first = await chat(server.url, { messages: directive });
  t.equal(first.status, 418);
  t.match(await first.json(), { error: { message: 'teapot' } });
  t.match(await (await chat(server.url, { messages: directive })).json(), { choices: [{ message: { content: 'queued' } }] });
  t.equal((await chat(server.url, { messages: directive })).status, 503);
  const unknown = await chat(server.url, { messages: [{ role: 'user', content: '[[stand-in:explode]]' }] });
  t.equal(unknown.status, 400);
  t.equal(server.requests.length, 4);

  server.enqueue({ kind: 'hang' });
  server.reset();
  t.equal(server.requests.length, 0);
  t.match(await (await chat(server.url, { messages: hello })).json(), { choices: [{ message: { content: 'Echo: hello world' } }] });
});

t.test('counts client aborts but not its own cuts, and close() ends hung requests', async (t) => {
  const server = await startOpenAiStandIn();
  server.enqueue({ kind: 'cut-after', deltas: 1 });
  const cut = await chat(server.url, { messages: hello, stream: true });
  await cut.text().catch(() => 'cut');
  t.equal(server.aborted, 0, 'a cut by the stand-in is not a client abort');

  server.enqueue({ kind: 'hang' });
  const hung = chat(server.url, { messages: hello }).then(() => undefined, () => undefined);
  while (server.requests.length < 2) await new Promise((resolve) => setTimeout(resolve, 5));
  server.enqueue({ kind: 'hang-after', deltas: 1 });
  const stream = await chat(server.url, { messages: hello, stream: true });
  const reader = stream.body?.getReader();
  await reader?.read();
  await reader?.cancel();
  t.ok(await server.waitForAborted(1, 200), 'the cancelled stream counts as aborted');

  const started = performance.now();
  await server.close();
  await hung;
  t.ok(performance.now() - started < 500, 'close() does not wait for the hung request');
});
