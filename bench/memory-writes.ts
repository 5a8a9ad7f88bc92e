/**
 * Memory writes per second, one writer (each write awaited before the next), for the embedded SQLite store
 * and the DynamoDB adapter on dynalite (on disk, in its own process), in one run:
 *   1. store level: `memories.create` on the adapter itself (raw), and through the sealed store that the
 *      memory service uses (each memory encrypted with the user's data key before it reaches the adapter);
 *   2. a full write: POST /v1/memories through the embedded app with `app.inject` (auth, validation, sealing,
 *      the store and the response), on either store.
 * Variants run round-robin in slices, so drift on a noisy machine spreads over all of them.
 * Usage: pnpm --filter @pai/bench run memory-writes [embedded-writes] [dynalite-writes] [cap-seconds-per-variant]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { buildEmbeddedApp, loadEmbeddedConfig } from '@pai/embedded';
import { openMemoryStores } from '@pai/memory';
import { createDynamoDbStore, createDynamoDbTables, createEmbeddedStore, type MemoryRecord, type Store } from '@pai/store';
import { fmt, summary } from './stats.js';

const EMBEDDED_WRITES = Number(process.argv[2] ?? 2000);
const DYNALITE_WRITES = Number(process.argv[3] ?? 500);
const CAP_MS = Number(process.argv[4] ?? 30) * 1000;
const ROUNDS = 4;
const WARMUP = 25;
const ADMIN = 'bench-admin-key-0123456789abcdef';
const CONTENT = 'prefers green tea in the morning and coffee after lunch; allergic to peanuts';

const dir = mkdtempSync(join(tmpdir(), 'pai-bench-writes-'));
const closers: (() => Promise<unknown> | unknown)[] = [];

/** dynalite on disk (LevelDB) in its own process, as DynamoDB would be a remote service. */
async function startDynalite(path: string): Promise<{ child: ChildProcess; endpoint: string }> {
  const entry = createRequire(import.meta.url).resolve('dynalite');
  const script = `const s = require(${JSON.stringify(entry)})({ path: ${JSON.stringify(path)}, createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
    s.listen(0, '127.0.0.1', () => console.log(s.address().port));`;
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`dynalite exited ${code}`)));
    child.stdout!.once('data', (chunk: Buffer) => resolve(Number(chunk.toString().trim())));
  });
  return { child, endpoint: `http://127.0.0.1:${port}` };
}

/** The embedded system's environment over its own data dir (no model is called). */
function configIn(name: string) {
  return loadEmbeddedConfig({
    PAI_DATA_DIR: join(dir, name), PAI_ADMIN_API_KEY: ADMIN, OPENAI_BASE_URL: 'http://127.0.0.1:9/v1', LLM_MODEL: 'stand-in', LOG_LEVEL: 'info',
  });
}

const memory = (userId: string, i: number): MemoryRecord => {
  const at = new Date().toISOString();
  return {
    id: `mem_${randomUUID()}`, userId, content: `${CONTENT} (${i})`, category: 'preference', importance: 0.5,
    sourceMessageId: null, supersededBy: null, expiresAt: null, createdAt: at, updatedAt: at,
  };
};

/** Store-level writes of one user's memories. */
function storeWriter(store: Store): (i: number) => Promise<void> {
  const userId = `usr_${randomUUID()}`;
  return (i) => store.memories.create(memory(userId, i));
}

/** POST /v1/memories through the embedded app, as one user with an API key; the app's logs go nowhere. */
async function routeWriter(name: string, store?: Store): Promise<(i: number) => Promise<void>> {
  const sink = { write: () => true } as unknown as NodeJS.WritableStream;
  const { app } = await buildEmbeddedApp(configIn(name), { ...(store ? { store } : {}), logger: { level: 'info', stream: sink } });
  closers.push(() => app.close());
  const admin = { authorization: `Bearer ${ADMIN}` };
  const user = (await app.inject({ method: 'POST', url: '/v1/users', headers: admin, payload: { name: 'bench' } })).json() as { id: string };
  const key = (await app.inject({ method: 'POST', url: `/v1/users/${user.id}/api-keys`, headers: admin, payload: {} })).json() as { key: string };
  const headers = { authorization: `Bearer ${key.key}` };
  return async (i) => {
    const res = await app.inject({ method: 'POST', url: '/v1/memories', headers, payload: { content: `${CONTENT} (${i})`, category: 'preference' } });
    if (res.statusCode !== 201) throw new Error(`POST /v1/memories answered ${res.statusCode}: ${res.body}`);
  };
}

interface Variant {
  name: string;
  /** DynamoDB requests the measured writes sent (dynalite variants). */
  requests: number;
  count: number;
  write: (i: number) => Promise<void>;
  done: number;
  ms: number;
  latencies: number[];
}

const variants: Variant[] = [];
const add = (name: string, count: number, write: (i: number) => Promise<void>) => {
  const v = { name, count, write, done: 0, ms: 0, latencies: [], requests: 0 };
  variants.push(v);
  return v;
};
const perSecond = (v: Variant) => (v.done / v.ms) * 1000;

try {
  const dynalite = await startDynalite(join(dir, 'dynalite'));
  closers.push(() => dynalite.child.kill('SIGTERM'));
  const client = new DynamoDBClient({
    endpoint: dynalite.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'bench', secretAccessKey: 'bench' }, maxAttempts: 1,
  });
  closers.push(() => client.destroy());
  let requests = 0;
  client.middlewareStack.add((next) => (args) => {
    requests++;
    return next(args);
  }, { step: 'initialize', name: 'benchRequestCount' });
  const dynamoStore = async (prefix: string) => {
    await createDynamoDbTables(client, prefix);
    return createDynamoDbStore({ client, tablePrefix: prefix });
  };

  const embeddedRaw = createEmbeddedStore({ path: join(dir, 'raw', 'pai.db') });
  const sealedStores = await openMemoryStores(configIn('sealed').memory, createEmbeddedStore({ path: join(dir, 'sealed', 'pai.db') }));
  const embeddedSealed = sealedStores.sealed;
  // The sealed store really encrypts: the adapter underneath sees no plaintext.
  const probe = memory('usr_probe', 0);
  await embeddedSealed.memories.create(probe);
  if ((await sealedStores.raw.memories.get(probe.userId, probe.id))?.content.includes(CONTENT) !== false) throw new Error('the sealed store wrote plaintext');
  const dynamoRaw = await dynamoStore('bench-raw-');
  const dynamoSealed = (await openMemoryStores(configIn('dynamo-sealed').memory, await dynamoStore('bench-sealed-'))).sealed;
  for (const store of [embeddedRaw, embeddedSealed, dynamoRaw, dynamoSealed]) closers.push(() => store.close());

  const er = add('embedded  store, raw', EMBEDDED_WRITES, storeWriter(embeddedRaw));
  const es = add('embedded  store, sealed', EMBEDDED_WRITES, storeWriter(embeddedSealed));
  const eh = add('embedded  POST /v1/memories', EMBEDDED_WRITES, await routeWriter('app'));
  const dr = add('dynalite  store, raw', DYNALITE_WRITES, storeWriter(dynamoRaw));
  const ds = add('dynalite  store, sealed', DYNALITE_WRITES, storeWriter(dynamoSealed));
  const dh = add('dynalite  POST /v1/memories', DYNALITE_WRITES, await routeWriter('dynamo-app', await dynamoStore('bench-app-')));

  // Warm-up (data keys created and cached, statements prepared, connections open), not counted.
  for (const v of variants) for (let i = 0; i < WARMUP; i++) await v.write(-1 - i);
  for (let round = 0; round < ROUNDS; round++) {
    for (const v of variants) {
      const slice = Math.ceil(v.count / ROUNDS);
      for (let k = 0; k < slice && v.done < v.count && v.ms < CAP_MS; k++) {
        const sent = requests;
        const started = performance.now();
        await v.write(v.done);
        const took = performance.now() - started;
        v.requests += requests - sent;
        v.ms += took;
        v.latencies.push(took);
        v.done++;
      }
    }
  }

  console.log(`memory writes, one writer, ${ROUNDS} interleaved rounds after ${WARMUP} warm-up writes each (cap ${CAP_MS / 1000} s per variant)\n`);
  for (const v of variants) {
    const s = summary(v.latencies);
    const capped = v.done < v.count ? `  (capped: ${v.done} of ${v.count})` : '';
    const calls = v.requests > 0 ? `  ${(v.requests / v.done).toFixed(1)} DynamoDB requests/write` : '';
    console.log(`  ${v.name.padEnd(30)} ${String(v.done).padStart(5)} writes  ${perSecond(v).toFixed(0).padStart(6)} writes/s   p50 ${fmt(s.p50)}  p99 ${fmt(s.p99)}${calls}${capped}`);
  }
  const ratio = (a: Variant, b: Variant) => (perSecond(a) / perSecond(b)).toFixed(3);
  console.log('\n  dynalite / embedded (writes/s)');
  console.log(`    store, raw              ${ratio(dr, er)}`);
  console.log(`    store, sealed           ${ratio(ds, es)}`);
  console.log(`    POST /v1/memories       ${ratio(dh, eh)}`);
  console.log('  sealed / raw (the cost of encryption)');
  console.log(`    embedded                ${ratio(es, er)}   (${fmt(summary(es.latencies).p50 - summary(er.latencies).p50)} more per write at p50)`);
  console.log(`    dynalite                ${ratio(ds, dr)}`);
  console.log('  POST /v1/memories / sealed store write (what the HTTP layer keeps)');
  console.log(`    embedded                ${ratio(eh, es)}`);
  console.log(`    dynalite                ${ratio(dh, ds)}`);
} finally {
  for (const close of closers.reverse()) await close();
  rmSync(dir, { recursive: true, force: true });
}
