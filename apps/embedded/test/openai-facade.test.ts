import t from 'tap';
import OpenAI from 'openai';
import { startPai } from './helper.js';

t.test('the official openai client works against /v1/chat/completions, with PAI memory', async (t) => {
  const { url, app, standIn, newUser } = await startPai(t, { listen: true });
  const u = await newUser();
  const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: u.key, maxRetries: 0 });

  const { data: first, response } = await client.chat.completions
    .create({ model: 'pai', messages: [{ role: 'user', content: 'My name is Ada.' }] })
    .withResponse();
  t.equal(first.object, 'chat.completion');
  t.equal(first.choices[0]!.message.content, 'Echo: My name is Ada.');
  t.equal(first.choices[0]!.finish_reason, 'stop');
  t.equal(first.model, 'default');
  t.ok(first.usage!.total_tokens > 0);
  const conversationId = response.headers.get('x-pai-conversation-id');
  t.match(conversationId, /^conv_/);

  const stream = await client.chat.completions.create(
    { model: 'pai', messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'What is my name?' }], stream: true, stream_options: { include_usage: true } },
    { headers: { 'x-pai-conversation-id': conversationId! } },
  );
  let text = '';
  let usage = null;
  let finish = null;
  for await (const chunk of stream) {
    text += chunk.choices[0]?.delta?.content ?? '';
    finish = chunk.choices[0]?.finish_reason ?? finish;
    usage = chunk.usage ?? usage;
  }
  t.equal(text, 'Echo: What is my name?');
  t.equal(finish, 'stop');
  t.ok(usage && usage.completion_tokens > 0, 'usage chunk when include_usage');

  const chats = standIn.requests.filter((r) => r.path.endsWith('/chat/completions') && !r.body?.messages?.[0]?.content.includes('durable facts'));
  const sent = chats.at(-1)!.body!;
  t.match(sent.messages![0]!.content, /^Be brief\./, 'the system message overrides the agent prompt (memories may follow it)');
  t.same(sent.messages!.slice(1), [
    { role: 'user', content: 'My name is Ada.' },
    { role: 'assistant', content: 'Echo: My name is Ada.' },
    { role: 'user', content: 'What is my name?' },
  ], 'PAI supplied the history of the conversation named in the header');

  const conv = (await app.inject({ method: 'GET', url: `/v1/conversations/${conversationId}`, headers: u.headers })).json();
  t.equal(conv.messages.length, 4, 'both turns are in the same PAI conversation');
});

t.test('facade errors reach the openai client as typed API errors', async (t) => {
  const { url, newUser } = await startPai(t, { listen: true, env: { LLM_MAX_RETRIES: '0' } });
  const u = await newUser();
  const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: u.key, maxRetries: 0 });

  await t.rejects(client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] }),
    { status: 404, message: /PAI_AGENT_NOT_FOUND|Agent 'gpt-4o' not found/ });
  await t.rejects(new OpenAI({ baseURL: `${url}/v1`, apiKey: 'pai_wrong', maxRetries: 0 }).chat.completions.create({ model: 'pai', messages: [{ role: 'user', content: 'hi' }] }),
    { status: 401, message: /./ });
  await t.rejects(client.chat.completions.create({ model: 'pai', messages: [{ role: 'assistant', content: 'no user turn' }] }), { status: 400, message: /./ });
  await t.rejects(client.chat.completions.create({ model: 'pai', messages: [{ role: 'user', content: '[[stand-in:fail:503]] x' }] }), { status: 502, message: /./ });

  const stream = await client.chat.completions.create({ model: 'pai', messages: [{ role: 'user', content: '[[stand-in:cut-after:2]] a b c d' }], stream: true });
  let text = '';
  await t.rejects((async () => {
    for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
  })(), /PAI_LLM_BAD_RESPONSE|cut off|closed/i, 'a failure mid-stream surfaces as an error in the client');
  t.ok(text.length > 0, 'after the deltas already received');
});

t.test('facade request validation', async (t) => {
  const { app, newUser } = await startPai(t);
  const u = await newUser();
  const cases: Array<[unknown, number]> = [
    [{ model: 'pai' }, 400],
    [{ model: 'pai', messages: [] }, 400],
    [{ model: 'pai', messages: [{ role: 'user', content: '' }] }, 400],
    [{ model: 'pai', messages: [{ role: 'wizard', content: 'hi' }] }, 400],
    [{ model: 'pai', messages: [{ role: 'user', content: 'hi' }], temperature: 5 }, 400],
    [{ model: 'pai', messages: [{ role: 'user', content: [{ type: 'text', text: 'parts work' }] }] }, 200],
    [{ model: 'pai', messages: [{ role: 'user', content: 'unknown fields are ignored' }], n: 1, user: 'x', top_p: 1 }, 200],
  ];
  for (const [payload, status] of cases) {
    const res = await app.inject({ method: 'POST', url: '/v1/chat/completions', headers: u.headers, payload: payload as object });
    t.equal(res.statusCode, status, JSON.stringify(payload));
  }
  const foreign = await newUser('other');
  const theirs = (await app.inject({ method: 'POST', url: '/v1/chat', headers: foreign.headers, payload: { message: 'secret' } })).json();
  const res = await app.inject({
    method: 'POST', url: '/v1/chat/completions', headers: { ...u.headers, 'x-pai-conversation-id': theirs.conversation_id },
    payload: { model: 'pai', messages: [{ role: 'user', content: 'let me in' }] },
  });
  t.equal(res.statusCode, 404, "another user's conversation id is not found");
});
