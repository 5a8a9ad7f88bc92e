import t from 'tap';
import { buildMemory } from './helper.js';

t.test('memories: create, list with category filter and cursor, get, patch, delete', async (t) => {
  const { app, newUser } = await buildMemory(t);
  const u = await newUser();
  const created = await app.inject({ method: 'POST', url: '/v1/memories', headers: u.headers, payload: { content: 'Prefers green tea', category: 'preference', importance: 0.8 } });
  t.equal(created.statusCode, 201);
  t.match(created.json(), { id: /^mem_/, content: 'Prefers green tea', category: 'preference', importance: 0.8, source_message_id: null, superseded_by: null, expires_at: null });
  const defaults = (await app.inject({ method: 'POST', url: '/v1/memories', headers: u.headers, payload: { content: 'Lives in Porto' } })).json();
  t.match(defaults, { category: 'fact', importance: 0.5 });
  await app.inject({ method: 'POST', url: '/v1/memories', headers: u.headers, payload: { content: 'Sister: Eva', category: 'person' } });

  const page1 = (await app.inject({ method: 'GET', url: '/v1/memories?limit=2', headers: u.headers })).json();
  t.same(page1.items.map((m: { content: string }) => m.content), ['Sister: Eva', 'Lives in Porto']);
  const page2 = (await app.inject({ method: 'GET', url: `/v1/memories?limit=2&cursor=${page1.next_cursor}`, headers: u.headers })).json();
  t.same(page2.items.map((m: { content: string }) => m.content), ['Prefers green tea']);
  t.equal(page2.next_cursor, null);
  const people = (await app.inject({ method: 'GET', url: '/v1/memories?category=person', headers: u.headers })).json();
  t.same(people.items.map((m: { content: string }) => m.content), ['Sister: Eva']);

  const id = created.json().id;
  const patched = await app.inject({ method: 'PATCH', url: `/v1/memories/${id}`, headers: u.headers, payload: { content: 'Prefers black coffee', importance: 0.9 } });
  t.equal(patched.statusCode, 200);
  t.match(patched.json(), { content: 'Prefers black coffee', importance: 0.9, category: 'preference' });
  t.ok(patched.json().updated_at >= created.json().updated_at);
  t.equal((await app.inject({ method: 'GET', url: `/v1/memories/${id}`, headers: u.headers })).json().content, 'Prefers black coffee');
  t.equal((await app.inject({ method: 'DELETE', url: `/v1/memories/${id}`, headers: u.headers })).statusCode, 204);
  const gone = await app.inject({ method: 'GET', url: `/v1/memories/${id}`, headers: u.headers });
  t.equal(gone.statusCode, 404);
  t.equal(gone.json().error.code, 'PAI_MEMORY_NOT_FOUND');
});

t.test('expires_at is honoured: an expired memory is neither listed nor found', async (t) => {
  const { app, newUser } = await buildMemory(t);
  const u = await newUser();
  const soon = new Date(Date.now() + 300).toISOString();
  const m = (await app.inject({ method: 'POST', url: '/v1/memories', headers: u.headers, payload: { content: 'Parking on level 3 today', expires_at: soon } })).json();
  t.equal(m.expires_at, soon);
  t.equal((await app.inject({ method: 'GET', url: '/v1/memories', headers: u.headers })).json().items.length, 1);
  await new Promise((r) => setTimeout(r, 400));
  t.same((await app.inject({ method: 'GET', url: '/v1/memories', headers: u.headers })).json().items, []);
  t.equal((await app.inject({ method: 'GET', url: `/v1/memories/${m.id}`, headers: u.headers })).statusCode, 404);
  const later = (await app.inject({ method: 'POST', url: '/v1/memories', headers: u.headers, payload: { content: 'x', expires_at: soon } })).json();
  const cleared = await app.inject({ method: 'PATCH', url: `/v1/memories/${later.id}`, headers: u.headers, payload: { expires_at: null } });
  t.equal(cleared.statusCode, 404, 'an already expired memory cannot be revived');
});

t.test("memories validation and another user's ids", async (t) => {
  const { app, newUser, admin } = await buildMemory(t);
  const [a, b] = [await newUser('a'), await newUser('b')];
  const mine = (await app.inject({ method: 'POST', url: '/v1/memories', headers: a.headers, payload: { content: 'private' } })).json();
  for (const [method, url, payload] of [
    ['GET', `/v1/memories/${mine.id}`, undefined],
    ['PATCH', `/v1/memories/${mine.id}`, { content: 'hijacked' }],
    ['DELETE', `/v1/memories/${mine.id}`, undefined],
  ] as const) {
    const res = await app.inject({ method, url, headers: b.headers, ...(payload ? { payload } : {}) });
    t.equal(res.statusCode, 404, `${method} by another user`);
    t.notOk(res.body.includes('private'));
  }
  t.same((await app.inject({ method: 'GET', url: '/v1/memories', headers: b.headers })).json().items, []);
  t.equal((await app.inject({ method: 'GET', url: `/v1/memories/${mine.id}`, headers: a.headers })).json().content, 'private', 'untouched');

  const bad: Array<[unknown, string]> = [
    [{ content: '' }, 'body.content'],
    [{ content: 'x'.repeat(4001) }, 'body.content'],
    [{ content: 'x', importance: 2 }, 'body.importance'],
    [{ content: 'x', category: 'Not A Word!' }, 'body.category'],
    [{ content: 'x', expires_at: 'tomorrow' }, 'body.expires_at'],
    [{ content: 'x', user_id: 'usr_other' }, 'body'],
  ];
  for (const [payload, field] of bad) {
    const res = await app.inject({ method: 'POST', url: '/v1/memories', headers: a.headers, payload: payload as object });
    t.equal(res.statusCode, 400, JSON.stringify(payload));
    t.ok(res.json().error.details.some((d: { field: string }) => d.field.startsWith(field)), `${field} named`);
  }
  const emptyPatch = await app.inject({ method: 'PATCH', url: `/v1/memories/${mine.id}`, headers: a.headers, payload: {} });
  t.equal(emptyPatch.statusCode, 400);
  t.equal((await app.inject({ method: 'POST', url: '/v1/memories', headers: admin, payload: { content: 'x' } })).statusCode, 403, 'the admin has no memories');
});

t.test('deleting a user removes everything they own, returns a receipt, and leaves others alone', async (t) => {
  const { app, admin, newUser, dataDir } = await buildMemory(t, { PAI_INTERNAL_TOKEN: 'internal-token-for-tests-0123456789' });
  const [a, b] = [await newUser('a'), await newUser('b')];
  for (const u of [a, b]) {
    await app.inject({ method: 'POST', url: '/v1/memories', headers: u.headers, payload: { content: `memory of ${u.id}` } });
    await app.inject({
      method: 'POST', url: '/internal/v1/turns', headers: { 'x-pai-internal-token': 'internal-token-for-tests-0123456789', 'x-pai-user-id': u.id },
      payload: { agent_id: 'default', message: { id: `msg_${u.id.slice(4)}`, content: 'hello' }, history_limit: 0 },
    });
  }
  const byAdmin = await app.inject({ method: 'DELETE', url: `/v1/users/${a.id}`, headers: admin });
  t.equal(byAdmin.statusCode, 200);
  t.match(byAdmin.json(), { user_id: a.id, deleted: { users: 1, api_keys: 1, conversations: 1, messages: 1, memories: 1 } });
  t.equal((await app.inject({ method: 'GET', url: '/v1/users/me', headers: a.headers })).statusCode, 401, "the user's keys stop working");
  t.equal((await app.inject({ method: 'DELETE', url: `/v1/users/${a.id}`, headers: admin })).statusCode, 404, 'gone');
  t.equal((await app.inject({ method: 'GET', url: '/v1/memories', headers: b.headers })).json().items.length, 1, 'the other user keeps theirs');

  const self = await app.inject({ method: 'DELETE', url: '/v1/users/me', headers: b.headers });
  t.equal(self.statusCode, 200);
  t.equal(self.json().user_id, b.id);
  t.equal((await app.inject({ method: 'GET', url: '/v1/users', headers: admin })).json().items.length, 0);
  t.equal((await app.inject({ method: 'DELETE', url: '/v1/users/me', headers: admin })).statusCode, 403, 'the admin is not a user');
  t.ok(dataDir);
});
