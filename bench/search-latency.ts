/**
 * Search latency on the embedded default for one user with N memories (10k and 100k by default):
 * memories are written encrypted into a fresh data directory, the embedded app starts on it, and
 * POST /v1/search runs through app.inject (auth, validation, the index's owner filter, the response).
 * The first query of the user rebuilds their in-memory index from the encrypted store; that load is
 * reported on its own. Baseline, in the same run: the keyword ranking the memory service used before the
 * search index (BM25 over every memory of the user, analysed at query time) over the same memories.
 * Usage: pnpm --filter @pai/bench run search-latency [sizes=10000,100000] [queries=300]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { newId } from '@pai/ids';
import { buildEmbeddedApp, loadEmbeddedConfig } from '@pai/embedded';
import { openMemoryStores } from '@pai/memory';
import { rankBm25 } from '@pai/retrieval';
import { fmt, summary } from './stats.js';

const SIZES = (process.argv[2] ?? '10000,100000').split(',').map(Number);
const QUERIES = Number(process.argv[3] ?? 300);
const BASELINE_QUERIES = 30;
const ADMIN = 'bench-admin-key-0123456789abcdef';

const SUBJECTS = ['sister', 'dentist', 'landlord', 'manager', 'neighbour', 'coach', 'cousin', 'doctor', 'friend', 'teacher'];
const VERBS = ['prefers', 'booked', 'cancelled', 'recommended', 'dislikes', 'bought', 'visited', 'planned', 'forgot', 'loves'];
const OBJECTS = ['green tea', 'the Lisbon trip', 'a yoga class', 'sushi on Fridays', 'the blue bicycle', 'jazz concerts', 'hiking boots',
  'the quarterly report', 'a piano lesson', 'oat milk', 'the garden party', 'a dentist appointment', 'vintage cameras', 'chess club'];
const PLACES = ['Porto', 'Berlin', 'Kyoto', 'Oslo', 'Austin', 'Nairobi', 'Lima', 'Hanoi', 'Tallinn', 'Quebec'];

function rng(seed: number) {
  let s = seed >>> 0;
  return () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32);
}
const pick = <T>(r: () => number, list: readonly T[]) => list[Math.floor(r() * list.length)]!;
const sentence = (r: () => number, i: number) =>
  `My ${pick(r, SUBJECTS)} ${pick(r, VERBS)} ${pick(r, OBJECTS)} in ${pick(r, PLACES)} (note ${i}, tag ${Math.floor(r() * 5000)})`;

for (const size of SIZES) {
  const dir = mkdtempSync(join(tmpdir(), 'pai-bench-search-'));
  try {
    const env = { PAI_DATA_DIR: dir, PAI_ADMIN_API_KEY: ADMIN, LOG_LEVEL: 'warn', OPENAI_BASE_URL: 'http://127.0.0.1:9/v1' };
    const config = loadEmbeddedConfig(env);
    const r = rng(size);
    const contents = Array.from({ length: size }, (_, i) => sentence(r, i));

    // 1. The user's memories, written encrypted straight into the store (the API path is benchmarked elsewhere).
    const stores = await openMemoryStores(config.memory);
    const userId = newId('usr');
    await stores.sealed.users.create({ id: userId, name: 'bench', createdAt: new Date().toISOString() });
    const writeStarted = performance.now();
    for (const [i, content] of contents.entries()) {
      const at = new Date(Date.UTC(2026, 0, 1) + i * 1000).toISOString();
      await stores.sealed.memories.create({
        id: newId('mem'), userId, content, category: 'fact', importance: 0.5, sourceMessageId: null, supersededBy: null, expiresAt: null, createdAt: at, updatedAt: at,
      });
    }
    const writeMs = performance.now() - writeStarted;
    await stores.raw.close();

    // 2. The app on that data directory; a user key through the admin API.
    const { app } = await buildEmbeddedApp(config, { logger: false });
    const admin = { authorization: `Bearer ${ADMIN}` };
    const apiKey = (await app.inject({ method: 'POST', url: `/v1/users/${userId}/api-keys`, headers: admin, payload: {} })).json().key as string;
    const headers = { authorization: `Bearer ${apiKey}` };
    const queries = Array.from({ length: QUERIES }, () => `what did my ${pick(r, SUBJECTS)} ${pick(r, VERBS)} in ${pick(r, PLACES)}?`);
    const run = async (query: string) => {
      const started = performance.now();
      const res = await app.inject({ method: 'POST', url: '/v1/search', headers, payload: { query, k: 10, types: ['memory'] } });
      if (res.statusCode !== 200) throw new Error(`search answered ${res.statusCode}: ${res.body}`);
      return performance.now() - started;
    };
    const loadMs = await run('first query loads the user');
    for (let i = 0; i < 20; i++) await run(queries[i]!);
    const times: number[] = [];
    for (const q of queries) times.push(await run(q));
    await app.close();

    // 3. Baseline: BM25 over every memory, analysed per query (what retrieval did before the index).
    const baseline: number[] = [];
    for (const q of queries.slice(0, BASELINE_QUERIES)) {
      const started = performance.now();
      rankBm25(q, contents, (c) => c).slice(0, 10);
      baseline.push(performance.now() - started);
    }
    const s = summary(times);
    const b = summary(baseline);
    console.log(`search latency, one user with ${size} memories (${QUERIES} queries after 20 warm-up; k=10, keyword, embedded index)`);
    console.log(`  writing ${size} encrypted memories: ${(writeMs / 1000).toFixed(1)} s; first query (loads + decrypts the user): ${fmt(loadMs)}`);
    console.log(`  POST /v1/search      p50 ${fmt(s.p50)}  p95 ${fmt(s.p95)}  p99 ${fmt(s.p99)}`);
    console.log(`  baseline (BM25 scan) p50 ${fmt(b.p50)}  p95 ${fmt(b.p95)}   → index/scan p50 ratio ${(s.p50 / b.p50).toFixed(3)}`);
    console.log(`  target p95 ≤ ${size <= 10_000 ? 20 : 50} ms: ${s.p95 <= (size <= 10_000 ? 20 : 50) ? 'met' : 'NOT met'}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
