import t from 'tap';
import { startOpenAiStandIn } from '@pai/model-provider/testing';
import { tempDir, ADMIN_KEY } from './helper.js';
import { startProcess } from './processes.js';

t.test('agent, memory and search as three processes talking over HTTP with the typed clients', async (t) => {
  const standIn = await startOpenAiStandIn();
  t.teardown(() => standIn.close());
  const token = 'separate-processes-internal-token-0123456789';
  const memory = await startProcess(t, 'memory', { PAI_DATA_DIR: tempDir(t), PAI_ADMIN_API_KEY: ADMIN_KEY, PAI_INTERNAL_TOKEN: token });
  const [agent, search] = await Promise.all([
    startProcess(t, 'agent', { MEMORY_SERVICE_URL: memory.url, PAI_INTERNAL_TOKEN: token, OPENAI_BASE_URL: standIn.url, LLM_MODEL: 'stand-in' }),
    startProcess(t, 'search', { MEMORY_SERVICE_URL: memory.url, PAI_INTERNAL_TOKEN: token }),
  ]);

  const admin = { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' };
  const user = (await (await fetch(`${memory.url}/v1/users`, { method: 'POST', headers: admin, body: '{"name":"split"}' })).json()) as any;
  const key = (await (await fetch(`${memory.url}/v1/users/${user.id}/api-keys`, { method: 'POST', headers: admin, body: '{}' })).json()) as any;
  const headers = { authorization: `Bearer ${key.key}`, 'content-type': 'application/json', 'x-request-id': 'split-trace-1' };

  const chat = await fetch(`${agent.url}/v1/chat`, { method: 'POST', headers, body: JSON.stringify({ message: 'across processes' }) });
  t.equal(chat.status, 200);
  const answer = (await chat.json()) as any;
  t.equal(answer.message, 'Echo: across processes');

  const conv = (await (await fetch(`${memory.url}/v1/conversations/${answer.conversation_id}`, { headers })).json()) as any;
  t.same(conv.messages.map((m: { content: string }) => m.content), ['across processes', 'Echo: across processes'],
    'the agent stored both messages in the memory service');

  const foreignAdmin = await fetch(`${agent.url}/v1/chat`, { method: 'POST', headers: admin, body: '{"message":"hi"}' });
  t.equal(foreignAdmin.status, 403, 'the agent verifies keys through the memory service');
  const unknown = await fetch(`${agent.url}/v1/chat`, { method: 'POST', headers: { ...headers, authorization: 'Bearer pai_nope' }, body: '{"message":"hi"}' });
  t.equal(unknown.status, 401);
  const missingConv = await fetch(`${agent.url}/v1/chat`, { method: 'POST', headers, body: JSON.stringify({ message: 'x', conversation_id: 'conv_01JZ0000000000000000000000' }) });
  t.equal(missingConv.status, 404, "the memory service's 404 reaches the client through the agent");
  t.equal(((await missingConv.json()) as any).error.code, 'PAI_CONVERSATION_NOT_FOUND');

  for (const svc of [agent, search]) {
    const ready = (await (await fetch(`${svc.url}/readyz`)).json()) as any;
    t.same(ready.checks['memory-service'], { ok: true });
  }
  t.match(memory.output(), /split-trace-1/, 'the request id travelled from the agent to the memory service');

  memory.child.kill('SIGTERM');
  await memory.exited;
  const down = await fetch(`${agent.url}/v1/chat`, { method: 'POST', headers, body: '{"message":"still there?"}' });
  t.equal(down.status, 503);
  t.equal(((await down.json()) as any).error.code, 'PAI_SERVICE_UNAVAILABLE');
  const notReady = await fetch(`${agent.url}/readyz`);
  t.equal(notReady.status, 503);
});
