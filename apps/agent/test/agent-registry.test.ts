import t from 'tap';
import { createEmbeddedStore, type AgentRunRecord } from '@pai/store';
import { pickVersion, stickyBucket, createDefaultAgentCatalog } from '../src/domain/agents.js';
import { createAgentRegistry, validateWeights } from '../src/domain/registry.js';
import { metricsWindow, nearestRank, summarizeRuns } from '../src/domain/agent-metrics.js';

const store = createEmbeddedStore({ path: ':memory:' });
t.teardown(() => store.close());
const builtIn = { systemPrompt: 'built-in prompt', model: 'stand-in', maxTokens: 512 };
const registry = createAgentRegistry({ store: store.agents, builtIn });
const version = (model: string) => ({ systemPrompt: `you are ${model}`, model });

t.test('sticky buckets: deterministic, uniform enough, walked in version order', async (t) => {
  t.equal(stickyBucket('support', 'conv_1'), stickyBucket('support', 'conv_1'));
  t.equal(stickyBucket('support', 'conv_1'), 63, 'pinned (sha256 computed independently): a changed hash would move live conversations');
  const counts = new Array(100).fill(0);
  for (let i = 0; i < 20_000; i++) counts[stickyBucket('a', `conv_${i}`)]++;
  t.ok(Math.min(...counts) > 120 && Math.max(...counts) < 290, `buckets are spread (${Math.min(...counts)}..${Math.max(...counts)} of 200 expected)`);
  const routing = { 3: 20, 1: 50, 2: 30 };
  t.equal(pickVersion(routing, 0), 1);
  t.equal(pickVersion(routing, 49), 1);
  t.equal(pickVersion(routing, 50), 2);
  t.equal(pickVersion(routing, 79), 2);
  t.equal(pickVersion(routing, 80), 3);
  t.equal(pickVersion(routing, 99), 3);
  t.equal(pickVersion({ 1: 0, 2: 100 }, 0), 2, 'a zero weight gets no bucket');
  t.equal(pickVersion({}, 5), null);
});

t.test('weights: whole percents of existing versions summing to 100, with details otherwise', async (t) => {
  t.same(validateWeights({ 2: 50, 1: 50 }, 2, 'a'), { 1: 50, 2: 50 });
  t.same(Object.keys(validateWeights({ 10: 50, 9: 50 }, 10, 'a')), ['9', '10'], 'ordered by version number');
  t.same(validateWeights({ 1: 100, 2: 0 }, 2, 'a'), { 1: 100, 2: 0 });
  const cases: Array<[Record<string, number>, number, string, RegExp]> = [
    [{ 1: 60, 2: 30 }, 2, 'body.weights', /sum to 90/],
    [{ 1: 50, 3: 50 }, 2, 'body.weights.3', /no version 3/],
    [{ 1: 50.5, 2: 49.5 }, 2, 'body.weights.1', /whole percents/],
    [{ 1: 150, 2: -50 }, 2, 'body.weights.1', /whole percents/],
    [{ v1: 100 }, 2, 'body.weights.v1', /version numbers/],
    [{ '01': 100 }, 2, 'body.weights.01', /version numbers/],
    [{ 0: 100 }, 2, 'body.weights.0', /version numbers/],
    [{}, 2, 'body.weights', /sum to 0/],
    [{ 1: 100 }, 0, 'body.weights.1', /no version 1/],
  ];
  for (const [weights, latest, field, message] of cases) {
    try {
      validateWeights(weights, latest, 'a');
      t.fail(`${JSON.stringify(weights)} should be refused`);
    } catch (error) {
      t.match(error, { code: 'PAI_AGENT_INVALID_ROUTING', statusCode: 400, details: [{ field, message }] }, JSON.stringify(weights));
    }
  }
});

t.test('agents belong to their user; ids that are not slugs are simply not found', async (t) => {
  await registry.create('alice', { id: 'support', name: 'Support' });
  await t.rejects(registry.create('alice', { id: 'support', name: 'again' }), { code: 'PAI_AGENT_CONFLICT' });
  await t.rejects(registry.create('alice', { id: 'default', name: 'mine' }), { code: 'PAI_AGENT_CONFLICT' }, 'default exists for everyone');
  const bobs = await registry.create('bob', { id: 'support', name: "Bob's" });
  t.equal(bobs.name, "Bob's", 'the same id for another user is another agent');
  await t.rejects(registry.get('carol', 'support'), { code: 'PAI_AGENT_NOT_FOUND' });
  await t.rejects(registry.addVersion('carol', 'support', version('x')), { code: 'PAI_AGENT_NOT_FOUND' });
  await t.rejects(registry.setRouting('carol', 'support', { 1: 100 }), { code: 'PAI_AGENT_NOT_FOUND' });
  await t.rejects(registry.route('carol', 'support'), { code: 'PAI_AGENT_NOT_FOUND' });
  for (const bad of ['Support', '../x', 'a_b', '-a', 'a-', 'x'.repeat(65)]) {
    await t.rejects(registry.get('alice', bad), { code: 'PAI_AGENT_NOT_FOUND' }, bad);
  }
});

t.test('versions: numbered by the store, the first takes all traffic, later ones none until routed', async (t) => {
  await registry.create('alice', { id: 'writer', name: 'Writer', description: 'writes' });
  await t.rejects(registry.route('alice', 'writer'), { code: 'PAI_AGENT_INVALID_ROUTING', message: /no version to serve yet/ });
  const v1 = await registry.addVersion('alice', 'writer', { ...version('gen-a'), temperature: 0.2 });
  t.match(v1, { version: 1, model: 'gen-a', temperature: 0.2, maxTokens: null, judge: null, builtIn: false });
  t.same((await registry.get('alice', 'writer')).routing, { 1: 100 });
  const v2 = await registry.addVersion('alice', 'writer', { ...version('gen-b'), judge: { rubric: 'r', minScore: 6, maxAttempts: 2 } });
  t.match(v2, { version: 2, judge: { model: null, rubric: 'r', minScore: 6, maxAttempts: 2 } });
  t.same((await registry.get('alice', 'writer')).routing, { 1: 100 }, 'a new version takes no traffic by itself');
  t.equal((await registry.route('alice', 'writer').then((r) => r.pick('conv_x'))).version, 1);
  await t.rejects(registry.version('alice', 'writer', 3), { code: 'PAI_AGENT_VERSION_NOT_FOUND' });
  await t.rejects(registry.version('bob', 'writer', 1), { code: 'PAI_AGENT_NOT_FOUND' });
  const { agent, versions } = await registry.detail('alice', 'writer');
  t.equal(agent.latestVersion, 2);
  t.same(versions.map((v) => v.version), [1, 2]);
  const served = await (await registry.route('alice', 'writer')).pick('conv_x');
  t.same(served, { agentId: 'writer', version: 1, systemPrompt: 'you are gen-a', model: 'gen-a', temperature: 0.2 }, 'null settings are left out');

  await registry.setRouting('alice', 'writer', { 1: 0, 2: 100 });
  t.match(await (await registry.route('alice', 'writer')).pick('conv_x'), { version: 2, judge: { minScore: 6 } }, 'routing changes take effect at once');
});

t.test('the built-in default: version 1 from the configuration; adding versions starts at 2', async (t) => {
  const untouched = await registry.get('dave', 'default');
  t.match(untouched, { id: 'default', builtIn: true, latestVersion: 1, routing: { 1: 100 }, createdAt: null });
  t.same(await (await registry.route('dave', 'default')).pick('conv_1'), { agentId: 'default', version: 1, systemPrompt: 'built-in prompt', model: 'stand-in', maxTokens: 512 });
  t.match(await registry.version('dave', 'default', 1), { builtIn: true, createdAt: null });
  await t.rejects(registry.setRouting('dave', 'default', { 1: 50, 2: 50 }), { code: 'PAI_AGENT_INVALID_ROUTING' });
  t.equal(await store.agents.get('dave', 'default'), null, 'nothing is stored for an untouched default');

  const [a, b] = await Promise.all([registry.addVersion('dave', 'default', version('gen-a')), registry.addVersion('dave', 'default', version('gen-b'))]);
  t.same([a.version, b.version].sort(), [2, 3], 'concurrent first changes agree on one record');
  const { agent, versions } = await registry.detail('dave', 'default');
  t.same(versions.map((v) => [v.version, v.builtIn]), [[1, true], [2, false], [3, false]]);
  t.same(agent.routing, { 1: 100 }, 'the built-in keeps serving until routing changes');
  await registry.setRouting('dave', 'default', { 1: 0, 2: 100 });
  t.equal((await (await registry.route('dave', 'default')).pick('conv_1')).model, 'gen-a');
  t.equal((await (await registry.route('erin', 'default')).pick('conv_1')).model, 'stand-in', "one user's default is not another's");
});

t.test('listing: default first, then the user\'s agents by id, paginated without duplicates', async (t) => {
  for (const id of ['a1', 'a2', 'a3', 'a4', 'a5']) await registry.create('frank', { id, name: id });
  await registry.addVersion('frank', 'default', version('gen-a'));
  for (const limit of [1, 2, 3, 10]) {
    const seen: string[] = [];
    let cursor: string | undefined;
    for (let pages = 0; pages < 20; pages++) {
      const page = await registry.list('frank', { limit, cursor });
      t.ok(page.items.length <= limit, `limit ${limit}`);
      seen.push(...page.items.map((a) => a.id));
      if (page.nextCursor === null) break;
      cursor = page.nextCursor;
    }
    t.same(seen, ['default', 'a1', 'a2', 'a3', 'a4', 'a5'], `limit ${limit}`);
  }
  const lone = await registry.list('grace', { limit: 1 });
  t.same(lone.items.map((a) => a.id), ['default']);
  t.equal(lone.nextCursor, null, 'no empty last page when default is all there is');
  await t.rejects(registry.list('frank', { limit: 2, cursor: 'bm90LWEtY3Vyc29y' }), { code: 'PAI_REQUEST_INVALID_CURSOR' });
});

t.test('the plain default catalog serves only default', async (t) => {
  const catalog = createDefaultAgentCatalog(builtIn);
  t.equal((await (await catalog.route('u', 'default')).pick('c')).version, 1);
  await t.rejects(catalog.route('u', 'other'), { code: 'PAI_AGENT_NOT_FOUND' });
});

const runOf = (version: number, fields: Partial<AgentRunRecord>): AgentRunRecord => ({
  id: 'r', userId: 'u', agentId: 'a', version, at: '2026-01-01T00:00:00.000Z', conversationId: null, ok: true, errorCode: null,
  latencyMs: 100, ttftMs: 50, inputTokens: 10, outputTokens: 5, costUsd: 0.001, score: null, passed: null, attempts: [], ...fields,
});
const attempt = { attempt: 1, score: 5, passed: false, inputTokens: 1, outputTokens: 1, judgeInputTokens: 1, judgeOutputTokens: 1, latencyMs: 1, judgeLatencyMs: 1, judgeError: null };

t.test('metrics: nearest-rank percentiles, error codes, judge pass rate, totals that add up', async (t) => {
  const sorted = Array.from({ length: 100 }, (_, i) => i + 1);
  t.equal(nearestRank(sorted, 50), 50);
  t.equal(nearestRank(sorted, 95), 95);
  t.equal(nearestRank(sorted, 99), 99);
  t.equal(nearestRank([7], 99), 7);
  t.equal(nearestRank([1, 2, 3], 50), 2);
  t.equal(nearestRank([], 50), null);

  const runs = [
    ...Array.from({ length: 20 }, (_, i) => runOf(1, { latencyMs: (i + 1) * 10, ttftMs: i + 1 })),
    runOf(1, { ok: false, errorCode: 'PAI_LLM_TIMEOUT', ttftMs: null, latencyMs: 5_000, outputTokens: 0, costUsd: 0 }),
    runOf(2, { score: 8, passed: true, attempts: [attempt, { ...attempt, attempt: 2, score: 8, passed: true }] }),
    runOf(2, { score: 4, passed: false, attempts: [attempt] }),
    runOf(2, { score: null, passed: null, attempts: [{ ...attempt, score: null, passed: null, judgeError: 'timeout' }] }),
    runOf(2, { ok: false, errorCode: 'PAI_LLM_ABORTED', ttftMs: null }),
  ];
  const { versions, total } = summarizeRuns(runs);
  t.same(versions.map((v) => v.version), [1, 2]);
  const [v1, v2] = versions;
  t.match(v1, { requests: 21, errors: 1, errorCodes: { PAI_LLM_TIMEOUT: 1 }, latencyMs: { p50: 110, p95: 200, p99: 5_000 }, ttftMs: { p50: 10, p95: 19, p99: 20 } });
  t.match(v1!.judge, { judged: 0, passRate: null, meanScore: null, attempts: 0 });
  t.match(v2!.judge, { judged: 2, passed: 1, passRate: 0.5, meanScore: 6, unjudged: 1, retried: 1, attempts: 4 });
  t.match(v2!.errorCodes, { PAI_LLM_ABORTED: 1 });
  t.equal(total.version, null);
  t.equal(total.requests, v1!.requests + v2!.requests);
  t.equal(total.errors, 2);
  t.equal(total.inputTokens, v1!.inputTokens + v2!.inputTokens);
  t.equal(total.outputTokens, v1!.outputTokens + v2!.outputTokens);
  t.ok(Math.abs(total.costUsd - (v1!.costUsd + v2!.costUsd)) < 1e-9);
  t.same(summarizeRuns([]).total.latencyMs, { p50: null, p95: null, p99: null });
});

t.test('metrics window: default last 24 h, validated, bounded', async (t) => {
  const now = new Date('2026-03-10T12:00:00Z');
  t.same(metricsWindow({}, now), { from: '2026-03-09T12:00:00.000Z', to: '2026-03-10T12:00:00.000Z' });
  t.same(metricsWindow({ from: '2026-03-01', to: '2026-03-02T06:00:00Z' }, now), { from: '2026-03-01T00:00:00.000Z', to: '2026-03-02T06:00:00.000Z' });
  for (const [query, field] of [
    [{ from: 'yesterday' }, 'query.from'], [{ to: 'soon' }, 'query.to'], [{ from: '2026-03-10', to: '2026-03-09' }, 'query.from'],
    [{ from: '2026-01-01', to: '2026-03-01' }, 'query.from'],
  ] as const) {
    t.throws(() => metricsWindow(query, now), { code: 'PAI_REQUEST_INVALID', details: [{ field }] }, JSON.stringify(query));
  }
});
