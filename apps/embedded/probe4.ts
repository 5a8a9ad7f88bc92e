import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Agent, request } from 'undici';
import { startOpenAiStandIn } from '@pai/model-provider/testing';
import { createOpenAiProvider } from '@pai/model-provider';
import { buildEmbeddedApp, loadEmbeddedConfig } from '@pai/embedded';
const standIn = await startOpenAiStandIn();
const real = createOpenAiProvider({ baseUrl: standIn.url, defaultModel: 'stand-in' });
const marks: Record<string, number[]> = {};
let t0 = 0;
const mark = (k: string) => (marks[k] ??= []).push(performance.now() - t0);
const model: any = { name: 'openai', endpoint: real.endpoint, defaultModel: 'stand-in', check: () => real.check(), close: () => real.close(),
  complete: (r: any, o: any) => real.complete(r, o),
  async *stream(r: any, o: any) { mark('3 model.stream called'); let first = true; for await (const e of real.stream(r, o)) { if (first) { mark('4 first delta from adapter'); first = false; } yield e; } } };
const dataDir = mkdtempSync(join(tmpdir(), 'pai-probe-'));
const { app } = await buildEmbeddedApp(loadEmbeddedConfig({ PAI_DATA_DIR: dataDir, PAI_ADMIN_API_KEY: 'probe-admin-key-0123456789abcdef', LOG_LEVEL: 'warn' }), { logger: false, model });
app.addHook('onRequest', async (req) => { if (req.url === '/v1/chat') { t0 = performance.now(); mark('0 onRequest'); } });
app.addHook('preValidation', async (req) => { if (req.url === '/v1/chat') mark('1 preValidation (after auth)'); });
app.addHook('preHandler', async (req) => { if (req.url === '/v1/chat') mark('2 preHandler (validated)'); });
const base = await app.listen({ port: 0, host: '127.0.0.1' });
const admin = { authorization: 'Bearer probe-admin-key-0123456789abcdef' };
const user = (await app.inject({ method: 'POST', url: '/v1/users', headers: admin, payload: { name: 'p' } })).json();
const key = (await app.inject({ method: 'POST', url: `/v1/users/${user.id}/api-keys`, headers: admin, payload: {} })).json();
const dispatcher = new Agent({});
async function once() {
  const res = await request(`${base}/v1/chat`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${key.key}` }, body: JSON.stringify({ message: 'how fast', stream: true, memory: 'off' }), dispatcher });
  for await (const c of res.body) { }
}
for (let i = 0; i < 200; i++) await once();
for (const k of Object.keys(marks)) marks[k] = [];
for (let i = 0; i < 1000; i++) await once();
for (const [k, v] of Object.entries(marks).sort()) { v.sort((a, b) => a - b); console.log(k.padEnd(32), 'p50', (v[Math.floor(v.length / 2)]! * 1000).toFixed(0), 'µs'); }
await app.close(); await standIn.close();
