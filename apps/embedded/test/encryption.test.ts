import t from 'tap';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { startPai, tempDir } from './helper.js';

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });
}

/** The canary as it could appear on disk: UTF-8, UTF-16LE and base64 at every byte alignment. */
function encodings(canary: string): Buffer[] {
  const base64s = [0, 1, 2].map((pad) => {
    const b64 = Buffer.concat([Buffer.alloc(pad), Buffer.from(canary)]).toString('base64');
    // Drop the characters that depend on the padding bytes or on what follows.
    return Buffer.from(b64.slice(Math.ceil((pad * 4) / 3) + 1, -4));
  });
  return [Buffer.from(canary, 'utf8'), Buffer.from(canary, 'utf16le'), ...base64s];
}

t.test('nothing of a user\'s content sits in plaintext in the data directory, and logs carry none of it', async (t) => {
  const dataDir = tempDir(t);
  const pai = await startPai(t, { dataDir });
  const u = await pai.newUser();
  const canaries = {
    message: 'canary-msg-7d41c0ffee-xylophone',
    memory: 'canary-mem-91aa-quasar-lantern',
    title: 'canary-title-5e3-orchid-kestrel',
  };
  const chat = await pai.app.inject({ method: 'POST', url: '/v1/chat', headers: u.headers, payload: { message: `${canaries.title} and ${canaries.message}` } });
  t.equal(chat.statusCode, 200);
  await pai.app.inject({ method: 'POST', url: '/v1/memories', headers: u.headers, payload: { content: `Remember ${canaries.memory}` } });
  await pai.app.inject({ method: 'POST', url: '/v1/conversations', headers: u.headers, payload: { title: canaries.title } });
  // Let memory formation (episodic from the stand-in's echo) write too.
  for (let i = 0; i < 80; i++) {
    const memories = (await pai.app.inject({ method: 'GET', url: '/v1/memories', headers: u.headers })).json().items;
    if (memories.length >= 2) break;
    await new Promise((r) => setTimeout(r, 25));
  }
  const readable = await pai.app.inject({ method: 'GET', url: `/v1/conversations/${chat.json().conversation_id}`, headers: u.headers });
  t.match(readable.json().messages[0].content, canaries.message, 'the API reads it back');
  await pai.app.close();

  const files = filesUnder(dataDir);
  t.ok(files.some((f) => f.endsWith('pai.db')), 'the database is there');
  for (const file of files) {
    const bytes = readFileSync(file);
    for (const [what, canary] of Object.entries(canaries)) {
      for (const encoded of encodings(canary)) {
        t.equal(bytes.indexOf(encoded), -1, `${what} canary (${encoded.toString('latin1').slice(0, 12)}…) not in ${file.slice(dataDir.length)}`);
      }
    }
  }
  const logs = pai.logs.join('');
  for (const canary of Object.values(canaries)) t.notOk(logs.includes(canary), 'not in the logs either');

  const again = await startPai(t, { dataDir });
  const conv = await again.app.inject({ method: 'GET', url: `/v1/conversations/${chat.json().conversation_id}`, headers: u.headers });
  t.match(conv.json().title, canaries.title, 'after a restart the same master key opens it');
});

t.test('a ciphertext moved to another record fails to open, with a typed error and no garbage', async (t) => {
  const dataDir = tempDir(t);
  const pai = await startPai(t, { dataDir });
  const u = await pai.newUser();
  const a = (await pai.app.inject({ method: 'POST', url: '/v1/memories', headers: u.headers, payload: { content: 'first secret' } })).json();
  const b = (await pai.app.inject({ method: 'POST', url: '/v1/memories', headers: u.headers, payload: { content: 'second secret' } })).json();
  const db = new Database(join(dataDir, 'pai.db'));
  const row = db.prepare('SELECT content FROM memories WHERE id = ?').get(a.id) as { content: string };
  t.match(row.content, /^pe1\./, 'stored sealed');
  db.prepare('UPDATE memories SET content = ? WHERE id = ?').run(row.content, b.id);
  db.close();
  const moved = await pai.app.inject({ method: 'GET', url: `/v1/memories/${b.id}`, headers: u.headers });
  t.equal(moved.statusCode, 500);
  t.equal(moved.json().error.code, 'PAI_CRYPTO_DECRYPT_FAILED');
  t.notOk(moved.body.includes('secret'));
  t.equal((await pai.app.inject({ method: 'GET', url: `/v1/memories/${a.id}`, headers: u.headers })).json().content, 'first secret');
});

t.test('deleting a user crypto-shreds their data key: their ciphertext cannot be opened again', async (t) => {
  const dataDir = tempDir(t);
  const pai = await startPai(t, { dataDir });
  const [u, other] = [await pai.newUser('a'), await pai.newUser('b')];
  const m = (await pai.app.inject({ method: 'POST', url: '/v1/memories', headers: u.headers, payload: { content: 'soon gone' } })).json();
  await pai.app.inject({ method: 'POST', url: '/v1/memories', headers: other.headers, payload: { content: 'stays' } });
  const sealed = (new Database(join(dataDir, 'pai.db'), { readonly: true }).prepare('SELECT content FROM memories WHERE id = ?').get(m.id) as { content: string }).content;

  const receipt = await pai.app.inject({ method: 'DELETE', url: '/v1/users/me', headers: u.headers });
  t.equal(receipt.statusCode, 200);
  t.match(receipt.json(), { crypto_shredded: true, deleted: { data_keys: 1, memories: 1, users: 1 } });

  // Put the old ciphertext back under the same ids, as a replica or an export of the records table would hold it.
  const db = new Database(join(dataDir, 'pai.db'));
  db.prepare(`INSERT INTO memories (id, user_id, content, category, importance, source_message_id, superseded_by, expires_at, created_at, updated_at)
    VALUES (?, ?, ?, 'fact', 0.5, NULL, NULL, NULL, ?, ?)`).run(m.id, u.id, sealed, m.created_at, m.created_at);
  t.equal((db.prepare('SELECT count(*) AS n FROM data_keys WHERE user_id = ?').get(u.id) as { n: number }).n, 0, 'the wrapped key is gone');
  db.close();
  const { createEmbeddedStore } = await import('@pai/store');
  const { createKeyring, createLocalKeyProvider, loadOrCreateMasterKeyFile } = await import('@pai/crypto');
  const store = createEmbeddedStore({ path: join(dataDir, 'pai.db') });
  t.teardown(() => store.close());
  const keyring = createKeyring({ provider: createLocalKeyProvider({ masterKey: (await loadOrCreateMasterKeyFile(dataDir)).key }), store: store.dataKeys });
  await t.rejects(keyring.open(u.id, 'memory.content', m.id, sealed), { code: 'PAI_CRYPTO_KEY_DESTROYED' }, 'the master key alone cannot open it');
  t.equal((await pai.app.inject({ method: 'GET', url: '/v1/memories', headers: other.headers })).json().items[0].content, 'stays', 'others are unaffected');
});

t.test('master-key rotation re-wraps data keys without touching records (npm run rotate-keys)', async (t) => {
  const { randomBytes } = await import('node:crypto');
  const { runToExit } = await import('./processes.js');
  const dataDir = tempDir(t);
  const [oldKey, newKey] = [randomBytes(32).toString('base64'), randomBytes(32).toString('base64')];
  const first = await startPai(t, { dataDir, env: { PAI_MASTER_KEY: oldKey } });
  const u = await first.newUser();
  const m = (await first.app.inject({ method: 'POST', url: '/v1/memories', headers: u.headers, payload: { content: 'survives rotation' } })).json();
  await first.app.close();
  const readRaw = () => {
    const db = new Database(join(dataDir, 'pai.db'), { readonly: true });
    const row = { memory: (db.prepare('SELECT content FROM memories WHERE id = ?').get(m.id) as { content: string }).content,
      key: (db.prepare('SELECT wrapped FROM data_keys WHERE user_id = ?').get(u.id) as { wrapped: string }).wrapped };
    db.close();
    return row;
  };
  const before = readRaw();

  const premature = await startPai(t, { dataDir, env: { PAI_MASTER_KEY: newKey } });
  const refused = await premature.app.inject({ method: 'GET', url: `/v1/memories/${m.id}`, headers: u.headers });
  t.equal(refused.statusCode, 503, 'a new master key alone cannot open the old data keys');
  t.equal(refused.json().error.code, 'PAI_CRYPTO_KEY_UNAVAILABLE');
  await premature.app.close();

  const rotated = await runToExit('memory', { PAI_DATA_DIR: dataDir, PAI_MASTER_KEY: newKey, PAI_PREVIOUS_MASTER_KEYS: oldKey, PATH: process.env.PATH ?? '' }, 'rotate-keys.ts');
  t.equal(rotated.code, 0, rotated.output);
  t.match(rotated.output, /"rewrapped":1/);
  const after = readRaw();
  t.equal(after.memory, before.memory, 'the record is untouched');
  t.not(after.key, before.key, 'the data key is wrapped anew');
  const again = await runToExit('memory', { PAI_DATA_DIR: dataDir, PAI_MASTER_KEY: newKey, PAI_PREVIOUS_MASTER_KEYS: oldKey, PATH: process.env.PATH ?? '' }, 'rotate-keys.ts');
  t.match(again.output, /"rewrapped":0,"unchanged":1/, 'repeating it changes nothing');

  const later = await startPai(t, { dataDir, env: { PAI_MASTER_KEY: newKey } });
  const read = await later.app.inject({ method: 'GET', url: `/v1/memories/${m.id}`, headers: u.headers });
  t.equal(read.json().content, 'survives rotation', 'readable with the new master key alone');
});
