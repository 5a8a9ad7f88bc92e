import t from 'tap';
import { setTimeout as delay } from 'node:timers/promises';
import { LlmErrors } from '@pai/errors';
import { createOpenAiProvider } from '@pai/model-provider';
import { startOpenAiStandIn } from '@pai/model-provider/testing';
import { draftJudged, isRetry, parseSse, startAgentRig, type AgentRig } from './agent-rig.js';

const window = () => ({ from: new Date(Date.now() - 3_600_000).toISOString(), to: new Date(Date.now() + 60_000).toISOString() });

async function judgedAgent(rig: AgentRig, judge: Record<string, unknown> = { model: 'judge', rubric: 'Be exact.', min_score: 7, max_attempts: 3 }) {
  const headers = rig.as('alice');
  await rig.app.inject({ method: 'POST', url: '/v1/agents', headers, payload: { id: 'judged', name: 'Judged' } });
  await rig.app.inject({ method: 'POST', url: '/v1/agents/judged/versions', headers, payload: { system_prompt: 'sys', model: 'gen-b', judge } });
  return headers;
}

const chat = (rig: AgentRig, headers: Record<string, string>, payload: Record<string, unknown>) =>
  rig.app.inject({ method: 'POST', url: '/v1/chat', headers, payload: { agent_id: 'judged', memory: 'off', ...payload } });

t.test('JSON: the best draft is returned with the verdict; usage counts every draft and judge call; one run with every attempt', async (t) => {
  const rig = await startAgentRig(t);
  const headers = await judgedAgent(rig);
  let n = 0;
  rig.model.generate = () => `draft ${++n}`;
  const scores: Record<string, number> = { 'draft 1': 3, 'draft 2': 6, 'draft 3': 5 };
  rig.model.judge = (req) => `{"score": ${scores[draftJudged(req)]}, "verdict": "fail", "feedback": "more detail"}`;
  const res = await chat(rig, headers, { message: 'explain' });
  t.equal(res.statusCode, 200);
  const answer = res.json();
  t.match(answer, { message: 'draft 2', model: 'gen-b', agent: { id: 'judged', version: 1 }, judge: { score: 6, verdict: 'fail', attempts: 3 } });
  const usage = (await rig.app.inject({ method: 'GET', url: '/v1/usage?group_by=model', headers })).json();
  t.equal(answer.usage.input_tokens, usage.total.input_tokens, 'the answer reports what the turn cost in all');
  t.equal(answer.usage.output_tokens, usage.total.output_tokens);
  t.ok(Math.abs(answer.usage.cost_usd - usage.total.cost_usd) < 1e-9);
  t.same(usage.items.map((i: { key: string; requests: number }) => [i.key, i.requests]), [['gen-b', 3], ['judge', 3]]);
  const conversation = rig.memory.conversations.get(answer.conversation_id)!;
  t.same(conversation.messages.map((m) => [m.role, m.content]), [['user', 'explain'], ['assistant', 'draft 2']], 'only the chosen draft is stored');

  const [run] = await rig.store.agents.listRuns('alice', 'judged', window());
  t.match(run, { ok: true, score: 6, passed: false, inputTokens: answer.usage.input_tokens, outputTokens: answer.usage.output_tokens });
  t.same(run!.attempts.map((a) => [a.attempt, a.score, a.passed]), [[1, 3, false], [2, 6, false], [3, 5, false]]);
  t.ok(run!.ttftMs !== null && run!.ttftMs <= run!.latencyMs);
});

t.test('JSON: a judge that fails never fails the request: the draft goes out unjudged', async (t) => {
  const rig = await startAgentRig(t, { judgeTimeoutMs: 100 });
  const headers = await judgedAgent(rig);
  for (const [name, judgeAnswer, code] of [
    ['garbage', 'Looks great to me!', 'invalid_output'],
    ['error', LlmErrors.unavailable('judge model missing'), 'PAI_LLM_UNAVAILABLE'],
    ['timeout', { text: '{"score": 9}', delayMs: 3_000 }, 'timeout'],
  ] as const) {
    rig.model.judge = () => judgeAnswer;
    const started = Date.now();
    const res = await chat(rig, headers, { message: `judge ${name}` });
    t.equal(res.statusCode, 200, name);
    t.match(res.json(), { message: 'answer from gen-b', judge: { score: null, verdict: 'unjudged', attempts: 1 } }, name);
    t.ok(Date.now() - started < 1_500, `${name}: answered within the judge timeout`);
    const runs = await rig.store.agents.listRuns('alice', 'judged', window());
    t.match(runs.at(-1), { ok: true, score: null, passed: null, attempts: [{ judgeError: code }] }, name);
  }
  const metrics = (await rig.app.inject({ method: 'GET', url: '/v1/agents/judged/metrics', headers })).json();
  t.match(metrics.total.judge, { judged: 0, unjudged: 3, pass_rate: null, mean_score: null });
});

t.test('JSON: a generator failure on the first draft fails the request and is recorded as an error run', async (t) => {
  const rig = await startAgentRig(t);
  const headers = await judgedAgent(rig);
  rig.model.generate = () => LlmErrors.timeout('slow');
  const res = await chat(rig, headers, { message: 'hi' });
  t.equal(res.statusCode, 504);
  t.equal(res.json().error.code, 'PAI_LLM_TIMEOUT');
  t.match(await rig.store.agents.listRuns('alice', 'judged', window()), [{ ok: false, errorCode: 'PAI_LLM_TIMEOUT', ttftMs: null, attempts: [] }]);
  t.equal(rig.model.calls.filter((c) => c.kind === 'judge').length, 0);
});

t.test('SSE: judged before streaming (pings meanwhile), then the chosen draft as deltas; done carries the verdict', async (t) => {
  const rig = await startAgentRig(t);
  const headers = await judgedAgent(rig);
  rig.model.generate = (req) => (isRetry(req) ? 'A much better and considerably longer answer, with the detail the reviewer asked for, in several words.' : 'meh');
  rig.model.judge = (req) => ({ text: draftJudged(req) === 'meh' ? '{"score": 2, "feedback": "more"}' : '{"score": 9}', delayMs: 80 });
  const res = await chat(rig, headers, { message: 'tell me', stream: true });
  t.equal(res.statusCode, 200);
  t.equal(res.headers['content-type'], 'text/event-stream; charset=utf-8');
  const firstDelta = res.body.indexOf('event: delta');
  t.ok(res.body.indexOf(': ping') >= 0 && res.body.indexOf(': ping') < firstDelta, 'pings keep the stream open while the judge works');
  t.notOk(res.body.includes('meh'), 'a rejected draft is never streamed');
  const events = parseSse(res.body);
  const deltas = events.filter((e) => e.event === 'delta');
  t.ok(deltas.length > 1, 'streamed in pieces');
  const done = events.at(-1)!;
  t.equal(done.event, 'done');
  t.equal(deltas.map((e) => e.data.text).join(''), done.data.message);
  t.same(done.data.judge, { score: 9, verdict: 'pass', attempts: 2 });
  const [run] = await rig.store.agents.listRuns('alice', 'judged', window());
  t.ok(run!.ttftMs! >= 160, `ttft (${run!.ttftMs} ms) counts the judge loop: the first token reached the client after it`);
});

t.test('SSE: a judged turn that fails before anything is streamed answers a plain HTTP error', async (t) => {
  const rig = await startAgentRig(t);
  const headers = await judgedAgent(rig);
  rig.model.generate = () => LlmErrors.unavailable('down');
  const res = await chat(rig, headers, { message: 'hi', stream: true });
  t.equal(res.statusCode, 503);
  t.equal(res.json().error.code, 'PAI_LLM_UNAVAILABLE');
  t.match(await rig.store.agents.listRuns('alice', 'judged', window()), [{ ok: false, errorCode: 'PAI_LLM_UNAVAILABLE' }]);
});

t.test('OpenAI facade: a judged agent streams its chosen draft; the run is recorded', async (t) => {
  const rig = await startAgentRig(t);
  const headers = await judgedAgent(rig);
  const res = await rig.app.inject({
    method: 'POST', url: '/v1/chat/completions', headers,
    payload: { model: 'judged', stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'hello' }] },
  });
  t.equal(res.statusCode, 200);
  const chunks = parseSse(res.body).map((e) => e.data);
  t.equal(chunks.at(-1), '[DONE]');
  const text = chunks.flatMap((c) => (typeof c === 'object' && c.choices?.[0]?.delta?.content) || []).join('');
  t.equal(text, 'answer from gen-b');
  const usage = chunks.find((c) => typeof c === 'object' && c.usage)!.usage;
  const [run] = await rig.store.agents.listRuns('alice', 'judged', window());
  t.match(run, { ok: true, score: 9, passed: true, inputTokens: usage.prompt_tokens, outputTokens: usage.completion_tokens, conversationId: res.headers['x-pai-conversation-id'] });
});

t.test('a client that leaves while the judge works: the loop stops, nothing is stored, the run says aborted', async (t) => {
  const rig = await startAgentRig(t);
  const headers = await judgedAgent(rig);
  rig.model.judge = () => ({ text: '{"score": 9}', delayMs: 5_000 });
  const url = await rig.app.listen({ port: 0, host: '127.0.0.1' });
  const controller = new AbortController();
  const response = await fetch(`${url}/v1/chat`, {
    method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, signal: controller.signal,
    body: JSON.stringify({ message: 'hi', agent_id: 'judged', memory: 'off', stream: true }),
  });
  t.equal(response.status, 200, 'the stream opened after one ping interval');
  controller.abort();
  let runs: Awaited<ReturnType<typeof rig.store.agents.listRuns>> = [];
  for (let i = 0; i < 100 && runs.length === 0; i++) {
    await delay(20);
    runs = await rig.store.agents.listRuns('alice', 'judged', window());
  }
  t.match(runs, [{ ok: false, errorCode: 'PAI_LLM_ABORTED' }]);
  const [conversation] = [...rig.memory.conversations.values()];
  t.same(conversation!.messages.map((m) => m.role), ['user'], 'no answer was stored');
});

t.test('over a real OpenAI-compatible endpoint: the judge loop, fenced JSON and all', async (t) => {
  const standIn = await startOpenAiStandIn();
  t.teardown(() => standIn.close());
  const provider = createOpenAiProvider({ baseUrl: standIn.url, apiKey: undefined, defaultModel: 'stand-in' });
  const rig = await startAgentRig(t, { provider });
  const headers = await judgedAgent(rig);
  standIn.enqueue(
    { kind: 'reply', text: 'first draft' },
    { kind: 'reply', text: '```json\n{"score": 3, "verdict": "fail", "feedback": "add an example"}\n```' },
    { kind: 'reply', text: 'second draft, with an example' },
    { kind: 'reply', text: '{"score": 9, "verdict": "pass", "feedback": ""}' },
  );
  const res = await chat(rig, headers, { message: 'teach me' });
  t.equal(res.statusCode, 200);
  t.match(res.json(), { message: 'second draft, with an example', judge: { score: 9, verdict: 'pass', attempts: 2 } });
  const bodies = standIn.requests.filter((r) => r.path === '/v1/chat/completions').map((r) => r.body!);
  t.same(bodies.map((b) => b.model), ['gen-b', 'judge', 'gen-b', 'judge']);
  t.equal(bodies[1]!.temperature, 0);
  t.match(bodies[2]!.messages!.at(-1)!.content, /scored your previous answer 3\/10\. Reviewer feedback: add an example/);
  t.match(bodies[3]!.messages![1]!.content, /<answer>\nsecond draft, with an example\n<\/answer>/);
});
