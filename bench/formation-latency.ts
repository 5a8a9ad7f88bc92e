/**
 * Chat reply latency with memory on (retrieval + formation queued after the reply) vs off, through the
 * embedded server in its own process over the OpenAI-compatible stand-in, as interleaved pairs in one
 * run. Formation runs from the durable queue after the answer is stored, so the difference should be
 * within noise. Usage: pnpm --filter @pai/bench run formation-latency [pairs]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Agent, request } from 'undici';
import { fmt, summary } from './stats.js';
import { BENCH_DIR, ROOT, startServer } from './processes.js';

const PAIRS = Number(process.argv[2] ?? 300);
const WARMUP = 30;
const ADMIN = 'bench-admin-key-0123456789abcdef';
const dispatcher = new Agent({ keepAliveTimeout: 30_000, connections: 2 });
const dataDir = mkdtempSync(join(tmpdir(), 'pai-bench-'));

const standIn = await startServer(join(BENCH_DIR, 'stand-in-server.ts'), {}, '/v1/models');
const pai = await startServer(join(ROOT, 'apps', 'embedded', 'src', 'server.ts'), {
  PAI_DATA_DIR: dataDir, PAI_ADMIN_API_KEY: ADMIN, OPENAI_BASE_URL: `${standIn.url}/v1`, LLM_MODEL: 'stand-in', LOG_LEVEL: 'warn',
});
try {
  const admin = { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' };
  const user = (await (await fetch(`${pai.url}/v1/users`, { method: 'POST', headers: admin, body: '{"name":"bench"}' })).json()) as { id: string };
  const key = (await (await fetch(`${pai.url}/v1/users/${user.id}/api-keys`, { method: 'POST', headers: admin, body: '{}' })).json()) as { key: string };
  const headers = { authorization: `Bearer ${key.key}`, 'content-type': 'application/json' };

  const chat = async (memory: 'auto' | 'off', i: number): Promise<number> => {
    const started = performance.now();
    const res = await request(`${pai.url}/v1/chat`, {
      method: 'POST', headers, dispatcher,
      body: JSON.stringify({ message: `I like hiking trip number ${i} in the mountains`, memory }),
    });
    await res.body.text();
    if (res.statusCode !== 200) throw new Error(`chat answered ${res.statusCode}`);
    return performance.now() - started;
  };

  for (let i = 0; i < WARMUP; i++) {
    await chat('auto', i);
    await chat('off', i);
  }
  const on: number[] = [];
  const off: number[] = [];
  for (let i = 0; i < PAIRS; i++) {
    if (i % 2 === 0) {
      on.push(await chat('auto', i));
      off.push(await chat('off', i));
    } else {
      off.push(await chat('off', i));
      on.push(await chat('auto', i));
    }
  }
  const [a, b] = [summary(on), summary(off)];
  const diffs = on.map((v, i) => v - off[i]!);
  const d = summary(diffs);
  console.log(`chat reply latency, ${PAIRS} interleaved pairs after ${WARMUP} warm-up pairs (memories accumulate as it runs)`);
  console.log(`  memory on  (retrieval + formation queued) : p50 ${fmt(a.p50)}  p95 ${fmt(a.p95)}  p99 ${fmt(a.p99)}`);
  console.log(`  memory off                                : p50 ${fmt(b.p50)}  p95 ${fmt(b.p95)}  p99 ${fmt(b.p99)}`);
  console.log(`  difference (pair)                         : p50 ${fmt(d.p50)}  p95 ${fmt(d.p95)}  p99 ${fmt(d.p99)}`);
} finally {
  pai.child.kill('SIGTERM');
  standIn.child.kill('SIGTERM');
  await dispatcher.close();
  rmSync(dataDir, { recursive: true, force: true });
}
