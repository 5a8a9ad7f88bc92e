/**
 * The registry's acceptance scenario: two versions split 50/50 over many conversations (JSON, SSE and the
 * OpenAI facade), one of them judged with retries; both versions serve, every conversation stays on its
 * version, the attempts are recorded, the metrics add up (route, usage and Prometheus), and a rollback
 * by weights moves everyone at once.
 */
import t from 'tap';
import { LlmErrors } from '@pai/errors';
import { pickVersion, stickyBucket } from '../src/domain/agents.js';
import { draftJudged, parseSse, startAgentRig } from './agent-rig.js';

const CONVERSATIONS = 60;

t.test('two versions 50/50: both served, sticky, judge retries recorded, metrics that add up, rollback', async (t) => {
  const { app, as, model, store } = await startAgentRig(t);
  const alice = as('alice');
  await app.inject({ method: 'POST', url: '/v1/agents', headers: alice, payload: { id: 'support', name: 'Support' } });
  await app.inject({ method: 'POST', url: '/v1/agents/support/versions', headers: alice, payload: { system_prompt: 'v1 prompt', model: 'gen-a' } });
  await app.inject({
    method: 'POST', url: '/v1/agents/support/versions', headers: alice,
    payload: { system_prompt: 'v2 prompt', model: 'gen-b', judge: { model: 'judge', rubric: 'Be concrete.', min_score: 7, max_attempts: 3 } },
  });
  const weights = { 1: 50, 2: 50 };
  t.equal((await app.inject({ method: 'PUT', url: '/v1/agents/support/routing', headers: alice, payload: { weights } })).statusCode, 200);
  // The judge fails every first draft and passes the improved one: each v2 turn takes two drafts.
  model.judge = (req) => (draftJudged(req).endsWith('(improved)')
    ? '{"score": 8, "verdict": "pass", "feedback": ""}'
    : '```json\n{"score": 4, "verdict": "fail", "feedback": "be more concrete"}\n```');
  model.generate = (req, call) => {
    if (req.messages.at(-1)!.content.includes('explode')) return LlmErrors.upstream('boom');
    return `answer from ${call.model}${req.messages.some((m) => m.content.startsWith('A reviewer scored')) ? ' (improved)' : ''}`;
  };

  const served = new Map<string, number[]>();
  const totals = { input: 0, output: 0, turns: 0 };
  const count = (answer: { conversation_id: string; agent: { version: number }; usage: { input_tokens: number; output_tokens: number } }) => {
    served.set(answer.conversation_id, [...(served.get(answer.conversation_id) ?? []), answer.agent.version]);
    totals.input += answer.usage.input_tokens;
    totals.output += answer.usage.output_tokens;
    totals.turns += 1;
  };
  const streamed: Array<{ version: number; deltas: string; done: any }> = [];

  for (let i = 0; i < CONVERSATIONS; i++) {
    let conversationId: string;
    if (i % 5 === 4) {
      // Through the OpenAI facade: the conversation travels in a header.
      const res = await app.inject({ method: 'POST', url: '/v1/chat/completions', headers: alice, payload: { model: 'support', messages: [{ role: 'user', content: `facade ${i}` }] } });
      t.equal(res.statusCode, 200);
      conversationId = res.headers['x-pai-conversation-id'] as string;
      const usage = res.json().usage;
      const version = res.json().choices[0].message.content.includes('gen-b') ? 2 : 1;
      count({ conversation_id: conversationId, agent: { version }, usage: { input_tokens: usage.prompt_tokens, output_tokens: usage.completion_tokens } });
    } else {
      const first = await app.inject({ method: 'POST', url: '/v1/chat', headers: alice, payload: { message: `question ${i}`, agent_id: 'support', memory: 'off' } });
      t.equal(first.statusCode, 200);
      count(first.json());
      conversationId = first.json().conversation_id;
    }
    // The second turn streams; the conversation keeps its agent without naming it.
    const second = await app.inject({ method: 'POST', url: '/v1/chat', headers: alice, payload: { message: `follow-up ${i}`, conversation_id: conversationId, stream: true, memory: 'off' } });
    t.equal(second.headers['content-type'], 'text/event-stream; charset=utf-8');
    const events = parseSse(second.body);
    const done = events.find((e) => e.event === 'done')!.data;
    t.equal(events[0]!.event, 'start');
    t.equal(events[0]!.data.agent.version, done.agent.version, 'start names the version that answers');
    streamed.push({ version: done.agent.version, deltas: events.filter((e) => e.event === 'delta').map((e) => e.data.text).join(''), done });
    count(done);
  }

  // Both versions served, each conversation on one version, the one its hash bucket names.
  const byVersion = { 1: 0, 2: 0 };
  for (const [conversationId, versions] of served) {
    t.equal(new Set(versions).size, 1, `${conversationId} stayed on one version`);
    t.equal(versions[0], pickVersion(weights, stickyBucket('support', conversationId)), 'the assignment is the documented hash');
    byVersion[versions[0] as 1 | 2] += 1;
  }
  t.equal(served.size, CONVERSATIONS);
  t.ok(byVersion[1] >= 15 && byVersion[2] >= 15, `both versions serve (${byVersion[1]} / ${byVersion[2]} conversations)`);

  // Judged streams: judged first, then the chosen draft streamed; done carries the verdict.
  for (const s of streamed) {
    t.equal(s.deltas, s.done.message, 'the deltas are the answer');
    if (s.version === 2) {
      t.same(s.done.judge, { score: 8, verdict: 'pass', attempts: 2 });
      t.equal(s.done.message, 'answer from gen-b (improved)');
    } else {
      t.notOk('judge' in s.done, 'no judge, no verdict');
    }
  }

  // Two failing turns on version 1 conversations (the model errors): recorded as errors.
  const v1Conversation = [...served].find(([, v]) => v[0] === 1)![0];
  for (let i = 0; i < 2; i++) {
    const failed = await app.inject({ method: 'POST', url: '/v1/chat', headers: alice, payload: { message: 'please explode', conversation_id: v1Conversation, memory: 'off' } });
    t.equal(failed.statusCode, 502);
  }

  // The recorded runs: one per turn, attempts for the judged version, no draft text.
  const window = { from: new Date(Date.now() - 3_600_000).toISOString(), to: new Date(Date.now() + 60_000).toISOString() };
  const runs = await store.agents.listRuns('alice', 'support', window);
  t.equal(runs.length, totals.turns + 2);
  for (const run of runs.filter((r) => r.version === 2)) {
    t.same(run.attempts.map((a) => [a.attempt, a.score, a.passed]), [[1, 4, false], [2, 8, true]]);
    t.ok(run.attempts.every((a) => a.inputTokens > 0 && a.judgeInputTokens > 0 && a.judgeError === null));
    t.match(run, { ok: true, score: 8, passed: true });
  }
  t.notOk(JSON.stringify(runs).includes('answer from'), 'drafts are not stored in runs');
  t.notOk(JSON.stringify(runs).includes('concrete'), 'feedback is not stored in runs');

  // The metrics route adds up to what the answers said.
  const metrics = await app.inject({ method: 'GET', url: '/v1/agents/support/metrics', headers: alice });
  t.equal(metrics.statusCode, 200);
  const report = metrics.json();
  const turnsOf = (v: 1 | 2) => [...served.values()].filter((list) => list[0] === v).reduce((n, list) => n + list.length, 0);
  t.same(report.versions.map((v: { version: number }) => v.version), [1, 2]);
  const [m1, m2] = report.versions;
  t.match(m1, { requests: turnsOf(1) + 2, errors: 2, error_codes: { PAI_LLM_UPSTREAM_ERROR: 2 }, judge: { judged: 0, pass_rate: null, attempts: 0 } });
  t.match(m2, { requests: turnsOf(2), errors: 0, judge: { judged: turnsOf(2), passed: turnsOf(2), pass_rate: 1, mean_score: 8, retried: turnsOf(2), attempts: 2 * turnsOf(2), unjudged: 0 } });
  t.equal(report.total.requests, totals.turns + 2);
  t.equal(report.total.input_tokens, totals.input, 'input tokens add up (drafts and judge calls)');
  t.equal(report.total.output_tokens, totals.output);
  t.equal(report.total.input_tokens, m1.input_tokens + m2.input_tokens);
  for (const m of [m1, m2, report.total]) {
    t.ok(m.latency_ms.p50 <= m.latency_ms.p95 && m.latency_ms.p95 <= m.latency_ms.p99, 'latency percentiles are ordered');
    t.ok(m.ttft_ms.p50 !== null && m.ttft_ms.p50 <= m.latency_ms.p99, 'ttft is measured');
  }

  // Usage (billing) agrees with the runs: every draft and judge call is priced.
  const usage = (await app.inject({ method: 'GET', url: '/v1/usage?group_by=model', headers: alice })).json();
  const byModel = Object.fromEntries(usage.items.map((i: { key: string; requests: number }) => [i.key, i.requests]));
  t.same(byModel, { 'gen-a': turnsOf(1), 'gen-b': 2 * turnsOf(2), judge: 2 * turnsOf(2) }, 'one usage record per model call');
  t.equal(usage.total.input_tokens, report.total.input_tokens);
  t.ok(report.total.cost_usd > 0 && Math.abs(usage.total.cost_usd - report.total.cost_usd) < 1e-6, 'cost agrees between usage and metrics');

  // Prometheus: the same series, by agent and version.
  const scrape = (await app.inject({ method: 'GET', url: '/metrics' })).body;
  // The value of the series `name` whose labels include every `labels` pair (in any order).
  const sample = (name: string, labels: string) => {
    const line = scrape.split('\n').find((l) => l.startsWith(`${name}{`) && labels.split(',').every((pair) => l.includes(pair)));
    return Number(line?.split(' ').at(-1) ?? NaN);
  };
  t.equal(sample('pai_agent_requests_total', 'agent="support",version="1",outcome="ok"'), turnsOf(1));
  t.equal(sample('pai_agent_requests_total', 'agent="support",version="1",outcome="error"'), 2);
  t.equal(sample('pai_agent_requests_total', 'agent="support",version="2",outcome="ok"'), turnsOf(2));
  t.equal(sample('pai_agent_judge_attempts_total', 'agent="support",version="2"'), 2 * turnsOf(2));
  t.equal(sample('pai_agent_judge_verdicts_total', 'agent="support",version="2",verdict="pass"'), turnsOf(2));
  t.equal(sample('pai_agent_tokens_total', 'agent="support",version="2",kind="input"'), m2.input_tokens);
  t.equal(sample('pai_agent_latency_seconds_count', 'agent="support",version="1"'), turnsOf(1) + 2);
  t.equal(sample('pai_agent_judge_score_sum', 'agent="support",version="2"'), 8 * turnsOf(2));

  // Rollback: new weights move every conversation at once, continuing ones included; restoring them restores the split.
  await app.inject({ method: 'PUT', url: '/v1/agents/support/routing', headers: alice, payload: { weights: { 1: 100, 2: 0 } } });
  const v2Conversation = [...served].find(([, v]) => v[0] === 2)![0];
  const rolledBack = await app.inject({ method: 'POST', url: '/v1/chat', headers: alice, payload: { message: 'again', conversation_id: v2Conversation, memory: 'off' } });
  t.equal(rolledBack.json().agent.version, 1);
  await app.inject({ method: 'PUT', url: '/v1/agents/support/routing', headers: alice, payload: { weights } });
  const restored = await app.inject({ method: 'POST', url: '/v1/chat', headers: alice, payload: { message: 'and again', conversation_id: v2Conversation, memory: 'off' } });
  t.equal(restored.json().agent.version, 2, 'the same weights give the same assignment');
});

t.test('the metrics window excludes runs outside it', async (t) => {
  const { app, as } = await startAgentRig(t);
  const alice = as('alice');
  await app.inject({ method: 'POST', url: '/v1/chat', headers: alice, payload: { message: 'hi', memory: 'off' } });
  const now = (await app.inject({ method: 'GET', url: '/v1/agents/default/metrics', headers: alice })).json();
  t.match(now.total, { requests: 1, errors: 0 });
  t.match(now.versions, [{ version: 1, requests: 1 }], 'the built-in default is measured too');
  const past = (await app.inject({ method: 'GET', url: '/v1/agents/default/metrics?from=2020-01-01&to=2020-01-02', headers: alice })).json();
  t.same(past.versions, []);
  t.match(past.total, { requests: 0, latency_ms: { p50: null } });
  const bad = await app.inject({ method: 'GET', url: '/v1/agents/default/metrics?from=2020-01-01&to=2020-06-01', headers: alice });
  t.equal(bad.statusCode, 400);
  t.match(bad.json().error.details, [{ field: 'query.from', message: /31 days/ }]);
  const other = (await app.inject({ method: 'GET', url: '/v1/agents/default/metrics', headers: as('bob') })).json();
  t.equal(other.total.requests, 0, "another user's default has its own runs");
});
