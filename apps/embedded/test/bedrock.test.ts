import t, { type Test } from 'tap';
import { request } from 'undici';
import { startBedrockStandIn } from '@pai/model-provider/testing';
import { startPai, parseSse } from './helper.js';

// The SDK's default credential chain reads these; the stand-in accepts any SigV4 signature.
process.env.AWS_ACCESS_KEY_ID = 'AKIDSTANDIN';
process.env.AWS_SECRET_ACCESS_KEY = 'stand-in-secret';

async function startBedrockPai(t: Test, env: Record<string, string> = {}) {
  const bedrock = await startBedrockStandIn();
  t.teardown(() => bedrock.close());
  const pai = await startPai(t, {
    listen: true,
    env: { LLM_PROVIDER: 'bedrock', AWS_REGION: 'us-east-1', BEDROCK_ENDPOINT: bedrock.url, LLM_MODEL: 'anthropic.claude-3-5-haiku-20241022-v1:0', ...env },
  });
  return { ...pai, bedrock };
}

t.test('Bedrock end to end: JSON and streamed turns with history, usage and cost from the default prices', async (t) => {
  const { app, url, bedrock, newUser } = await startBedrockPai(t);
  const u = await newUser();
  const first = await app.inject({ method: 'POST', url: '/v1/chat', headers: u.headers, payload: { message: 'Hello Bedrock' } });
  t.equal(first.statusCode, 200);
  const answer = first.json();
  t.equal(answer.model, 'anthropic.claude-3-5-haiku-20241022-v1:0');
  t.ok(answer.message.length > 0);
  t.ok(answer.usage.cost_usd > 0, 'priced with the built-in Bedrock price table');

  const res = await request(`${url}/v1/chat`, {
    method: 'POST', headers: { ...u.headers, 'content-type': 'application/json' },
    body: JSON.stringify({ message: 'And again', conversation_id: answer.conversation_id, stream: true }),
  });
  const events = parseSse(await res.body.text());
  t.equal(events[0]!.event, 'start');
  t.ok(events.filter((e) => e.event === 'delta').length >= 1);
  t.equal(events.at(-1)!.event, 'done');

  const last = bedrock.requests.at(-1)!;
  t.equal(last.modelId, 'anthropic.claude-3-5-haiku-20241022-v1:0');
  t.match(last.path, /converse-stream$/);
  const body = last.body as { system?: Array<{ text: string }>; messages: Array<{ role: string; content: Array<{ text: string }> }> };
  t.ok(body.system?.[0]?.text.length, 'the system prompt goes in `system`');
  t.same(body.messages.map((m) => m.role), ['user', 'assistant', 'user'], 'history alternates, oldest first');
  t.equal(body.messages[0]!.content[0]!.text, 'Hello Bedrock');

  const usage = (await app.inject({ method: 'GET', url: '/v1/usage?group_by=model', headers: u.headers })).json();
  t.same(usage.items.map((i: { key: string; requests: number }) => [i.key, i.requests]), [['anthropic.claude-3-5-haiku-20241022-v1:0', 2]]);
});

t.test('Bedrock failures map to typed errors; the circuit opens after consecutive failures', async (t) => {
  const { app, bedrock, newUser } = await startBedrockPai(t, { LLM_MAX_RETRIES: '0', LLM_BREAKER_FAILURES: '3', LLM_BREAKER_OPEN_MS: '60000' });
  const u = await newUser();
  const chat = (message: string) => app.inject({ method: 'POST', url: '/v1/chat', headers: u.headers, payload: { message } });

  bedrock.enqueue({ kind: 'fail', exception: 'ValidationException', status: 400, message: 'bad input' });
  const invalid = await chat('validate me');
  t.equal(invalid.statusCode, 400);
  t.equal(invalid.json().error.code, 'PAI_LLM_INVALID_REQUEST');

  bedrock.enqueue({ kind: 'fail', exception: 'AccessDeniedException', status: 403, message: 'no access' });
  const denied = await chat('may I');
  t.equal(denied.statusCode, 503);
  t.equal(denied.json().error.code, 'PAI_LLM_UNAVAILABLE');

  bedrock.enqueue({ kind: 'fail', exception: 'InternalServerException', status: 500, message: 'oops' });
  t.equal((await chat('one')).statusCode, 502);
  bedrock.enqueue({ kind: 'fail', exception: 'InternalServerException', status: 500, message: 'oops' });
  t.equal((await chat('two')).statusCode, 502);
  const calls = bedrock.requests.length;
  const open = await chat('three');
  t.equal(open.statusCode, 503, 'the open circuit fails fast');
  t.match(open.json().error.message, /circuit/i);
  t.ok(open.headers['retry-after'], 'with Retry-After');
  t.equal(bedrock.requests.length, calls, 'without calling Bedrock');
  const metrics = (await app.inject({ method: 'GET', url: '/metrics' })).body;
  t.match(metrics, /pai_model_circuit_state\{provider="bedrock",service="pai"\} 2/);
});

t.test('LLM_PROVIDER=bedrock needs AWS_REGION', async (t) => {
  await t.rejects(startPai(t, { env: { LLM_PROVIDER: 'bedrock' } }), /AWS_REGION: is required with LLM_PROVIDER=bedrock/);
});
