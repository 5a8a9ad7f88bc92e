import t from 'tap';
import { buildMemory } from './helper.js';

const TOKEN = 'internal-token-for-tests-0123456789';

async function seed(h: Awaited<ReturnType<typeof buildMemory>>, headers: Record<string, string>, userId: string) {
  const internal = { 'x-pai-internal-token': TOKEN, 'x-pai-user-id': userId };
  const turn = (await h.app.inject({
    method: 'POST', url: '/internal/v1/turns', headers: internal,
    payload: { agent_id: 'default', message: { id: `msg_${userId.slice(4)}A`, content: 'I live in Porto 🏠' }, history_limit: 0 },
  })).json();
  await h.app.inject({
    method: 'POST', url: `/internal/v1/conversations/${turn.conversation.id}/messages`, headers: internal,
    payload: { id: `msg_${userId.slice(4)}B`, role: 'assistant', content: 'Nice city!', incomplete: true },
  });
  await h.app.inject({ method: 'POST', url: '/v1/conversations', headers, payload: { title: 'empty one' } });
  const old = (await h.app.inject({ method: 'POST', url: '/v1/memories', headers, payload: { content: 'Lives in Lisbon', category: 'fact' } })).json();
  await h.app.inject({
    method: 'POST', url: '/internal/v1/formation/apply', headers: internal,
    payload: { source_message_id: turn.user_message.id, facts: [{ content: 'Lives in Porto', category: 'fact', importance: 0.9, supersedes: old.id }] },
  });
  await h.app.inject({ method: 'POST', url: '/v1/memories', headers, payload: { content: 'Dentist on Friday', category: 'plan', expires_at: '2001-01-01T00:00:00Z' } });
}

/** The export without ids and export time: what must survive a round trip. */
function essence(doc: any) {
  return {
    conversations: doc.conversations.map((c: any) => ({
      title: c.title, agent_id: c.agent_id, created_at: c.created_at,
      messages: c.messages.map((m: any) => ({ role: m.role, content: m.content, created_at: m.created_at, incomplete: m.incomplete })),
    })),
    memories: doc.memories.map((m: any) => ({
      content: m.content, category: m.category, importance: m.importance, expires_at: m.expires_at,
      superseded: m.superseded_by !== null, sourced: m.source_message_id !== null,
    })),
  };
}

t.test('export → import → export keeps every conversation, message and memory (links included)', async (t) => {
  const h = await buildMemory(t, { PAI_INTERNAL_TOKEN: TOKEN });
  const a = await h.newUser('a');
  await seed(h, a.headers, a.id);
  const exported = await h.app.inject({ method: 'GET', url: '/v1/export', headers: a.headers });
  t.equal(exported.statusCode, 200);
  t.match(exported.headers['content-disposition'], /attachment; filename="pai-export-/);
  const doc = exported.json();
  t.equal(doc.schema_version, 1);
  t.equal(doc.user.id, a.id);
  t.equal(doc.conversations.length, 2);
  t.equal(doc.memories.length, 3, 'superseded and expired memories are exported too');

  const b = await h.newUser('b');
  const imported = await h.app.inject({ method: 'POST', url: '/v1/import', headers: b.headers, payload: doc });
  t.equal(imported.statusCode, 200);
  t.same(imported.json().imported, { conversations: 2, messages: 2, memories: 3 });
  t.same(imported.json().rejected, []);
  const map = imported.json().id_map;
  t.ok(map[doc.conversations[1].id]?.startsWith('conv_'));

  const again = (await h.app.inject({ method: 'GET', url: '/v1/export', headers: b.headers })).json();
  t.same(essence(again), essence(doc), 'the same content, timestamps and links under new ids');
  const porto = again.memories.find((m: any) => m.content === 'Lives in Porto');
  const lisbon = again.memories.find((m: any) => m.content === 'Lives in Lisbon');
  t.equal(lisbon.superseded_by, porto.id, 'superseded_by points at the new id');
  const firstMessage = again.conversations.flatMap((c: any) => c.messages).find((m: any) => m.content.startsWith('I live'));
  t.equal(porto.source_message_id, firstMessage.id, 'source_message_id points at the new message');
  t.equal((await h.app.inject({ method: 'GET', url: '/v1/export', headers: a.headers })).json().memories.length, 3, 'the source account is untouched');
});

t.test('invalid imports: whole-document errors are 400, bad items are rejected with reasons', async (t) => {
  const h = await buildMemory(t);
  const u = await h.newUser();
  const wrongVersion = await h.app.inject({ method: 'POST', url: '/v1/import', headers: u.headers, payload: { schema_version: 2, conversations: [] } });
  t.equal(wrongVersion.statusCode, 400);
  t.match(wrongVersion.json().error.details, [{ field: 'body.schema_version' }]);
  const notArray = await h.app.inject({ method: 'POST', url: '/v1/import', headers: u.headers, payload: { schema_version: 1, memories: 'all of them' } });
  t.equal(notArray.statusCode, 400);
  const malformed = await h.app.inject({ method: 'POST', url: '/v1/import', headers: { ...u.headers, 'content-type': 'application/json' }, payload: '{"schema_version": 1, "conv' });
  t.equal(malformed.statusCode, 400);

  const now = new Date().toISOString();
  const mixed = await h.app.inject({
    method: 'POST', url: '/v1/import', headers: u.headers,
    payload: {
      schema_version: 1,
      conversations: [
        { id: 'c1', title: 'fine', agent_id: 'default', created_at: now, updated_at: now, messages: [{ id: 'm1', role: 'user', content: 'hi', created_at: now }] },
        { id: 'c2', title: 'bad role', agent_id: 'default', created_at: now, updated_at: now, messages: [{ id: 'm2', role: 'system', content: 'x', created_at: now }] },
        'not even an object',
      ],
      memories: [
        { id: 'x1', content: '', category: 'fact', importance: 0.5, source_message_id: null, superseded_by: null, expires_at: null, created_at: now, updated_at: now },
        { id: 'x2', content: 'ok memory', category: 'fact', importance: 0.5, source_message_id: 'm1', superseded_by: null, expires_at: null, created_at: now, updated_at: now },
      ],
      documents: [{ id: 'd1' }],
    },
  });
  t.equal(mixed.statusCode, 200);
  t.same(mixed.json().imported, { conversations: 1, messages: 1, memories: 1 });
  t.match(mixed.json().rejected, [
    { kind: 'conversation', index: 1, id: 'c2', reason: /messages\.0\.role/ },
    { kind: 'conversation', index: 2, id: null, reason: String },
    { kind: 'memory', index: 0, id: 'x1', reason: /content/ },
    { kind: 'document', index: 0, id: 'd1', reason: /cannot be imported/ },
  ]);
  const memory = (await h.app.inject({ method: 'GET', url: '/v1/memories', headers: u.headers })).json().items[0];
  t.equal(memory.source_message_id, mixed.json().id_map.m1);
  t.equal((await h.app.inject({ method: 'GET', url: '/v1/export', headers: h.admin })).statusCode, 403, 'the admin owns nothing to export');
});
