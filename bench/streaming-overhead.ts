/**
 * Streaming overhead: time to first token through PAI minus time to first token straight from the same
 * stand-in model, measured in interleaved pairs (order alternating) in one run, for three paths:
 *   1. POST /v1/chat (SSE, memory off) over the OpenAI-compatible stand-in,
 *   2. POST /v1/chat/completions (the OpenAI-compatible facade, streaming) over the same stand-in,
 *   3. POST /v1/chat over the Bedrock-protocol stand-in (ConverseStream, AWS event-stream frames).
 * The stand-ins and PAI (the embedded server as `npm start` runs it) each run in their own process; this
 * process is only the client. A bare proxy hop is measured too, as the floor of any extra hop here.
 * Target: overhead p50 ≤ 1 ms, p99 ≤ 10 ms. Usage: pnpm --filter @pai/bench run streaming-overhead [pairs]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { ChildProcess } from 'node:child_process';
import { Agent, request } from 'undici';
import { fmt, summary } from './stats.js';
import { BENCH_DIR, ROOT, startServer } from './processes.js';

const PAIRS = Number(process.argv[2] ?? 300);
const WARMUP = 50;
const ADMIN = 'bench-admin-key-0123456789abcdef';
const BEDROCK_MODEL = 'anthropic.claude-3-5-haiku-20241022-v1:0';
const dispatcher = new Agent({ keepAliveTimeout: 30_000, connections: 4 });
const children: ChildProcess[] = [];
const dirs: string[] = [];

type Probe = () => Promise<number>;

/** Sends a streaming request and resolves with the ms until `marker` first appears in the body. */
async function timeToFirst(url: string, headers: Record<string, string>, body: unknown, marker: string): Promise<number> {
  const started = performance.now();
  const res = await request(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body), dispatcher });
  let seen = -1;
  let text = '';
  for await (const chunk of res.body) {
    if (seen < 0) {
      text += chunk.toString('latin1');
      if (text.includes(marker)) seen = performance.now() - started;
    }
  }
  if (res.statusCode !== 200 || seen < 0) throw new Error(`no first token from ${url}: ${res.statusCode} ${text.slice(0, 200)}`);
  return seen;
}

async function server(script: string, env: Record<string, string>, probe?: string) {
  const started = await startServer(script, env, probe);
  children.push(started.child);
  return started.url;
}

/** A PAI process over `modelEnv`, with a user; returns its URL and the user's auth header. */
async function pai(modelEnv: Record<string, string>): Promise<{ base: string; auth: Record<string, string> }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'pai-bench-'));
  dirs.push(dataDir);
  const base = await server(join(ROOT, 'apps', 'embedded', 'src', 'server.ts'), {
    PAI_DATA_DIR: dataDir, PAI_ADMIN_API_KEY: ADMIN, LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'info', ...modelEnv,
  });
  const admin = { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' };
  const user = (await (await fetch(`${base}/v1/users`, { method: 'POST', headers: admin, body: '{"name":"bench"}' })).json()) as { id: string };
  const key = (await (await fetch(`${base}/v1/users/${user.id}/api-keys`, { method: 'POST', headers: admin, body: '{}' })).json()) as { key: string };
  return { base, auth: { authorization: `Bearer ${key.key}` } };
}

async function measure(name: string, direct: Probe, via: Probe): Promise<void> {
  for (let i = 0; i < WARMUP; i++) {
    await direct();
    await via();
  }
  const d: number[] = [];
  const v: number[] = [];
  const diffs: number[] = [];
  for (let i = 0; i < PAIRS; i++) {
    // Alternate which goes first so drift on a noisy machine does not favour one side.
    let dm: number;
    let vm: number;
    if (i % 2 === 0) {
      dm = await direct();
      vm = await via();
    } else {
      vm = await via();
      dm = await direct();
    }
    d.push(dm);
    v.push(vm);
    diffs.push(vm - dm);
  }
  const [sd, sv, so] = [summary(d), summary(v), summary(diffs)];
  console.log(`\n${name} — ${PAIRS} interleaved pairs after ${WARMUP} warm-up pairs`);
  console.log(`  TTFT direct to the stand-in : p50 ${fmt(sd.p50)}  p95 ${fmt(sd.p95)}  p99 ${fmt(sd.p99)}`);
  console.log(`  TTFT through PAI            : p50 ${fmt(sv.p50)}  p95 ${fmt(sv.p95)}  p99 ${fmt(sv.p99)}`);
  console.log(`  overhead (pair difference)  : p50 ${fmt(so.p50)}  p95 ${fmt(so.p95)}  p99 ${fmt(so.p99)}  (target p50 ≤ 1 ms, p99 ≤ 10 ms)`);
}

try {
  const openAiUrl = `${await server(join(BENCH_DIR, 'stand-in-server.ts'), {}, '/v1/models')}/v1`;
  const bedrockUrl = await server(join(BENCH_DIR, 'bedrock-stand-in-server.ts'), {}, '/');
  const proxy = await server(join(BENCH_DIR, 'bare-proxy.ts'), { UPSTREAM: openAiUrl });
  const overOpenAi = await pai({ OPENAI_BASE_URL: openAiUrl, LLM_MODEL: 'stand-in' });
  const overBedrock = await pai({
    LLM_PROVIDER: 'bedrock', AWS_REGION: 'us-east-1', BEDROCK_ENDPOINT: bedrockUrl, LLM_MODEL: BEDROCK_MODEL,
    AWS_ACCESS_KEY_ID: 'AKIDBENCH', AWS_SECRET_ACCESS_KEY: 'bench-secret',
  });
  const question = 'how fast is the first token';

  const directOpenAi: Probe = () => timeToFirst(`${openAiUrl}/chat/completions`, {}, {
    model: 'stand-in', stream: true, messages: [{ role: 'user', content: question }],
  }, '"content":"E');
  const directBedrock: Probe = () => timeToFirst(`${bedrockUrl}/model/${encodeURIComponent(BEDROCK_MODEL)}/converse-stream`, {}, {
    messages: [{ role: 'user', content: [{ text: question }] }],
  }, 'contentBlockDelta');

  await measure('floor: a bare proxy hop (no auth, storage or validation)', directOpenAi,
    () => timeToFirst(`${proxy}/v1/chat`, {}, { message: question }, 'event: delta'));
  await measure('POST /v1/chat over the OpenAI-compatible stand-in', directOpenAi,
    () => timeToFirst(`${overOpenAi.base}/v1/chat`, overOpenAi.auth, { message: question, stream: true, memory: 'off' }, 'event: delta'));
  await measure('POST /v1/chat/completions (OpenAI facade) over the same stand-in', directOpenAi,
    () => timeToFirst(`${overOpenAi.base}/v1/chat/completions`, overOpenAi.auth, { model: 'pai', stream: true, messages: [{ role: 'user', content: question }] }, '"content":"E'));
  await measure('POST /v1/chat over the Bedrock-protocol stand-in (ConverseStream)', directBedrock,
    () => timeToFirst(`${overBedrock.base}/v1/chat`, overBedrock.auth, { message: question, stream: true, memory: 'off' }, 'event: delta'));
} finally {
  for (const child of children) child.kill('SIGTERM');
  await dispatcher.close();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
}
