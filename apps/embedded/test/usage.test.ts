import t from 'tap';
import { request } from 'undici';
import { startPai } from './helper.js';

const PRICES = JSON.stringify({ 'stand-in': { input_per_1k: 1, output_per_1k: 2 } });

t.test('usage and cost add up across a scripted conversation, grouped by model, agent and day', async (t) => {
  const { app, newUser } = await startPai(t, { env: { PAI_MODEL_PRICES: PRICES } });
  const u = await newUser();
  const other = await newUser('other');
  let conversation_id: string | undefined;
  const answers = [];
  for (const message of ['first question', 'a second, longer question about plans', 'third']) {
    const res = await app.inject({ method: 'POST', url: '/v1/chat', headers: u.headers, payload: { message, conversation_id } });
    t.equal(res.statusCode, 200);
    answers.push(res.json());
    conversation_id = res.json().conversation_id;
  }
  await app.inject({ method: 'POST', url: '/v1/chat', headers: other.headers, payload: { message: 'not yours' } });

  const input = answers.reduce((n, a) => n + a.usage.input_tokens, 0);
  const output = answers.reduce((n, a) => n + a.usage.output_tokens, 0);
  for (const a of answers) {
    t.equal(a.usage.cost_usd, Math.round(((a.usage.input_tokens / 1000) * 1 + (a.usage.output_tokens / 1000) * 2) * 1e9) / 1e9, 'cost at the configured price');
  }
  const cost = answers.reduce((n, a) => n + a.usage.cost_usd, 0);

  const byModel = await app.inject({ method: 'GET', url: '/v1/usage?group_by=model', headers: u.headers });
  t.equal(byModel.statusCode, 200);
  const report = byModel.json();
  t.same(report.items.map((i: { key: string }) => i.key), ['stand-in']);
  t.match(report.total, { requests: 3, input_tokens: input, output_tokens: output, estimated_requests: 0 });
  t.ok(Math.abs(report.total.cost_usd - cost) < 1e-9, 'totals equal the sum of the answers');
  const today = new Date().toISOString().slice(0, 10);
  t.equal(report.to, today);

  const byAgent = (await app.inject({ method: 'GET', url: '/v1/usage?group_by=agent', headers: u.headers })).json();
  t.same(byAgent.items.map((i: { key: string; requests: number }) => [i.key, i.requests]), [['default', 3]]);
  const byDay = (await app.inject({ method: 'GET', url: `/v1/usage?group_by=day&from=${today}&to=${today}`, headers: u.headers })).json();
  t.same(byDay.items.map((i: { key: string }) => i.key), [today]);
  const empty = (await app.inject({ method: 'GET', url: '/v1/usage?from=2020-01-01&to=2020-01-31', headers: u.headers })).json();
  t.same(empty.items, []);
  t.equal(empty.total.requests, 0);

  for (const [query, field] of [['from=yesterday', 'query.from'], ['from=2026-02-01&to=2026-01-01', 'query.from'], ['group_by=week', 'query.group_by'], ['from=2020-01-01&to=2026-01-01', 'query.from']]) {
    const bad = await app.inject({ method: 'GET', url: `/v1/usage?${query}`, headers: u.headers });
    t.equal(bad.statusCode, 400, query);
    t.match(bad.json().error.details, [{ field }], query);
  }
  const admin = await app.inject({ method: 'GET', url: '/v1/usage', headers: { authorization: 'Bearer embedded-test-admin-key-0123456789' } });
  t.equal(admin.statusCode, 403);
});

t.test('a model that reports no usage is estimated and marked so', async (t) => {
  const { app, standIn, newUser } = await startPai(t);
  const u = await newUser();
  standIn.enqueue({ kind: 'no-usage', text: 'an answer without usage' });
  const res = await app.inject({ method: 'POST', url: '/v1/chat', headers: u.headers, payload: { message: 'count me' } });
  t.equal(res.json().usage.estimated, true);
  t.ok(res.json().usage.output_tokens > 0);
  const report = (await app.inject({ method: 'GET', url: '/v1/usage', headers: u.headers })).json();
  t.equal(report.total.estimated_requests, 1);
});

t.test('the daily token budget answers 429 with Retry-After once used up, before anything is stored', async (t) => {
  const { app, newUser } = await startPai(t, { env: { PAI_DAILY_TOKEN_BUDGET: '30' } });
  const u = await newUser();
  const first = await app.inject({ method: 'POST', url: '/v1/chat', headers: u.headers, payload: { message: 'spend some tokens please' } });
  t.equal(first.statusCode, 200);
  const used = first.json().usage.input_tokens + first.json().usage.output_tokens;
  t.ok(used >= 30, `the first turn used ${used} tokens`);
  const blocked = await app.inject({ method: 'POST', url: '/v1/chat', headers: u.headers, payload: { message: 'more', conversation_id: first.json().conversation_id } });
  t.equal(blocked.statusCode, 429);
  t.equal(blocked.json().error.code, 'PAI_USAGE_BUDGET_EXCEEDED');
  const retry = Number(blocked.headers['retry-after']);
  t.ok(retry > 0 && retry <= 86_400, `Retry-After ${retry} s until midnight UTC`);
  const conv = (await app.inject({ method: 'GET', url: `/v1/conversations/${first.json().conversation_id}`, headers: u.headers })).json();
  t.equal(conv.messages.length, 2, 'the refused message was not stored');
  const other = await newUser('other');
  t.equal((await app.inject({ method: 'POST', url: '/v1/chat', headers: other.headers, payload: { message: 'hi' } })).statusCode, 200, 'budgets are per user');
});

t.test('concurrent streams per user are limited; JSON requests and other users are not', async (t) => {
  const { url, app, newUser } = await startPai(t, { listen: true, env: { PAI_MAX_CONCURRENT_STREAMS: '1' } });
  const u = await newUser();
  const first = await request(`${url}/v1/chat`, {
    method: 'POST', headers: { ...u.headers, 'content-type': 'application/json' },
    body: JSON.stringify({ message: '[[stand-in:hang-after:1]] hold the line', stream: true }),
  });
  t.equal(first.statusCode, 200);
  const stream = async (headers: Record<string, string>, message: string) => {
    const res = await request(`${url}/v1/chat`, {
      method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify({ message, stream: true }),
    });
    const text = await res.body.text();
    return { status: res.statusCode, headers: res.headers, text };
  };
  const second = await stream(u.headers, 'me too');
  t.equal(second.status, 429);
  t.equal(JSON.parse(second.text).error.code, 'PAI_USAGE_STREAM_LIMIT');
  t.equal(second.headers['retry-after'], '1');
  const json = await app.inject({ method: 'POST', url: '/v1/chat', headers: u.headers, payload: { message: 'not streamed' } });
  t.equal(json.statusCode, 200);
  const other = await newUser('other');
  const theirs = await stream(other.headers, 'mine');
  t.equal(theirs.status, 200);
  first.body.destroy();
  // The slot is released once the first stream is cancelled.
  let status = 0;
  for (let i = 0; i < 50 && status !== 200; i++) {
    await new Promise((r) => setTimeout(r, 20));
    status = (await stream(u.headers, 'again')).status;
  }
  t.equal(status, 200);
});

t.test('/metrics exposes HTTP latency, model TTFT and duration, tokens, cost and errors by code', async (t) => {
  const { app, newUser } = await startPai(t, { env: { PAI_MODEL_PRICES: PRICES, LLM_MAX_RETRIES: '0' } });
  const u = await newUser();
  // memory: off, so no formation call joins the counts.
  await app.inject({ method: 'POST', url: '/v1/chat', headers: u.headers, payload: { message: 'measure me', stream: true, memory: 'off' } });
  await app.inject({ method: 'POST', url: '/v1/chat', headers: u.headers, payload: { message: 'and me', memory: 'off' } });
  await app.inject({ method: 'POST', url: '/v1/chat', headers: u.headers, payload: { message: '[[stand-in:fail:500]] x', memory: 'off' } });
  const res = await app.inject({ method: 'GET', url: '/metrics' });
  t.equal(res.statusCode, 200);
  t.match(res.headers['content-type'], /text\/plain/);
  const text = res.body;
  t.match(text, /pai_http_request_duration_seconds_bucket\{le="0\.001",service="pai",method="POST",route="\/v1\/chat",status_code="200"\}/);
  t.match(text, /pai_http_request_duration_seconds_bucket\{le="60",/);
  t.match(text, /pai_model_ttft_seconds_count\{service="pai",provider="openai",model="stand-in"\} 2/);
  t.match(text, /pai_model_duration_seconds_count\{service="pai",provider="openai",model="stand-in",outcome="ok"\} 2/);
  t.match(text, /pai_model_duration_seconds_count\{service="pai",provider="openai",model="stand-in",outcome="error"\} 1/);
  t.match(text, /pai_model_tokens_total\{provider="openai",model="stand-in",kind="output",service="pai"\} \d+/);
  t.match(text, /pai_model_cost_usd_total\{provider="openai",model="stand-in",service="pai"\} 0\.\d+/);
  t.match(text, /pai_errors_total\{code="PAI_LLM_UPSTREAM_ERROR",service="pai"\} 1/);
  t.match(text, /process_cpu_user_seconds_total/);
  t.notMatch(text, /route="\/healthz"/, 'probes are not in the latency histogram');
});
