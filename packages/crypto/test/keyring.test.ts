import t from 'tap';
import { randomBytes } from 'node:crypto';
import { CryptoErrors } from '@pai/errors';
import { createKeyring, createKmsKeyProvider, createLocalKeyProvider, masterKeyVersion, type KeyProvider, type Keyring } from '@pai/crypto';
import { createKmsTestClient, createMemoryDataKeyStorage, rejection, startKmsTestServer } from '@pai/crypto/testing';

const kms = await startKmsTestServer();
t.teardown(() => kms.close());
const kmsClient = createKmsTestClient(kms);
t.teardown(() => kmsClient.destroy());

const local = () => createLocalKeyProvider({ masterKey: randomBytes(32) });

/** Counts provider calls. */
function counting(provider: KeyProvider) {
  const calls = { generateDataKey: 0, decrypt: 0, rewrap: 0 };
  const counted: KeyProvider = {
    generateDataKey: (c) => (calls.generateDataKey++, provider.generateDataKey(c)),
    decrypt: (w, c) => (calls.decrypt++, provider.decrypt(w, c)),
    rewrap: (w, c) => (calls.rewrap++, provider.rewrap(w, c)),
    describe: () => provider.describe(),
    check: () => provider.check(),
  };
  return { provider: counted, calls };
}

t.test('keyFor creates the key once, stores it wrapped, and caches it', async (t) => {
  const store = createMemoryDataKeyStorage();
  const provider = local();
  const keyring = createKeyring({ provider, store });
  const key = await keyring.keyFor('usr_1');
  t.equal(key.length, 32);
  const record = store.records.get('usr_1')!;
  t.match(record, { userId: 'usr_1', keyId: provider.describe().keyId, wrapped: /^lk1:/ });
  t.ok(!Number.isNaN(Date.parse(record.createdAt)));
  t.same(await provider.decrypt(record.wrapped, { userId: 'usr_1' }), key, 'the stored record wraps that key');
  t.same(await keyring.keyFor('usr_1'), key);
  t.match(keyring.stats(), { hits: 1, misses: 1, generated: 1, unwraps: 0, size: 1 });
  await t.rejects(keyring.keyFor(''), TypeError);
});

t.test('N records of one user cost exactly one unwrap (over the wire to KMS)', async (t) => {
  const store = createMemoryDataKeyStorage();
  const provider = createKmsKeyProvider({ client: kmsClient, keyId: kms.createKey().keyId });
  const writer = createKeyring({ provider, store });
  const users = ['usr_a', 'usr_b', 'usr_c'];
  const sealed: Array<{ userId: string; id: string; value: string; text: string }> = [];
  for (const userId of users) {
    for (let i = 0; i < 100; i++) {
      const text = `${userId} note ${i}`;
      sealed.push({ userId, id: `mem_${i}`, text, value: await writer.seal(userId, 'memory', `mem_${i}`, text) });
    }
  }
  // A fresh process (empty cache) searching over all of them.
  const reader = createKeyring({ provider, store });
  const decryptsBefore = kms.requests.filter((r) => r.target === 'Decrypt').length;
  let opened = 0;
  for (const s of sealed) if ((await reader.open(s.userId, 'memory', s.id, s.value)) === s.text) opened++;
  t.equal(opened, 300, 'every record opens');
  t.equal(kms.requests.filter((r) => r.target === 'Decrypt').length - decryptsBefore, 3, 'one KMS Decrypt per user');
  t.match(reader.stats(), { unwraps: 3, misses: 3, hits: 297, generated: 0 });
});

t.test('concurrent keyFor for a new user creates one key (single flight, putIfAbsent across processes)', async (t) => {
  const store = createMemoryDataKeyStorage();
  store.delayMs = 5;
  const { provider, calls } = counting(local());
  const keyring = createKeyring({ provider, store });
  const keys = await Promise.all(Array.from({ length: 20 }, () => keyring.keyFor('usr_new')));
  t.equal(new Set(keys.map((k) => k.toString('hex'))).size, 1, 'everyone got the same key');
  t.equal(calls.generateDataKey, 1, 'one key generated');
  t.equal(store.calls.putIfAbsent, 1);
  t.match(keyring.stats(), { misses: 20, coalesced: 19 });

  // Two processes (two keyrings, one store) racing: putIfAbsent picks one winner, the loser adopts it.
  const other = createKeyring({ provider, store });
  const third = createKeyring({ provider, store });
  const [a, b] = await Promise.all([other.keyFor('usr_race'), third.keyFor('usr_race')]);
  t.same(a, b, 'both processes use the stored key');
  t.same(await provider.decrypt(store.records.get('usr_race')!.wrapped, { userId: 'usr_race' }), a);
});

t.test('the cache is bounded: LRU by size, and by age', async (t) => {
  let clock = 1_000_000;
  const store = createMemoryDataKeyStorage();
  const keyring = createKeyring({ provider: local(), store, cache: { maxEntries: 3, maxAgeMs: 60_000 }, now: () => clock });
  for (const u of ['u1', 'u2', 'u3']) await keyring.keyFor(u);
  await keyring.keyFor('u1'); // u1 is now the most recently used
  await keyring.keyFor('u4'); // evicts u2, the least recently used
  t.match(keyring.stats(), { size: 3, evictions: 1, generated: 4 });
  const unwraps = keyring.stats().unwraps;
  await keyring.keyFor('u1');
  t.equal(keyring.stats().unwraps, unwraps, 'u1 still cached');
  await keyring.keyFor('u2');
  t.equal(keyring.stats().unwraps, unwraps + 1, 'u2 was evicted and is unwrapped again');

  clock += 60_001;
  await keyring.keyFor('u1');
  t.equal(keyring.stats().unwraps, unwraps + 2, 'past maxAgeMs a key is unwrapped again');
  clock += 30_000;
  await keyring.keyFor('u1');
  t.equal(keyring.stats().unwraps, unwraps + 2, 'age counts from the unwrap');

  const uncached = createKeyring({ provider: local(), store: createMemoryDataKeyStorage(), cache: { maxEntries: 0 } });
  await uncached.keyFor('x');
  await uncached.keyFor('x');
  t.match(uncached.stats(), { size: 0, unwraps: 1, generated: 1 }, 'maxEntries 0 disables caching');
});

t.test('shred: old ciphertexts become permanently unreadable; other users are unaffected', async (t) => {
  const store = createMemoryDataKeyStorage();
  const provider = local();
  const keyring = createKeyring({ provider, store });
  const mine = await keyring.seal('usr_gone', 'message', 'msg_1', 'my secret');
  const theirs = await keyring.seal('usr_stays', 'message', 'msg_2', 'their note');
  const oldKey = await keyring.keyFor('usr_gone');

  t.equal(await keyring.shred('usr_gone'), true);
  t.notOk(store.records.has('usr_gone'), 'wrapped key deleted from storage');
  const error = await rejection(t, keyring.open('usr_gone', 'message', 'msg_1', mine), CryptoErrors.keyDestroyed);
  t.equal((error as { statusCode?: number }).statusCode, 410);
  // Not even a fresh process can read it.
  await rejection(t, createKeyring({ provider, store }).open('usr_gone', 'message', 'msg_1', mine), CryptoErrors.keyDestroyed);
  t.equal(await keyring.shred('usr_gone'), false, 'a second shred finds nothing');

  // A new key for the same user id cannot open what the old one sealed.
  const newKey = await keyring.keyFor('usr_gone');
  t.not(newKey.toString('hex'), oldKey.toString('hex'));
  await rejection(t, keyring.open('usr_gone', 'message', 'msg_1', mine), CryptoErrors.decryptFailed);
  t.equal(await keyring.open('usr_stays', 'message', 'msg_2', theirs), 'their note');
});

t.test('shred racing a key load does not leave the key cached', async (t) => {
  const store = createMemoryDataKeyStorage();
  const provider = local();
  const sealed = await createKeyring({ provider, store }).seal('usr_r', 'memory', 'm1', 'x');
  const keyring = createKeyring({ provider, store });
  store.delayMs = 20;
  const loading = keyring.keyFor('usr_r'); // reads the record before the shred deletes it
  await new Promise((resolve) => setTimeout(resolve, 5));
  await keyring.shred('usr_r');
  await loading;
  store.delayMs = 0;
  await rejection(t, keyring.open('usr_r', 'memory', 'm1', sealed), CryptoErrors.keyDestroyed, 'the load that raced the shred was not cached');
  t.equal(keyring.stats().size, 0);
});

t.test('rotation (local): rewrapAll moves every data key; the old master key can then be dropped', async (t) => {
  const store = createMemoryDataKeyStorage();
  const v1 = randomBytes(32);
  const v2 = randomBytes(32);
  const before = createKeyring({ provider: createLocalKeyProvider({ masterKey: v1 }), store });
  const users = ['usr_1', 'usr_2', 'usr_3', 'usr_4', 'usr_5'];
  const records: Array<[string, string, string]> = [];
  for (const u of users) for (let i = 0; i < 10; i++) records.push([u, `rec_${i}`, await before.seal(u, 'message', `rec_${i}`, `${u}:${i}`)]);
  const snapshot = JSON.stringify(records);

  const rotating = createKeyring({ provider: createLocalKeyProvider({ masterKey: v2, previousMasterKeys: [v1] }), store });
  const report = await rotating.rewrapAll([...users, 'usr_never'], { concurrency: 2 });
  t.same(report, { rewrapped: 5, unchanged: 0, missing: 1, failed: [] });
  t.ok([...store.records.values()].every((r) => r.keyId === `local:${masterKeyVersion(v2)}` && r.wrapped.startsWith(`lk1:${masterKeyVersion(v2)}:`)));
  t.same(await rotating.rewrapAll(users), { rewrapped: 0, unchanged: 5, missing: 0, failed: [] }, 'idempotent');
  t.equal(JSON.stringify(records), snapshot, 'records untouched');

  const after = createKeyring({ provider: createLocalKeyProvider({ masterKey: v2 }), store });
  const openAll = async (keyring: Keyring) => {
    let opened = 0;
    for (const [u, id, sealed] of records) if ((await keyring.open(u, 'message', id, sealed)) === `${u}:${id.slice(4)}`) opened++;
    return opened;
  };
  t.equal(await openAll(after), 50, 'every record opens under the new master key alone');
  await rejection(t, createKeyring({ provider: createLocalKeyProvider({ masterKey: v1 }), store }).keyFor('usr_1'), CryptoErrors.keyUnavailable, 'v1 alone no longer unwraps');

  // Two rotations racing: conditional replace keeps every key intact.
  const v3 = randomBytes(32);
  const p3 = () => createLocalKeyProvider({ masterKey: v3, previousMasterKeys: [v2] });
  const [r1, r2] = await Promise.all([createKeyring({ provider: p3(), store }).rewrapAll(users), createKeyring({ provider: p3(), store }).rewrapAll(users)]);
  t.equal(r1.failed.length + r2.failed.length, 0);
  t.equal(r1.rewrapped + r2.rewrapped, 5, 'each key moved once');
  const final = createKeyring({ provider: createLocalKeyProvider({ masterKey: v3 }), store });
  t.equal(await openAll(final), 50);
});

t.test('rotation (KMS): rewrap to a new KMS key; disabling the old key loses nothing', async (t) => {
  const store = createMemoryDataKeyStorage();
  const oldKey = kms.createKey();
  const newKey = kms.createKey();
  const before = createKeyring({ provider: createKmsKeyProvider({ client: kmsClient, keyId: oldKey.keyId }), store });
  const sealed = await Promise.all(['usr_k1', 'usr_k2'].map(async (u) => [u, await before.seal(u, 'memory', 'm', `hello ${u}`)] as const));
  const provider = createKmsKeyProvider({ client: kmsClient, keyId: newKey.arn });
  t.same(await createKeyring({ provider, store }).rewrapAll(['usr_k1', 'usr_k2']), { rewrapped: 2, unchanged: 0, missing: 0, failed: [] });
  t.ok([...store.records.values()].every((r) => r.keyId === newKey.arn));
  kms.setKeyState(oldKey.keyId, 'Disabled');
  const after = createKeyring({ provider, store });
  for (const [u, s] of sealed) t.equal(await after.open(u, 'memory', 'm', s), `hello ${u}`);
});

t.test('KMS down: cached keys keep working; anything needing KMS is a typed 503', async (t) => {
  const store = createMemoryDataKeyStorage();
  const keyring = createKeyring({ provider: createKmsKeyProvider({ client: kmsClient, keyId: kms.createKey().keyId }), store });
  const warm = await keyring.seal('usr_warm', 'message', 'm1', 'cached');
  const coldSealed = await keyring.seal('usr_cold', 'message', 'm1', 'not cached');
  keyring.evict('usr_cold');
  await kms.down();
  t.teardown(() => kms.up());
  t.equal(await keyring.open('usr_warm', 'message', 'm1', warm), 'cached');
  t.match(await keyring.seal('usr_warm', 'message', 'm2', 'still sealing'), /^pe1\./);
  const cold = await rejection(t, keyring.open('usr_cold', 'message', 'm1', coldSealed), CryptoErrors.keyUnavailable);
  t.equal((cold as { statusCode?: number }).statusCode, 503);
  await rejection(t, keyring.seal('usr_brand_new', 'message', 'm1', 'x'), CryptoErrors.keyUnavailable, 'a new user cannot get a key');
  t.notOk(store.records.has('usr_brand_new'), 'and nothing half-made is stored');
  const report = await keyring.rewrapAll(['usr_warm']);
  t.equal(report.failed.length, 1);
  t.ok(CryptoErrors.keyUnavailable.is(report.failed[0]!.error), 'rewrapAll reports failures per user');
  await kms.up();
  t.equal(await keyring.open('usr_cold', 'message', 'm1', coldSealed), 'not cached', 'recovers once KMS is back');
});

t.test('open refuses values that are not sealed for that record', async (t) => {
  const keyring = createKeyring({ provider: local(), store: createMemoryDataKeyStorage() });
  const sealed = await keyring.seal('usr_1', 'memory', 'mem_1', 'x');
  await rejection(t, keyring.open('usr_1', 'memory', 'mem_1', 'plain text'), CryptoErrors.decryptFailed);
  await rejection(t, keyring.open('usr_1', 'memory', 'mem_2', sealed), CryptoErrors.decryptFailed, 'another record');
  await rejection(t, keyring.open('usr_1', 'message', 'mem_1', sealed), CryptoErrors.decryptFailed, 'another kind');
  await keyring.keyFor('usr_2');
  await rejection(t, keyring.open('usr_2', 'memory', 'mem_1', sealed), CryptoErrors.decryptFailed, 'another user');
});
