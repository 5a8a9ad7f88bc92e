/**
 * /healthz requests per second of the embedded PAI server as a ratio to a bare Fastify hello world,
 * both in their own process, measured in alternating rounds in one run. Target: ratio ≥ 0.9.
 * Usage: pnpm --filter @pai/bench run healthz-throughput [seconds-per-round] [rounds]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';

const SECONDS = Number(process.argv[2] ?? 5);
const ROUNDS = Number(process.argv[3] ?? 3);
const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');

async function start(script: string, env: Record<string, string>): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, ['--conditions=pai-source', '--import=tsx', script], {
    cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'],
  });
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d) => {
      out += d;
      const bare = /LISTENING (\S+)/.exec(out);
      const pai = /"address":"([^"]+)"/.exec(out);
      if (bare) resolve(bare[1]!);
      else if (pai) resolve(pai[1]!);
    });
    child.on('exit', (code) => reject(new Error(`${script} exited ${code}: ${out}`)));
  });
  return { child, url };
}

async function rps(url: string): Promise<number> {
  const result = await autocannon({ url: `${url}/healthz`, connections: 50, pipelining: 1, duration: SECONDS });
  if (result.non2xx > 0 || result.errors > 0) throw new Error(`${url}: ${result.non2xx} non-2xx, ${result.errors} errors`);
  return result.requests.average;
}

const dataDir = mkdtempSync(join(tmpdir(), 'pai-bench-'));
const bare = await start(join(here, 'bare-server.ts'), { PORT: '0' });
const pai = await start(join(root, 'apps', 'embedded', 'src', 'server.ts'), {
  PORT: '0', PAI_DATA_DIR: dataDir, PAI_ADMIN_API_KEY: 'bench-admin-key-0123456789abcdef', LOG_LEVEL: 'info',
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
