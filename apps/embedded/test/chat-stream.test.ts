import t from 'tap';
import { request } from 'undici';
import http from 'node:http';
import { startPai, parseSse } from './helper.js';

async function postStream(url: string, headers: Record<string, string>, body: unknown, accept = false) {
  const res = await request(`${url}/v1/chat`, {
    method: 'POST',
    headers: { ...headers, 'content-type': 'application/json', ...(accept ? { accept: 'text/event-stream' } : {}) },
    body: JSON.stringify(body),
  });
  return { status: res.statusCode, headers: res.headers, text: await res.body.text() };
}

t.test('streams start, deltas and done; the stored answer equals the streamed text', async (t) => {
  const { url, app, newUser } = await startPai(t, { listen: true });
  const u = await newUser();
  const res = await postStream(url, u.headers, { message: 'tell me a story please', stream: true });
  t.equal(res.status, 200);
  t.match(res.headers['content-type'], /text\/event-stream/);
  t.type(res.headers['x-request-id'], 'string');
  const events = parseSse(res.text);
  t.equal(events[0]!.event, 'start');
  t.match(events[0]!.data, { conversation_id: /^conv_/, message_id: /^msg_/, agent: { id: 'default', version: 1 }, model: 'stand-in' });
  const deltas = events.filter((e) => e.event === 'delta');
  t.ok(deltas.length > 1, 'several deltas');
  const done = events.at(-1)!;
  t.equal(done.event, 'done');
  const text = deltas.map((d) => d.data.text).join('');
  t.equal(done.data.message, text);
  t.equal(text, 'Echo: tell me a story please');
  t.equal(done.data.message_id, events[0]!.data.message_id);
  t.ok(done.data.usage.output_tokens > 0);

  const conv = (await app.inject({ method: 'GET', url: `/v1/conversations/${done.data.conversation_id}`, headers: u.headers })).json();
  t.same(conv.messages.map((m: { role: string; content: string; incomplete?: boolean }) => [m.role, m.content, m.incomplete]), [
    ['user', 'tell me a story please', undefined],
    ['assistant', text, undefined],
  ]);
});

t.test('Accept: text/event-stream also streams', async (t) => {
  const { url, newUser } = await startPai(t, { listen: true });
  const u = await newUser();
  const res = await postStream(url, u.headers, { message: 'hi' }, true);
  t.equal(parseSse(res.text)[0]!.event, 'start');
  const json = await postStream(url, u.headers, { message: 'hi', stream: false }, true);
  t.equal(JSON.parse(json.text).message, 'Echo: hi', 'an explicit stream:false wins over Accept');
});

t.test('a model cut mid-stream ends with an error event and the partial answer stored incomplete', async (t) => {
  const { url, app, newUser } = await startPai(t, { listen: true });
  const u = await newUser();
  const res = await postStream(url, u.headers, { message: '[[stand-in:cut-after:2]] one two three four five', stream: true });
  t.equal(res.status, 200);
  const events = parseSse(res.text);
  const deltas = events.filter((e) => e.event === 'delta');
  t.equal(deltas.length, 2);
  const last = events.at(-1)!;
  t.equal(last.event, 'error');
  t.equal(last.data.error.code, 'PAI_LLM_BAD_RESPONSE');
  t.type(last.data.request_id, 'string');
  const convId = events[0]!.data.conversation_id;
  const conv = (await app.inject({ method: 'GET', url: `/v1/conversations/${convId}`, headers: u.headers })).json();
  const answer = conv.messages[1];
  t.equal(answer.role, 'assistant');
  t.equal(answer.content, deltas.map((d) => d.data.text).join(''));
  t.equal(answer.incomplete, true);
});

t.test('garbage mid-stream ends with an error event too', async (t) => {
  const { url, newUser } = await startPai(t, { listen: true });
  const u = await newUser();
  const res = await postStream(url, u.headers, { message: '[[stand-in:garbage:1]] a b c', stream: true });
  const events = parseSse(res.text);
  t.equal(events.at(-1)!.event, 'error');
  t.equal(events.at(-1)!.data.error.code, 'PAI_LLM_BAD_RESPONSE');
});

t.test('a model failing before the first token answers a plain HTTP error, not a stream', async (t) => {
  const { url, newUser } = await startPai(t, { listen: true, env: { LLM_MAX_RETRIES: '0' } });
  const u = await newUser();
  const res = await postStream(url, u.headers, { message: '[[stand-in:fail:503]] x', stream: true });
  t.equal(res.status, 502);
  t.match(res.headers['content-type'], /application\/json/);
  t.equal(JSON.parse(res.text).error.code, 'PAI_LLM_UPSTREAM_ERROR');
});

t.test('a slow first token opens the stream after one ping interval, with pings', async (t) => {
  const { url, newUser } = await startPai(t, { listen: true, env: { PAI_SSE_PING_MS: '50' } });
  const u = await newUser();
  const res = await postStream(url, u.headers, { message: '[[stand-in:slow-first-token:400]] late', stream: true });
  const events = parseSse(res.text);
  t.equal(events[0]!.event, 'start');
  t.ok(events.filter((e) => e.event === ':').length >= 2, 'ping comments while waiting');
  t.equal(events.at(-1)!.event, 'done');
});

t.test('a hanging model after the stream opened times out into an error event', async (t) => {
  const { url, newUser } = await startPai(t, { listen: true, env: { LLM_TOTAL_TIMEOUT_MS: '500' } });
  const u = await newUser();
  const res = await postStream(url, u.headers, { message: '[[stand-in:hang-after:1]] a b c', stream: true });
  const events = parseSse(res.text);
  t.equal(events.at(-1)!.event, 'error');
  t.equal(events.at(-1)!.data.error.code, 'PAI_LLM_TIMEOUT');
});

t.test('a client that disconnects mid-stream aborts the model call; the partial answer is stored incomplete', async (t) => {
  const { url, app, standIn, newUser } = await startPai(t, { listen: true });
  const u = await newUser();
  const target = new URL(`${url}/v1/chat`);
  const { conversationId, deltasSeen } = await new Promise<{ conversationId: string; deltasSeen: number }>((resolve, reject) => {
    const req = http.request({
      host: target.hostname, port: target.port, path: target.pathname, method: 'POST',
      headers: { ...u.headers, 'content-type': 'application/json' },
    }, (res) => {
      let buffer = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buffer += chunk;
        const events = parseSse(buffer.slice(0, buffer.lastIndexOf('\n\n') + 2));
        const deltas = events.filter((e) => e.event === 'delta').length;
        if (deltas >= 2) {
          req.destroy();
          resolve({ conversationId: events[0]!.data.conversation_id, deltasSeen: deltas });
        }
      });
      res.on('error', () => {});
    });
    req.on('error', () => {});
    req.end(JSON.stringify({ message: '[[stand-in:hang-after:2]] never finishes', stream: true }));
    setTimeout(() => reject(new Error('no deltas')), 5000);
  });
  t.ok(deltasSeen >= 2);
  const started = Date.now();
  await standIn.waitForAborted(1, 1000);
  t.ok(Date.now() - started <= 150, `the upstream socket closed promptly (${Date.now() - started} ms)`);

  // The partial answer is written right after the abort.
  let messages: Array<{ role: string; content: string; incomplete?: boolean }> = [];
  for (let i = 0; i < 50 && messages.length < 2; i++) {
    await new Promise((r) => setTimeout(r, 20));
    messages = (await app.inject({ method: 'GET', url: `/v1/conversations/${conversationId}`, headers: u.headers })).json().messages;
  }
  t.equal(messages.length, 2);
  t.equal(messages[1]!.role, 'assistant');
  t.equal(messages[1]!.incomplete, true);
  t.ok(messages[1]!.content.length > 0);
});
