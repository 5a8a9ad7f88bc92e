import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { newId } from '@pai/ids';
import { createEmbeddedJobQueue, createEmbeddedStore } from '@pai/store';
import { runJobQueueContract, runStoreContract } from '@pai/store/testing';

const dir = mkdtempSync(join(tmpdir(), 'pai-store-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;

t.test('contract', async (t) => {
  runStoreContract(t, async () => createEmbeddedStore({ path: join(dir, `contract-${n++}.db`) }));
});

t.test('job queue contract', async (t) => {
  runJobQueueContract(t, async () => {
    const path = join(dir, `jobs-contract-${n++}.db`);
    return { open: (now) => createEmbeddedJobQueue({ path, now }) };
  });
});

t.test('data survives closing and reopening the file', async (t) => {
  const path = join(dir, 'reopen.db');
  const first = createEmbeddedStore({ path });
  const user = { id: newId('usr'), name: 'persisted', createdAt: new Date().toISOString() };
  await first.users.create(user);
  await first.close();
  const second = createEmbeddedStore({ path });
  t.teardown(() => second.close());
  t.same(await second.users.get(user.id), user);
});

t.test('a store that fails mid-write leaves nothing half-written and answers PAI_STORE_UNAVAILABLE', async (t) => {
  const path = join(dir, 'fail.db');
  const store = createEmbeddedStore({ path });
  t.teardown(() => store.close());
  // Simulate a failing disk for one kind of write: the message insert aborts after the conversation insert ran.
  const side = new Database(path);
  side.exec(`CREATE TRIGGER fail_messages BEFORE INSERT ON messages WHEN NEW.content = 'boom'
             BEGIN SELECT RAISE(ABORT, 'disk I/O error'); END`);
  side.close();
  const user = { id: newId('usr'), name: 'x', createdAt: new Date().toISOString() };
  await store.users.create(user);
  const conv = { id: newId('conv'), userId: user.id, title: null, agentId: 'default', createdAt: user.createdAt, updatedAt: user.createdAt };
  const msg = { id: newId('msg'), conversationId: conv.id, userId: user.id, role: 'user' as const, content: 'boom', incomplete: false, createdAt: user.createdAt };
  await t.rejects(store.conversations.createWithMessage(conv, msg), { code: 'PAI_STORE_UNAVAILABLE', statusCode: 503 });
  t.equal(await store.conversations.get(user.id, conv.id), null, 'the conversation insert was rolled back');
  t.equal(await store.conversations.getMessage(user.id, msg.id), null);
});

t.test('a failing chunk insert rolls the whole document back', async (t) => {
  const path = join(dir, 'fail-chunks.db');
  const store = createEmbeddedStore({ path });
  t.teardown(() => store.close());
  const side = new Database(path);
  side.exec(`CREATE TRIGGER fail_chunks BEFORE INSERT ON chunks WHEN NEW.content = 'boom'
             BEGIN SELECT RAISE(ABORT, 'disk I/O error'); END`);
  side.close();
  const userId = newId('usr');
  const at = new Date().toISOString();
  const document = { id: newId('doc'), userId, title: 't', contentType: 'text/plain', sizeBytes: 3, status: 'pending' as const, error: null,
    chunksTotal: 3, chunksIndexed: 0, createdAt: at, updatedAt: at };
  const chunks = ['one', 'two', 'boom'].map((content, ordinal) => ({
    id: newId('chk'), documentId: document.id, userId, ordinal, content, heading: null, tokenCount: 1,
  }));
  await t.rejects(store.documents.createWithChunks(document, chunks), { code: 'PAI_STORE_UNAVAILABLE', statusCode: 503 });
  t.equal(await store.documents.get(userId, document.id), null, 'the document insert was rolled back');
  t.same(await store.documents.getChunks(userId, chunks.map((c) => c.id)), [], 'and so were the chunks before the failing one');
});

t.test('a database written before documents and agents existed is upgraded in place', async (t) => {
  const path = join(dir, 'upgrade.db');
  const first = createEmbeddedStore({ path });
  const user = { id: newId('usr'), name: 'early adopter', createdAt: new Date().toISOString() };
  await first.users.create(user);
  await first.close();
  // Back to schema 5, the last one without these tables.
  const side = new Database(path);
  side.exec('DROP TABLE chunks; DROP TABLE documents; DROP TABLE agent_versions; DROP TABLE agent_runs; DROP TABLE agent_evaluations; DROP TABLE agents;');
  side.pragma('user_version = 5');
  side.close();
  const second = createEmbeddedStore({ path });
  t.teardown(() => second.close());
  t.same(await second.users.get(user.id), user, 'existing data is kept');
  await second.agents.create({ id: 'coach', userId: user.id, name: 'Coach', description: null, routing: {}, latestVersion: 0,
    createdAt: user.createdAt, updatedAt: user.createdAt });
  t.match(await second.agents.get(user.id, 'coach'), { name: 'Coach' }, 'and the new tables work');
});

t.test('addVersion numbers stay unique across connections to one file (threads writing at once)', async (t) => {
  const path = join(dir, 'versions.db');
  const store = createEmbeddedStore({ path });
  t.teardown(() => store.close());
  const userId = newId('usr');
  const at = new Date().toISOString();
  await store.agents.create({ id: 'busy', userId, name: 'Busy', description: null, routing: {}, latestVersion: 0, createdAt: at, updatedAt: at });
  const workers = 3;
  const count = 200;
  let ready = 0;
  const started: Worker[] = [];
  const run = () => new Promise<number[]>((resolve, reject) => {
    // Node 20 resolves a worker's entry file before `--import` hooks apply, so a plain-JS entry registers
    // tsx and then loads the TypeScript worker.
    const entry = new URL('./fixtures/add-versions-worker.ts', import.meta.url).href;
    const worker = new Worker(`import('tsx/esm/api').then(({ register }) => { register(); return import(${JSON.stringify(entry)}); })`, {
      eval: true,
      workerData: { path, userId, agentId: 'busy', count },
      execArgv: ['--conditions=pai-source'],
    });
    started.push(worker);
    worker.on('message', (message: unknown) => {
      if (message !== 'ready') return resolve(message as number[]);
      if (++ready === workers) for (const w of started) w.postMessage('go');
    });
    worker.once('error', reject);
  });
  const got = await Promise.all(Array.from({ length: workers }, run));
  const total = workers * count;
  t.same(got.flat().sort((a, b) => a - b), Array.from({ length: total }, (_, i) => i + 1), `every number from 1 to ${total}, each once`);
  t.equal((await store.agents.listVersions(userId, 'busy')).length, total);
  t.equal((await store.agents.get(userId, 'busy'))!.latestVersion, total);
});

t.test('a closed store fails ping', async (t) => {
  const store = createEmbeddedStore({ path: join(dir, 'closed.db') });
  await store.close();
  await t.rejects(store.ping(), { code: 'PAI_STORE_UNAVAILABLE' });
});

t.test('a database from a newer schema is refused', async (t) => {
  const path = join(dir, 'newer.db');
  const side = new Database(path);
  side.pragma('user_version = 99');
  side.close();
  t.throws(() => createEmbeddedStore({ path }), /newer PAI/);
});

t.test('the database file is readable by its owner only', async (t) => {
  const { statSync } = await import('node:fs');
  const path = join(dir, 'private', 'mode.db');
  const store = createEmbeddedStore({ path });
  t.teardown(() => store.close());
  await store.users.create({ id: newId('usr'), name: 'x', createdAt: new Date().toISOString() });
  t.equal(statSync(path).mode & 0o777, 0o600);
  t.equal(statSync(join(dir, 'private')).mode & 0o777, 0o700);
});

t.test('job queue: durable, leased, released, survives reopening', async (t) => {
  const { createEmbeddedJobQueue } = await import('@pai/store');
  const path = join(dir, 'jobs.db');
  let clock = 1_000_000;
  const queue = createEmbeddedJobQueue({ path, now: () => clock });
  await queue.enqueue({ id: 'job_1', kind: 'formation', userId: 'usr_a', payload: { message_id: 'msg_1' } });
  await queue.enqueue({ id: 'job_2', kind: 'formation', userId: 'usr_b', payload: { message_id: 'msg_2' } });
  await queue.enqueue({ id: 'job_3', kind: 'other', userId: 'usr_a', payload: {} });
  const first = await queue.claim('formation', 1000, 1);
  t.match(first, [{ id: 'job_1', userId: 'usr_a', payload: { message_id: 'msg_1' }, attempts: 1 }]);
  t.same((await queue.claim('formation', 1000, 5)).map((j) => j.id), ['job_2'], 'a leased job is not handed out twice');
  t.same(await queue.claim('formation', 1000, 5), []);
  await queue.close();

  // A restart, with job_1's worker gone: once its lease runs out the job comes back.
  const again = createEmbeddedJobQueue({ path, now: () => clock });
  t.teardown(() => again.close());
  t.equal(await again.size('formation'), 2);
  clock += 1001;
  const retried = await again.claim('formation', 1000, 5);
  t.same(retried.map((j) => [j.id, j.attempts]), [['job_1', 2], ['job_2', 2]]);
  await again.complete('job_1');
  await again.release('job_2', 5000);
  clock += 1001;
  t.same(await again.claim('formation', 1000, 5), [], 'released with a delay');
  clock += 5000;
  t.same((await again.claim('formation', 1000, 5)).map((j) => j.id), ['job_2']);
  t.equal(await again.purgeUser('usr_a'), 1, "the other kind's job of usr_a");
  t.equal(await again.size('formation'), 1);
});
