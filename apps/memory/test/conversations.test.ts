import t from 'tap';
import { buildMemory } from './helper.js';

t.test('create, list newest first with cursor, get, delete', async (t) => {
  const { app, newUser } = await buildMemory(t);
  const u = await newUser();
  const ids: string[] = [];
  for (let i = 0; i < 5; i++) {
    const res = await app.inject({ method: 'POST', url: '/v1/conversations', headers: u.headers, payload: { title: `c${i}` } });
    t.equal(res.statusCode, 201);
    t.match(res.json(), { id: /^conv_/, title: `c${i}`, agent_id: 'default', created_at: String, updated_at: String });
    ids.push(res.json().id);
  }
  const noBody = await app.inject({ method: 'POST', url: '/v1/conversations', headers: u.headers });
  t.equal(noBody.statusCode, 201, 'the body is optional');
  t.equal(noBody.json().title, null);

  const p1 = await app.inject({ method: 'GET', url: '/v1/conversations?limit=4', headers: u.headers });
  t.same(p1.json().items.map((c: { title: string }) => c.title), [null, 'c4', 'c3', 'c2']);
  const p2 = await app.inject({ method: 'GET', url: `/v1/conversations?limit=4&cursor=${p1.json().next_cursor}`, headers: u.headers });
  t.same(p2.json().items.map((c: { title: string }) => c.title), ['c1', 'c0']);
  t.equal(p2.json().next_cursor, null);

  const got = await app.inject({ method: 'GET', url: `/v1/conversations/${ids[0]}`, headers: u.headers });
  t.equal(got.statusCode, 200);
  t.same(got.json().messages, []);
  t.equal(got.json().next_cursor, null);

  const del = await app.inject({ method: 'DELETE', url: `/v1/conversations/${ids[0]}`, headers: u.headers });
  t.equal(del.statusCode, 204);
  const gone = await app.inject({ method: 'GET', url: `/v1/conversations/${ids[0]}`, headers: u.headers });
  t.equal(gone.statusCode, 404);
  t.equal(gone.json().error.code, 'PAI_CONVERSATION_NOT_FOUND');
  const delAgain = await app.inject({ method: 'DELETE', url: `/v1/conversations/${ids[0]}`, headers: u.headers });
  t.equal(delAgain.statusCode, 404);
});

t.test("another user's conversation is answered 404, never its content", async (t) => {
  const { app, newUser } = await buildMemory(t);
  const [a, b] = [await newUser('a'), await newUser('b')];
  const conv = (await app.inject({ method: 'POST', url: '/v1/conversations', headers: a.headers, payload: { title: 'private plans' } })).json();
  for (const [method, url] of [['GET', `/v1/conversations/${conv.id}`], ['DELETE', `/v1/conversations/${conv.id}`]] as const) {
    const res = await app.inject({ method, url, headers: b.headers });
    t.equal(res.statusCode, 404, `${method} ${url}`);
    t.notOk(res.body.includes('private plans'));
  }
  const listB = await app.inject({ method: 'GET', url: '/v1/conversations', headers: b.headers });
  t.same(listB.json().items, []);
  const stillThere = await app.inject({ method: 'GET', url: `/v1/conversations/${conv.id}`, headers: a.headers });
  t.equal(stillThere.statusCode, 200);
});

t.test('messages of a conversation are paginated oldest first (via the internal turn routes)', async (t) => {
  const { app, newUser } = await buildMemory(t, { PAI_INTERNAL_TOKEN: 'internal-token-for-tests-0123456789' });
  const u = await newUser();
  const internal = { 'x-pai-internal-token': 'internal-token-for-tests-0123456789', 'x-pai-user-id': u.id };
  const first = await app.inject({
    method: 'POST', url: '/internal/v1/turns', headers: internal,
    payload: { agent_id: 'default', message: { id: 'msg_01JZ0000000000000000000001', content: 'Hello there, this is my first message' }, history_limit: 10 },
  });
  t.equal(first.statusCode, 200);
  const turn = first.json();
  t.equal(turn.created, true);
  t.equal(turn.conversation.title, 'Hello there, this is my first message');
  t.same(turn.history, []);
  const convId = turn.conversation.id;
  const answer = await app.inject({
    method: 'POST', url: `/internal/v1/conversations/${convId}/messages`, headers: internal,
    payload: { id: 'msg_01JZ0000000000000000000002', role: 'assistant', content: 'Hi!', incomplete: true },
  });
  t.equal(answer.statusCode, 201);
  t.equal(answer.json().incomplete, true);
  const second = await app.inject({
    method: 'POST', url: '/internal/v1/turns', headers: internal,
    payload: { conversation_id: convId, agent_id: 'default', message: { id: 'msg_01JZ0000000000000000000003', content: 'And again' }, history_limit: 10 },
  });
  t.same(second.json().history.map((m: { content: string }) => m.content), ['Hello there, this is my first message', 'Hi!']);

  const p1 = await app.inject({ method: 'GET', url: `/v1/conversations/${convId}?limit=2`, headers: u.headers });
  t.same(p1.json().messages.map((m: { role: string }) => m.role), ['user', 'assistant']);
  t.equal(p1.json().messages[0].incomplete, undefined, 'complete messages carry no flag');
  t.equal(p1.json().messages[1].incomplete, true);
  const p2 = await app.inject({ method: 'GET', url: `/v1/conversations/${convId}?limit=2&cursor=${p1.json().next_cursor}`, headers: u.headers });
  t.same(p2.json().messages.map((m: { content: string }) => m.content), ['And again']);

  const dup = await app.inject({
    method: 'POST', url: `/internal/v1/conversations/${convId}/messages`, headers: internal,
    payload: { id: 'msg_01JZ0000000000000000000002', role: 'assistant', content: 'dup' },
  });
  t.equal(dup.statusCode, 409);

  const other = await newUser('other');
  const foreign = await app.inject({
    method: 'POST', url: '/internal/v1/turns', headers: { ...internal, 'x-pai-user-id': other.id },
    payload: { conversation_id: convId, agent_id: 'default', message: { id: 'msg_01JZ0000000000000000000009', content: 'sneak' }, history_limit: 10 },
  });
  t.equal(foreign.statusCode, 404, "a turn in another user's conversation is refused");
});

t.test('bad input gets the SPEC error body', async (t) => {
  const { app, newUser } = await buildMemory(t, { PAI_BODY_LIMIT_BYTES: '2048' });
  const u = await newUser();
  const h = { ...u.headers, 'content-type': 'application/json' };

  const malformed = await app.inject({ method: 'POST', url: '/v1/conversations', headers: h, payload: '{"title": ' });
  t.equal(malformed.statusCode, 400);
  t.equal(malformed.json().error.code, 'PAI_REQUEST_MALFORMED_JSON');
  t.notOk(malformed.body.includes('at '), 'no stack trace');

  const tooLong = await app.inject({ method: 'POST', url: '/v1/conversations', headers: u.headers, payload: { title: 'x'.repeat(201) } });
  t.equal(tooLong.statusCode, 400);
  t.match(tooLong.json().error.details, [{ field: 'body.title', message: String }]);

  const huge = await app.inject({ method: 'POST', url: '/v1/conversations', headers: h, payload: JSON.stringify({ title: 'x'.repeat(5000) }) });
  t.equal(huge.statusCode, 413);
  t.equal(huge.json().error.code, 'PAI_REQUEST_TOO_LARGE');

  const badAgent = await app.inject({ method: 'POST', url: '/v1/conversations', headers: u.headers, payload: { agent_id: 'Not A Slug!' } });
  t.equal(badAgent.statusCode, 400);

  const badLimit = await app.inject({ method: 'GET', url: '/v1/conversations?limit=0', headers: u.headers });
  t.equal(badLimit.statusCode, 400);
  t.match(badLimit.json().error.details, [{ field: 'query.limit' }]);
  const bigLimit = await app.inject({ method: 'GET', url: '/v1/conversations?limit=101', headers: u.headers });
  t.equal(bigLimit.statusCode, 400);
  const notNumber = await app.inject({ method: 'GET', url: '/v1/conversations?limit=ten', headers: u.headers });
  t.equal(notNumber.statusCode, 400);
  const badCursor = await app.inject({ method: 'GET', url: '/v1/conversations?cursor=garbage', headers: u.headers });
  t.equal(badCursor.statusCode, 400);
  t.equal(badCursor.json().error.code, 'PAI_REQUEST_INVALID_CURSOR');

  const xml = await app.inject({ method: 'POST', url: '/v1/conversations', headers: { ...u.headers, 'content-type': 'application/xml' }, payload: '<a/>' });
  t.equal(xml.statusCode, 415);
  t.equal(xml.json().error.code, 'PAI_REQUEST_UNSUPPORTED_MEDIA_TYPE');

  const unknownRoute = await app.inject({ method: 'GET', url: '/v1/nothing-here', headers: u.headers });
  t.equal(unknownRoute.statusCode, 404);
  t.equal(unknownRoute.json().error.code, 'PAI_ROUTE_NOT_FOUND');
});

t.test('x-request-id is echoed when safe and generated otherwise', async (t) => {
  const { app } = await buildMemory(t);
  const kept = await app.inject({ method: 'GET', url: '/v1/users', headers: { 'x-request-id': 'trace-abc.123' } });
  t.equal(kept.headers['x-request-id'], 'trace-abc.123');
  t.equal(kept.json().request_id, 'trace-abc.123');
  const replaced = await app.inject({ method: 'GET', url: '/healthz', headers: { 'x-request-id': 'evil\nline' } });
  t.match(replaced.headers['x-request-id'], /^[0-9a-f-]{36}$/);
});

t.test('health, readiness and OpenAPI', async (t) => {
  const { app } = await buildMemory(t);
  t.same((await app.inject({ method: 'GET', url: '/healthz' })).json(), { status: 'ok', service: 'memory' });
  const ready = await app.inject({ method: 'GET', url: '/readyz' });
  t.equal(ready.statusCode, 200);
  t.same(ready.json(), { status: 'ready', checks: { store: { ok: true }, keys: { ok: true } } });
  const spec = (await app.inject({ method: 'GET', url: '/openapi.json' })).json();
  for (const path of ['/v1/users', '/v1/users/{id}/api-keys', '/v1/api-keys/{id}', '/v1/conversations', '/v1/conversations/{id}']) {
    t.ok(spec.paths[path], `documents ${path}`);
  }
  const docs = await app.inject({ method: 'GET', url: '/docs/' });
  t.equal(docs.statusCode, 200);
  t.match(docs.headers['content-type'], /html/);
});
