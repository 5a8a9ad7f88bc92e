/**
 * Streaming overhead: time to first token through POST /v1/chat (SSE, memory off) minus time to first
 * token straight from the same stand-in model, measured in interleaved pairs in one run. The stand-in
 * model and PAI (the embedded server, as `npm start` runs it) each run in their own process, as they
 * would in production; this process is only the client.
 * Target: p50 ≤ 1 ms, p99 ≤ 10 ms. Usage: pnpm --filter @pai/bench run streaming-overhead [pairs]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Agent, request } from 'undici';
import { fmt, summary } from './stats.js';
import { BENCH_DIR, ROOT, startServer } from './processes.js';

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

const dataDir = mkdtempSync(join(tmpdir(), 'pai-bench-'));
const standIn = await startServer(join(BENCH_DIR, 'stand-in-server.ts'), {}, '/v1/models');
const modelUrl = `${standIn.url}/v1`;
const pai = await startServer(join(ROOT, 'apps', 'embedded', 'src', 'server.ts'), {
  PAI_DATA_DIR: dataDir, PAI_ADMIN_API_KEY: ADMIN, OPENAI_BASE_URL: modelUrl, LLM_MODEL: 'stand-in', LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'info',
});
const proxy = await startServer(join(BENCH_DIR, 'bare-proxy.ts'), { UPSTREAM: modelUrl });
const base = pai.url;
const admin = { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' };
const user = (await (await fetch(`${base}/v1/users`, { method: 'POST', headers: admin, body: '{"name":"bench"}' })).json()) as { id: string };
const key = (await (await fetch(`${base}/v1/users/${user.id}/api-keys`, { method: 'POST', headers: admin, body: '{}' })).json()) as { key: string };
const auth = { authorization: `Bearer ${key.key}` };

const direct = () => timeToFirst(`${modelUrl}/chat/completions`, {}, {
  model: 'stand-in', stream: true, messages: [{ role: 'user', content: 'how fast is the first token' }],
}, '"content":"');
const viaProxy = () => timeToFirst(`${proxy.url}/v1/chat`, {}, { message: 'how fast is the first token' }, 'event: delta');
const viaPai = () => timeToFirst(`${base}/v1/chat`, auth, { message: 'how fast is the first token', stream: true, memory: 'off' }, 'event: delta');

for (let i = 0; i < WARMUP; i++) {
  await direct();
  await viaPai();
  await viaProxy();
}
const directMs: number[] = [];
const paiMs: number[] = [];
const diffs: number[] = [];
const floorDiffs: number[] = [];
for (let i = 0; i < PAIRS; i++) {
  // Alternate which goes first so drift on a noisy machine does not favour one side.
  const [d, p] = i % 2 === 0 ? [await direct(), await viaPai()] : (([pp, dd]) => [dd, pp])([await viaPai(), await direct()]);
  directMs.push(d);
  paiMs.push(p);
  diffs.push(p - d);
  floorDiffs.push((await viaProxy()) - (await direct()));
}

const d = summary(directMs);
const p = summary(paiMs);
const o = summary(diffs);
console.log(`streaming overhead, ${PAIRS} interleaved pairs (after ${WARMUP} warm-up pairs)`);
console.log(`  TTFT direct to stand-in : p50 ${fmt(d.p50)}  p95 ${fmt(d.p95)}  p99 ${fmt(d.p99)}`);
console.log(`  TTFT through /v1/chat   : p50 ${fmt(p.p50)}  p95 ${fmt(p.p95)}  p99 ${fmt(p.p99)}`);
const f = summary(floorDiffs);
console.log(`  floor: bare proxy hop   : p50 ${fmt(f.p50)}  p95 ${fmt(f.p95)}  p99 ${fmt(f.p99)}  (any extra HTTP hop on this machine)`);
console.log(`  overhead (pair diff)    : p50 ${fmt(o.p50)}  p95 ${fmt(o.p95)}  p99 ${fmt(o.p99)}  (target p50 ≤ 1 ms, p99 ≤ 10 ms)`);

pai.child.kill('SIGTERM');
proxy.child.kill('SIGTERM');
standIn.child.kill('SIGTERM');
await dispatcher.close();
rmSync(dataDir, { recursive: true, force: true });
