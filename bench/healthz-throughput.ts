/**
 * /healthz requests per second of the embedded PAI server as a ratio to a bare Fastify hello world,
 * both in their own process, measured in alternating rounds in one run. Target: ratio ≥ 0.9.
 * Usage: pnpm --filter @pai/bench run healthz-throughput [seconds-per-round] [rounds]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { BENCH_DIR, ROOT, startServer } from './processes.js';

const SECONDS = Number(process.argv[2] ?? 5);
const ROUNDS = Number(process.argv[3] ?? 3);

async function rps(url: string): Promise<number> {
  const result = await autocannon({ url: `${url}/healthz`, connections: 50, pipelining: 1, duration: SECONDS });
  if (result.non2xx > 0 || result.errors > 0) throw new Error(`${url}: ${result.non2xx} non-2xx, ${result.errors} errors`);
  return result.requests.average;
}

const dataDir = mkdtempSync(join(tmpdir(), 'pai-bench-'));
const bare = await startServer(join(BENCH_DIR, 'bare-server.ts'), {});
const pai = await startServer(join(ROOT, 'apps', 'embedded', 'src', 'server.ts'), {
  PAI_DATA_DIR: dataDir, PAI_ADMIN_API_KEY: 'bench-admin-key-0123456789abcdef', LOG_LEVEL: 'info',
  OPENAI_BASE_URL: 'http://127.0.0.1:9/v1',
});
try {
  await rps(bare.url);
  await rps(pai.url);
  const ratios: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    const b = await rps(bare.url);
    const p = await rps(pai.url);
    ratios.push(p / b);
    console.log(`  round ${i + 1}: bare ${b.toFixed(0)} req/s, pai /healthz ${p.toFixed(0)} req/s, ratio ${(p / b).toFixed(3)}`);
  }
  const mean = ratios.reduce((a, b) => a + b, 0) / ratios.length;
  console.log(`/healthz throughput ratio (pai / bare fastify): ${mean.toFixed(3)} over ${ROUNDS} rounds of ${SECONDS} s (target ≥ 0.9)`);
} finally {
  bare.child.kill('SIGTERM');
  pai.child.kill('SIGTERM');
  rmSync(dataDir, { recursive: true, force: true });
}
