/**
 * Streaming overhead: time to first token through POST /v1/chat (SSE, memory off) minus time to first
 * token straight from the same stand-in model, measured in interleaved pairs in one run.
 * Target: p50 ≤ 1 ms, p99 ≤ 10 ms. Usage: pnpm --filter @pai/bench run streaming-overhead [pairs]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Agent, request } from 'undici';
import { startOpenAiStandIn } from '@pai/model-provider/testing';
import { buildEmbeddedApp, loadEmbeddedConfig } from '@pai/embedded';
import { fmt, summary } from './stats.js';

const PAIRS = Number(process.argv[2] ?? 500);
const WARMUP = 50;
const ADMIN = 'bench-admin-key-0123456789abcdef';

const dispatcher = new Agent({ keepAliveTimeout: 30_000, connections: 4 });

/** Sends a streaming request and resolves with the ms until `marker` first appears in the body. */
async function timeToFirst(url: string, headers: Record<string, string>, body: unknown, marker: string): Promise<number> {
  const started = performance.now();
  const res = await request(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body), dispatcher });
  let seen = -1;
  let text = '';
  for await (const chunk of res.body) {
    if (seen < 0) {
      text += chunk.toString();
      if (text.includes(marker)) seen = performance.now() - started;
    }
  }
  if (res.statusCode !== 200 || seen < 0) throw new Error(`no first token from ${url}: ${res.statusCode} ${text.slice(0, 200)}`);
  return seen;
}

const standIn = await startOpenAiStandIn();
const dataDir = mkdtempSync(join(tmpdir(), 'pai-bench-'));
const { app } = await buildEmbeddedApp(
  loadEmbeddedConfig({ PAI_DATA_DIR: dataDir, PAI_ADMIN_API_KEY: ADMIN, OPENAI_BASE_URL: standIn.url, LLM_MODEL: 'stand-in', LOG_LEVEL: 'warn' }),
  { logger: false },
);
const base = await app.listen({ port: 0, host: '127.0.0.1' });
const admin = { authorization: `Bearer ${ADMIN}` };
const user = (await app.inject({ method: 'POST', url: '/v1/users', headers: admin, payload: { name: 'bench' } })).json();
const key = (await app.inject({ method: 'POST', url: `/v1/users/${user.id}/api-keys`, headers: admin, payload: {} })).json();
const auth = { authorization: `Bearer ${key.key}` };

const direct = () => timeToFirst(`${standIn.url}/chat/completions`, {}, {
  model: 'stand-in', stream: true, messages: [{ role: 'user', content: 'how fast is the first token' }],
}, '"content":"');
const viaPai = () => timeToFirst(`${base}/v1/chat`, auth, { message: 'how fast is the first token', stream: true, memory: 'off' }, 'event: delta');

for (let i = 0; i < WARMUP; i++) {
  await direct();
  await viaPai();
}
const directMs: number[] = [];
const paiMs: number[] = [];
const diffs: number[] = [];
for (let i = 0; i < PAIRS; i++) {
  // Alternate which goes first so drift on a noisy machine does not favour one side.
  const [d, p] = i % 2 === 0 ? [await direct(), await viaPai()] : (([pp, dd]) => [dd, pp])([await viaPai(), await direct()]);
  directMs.push(d);
  paiMs.push(p);
  diffs.push(p - d);
}

const d = summary(directMs);
const p = summary(paiMs);
const o = summary(diffs);
console.log(`streaming overhead, ${PAIRS} interleaved pairs (after ${WARMUP} warm-up pairs)`);
console.log(`  TTFT direct to stand-in : p50 ${fmt(d.p50)}  p95 ${fmt(d.p95)}  p99 ${fmt(d.p99)}`);
console.log(`  TTFT through /v1/chat   : p50 ${fmt(p.p50)}  p95 ${fmt(p.p95)}  p99 ${fmt(p.p99)}`);
console.log(`  overhead (pair diff)    : p50 ${fmt(o.p50)}  p95 ${fmt(o.p95)}  p99 ${fmt(o.p99)}  (target p50 ≤ 1 ms, p99 ≤ 10 ms)`);

await app.close();
await standIn.close();
await dispatcher.close();
rmSync(dataDir, { recursive: true, force: true });
