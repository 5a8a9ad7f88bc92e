import t from 'tap';
import { startOpenAiStandIn } from '@pai/model-provider/testing';
import { startPai, tempDir, parseSse, ADMIN_KEY } from './helper.js';
import { startProcess, runToExit } from './processes.js';

t.test('conversations survive a restart on the same data dir', async (t) => {
  const dataDir = tempDir(t);
  const first = await startPai(t, { dataDir });
  const u = await first.newUser();
  const chat = (await first.app.inject({ method: 'POST', url: '/v1/chat', headers: u.headers, payload: { message: 'remember me' } })).json();
  await first.app.close();

  const second = await startPai(t, { dataDir });
  const conv = await second.app.inject({ method: 'GET', url: `/v1/conversations/${chat.conversation_id}`, headers: u.headers });
  t.equal(conv.statusCode, 200, 'the same key still works');
  t.same(conv.json().messages.map((m: { content: string }) => m.content), ['remember me', 'Echo: remember me']);
});

t.test('invalid configuration fails at start with one line naming the variable', async (t) => {
  const bad = await runToExit('embedded', { PORT: 'eighty', PAI_DATA_DIR: tempDir(t) });
  t.equal(bad.code, 1);
  t.match(bad.output.trim(), /^Invalid configuration: PORT: expected an integer between 0 and 65535 \(got "eighty"\)$/);
  const secret = await runToExit('embedded', { PAI_ADMIN_API_KEY: 'short', PAI_DATA_DIR: tempDir(t) });
  t.equal(secret.code, 1);
  t.match(secret.output, /PAI_ADMIN_API_KEY/);
  t.notOk(secret.output.includes('short'), 'a secret value is never echoed');
  const search = await runToExit('embedded', { SEARCH_BACKEND: 'opensearch', PAI_DATA_DIR: tempDir(t) });
  t.match(search.output.trim(), /^Invalid configuration: OPENSEARCH_URL: is required with SEARCH_BACKEND=opensearch/);
  const bedrock = await runToExit('embedded', { LLM_PROVIDER: 'bedrock', PAI_DATA_DIR: tempDir(t) });
  t.match(bedrock.output.trim(), /^Invalid configuration: AWS_REGION: is required with LLM_PROVIDER=bedrock/);
  const url = await runToExit('embedded', { OPENAI_BASE_URL: 'localhost:11434', PAI_DATA_DIR: tempDir(t) });
  t.match(url.output, /OPENAI_BASE_URL: expected an http\(s\) URL/);
});

t.test('SIGTERM during a stream: the stream ends with an error event within the grace period, nothing half-written', async (t) => {
  const standIn = await startOpenAiStandIn();
  t.teardown(() => standIn.close());
  const dataDir = tempDir(t);
  const env = {
    PAI_DATA_DIR: dataDir, PAI_ADMIN_API_KEY: ADMIN_KEY, OPENAI_BASE_URL: standIn.url, LLM_MODEL: 'stand-in',
    PAI_SHUTDOWN_GRACE_MS: '3000',
  };
  const pai = await startProcess(t, 'embedded', env);
  const admin = { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' };
  const user = (await (await fetch(`${pai.url}/v1/users`, { method: 'POST', headers: admin, body: '{"name":"x"}' })).json()) as any;
  const key = (await (await fetch(`${pai.url}/v1/users/${user.id}/api-keys`, { method: 'POST', headers: admin, body: '{}' })).json()) as any;
  const headers = { authorization: `Bearer ${key.key}`, 'content-type': 'application/json' };

  const res = await fetch(`${pai.url}/v1/chat`, {
    method: 'POST', headers, body: JSON.stringify({ message: '[[stand-in:hang-after:2]] a long answer', stream: true }),
  });
  t.equal(res.status, 200);
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let text = '';
  while (parseSse(text.slice(0, text.lastIndexOf('\n\n') + 2)).filter((e) => e.event === 'delta').length < 2) {
    const { value, done } = await reader.read();
    if (done) break;
    text += decoder.decode(value, { stream: true });
  }
  const killedAt = Date.now();
  pai.child.kill('SIGTERM');
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    text += decoder.decode(value, { stream: true });
  }
  const elapsed = Date.now() - killedAt;
  const events = parseSse(text);
  const last = events.at(-1)!;
  t.equal(last.event, 'error', 'the stream ends with an error event');
  t.equal(last.data.error.code, 'PAI_SERVICE_SHUTTING_DOWN');
  t.ok(elapsed < 3000, `within the grace period (${elapsed} ms)`);
  t.equal(await pai.exited, 0, 'the process exits cleanly');

  const again = await startProcess(t, 'embedded', env);
  const conv = (await (await fetch(`${again.url}/v1/conversations/${events[0]!.data.conversation_id}`, { headers })).json()) as any;
  const deltas = events.filter((e) => e.event === 'delta').map((e) => e.data.text).join('');
  t.same(conv.messages.map((m: { role: string; content: string; incomplete?: boolean }) => [m.role, m.content, m.incomplete ?? false]), [
    ['user', '[[stand-in:hang-after:2]] a long answer', false],
    ['assistant', deltas, true],
  ], 'the user message and the partial answer (marked incomplete) are stored, nothing else');
  again.child.kill('SIGTERM');
  t.equal(await again.exited, 0);
});
