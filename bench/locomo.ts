/**
 * LoCoMo retrieval benchmark. Each conversation of locomo10.json becomes a user of its own; every dialog
 * turn is stored as one memory through POST /v1/memories, written as
 *   "[<session date>] <speaker>: <text>"   (+ the image caption when the turn shared a photo),
 * and every question of categories 1–4 is asked through POST /v1/search (types: memory, k: 10). A hit is
 * a returned memory whose turn id (dia_id) is in the question's evidence. Reported per category and
 * overall: recall_any@5 and @10 (at least one evidence turn in the top k) and evidence fraction@10
 * (share of the evidence turns found in the top 10).
 *
 * The data is not in this repository (its licence is non-commercial): download locomo10.json from the
 * public snap-research/locomo repository (data/locomo10.json) and pass its path.
 * Usage: pnpm --filter @pai/bench run locomo <path/to/locomo10.json> [mode=keyword|hybrid|semantic]
 * With EMBEDDINGS_PROVIDER (and EMBEDDINGS_* / OPENAI_BASE_URL) set in the environment, hybrid and semantic
 * use that provider; without one every mode runs as keyword (the report says which mode ran).
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildEmbeddedApp, loadEmbeddedConfig } from '@pai/embedded';

const path = process.argv[2];
const mode = process.argv[3] ?? 'keyword';
if (!path || !existsSync(path)) {
  console.error('usage: pnpm --filter @pai/bench run locomo <path/to/locomo10.json> [keyword|hybrid|semantic]');
  console.error('Get locomo10.json from the public snap-research/locomo repository (data/locomo10.json); it is not redistributed here.');
  process.exit(2);
}

interface Turn { speaker: string; dia_id: string; text: string; blip_caption?: string }
interface Qa { question: string; answer?: unknown; evidence: string[]; category: number }
interface Sample { sample_id: string; conversation: Record<string, unknown>; qa: Qa[] }

const samples = JSON.parse(readFileSync(path, 'utf8')) as Sample[];
const ADMIN = 'bench-admin-key-0123456789abcdef';
const dir = mkdtempSync(join(tmpdir(), 'pai-bench-locomo-'));
const { app } = await buildEmbeddedApp(loadEmbeddedConfig({ ...process.env, PAI_DATA_DIR: dir, PAI_ADMIN_API_KEY: ADMIN, LOG_LEVEL: 'warn' }), { logger: false });
const admin = { authorization: `Bearer ${ADMIN}` };

interface Tally { questions: number; any5: number; any10: number; fraction10: number }
const tallies = new Map<string, Tally>();
const tally = (key: string) => tallies.get(key) ?? tallies.set(key, { questions: 0, any5: 0, any10: 0, fraction10: 0 }).get(key)!;
const modesUsed = new Set<string>();

/** Evidence ids are written "D1:3"; some entries list several separated by ';' or spaces. */
const evidenceIds = (evidence: string[]) => evidence.flatMap((e) => e.split(/[;,\s]+/)).map((e) => e.trim()).filter((e) => /^D\d+:\d+$/.test(e));

try {
  for (const sample of samples) {
    const user = (await app.inject({ method: 'POST', url: '/v1/users', headers: admin, payload: { name: sample.sample_id } })).json();
    const key = (await app.inject({ method: 'POST', url: `/v1/users/${user.id}/api-keys`, headers: admin, payload: {} })).json().key as string;
    const headers = { authorization: `Bearer ${key}` };
    const turnOf = new Map<string, string>(); // memory id → dia_id
    const c = sample.conversation;
    for (let n = 1; Array.isArray(c[`session_${n}`]); n++) {
      const date = String(c[`session_${n}_date_time`] ?? '');
      for (const turn of c[`session_${n}`] as Turn[]) {
        const caption = turn.blip_caption ? ` [shares a photo: ${turn.blip_caption}]` : '';
        const content = `[${date}] ${turn.speaker}: ${turn.text}${caption}`.slice(0, 4000);
        const res = await app.inject({ method: 'POST', url: '/v1/memories', headers, payload: { content, category: 'episodic' } });
        if (res.statusCode !== 201) throw new Error(`memory write answered ${res.statusCode}: ${res.body}`);
        turnOf.set(res.json().id, turn.dia_id);
      }
    }
    for (const qa of sample.qa) {
      if (![1, 2, 3, 4].includes(qa.category)) continue;
      const evidence = new Set(evidenceIds(qa.evidence ?? []));
      if (evidence.size === 0) continue;
      const res = await app.inject({ method: 'POST', url: '/v1/search', headers, payload: { query: qa.question.slice(0, 4000), k: 10, mode, types: ['memory'] } });
      if (res.statusCode !== 200) throw new Error(`search answered ${res.statusCode}: ${res.body}`);
      const body = res.json() as { results: { id: string }[]; mode_used: string };
      modesUsed.add(body.mode_used);
      const found = body.results.map((r) => turnOf.get(r.id));
      const hits = (k: number) => found.slice(0, k).filter((d) => d !== undefined && evidence.has(d));
      for (const t of [tally(`category ${qa.category}`), tally('all')]) {
        t.questions += 1;
        t.any5 += hits(5).length > 0 ? 1 : 0;
        t.any10 += hits(10).length > 0 ? 1 : 0;
        t.fraction10 += new Set(hits(10)).size / evidence.size;
      }
    }
    process.stderr.write(`${sample.sample_id}: ${turnOf.size} turns\n`);
  }
} finally {
  await app.close();
  rmSync(dir, { recursive: true, force: true });
}

console.log(`LoCoMo retrieval (${samples.length} conversations), mode asked ${mode}, mode used ${[...modesUsed].join(', ')}`);
console.log('group          questions  recall_any@5  recall_any@10  evidence_fraction@10');
for (const [key, t] of [...tallies.entries()].sort(([a], [b]) => (a === 'all' ? 1 : b === 'all' ? -1 : a.localeCompare(b)))) {
  const f = (x: number) => (x / t.questions).toFixed(3).padStart(12);
  console.log(`${key.padEnd(14)} ${String(t.questions).padStart(9)} ${f(t.any5)}  ${f(t.any10)}  ${f(t.fraction10).padStart(20)}`);
}
