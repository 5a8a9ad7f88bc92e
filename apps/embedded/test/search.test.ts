import t from 'tap';
import { startPai, until } from './helper.js';

type App = Awaited<ReturnType<typeof startPai>>['app'];

async function search(app: App, headers: Record<string, string>, payload: Record<string, unknown>) {
  const res = await app.inject({ method: 'POST', url: '/v1/search', headers, payload });
  return { status: res.statusCode, body: res.json() };
}

const remember = async (app: App, headers: Record<string, string>, content: string, extra: Record<string, unknown> = {}) =>
  (await app.inject({ method: 'POST', url: '/v1/memories', headers, payload: { content, ...extra } })).json();

t.test('memories are searchable as soon as they are written; edits, supersedes and deletes follow', async (t) => {
  const { app, newUser } = await startPai(t);
  const u = await newUser();
  const m = await remember(app, u.headers, 'My sister Priya lives in Lisbon', { category: 'person' });
  let found = await search(app, u.headers, { query: 'where does Priya live?' });
  t.equal(found.status, 200);
  t.match(found.body, { mode_used: 'keyword', results: [{ type: 'memory', id: m.id, content: 'My sister Priya lives in Lisbon', metadata: { category: 'person' } }] });
  t.type(found.body.results[0].score, 'number');

  await app.inject({ method: 'PATCH', url: `/v1/memories/${m.id}`, headers: u.headers, payload: { content: 'My sister Priya moved to Porto' } });
  found = await search(app, u.headers, { query: 'Priya Porto' });
  t.equal(found.body.results[0]?.content, 'My sister Priya moved to Porto', 'an edit is re-indexed');
  t.same((await search(app, u.headers, { query: 'Lisbon' })).body.results, [], 'the old text is gone');

  await app.inject({ method: 'DELETE', url: `/v1/memories/${m.id}`, headers: u.headers });
  t.same((await search(app, u.headers, { query: 'Priya' })).body.results, [], 'a deleted memory is gone from the index');
});

t.test('messages are indexed after each turn; filters narrow by type, category and time', async (t) => {
  const { app, standIn, newUser } = await startPai(t);
  const u = await newUser();
  standIn.enqueue({ kind: 'reply', text: 'Enjoy the marathon training!' });
  const chat = (await app.inject({ method: 'POST', url: '/v1/chat', headers: u.headers, payload: { message: 'I am training for the Berlin marathon', memory: 'off' } })).json();
  const messages = await until(() => search(app, u.headers, { query: 'marathon', types: ['message'] }), (r) => r.body.results.length === 2);
  t.same(messages.body.results.map((r: { metadata: { role: string } }) => r.metadata.role).sort(), ['assistant', 'user']);
  t.ok(messages.body.results.every((r: { metadata: { conversation_id: string } }) => r.metadata.conversation_id === chat.conversation_id));

  await remember(app, u.headers, 'Runs a marathon every autumn', { category: 'plan' });
  await remember(app, u.headers, 'Marathon shoes are size 44', { category: 'fact' });
  const plans = await search(app, u.headers, { query: 'marathon', filters: { category: 'plan' } });
  t.same(plans.body.results.map((r: { content: string }) => r.content), ['Runs a marathon every autumn'], 'category narrows to memories of that category');
  const memoriesOnly = await search(app, u.headers, { query: 'marathon', types: ['memory'] });
  t.equal(memoriesOnly.body.results.length, 2);
  const future = await search(app, u.headers, { query: 'marathon', filters: { since: new Date(Date.now() + 60_000).toISOString() } });
  t.same(future.body.results, [], 'since in the future finds nothing');
  const past = await search(app, u.headers, { query: 'marathon', filters: { until: new Date(Date.now() - 3_600_000).toISOString() } });
  t.same(past.body.results, [], 'until an hour ago finds nothing');
  const limited = await search(app, u.headers, { query: 'marathon', k: 1 });
  t.equal(limited.body.results.length, 1, 'k limits the results');

  await app.inject({ method: 'DELETE', url: `/v1/conversations/${chat.conversation_id}`, headers: u.headers });
  await until(() => search(app, u.headers, { query: 'marathon', types: ['message'] }), (r) => r.body.results.length === 0);
  t.same((await search(app, u.headers, { query: 'Berlin', types: ['message'] })).body.results, [], "a deleted conversation's messages leave the index");
});

t.test('expired memories are not returned', async (t) => {
  const { app, newUser } = await startPai(t);
  const u = await newUser();
  await remember(app, u.headers, 'Parking spot is B12 today', { expires_at: new Date(Date.now() + 300).toISOString() });
  t.equal((await search(app, u.headers, { query: 'parking spot' })).body.results.length, 1);
  await new Promise((r) => setTimeout(r, 400));
  t.same((await search(app, u.headers, { query: 'parking spot' })).body.results, []);
});

t.test('search validates its input', async (t) => {
  const { app, newUser } = await startPai(t);
  const u = await newUser();
  const bad = async (payload: unknown, field: RegExp) => {
    const res = await app.inject({ method: 'POST', url: '/v1/search', headers: u.headers, payload: payload as object });
    t.equal(res.statusCode, 400, JSON.stringify(payload));
    t.equal(res.json().error.code, 'PAI_REQUEST_INVALID');
    t.match(JSON.stringify(res.json().error.details), field);
  };
  await bad({}, /body.query/);
  await bad({ query: '   ' }, /body.query/);
  await bad({ query: 'x', k: 0 }, /body.k/);
  await bad({ query: 'x', k: 101 }, /body.k/);
  await bad({ query: 'x', mode: 'fuzzy' }, /body.mode/);
  await bad({ query: 'x', types: ['email'] }, /body.types/);
  await bad({ query: 'x', types: [] }, /body.types/);
  await bad({ query: 'x', filters: { since: 'yesterday' } }, /body.filters.since/);
  await bad({ query: 'x', filters: { since: '2026-02-01T00:00:00Z', until: '2026-01-01T00:00:00Z' } }, /until/);
  await bad({ query: 'x', surprise: 1 }, /body/);
  await bad({ query: 'x'.repeat(4001) }, /body.query/);
  const res = await app.inject({ method: 'POST', url: '/v1/search', headers: { ...u.headers, 'content-type': 'application/json' }, payload: '{"query":' });
  t.equal(res.json().error.code, 'PAI_REQUEST_MALFORMED_JSON');
  t.equal((await app.inject({ method: 'POST', url: '/v1/search', payload: { query: 'x' } })).statusCode, 401);
});

t.test('tenant isolation: no search ever returns another user\'s item', async (t) => {
  const { app, newUser } = await startPai(t);
  const users = await Promise.all(['a', 'b', 'c'].map((n) => newUser(n)));
  const owned = new Map<string, string>();
  for (const [i, u] of users.entries()) {
    for (let j = 0; j < 5; j++) owned.set((await remember(app, u.headers, `Shared secret phrase number ${j} kiwi`)).id, u.id);
    await app.inject({ method: 'POST', url: '/v1/documents', headers: u.headers, payload: { title: `Doc ${i}`, content: 'Shared secret phrase kiwi in a document.' } });
  }
  for (const u of users) {
    for (const mode of ['hybrid', 'semantic', 'keyword']) {
      const found = await search(app, u.headers, { query: 'shared secret phrase kiwi', mode, k: 100 });
      for (const r of found.body.results) if (r.type === 'memory') t.equal(owned.get(r.id), u.id, `${mode}: memory ${r.id} belongs to the caller`);
      t.ok(found.body.results.filter((r: { type: string }) => r.type === 'memory').length <= 5);
    }
  }
});
