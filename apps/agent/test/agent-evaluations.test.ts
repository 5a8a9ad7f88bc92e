import t from 'tap';
import { setTimeout as delay } from 'node:timers/promises';
import { LlmErrors } from '@pai/errors';
import { createEmbeddedStore } from '@pai/store';
import { draftJudged, isRetry, startAgentRig, type AgentRig } from './agent-rig.js';

const requestJudge = { rubric: 'Answers the question.', min_score: 6 };

async function withAgent(rig: AgentRig, user = 'alice') {
  const headers = rig.as(user);
  await rig.app.inject({ method: 'POST', url: '/v1/agents', headers, payload: { id: 'writer', name: 'Writer' } });
  await rig.app.inject({ method: 'POST', url: '/v1/agents/writer/versions', headers, payload: { system_prompt: 'v1', model: 'gen-a' } });
  await rig.app.inject({
    method: 'POST', url: '/v1/agents/writer/versions', headers,
    payload: { system_prompt: 'v2', model: 'gen-b', judge: { model: 'judge', rubric: 'Be exact.', min_score: 7, max_attempts: 2 } },
  });
  return headers;
}

async function finished(rig: AgentRig, headers: Record<string, string>, id: string, seen: number[] = []) {
  for (let i = 0; i < 400; i++) {
    const evaluation = (await rig.app.inject({ method: 'GET', url: `/v1/agents/writer/evaluations/${id}`, headers })).json();
    seen.push(evaluation.progress.cases_done);
    if (evaluation.status !== 'running') return evaluation;
    await delay(10);
  }
  throw new Error('the evaluation did not finish');
}

t.test('an evaluation runs every case through every version and reports scores side by side', async (t) => {
  const rig = await startAgentRig(t);
  const headers = await withAgent(rig);
  rig.model.generate = (req, call) => {
    const input = req.messages.find((m) => m.role === 'user')!.content;
    if (input.includes('explode') && call.model === 'gen-a') return LlmErrors.upstream('boom');
    if (input.includes('long')) return 'x'.repeat(3_000);
    return `${call.model} says ${input}${isRetry(req) ? ' (improved)' : ''}`;
  };
  rig.model.judge = (req) => {
    const draft = draftJudged(req);
    const score = draft.startsWith('gen-a') ? 5 : draft.endsWith('(improved)') ? 8 : draft.startsWith('x') ? 9 : 4;
    return `{"score": ${score}, "verdict": "${score >= 6 ? 'pass' : 'fail'}", "feedback": "be exact"}`;
  };
  const cases = [{ input: 'what is 2+2?', expected: '4' }, { input: 'please explode' }, { input: 'a long one' }];
  const res = await rig.app.inject({ method: 'POST', url: '/v1/agents/writer/evaluations', headers, payload: { versions: [1, 2], cases, judge: requestJudge } });
  t.equal(res.statusCode, 202);
  t.match(res.json(), { id: /^eval_/, agent_id: 'writer', versions: [1, 2], status: 'running', progress: { cases_done: 0, cases_total: 3 } });

  const seen: number[] = [];
  const done = await finished(rig, headers, res.json().id, seen);
  t.equal(done.status, 'completed');
  t.same(done.progress, { cases_done: 3, cases_total: 3 });
  t.same(seen, [...seen].sort((a, b) => a - b), 'progress only moves forward');

  const [c0, c1, c2] = done.cases;
  t.match(c0, { index: 0, input: 'what is 2+2?', expected: '4' });
  t.same(c0.results.map((r: { version: number }) => r.version), [1, 2], 'results in the order requested');
  t.match(c0.results[0], { version: 1, score: 5, verdict: 'fail', attempts: 1, output: 'gen-a says what is 2+2?', error: null });
  t.match(c0.results[1], { version: 2, score: 8, verdict: 'pass', attempts: 2, output: 'gen-b says what is 2+2? (improved)' }, "v2 runs its own judge loop");
  t.ok(c0.results.every((r: { input_tokens: number; cost_usd: number }) => r.input_tokens > 0 && r.cost_usd > 0));
  t.match(c1.results[0], { version: 1, score: null, verdict: 'error', error: 'PAI_LLM_UPSTREAM_ERROR', output: null });
  t.match(c1.results[1], { version: 2, verdict: 'pass' }, 'one version failing does not stop the others');
  t.equal(c2.results[0].output.length, 2_000);
  t.equal(c2.results[0].output_truncated, true);

  t.match(done.summary, [
    { version: 1, cases: 3, judged: 2, passed: 1, errors: 1, mean_score: 7, pass_rate: 0.5 },
    { version: 2, cases: 3, judged: 3, passed: 3, errors: 0, pass_rate: 1 },
  ]);
  t.ok(done.summary[1].mean_score > done.summary[0].mean_score);

  const judgeCalls = rig.model.calls.filter((c) => c.kind === 'judge');
  t.ok(judgeCalls.some((c) => c.model === 'judge'), "v2 is scored by its own judge's model");
  t.ok(judgeCalls.some((c) => c.model === 'gen-a'), "v1 has no judge: the request's judge scores it with v1's model");
  t.ok(judgeCalls.filter((c) => c.request.messages[1]!.content.includes('<reference_answer>\n4\n')).length >= 2, 'the expected answer reaches the judge');
  const generated = rig.model.calls.filter((c) => c.kind === 'generator' && c.model === 'gen-a');
  t.same(generated[0]!.request.messages.map((m) => m.role), ['system', 'user'], 'no memories or history in an evaluation');
  t.equal(generated[0]!.request.messages[0]!.content, 'v1');

  const usage = (await rig.app.inject({ method: 'GET', url: '/v1/usage?group_by=agent', headers })).json();
  t.equal(usage.items[0].key, 'writer');
  t.equal(usage.total.requests, rig.model.calls.length - 1, 'every model call but the failed one is in usage');
  const metrics = (await rig.app.inject({ method: 'GET', url: '/v1/agents/writer/metrics', headers })).json();
  t.equal(metrics.total.requests, 0, 'evaluations are not production traffic');
  t.equal((await rig.app.inject({ method: 'GET', url: `/v1/agents/writer/evaluations/${done.id}`, headers: rig.as('bob') })).statusCode, 404);
});

t.test('evaluation requests are validated: versions, judge, bounds', async (t) => {
  const rig = await startAgentRig(t);
  const headers = await withAgent(rig);
  const post = (payload: unknown) => rig.app.inject({ method: 'POST', url: '/v1/agents/writer/evaluations', headers, payload: payload as object });
  const one = [{ input: 'hi' }];
  for (const [payload, field, message] of [
    [{ versions: [1], cases: one, judge: requestJudge }, 'body.versions', /2/],
    [{ versions: [1, 2, 3, 4, 5, 6], cases: one, judge: requestJudge }, 'body.versions', /5/],
    [{ versions: [1, 2], cases: [], judge: requestJudge }, 'body.cases', /1/],
    [{ versions: [1, 2], cases: Array.from({ length: 101 }, () => ({ input: 'x' })), judge: requestJudge }, 'body.cases', /100/],
    [{ versions: [1, 2], cases: [{ input: '' }], judge: requestJudge }, 'body.cases.0.input', /./],
    [{ versions: [1, 1], cases: one, judge: requestJudge }, 'body.versions.1', /listed twice/],
    [{ versions: [1, 9], cases: one, judge: requestJudge }, 'body.versions.1', /no version 9/],
    [{ versions: [1, 2], cases: one }, 'body.judge', /version 1 has no judge/],
    [{ versions: [1, 2], cases: one, judge: { rubric: 'r', min_score: 20 } }, 'body.judge.min_score', /./],
  ] as const) {
    const res = await post(payload);
    t.equal(res.statusCode, 400, field);
    t.equal(res.json().error.code, 'PAI_REQUEST_INVALID');
    t.ok(res.json().error.details.some((d: { field: string; message: string }) => d.field === field && message.test(d.message)), `${field}: ${JSON.stringify(res.json().error.details)}`);
  }
  t.equal(rig.model.calls.length, 0, 'nothing ran');
  const judged = await post({ versions: [2, 2], cases: one });
  t.match(judged.json().error.details, [{ field: 'body.versions.1' }], 'duplicates are refused even when every version has a judge');
});

t.test('at most two running evaluations per user; the third answers 429 with Retry-After', async (t) => {
  const rig = await startAgentRig(t);
  const headers = await withAgent(rig);
  rig.model.generate = () => ({ text: 'slow answer', delayMs: 150 });
  const body = { versions: [1, 2], cases: [{ input: 'a' }, { input: 'b' }], judge: requestJudge };
  const started = [];
  for (let i = 0; i < 2; i++) started.push((await rig.app.inject({ method: 'POST', url: '/v1/agents/writer/evaluations', headers, payload: body })).json());
  const third = await rig.app.inject({ method: 'POST', url: '/v1/agents/writer/evaluations', headers, payload: body });
  t.equal(third.statusCode, 429);
  t.equal(third.json().error.code, 'PAI_EVALUATION_LIMIT');
  t.ok(Number(third.headers['retry-after']) > 0);
  const bobHeaders = await withAgent(rig, 'bob');
  t.equal((await rig.app.inject({ method: 'POST', url: '/v1/agents/writer/evaluations', headers: bobHeaders, payload: body })).statusCode, 202, 'the limit is per user');

  const seen: number[] = [];
  for (const s of started) t.equal((await finished(rig, headers, s.id, seen)).status, 'completed');
  t.ok(seen.includes(1), 'progress was visible part-way');
  t.equal((await rig.app.inject({ method: 'POST', url: '/v1/agents/writer/evaluations', headers, payload: body })).statusCode, 202, 'slots free up');
});

t.test('the daily token budget stops an evaluation part-way, as failed with the reason', async (t) => {
  const rig = await startAgentRig(t, { env: { PAI_DAILY_TOKEN_BUDGET: '60' } });
  const headers = await withAgent(rig);
  const res = await rig.app.inject({
    method: 'POST', url: '/v1/agents/writer/evaluations', headers,
    payload: { versions: [1, 2], cases: [{ input: 'first case' }, { input: 'second case' }, { input: 'third case' }], judge: requestJudge },
  });
  t.equal(res.statusCode, 202);
  const done = await finished(rig, headers, res.json().id);
  t.equal(done.status, 'failed');
  t.match(done.error, /^PAI_USAGE_BUDGET_EXCEEDED/);
  t.equal(done.progress.cases_done, 1, 'what ran is kept');
  t.equal(done.cases[0].results.length, 2);
  const refused = await rig.app.inject({ method: 'POST', url: '/v1/agents/writer/evaluations', headers, payload: { versions: [1, 2], cases: [{ input: 'x' }], judge: requestJudge } });
  t.equal(refused.statusCode, 429, 'a spent budget refuses new evaluations up front');
});

t.test('shutdown stores running evaluations as failed; one whose process vanished reads as interrupted', async (t) => {
  const store = createEmbeddedStore({ path: ':memory:' });
  t.teardown(() => store.close());
  const rig = await startAgentRig(t, { store });
  const headers = await withAgent(rig);
  rig.model.generate = () => ({ text: 'slow', delayMs: 5_000 });
  const res = await rig.app.inject({ method: 'POST', url: '/v1/agents/writer/evaluations', headers, payload: { versions: [1, 2], cases: [{ input: 'a' }], judge: requestJudge } });
  const id = res.json().id;
  const closing = Date.now();
  await rig.app.close();
  t.ok(Date.now() - closing < 2_000, 'close does not wait for the model');
  const stored = await store.agents.getEvaluation('alice', 'writer', id);
  t.match(stored, { status: 'failed', error: /shut down/ });

  // A record left "running" by a process that died: nobody heartbeats it, so a reader marks it failed.
  const other = await startAgentRig(t, { store });
  const old = new Date(Date.now() - 3_600_000).toISOString();
  await store.agents.putEvaluation({
    id: 'eval_orphan', userId: 'alice', agentId: 'writer', versions: [1, 2], status: 'running', casesTotal: 4, casesDone: 1,
    body: JSON.stringify({ cases: [{ input: 'a', expected: null }], judge: null, results: [] }), error: null, createdAt: old, updatedAt: old,
  });
  const orphan = (await other.app.inject({ method: 'GET', url: '/v1/agents/writer/evaluations/eval_orphan', headers })).json();
  t.match(orphan, { status: 'failed', error: /Interrupted/, progress: { cases_done: 1, cases_total: 4 } });
  t.match(await store.agents.getEvaluation('alice', 'writer', 'eval_orphan'), { status: 'failed' }, 'and stores it');
});
