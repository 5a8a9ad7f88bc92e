import t from 'tap';
import { createServer } from 'node:net';
import { startPai } from './helper.js';

t.test('a chat turn answers, stores both messages, and the next turn sends the history', async (t) => {
  const { app, standIn, newUser } = await startPai(t);
  const u = await newUser();
  const first = await app.inject({ method: 'POST', url: '/v1/chat', headers: u.headers, payload: { message: 'My cat is called Miso.' } });
  t.equal(first.statusCode, 200);
  const answer = first.json();
  t.match(answer, {
    conversation_id: /^conv_/, message_id: /^msg_/, message: 'Echo: My cat is called Miso.',
    agent: { id: 'default', version: 1 }, model: 'stand-in',
    usage: { input_tokens: Number, output_tokens: Number, cost_usd: 0 },
    memories_used: [], citations: [],
  });

  const second = await app.inject({
    method: 'POST', url: '/v1/chat', headers: u.headers,
    payload: { message: 'What is my cat called?', conversation_id: answer.conversation_id },
  });
  t.equal(second.statusCode, 200);
  const sent = standIn.requests.filter((r) => r.path.endsWith('/chat/completions')).at(-1)!.body!;
  t.same(sent.messages!.map((m) => [m.role, m.content]).slice(1), [
    ['user', 'My cat is called Miso.'],
    ['assistant', 'Echo: My cat is called Miso.'],
    ['user', 'What is my cat called?'],
  ], 'earlier turns go to the model, oldest first, after the system prompt');
  t.equal(sent.messages![0]!.role, 'system');
  t.equal(sent.model, 'stand-in');

  const conv = await app.inject({ method: 'GET', url: `/v1/conversations/${answer.conversation_id}`, headers: u.headers });
  t.equal(conv.json().title, 'My cat is called Miso.');
  t.same(conv.json().messages.map((m: { role: string; content: string }) => [m.role, m.content]), [
    ['user', 'My cat is called Miso.'],
    ['assistant', 'Echo: My cat is called Miso.'],
    ['user', 'What is my cat called?'],
    ['assistant', 'Echo: What is my cat called?'],
  ]);
  t.equal(conv.json().messages[1].id, answer.message_id);
});

t.test('system_prompt overrides the agent prompt for one request', async (t) => {
  const { app, standIn, newUser } = await startPai(t);
  const u = await newUser();
  await app.inject({ method: 'POST', url: '/v1/chat', headers: u.headers, payload: { message: 'hi', system_prompt: 'Answer in French.' } });
  t.same(standIn.requests.at(-1)!.body!.messages![0], { role: 'system', content: 'Answer in French.' });
});

t.test('bad chat requests are rejected before anything is stored', async (t) => {
  const { app, standIn, newUser } = await startPai(t);
  const u = await newUser();
  const other = await newUser('other');
  const h = { ...u.headers, 'content-type': 'application/json' };
  const cases: Array<[string, unknown, number, string]> = [
    ['empty message', { message: '' }, 400, 'PAI_REQUEST_INVALID'],
    ['oversize message', { message: 'x'.repeat(32_769) }, 400, 'PAI_REQUEST_INVALID'],
    ['wrong type', { message: 42 }, 400, 'PAI_REQUEST_INVALID'],
    ['missing message', {}, 400, 'PAI_REQUEST_INVALID'],
    ['unknown field', { message: 'hi', temperature: 2 }, 400, 'PAI_REQUEST_INVALID'],
    ['bad memory mode', { message: 'hi', memory: 'sometimes' }, 400, 'PAI_REQUEST_INVALID'],
    ['bad stream flag', { message: 'hi', stream: 'yes' }, 400, 'PAI_REQUEST_INVALID'],
    ['unknown conversation', { message: 'hi', conversation_id: 'conv_01JZ0000000000000000000000' }, 404, 'PAI_CONVERSATION_NOT_FOUND'],
    ['unknown agent', { message: 'hi', agent_id: 'nobody' }, 404, 'PAI_AGENT_NOT_FOUND'],
  ];
  for (const [name, payload, status, code] of cases) {
    const res = await app.inject({ method: 'POST', url: '/v1/chat', headers: h, payload: JSON.stringify(payload) });
    t.equal(res.statusCode, status, name);
    t.equal(res.json().error.code, code, name);
  }
  const fieldDetails = await app.inject({ method: 'POST', url: '/v1/chat', headers: h, payload: JSON.stringify({ message: 42 }) });
  t.match(fieldDetails.json().error.details, [{ field: 'body.message' }]);

  const malformed = await app.inject({ method: 'POST', url: '/v1/chat', headers: h, payload: '{"message": "unterminated' });
  t.equal(malformed.statusCode, 400);
  t.equal(malformed.json().error.code, 'PAI_REQUEST_MALFORMED_JSON');

  const foreignConv = (await app.inject({ method: 'POST', url: '/v1/conversations', headers: other.headers, payload: {} })).json();
  const foreign = await app.inject({ method: 'POST', url: '/v1/chat', headers: h, payload: JSON.stringify({ message: 'hi', conversation_id: foreignConv.id }) });
  t.equal(foreign.statusCode, 404, "another user's conversation is not found");
  const theirs = await app.inject({ method: 'GET', url: `/v1/conversations/${foreignConv.id}`, headers: other.headers });
  t.same(theirs.json().messages, [], 'and nothing was written into it');

  const noKey = await app.inject({ method: 'POST', url: '/v1/chat', payload: { message: 'hi' } });
  t.equal(noKey.statusCode, 401);
  const badKey = await app.inject({ method: 'POST', url: '/v1/chat', headers: { authorization: 'Bearer pai_wrong' }, payload: { message: 'hi' } });
  t.equal(badKey.statusCode, 401);

  const list = await app.inject({ method: 'GET', url: '/v1/conversations', headers: u.headers });
  t.same(list.json().items, [], 'no conversation was created by a rejected request');
  t.equal(standIn.requests.filter((r) => r.path.endsWith('/chat/completions')).length, 0, 'the model was never called');
});

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

t.test('no reachable model: the system starts, /readyz names the model, chat answers 503 with how to configure one', async (t) => {
  const port = await closedPort();
  const { app, newUser } = await startPai(t, { env: { OPENAI_BASE_URL: `http://127.0.0.1:${port}/v1` } });
  const ready = await app.inject({ method: 'GET', url: '/readyz' });
  t.equal(ready.statusCode, 503);
  t.equal(ready.json().status, 'unready');
  t.equal(ready.json().checks.model.ok, false);
  t.match(ready.json().checks.model.reason, /127\.0\.0\.1/);
  t.same(ready.json().checks.store, { ok: true });
  t.equal((await app.inject({ method: 'GET', url: '/healthz' })).statusCode, 200, 'alive all the same');

  const u = await newUser();
  const res = await app.inject({ method: 'POST', url: '/v1/chat', headers: u.headers, payload: { message: 'anyone there?' } });
  t.equal(res.statusCode, 503);
  t.equal(res.json().error.code, 'PAI_LLM_UNAVAILABLE');
  t.match(res.json().error.message, /OPENAI_BASE_URL/);
  t.match(res.json().error.message, /ollama/i);

  const convs = (await app.inject({ method: 'GET', url: '/v1/conversations', headers: u.headers })).json();
  t.equal(convs.items.length, 1);
  const conv = (await app.inject({ method: 'GET', url: `/v1/conversations/${convs.items[0].id}`, headers: u.headers })).json();
  t.same(conv.messages.map((m: { role: string; content: string }) => [m.role, m.content]), [['user', 'anyone there?']],
    "the user's message is stored, no answer is");
});

t.test('model failures before the first token map to typed 502/503/504 and keep the user message', async (t) => {
  const { app, newUser } = await startPai(t, { env: { LLM_FIRST_TOKEN_TIMEOUT_MS: '300', LLM_MAX_RETRIES: '0' } });
  const u = await newUser();
  const cases: Array<[string, number, string]> = [
    ['[[stand-in:fail:500]] boom', 502, 'PAI_LLM_UPSTREAM_ERROR'],
    ['[[stand-in:garbage]] junk', 502, 'PAI_LLM_BAD_RESPONSE'],
    ['[[stand-in:hang]] wait', 504, 'PAI_LLM_TIMEOUT'],
    ['[[stand-in:fail:429]] slow down', 503, 'PAI_LLM_RATE_LIMITED'],
    ['[[stand-in:fail:404]] which model', 503, 'PAI_LLM_UNAVAILABLE'],
  ];
  for (const [message, status, code] of cases) {
    const res = await app.inject({ method: 'POST', url: '/v1/chat', headers: u.headers, payload: { message } });
    t.equal(res.statusCode, status, message);
    t.equal(res.json().error.code, code, message);
    t.type(res.json().request_id, 'string');
    t.notMatch(res.body, /at .*\.(ts|js):\d+/, 'no stack trace');
  }
  const convs = (await app.inject({ method: 'GET', url: '/v1/conversations?limit=100', headers: u.headers })).json();
  t.equal(convs.items.length, cases.length);
  for (const c of convs.items) {
    const detail = (await app.inject({ method: 'GET', url: `/v1/conversations/${c.id}`, headers: u.headers })).json();
    t.same(detail.messages.map((m: { role: string }) => m.role), ['user'], 'only the user message is stored');
  }
});

t.test('retries before the first token recover from a transient failure', async (t) => {
  const { app, standIn, newUser } = await startPai(t, { env: { LLM_MAX_RETRIES: '2' } });
  const u = await newUser();
  standIn.enqueue({ kind: 'fail', status: 503 }, { kind: 'reply', text: 'back again' });
  const res = await app.inject({ method: 'POST', url: '/v1/chat', headers: u.headers, payload: { message: 'hello?' } });
  t.equal(res.statusCode, 200);
  t.equal(res.json().message, 'back again');
});

t.test('the context budget drops the oldest turns first', async (t) => {
  const { app, standIn, newUser } = await startPai(t, { env: { LLM_CONTEXT_TOKENS: '600', LLM_MAX_OUTPUT_TOKENS: '100' } });
  const u = await newUser();
  let conversation_id: string | undefined;
  for (let i = 0; i < 12; i++) {
    const res = await app.inject({ method: 'POST', url: '/v1/chat', headers: u.headers, payload: { message: `turn ${i} ${'word '.repeat(40)}`, conversation_id } });
    conversation_id = res.json().conversation_id;
  }
  const sent = standIn.requests.filter((r) => !/durable facts|running summary/.test(r.body?.messages?.[0]?.content ?? '')).at(-1)!.body!.messages!;
  const chars = sent.reduce((n, m) => n + m.content.length, 0);
  t.ok(chars / 4 <= 500, `prompt stays within the budget (${chars} chars)`);
  t.match(sent.at(-1)!.content, /^turn 11/, 'the new message is always sent');
  t.notOk(sent.some((m) => m.content.startsWith('turn 0 ')), 'the oldest turn was dropped');
  t.ok(sent.some((m) => m.content.includes('turn 10')), 'the most recent turns were kept');
});

t.test('logs carry neither message content nor keys', async (t) => {
  const { app, logs, newUser } = await startPai(t);
  const u = await newUser();
  const canary = 'canary-7f3a9e-purple-elephant';
  await app.inject({ method: 'POST', url: '/v1/chat', headers: u.headers, payload: { message: `remember ${canary}` } });
  await app.inject({ method: 'POST', url: '/v1/chat', headers: u.headers, payload: { message: `[[stand-in:fail:500]] ${canary}` } });
  const all = logs.join('');
  t.ok(logs.length > 0, 'something was logged');
  t.notOk(all.includes(canary), 'no message content in logs');
  t.notOk(all.includes(u.key), 'no API key in logs');
  t.notOk(all.includes(u.key.slice(4, 20)), 'not even part of it');
});
