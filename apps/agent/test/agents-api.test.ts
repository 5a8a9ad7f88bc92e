import t from 'tap';
import { startAgentRig } from './agent-rig.js';

const judge = { rubric: 'Correct, brief, polite.', min_score: 7, max_attempts: 3 };

t.test('registry routes: create, versions, routing, detail, list', async (t) => {
  const { app, as } = await startAgentRig(t);
  const alice = as('alice');
  const created = await app.inject({ method: 'POST', url: '/v1/agents', headers: alice, payload: { id: 'support', name: 'Support', description: 'Answers tickets' } });
  t.equal(created.statusCode, 201);
  t.match(created.json(), { id: 'support', name: 'Support', description: 'Answers tickets', routing: {}, latest_version: 0, built_in: false, created_at: String });

  const v1 = await app.inject({ method: 'POST', url: '/v1/agents/support/versions', headers: alice, payload: { system_prompt: 'Be helpful.', model: 'gen-a' } });
  t.equal(v1.statusCode, 201);
  t.match(v1.json(), { agent_id: 'support', version: 1, model: 'gen-a', temperature: null, max_tokens: null, judge: null, built_in: false });
  const v2 = await app.inject({
    method: 'POST', url: '/v1/agents/support/versions', headers: alice,
    payload: { system_prompt: 'Be very helpful.', model: 'gen-b', temperature: 0.3, max_tokens: 300, judge: { ...judge, model: 'judge' } },
  });
  t.equal(v2.statusCode, 201);
  t.match(v2.json(), { version: 2, temperature: 0.3, max_tokens: 300, judge: { model: 'judge', rubric: judge.rubric, min_score: 7, max_attempts: 3 } });

  const detail = (await app.inject({ method: 'GET', url: '/v1/agents/support', headers: alice })).json();
  t.match(detail, { id: 'support', routing: { 1: 100 }, latest_version: 2, latest: { version: 2, model: 'gen-b' } });
  t.same(detail.versions.map((v: { version: number; has_judge: boolean }) => [v.version, v.has_judge]), [[1, false], [2, true]]);
  t.match((await app.inject({ method: 'GET', url: '/v1/agents/support/versions/1', headers: alice })).json(), { version: 1, system_prompt: 'Be helpful.' });

  const routed = await app.inject({ method: 'PUT', url: '/v1/agents/support/routing', headers: alice, payload: { weights: { 1: 50, 2: 50 } } });
  t.equal(routed.statusCode, 200);
  t.same(routed.json().routing, { 1: 50, 2: 50 });

  const list = (await app.inject({ method: 'GET', url: '/v1/agents', headers: alice })).json();
  t.same(list.items.map((a: { id: string }) => a.id), ['default', 'support']);
  t.match(list.items[0], { id: 'default', built_in: true, routing: { 1: 100 }, latest_version: 1, created_at: null });
  t.equal(list.next_cursor, null);
  const paged = (await app.inject({ method: 'GET', url: '/v1/agents?limit=1', headers: alice })).json();
  t.same(paged.items.map((a: { id: string }) => a.id), ['default']);
  const next = (await app.inject({ method: 'GET', url: `/v1/agents?limit=1&cursor=${paged.next_cursor}`, headers: alice })).json();
  t.same(next.items.map((a: { id: string }) => a.id), ['support']);

  const builtIn = (await app.inject({ method: 'GET', url: '/v1/agents/default', headers: alice })).json();
  t.match(builtIn, { id: 'default', latest: { version: 1, built_in: true, model: 'stand-in', created_at: null } });
  const added = await app.inject({ method: 'POST', url: '/v1/agents/default/versions', headers: alice, payload: { system_prompt: 'Mine.', model: 'gen-a' } });
  t.equal(added.json().version, 2, "a user's first version of default is 2");
});

t.test('validation and ownership: 400 with details, 404 for unknown and for other users\' agents, 409 for taken ids', async (t) => {
  const { app, as, memory } = await startAgentRig(t);
  const alice = as('alice');
  const bob = as('bob');
  await app.inject({ method: 'POST', url: '/v1/agents', headers: alice, payload: { id: 'writer', name: 'Writer' } });

  for (const [payload, field] of [
    [{ id: 'Bad Id', name: 'x' }, 'body.id'], [{ id: 'a_b', name: 'x' }, 'body.id'], [{ id: '-a', name: 'x' }, 'body.id'],
    [{ id: 'x'.repeat(65), name: 'x' }, 'body.id'], [{ id: 'ok' }, 'body.name'], [{ id: 'ok', name: '' }, 'body.name'],
    [{ id: 'ok', name: 'x', extra: 1 }, 'body'],
  ] as const) {
    const res = await app.inject({ method: 'POST', url: '/v1/agents', headers: alice, payload });
    t.equal(res.statusCode, 400, JSON.stringify(payload));
    t.equal(res.json().error.code, 'PAI_REQUEST_INVALID');
    t.ok(res.json().error.details.some((d: { field: string }) => d.field.startsWith(field)), `${JSON.stringify(payload)} names ${field}`);
  }
  t.equal((await app.inject({ method: 'POST', url: '/v1/agents', headers: alice, payload: { id: 'writer', name: 'again' } })).json().error.code, 'PAI_AGENT_CONFLICT');
  const taken = await app.inject({ method: 'POST', url: '/v1/agents', headers: alice, payload: { id: 'default', name: 'mine' } });
  t.equal(taken.statusCode, 409);
  t.equal((await app.inject({ method: 'POST', url: '/v1/agents', headers: bob, payload: { id: 'writer', name: "bob's" } })).statusCode, 201, 'ids are per user');

  for (const [payload, field] of [
    [{ model: 'gen-a' }, 'body.system_prompt'], [{ system_prompt: 'x' }, 'body.model'],
    [{ system_prompt: 'x', model: 'm', temperature: 3 }, 'body.temperature'], [{ system_prompt: 'x', model: 'm', max_tokens: 0 }, 'body.max_tokens'],
    [{ system_prompt: 'x', model: 'm', judge: { rubric: 'r', min_score: 11, max_attempts: 2 } }, 'body.judge.min_score'],
    [{ system_prompt: 'x', model: 'm', judge: { rubric: 'r', min_score: 5, max_attempts: 6 } }, 'body.judge.max_attempts'],
    [{ system_prompt: 'x', model: 'm', judge: { min_score: 5, max_attempts: 2 } }, 'body.judge.rubric'],
  ] as const) {
    const res = await app.inject({ method: 'POST', url: '/v1/agents/writer/versions', headers: alice, payload });
    t.equal(res.statusCode, 400, JSON.stringify(payload));
    t.ok(res.json().error.details.some((d: { field: string }) => d.field.startsWith(field)), `${JSON.stringify(payload)} names ${field}`);
  }

  await app.inject({ method: 'POST', url: '/v1/agents/writer/versions', headers: alice, payload: { system_prompt: 'x', model: 'gen-a' } });
  for (const [weights, field] of [
    [{ 1: 60 }, 'body.weights'], [{ 1: 50, 2: 50 }, 'body.weights.2'], [{ 1: 99.5, 2: 0.5 }, 'body.weights.1'], [{ first: 100 }, 'body.weights.first'], [{}, 'body.weights'],
  ] as const) {
    const res = await app.inject({ method: 'PUT', url: '/v1/agents/writer/routing', headers: alice, payload: { weights } });
    t.equal(res.statusCode, 400, JSON.stringify(weights));
    t.equal(res.json().error.code, 'PAI_AGENT_INVALID_ROUTING');
    t.match(res.json().error.details, [{ field }], JSON.stringify(weights));
  }
  t.equal((await app.inject({ method: 'PUT', url: '/v1/agents/writer/routing', headers: alice, payload: {} })).statusCode, 400);

  // Another user's agent, an unknown one and a malformed id all read as "not found".
  const notFound = [
    ['GET', '/v1/agents/ghost'], ['GET', '/v1/agents/NOT_A_SLUG'], ['GET', '/v1/agents/writer/versions/9'],
    ['POST', '/v1/agents/ghost/versions', { system_prompt: 'x', model: 'm' }], ['PUT', '/v1/agents/ghost/routing', { weights: { 1: 100 } }],
    ['GET', '/v1/agents/ghost/metrics'], ['GET', '/v1/agents/writer/evaluations/eval_nope'],
    ['POST', '/v1/agents/ghost/evaluations', { versions: [1, 2], cases: [{ input: 'hi' }], judge }],
  ] as const;
  for (const [method, url, payload] of notFound) {
    const res = await app.inject({ method, url, headers: alice, ...(payload ? { payload } : {}) });
    t.equal(res.statusCode, 404, `${method} ${url}`);
    t.match(res.json().error.code, /^PAI_(AGENT|AGENT_VERSION|EVALUATION)_NOT_FOUND$/);
  }
  const carol = as('carol');
  for (const [method, url, payload] of [
    ['GET', '/v1/agents/writer'], ['GET', '/v1/agents/writer/versions/1'], ['POST', '/v1/agents/writer/versions', { system_prompt: 'x', model: 'm' }],
    ['PUT', '/v1/agents/writer/routing', { weights: { 1: 100 } }], ['GET', '/v1/agents/writer/metrics'],
    ['POST', '/v1/agents/writer/evaluations', { versions: [1, 1], cases: [{ input: 'hi' }], judge }],
  ] as const) {
    const res = await app.inject({ method, url, headers: carol, ...(payload ? { payload } : {}) });
    t.equal(res.statusCode, 404, `carol: ${method} ${url}`);
    t.equal(res.json().error.code, 'PAI_AGENT_NOT_FOUND');
    t.notOk(res.body.includes('gen-a'), 'nothing of the record leaks');
  }
  t.equal((await app.inject({ method: 'GET', url: '/v1/agents/writer/versions/abc', headers: alice })).statusCode, 400);
  t.equal((await app.inject({ method: 'GET', url: '/v1/agents' })).statusCode, 401);
  t.equal((await app.inject({ method: 'GET', url: '/v1/agents', headers: { authorization: 'Bearer wrong' } })).statusCode, 401);

  // Chat: an unknown agent is refused before anything is stored; an agent without versions cannot answer.
  const chatGhost = await app.inject({ method: 'POST', url: '/v1/chat', headers: alice, payload: { message: 'hi', agent_id: 'ghost', memory: 'off' } });
  t.equal(chatGhost.statusCode, 404);
  t.equal(memory.conversations.size, 0);
  await app.inject({ method: 'POST', url: '/v1/agents', headers: alice, payload: { id: 'empty', name: 'Empty' } });
  const chatEmpty = await app.inject({ method: 'POST', url: '/v1/chat', headers: alice, payload: { message: 'hi', agent_id: 'empty', memory: 'off' } });
  t.equal(chatEmpty.statusCode, 400);
  t.match(chatEmpty.json().error, { code: 'PAI_AGENT_INVALID_ROUTING', message: /no version to serve yet/ });
  const chatBobs = await app.inject({ method: 'POST', url: '/v1/chat', headers: carol, payload: { message: 'hi', agent_id: 'writer', memory: 'off' } });
  t.equal(chatBobs.statusCode, 404, "another user's agent cannot answer");
  const facade = await app.inject({ method: 'POST', url: '/v1/chat/completions', headers: alice, payload: { model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] } });
  t.equal(facade.statusCode, 404, 'the facade names agents too');
});
