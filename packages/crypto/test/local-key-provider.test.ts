import t from 'tap';
import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CryptoErrors } from '@pai/errors';
import { createLocalKeyProvider, loadOrCreateMasterKeyFile, masterKeyVersion, parseMasterKey } from '@pai/crypto';
import { rejection, runKeyProviderContract } from '@pai/crypto/testing';

t.test('contract', async (t) => {
  runKeyProviderContract(t, async () => {
    const first = randomBytes(32);
    const second = randomBytes(32);
    return {
      provider: createLocalKeyProvider({ masterKey: first }),
      rotate: async () => createLocalKeyProvider({ masterKey: second, previousMasterKeys: [first] }),
      retirePrevious: async () => createLocalKeyProvider({ masterKey: second }),
      numRuns: 300,
    };
  });
});

t.test('wrapped format: lk1:<master key version>:<base64url iv|tag|ct>', async (t) => {
  const masterKey = randomBytes(32);
  const provider = createLocalKeyProvider({ masterKey });
  const version = masterKeyVersion(masterKey);
  const key = await provider.generateDataKey({ userId: 'usr_1' });
  t.match(key.wrapped, new RegExp(`^lk1:${version}:[A-Za-z0-9_-]{80}$`));
  t.equal(key.keyId, `local:${version}`);
  t.same(provider.describe(), { kind: 'local', keyId: `local:${version}` });
  t.not(masterKeyVersion(randomBytes(32)), version, 'each master key has its own version');
  t.same((await provider.rewrap(key.wrapped, { userId: 'usr_1' })).wrapped, key.wrapped, 'already current: unchanged');

  const other = createLocalKeyProvider({ masterKey: randomBytes(32) });
  const err = await rejection(t, other.decrypt(key.wrapped, { userId: 'usr_1' }), CryptoErrors.keyUnavailable);
  t.match((err as Error).message, `master key version ${version}, which is not configured`, 'says which master key is missing');
  await rejection(t, provider.decrypt('kms1:AQID', { userId: 'usr_1' }), CryptoErrors.keyUnavailable, 'a KMS-wrapped key names the provider to configure');
  t.throws(() => createLocalKeyProvider({ masterKey: randomBytes(16) }), { code: 'PAI_CRYPTO_INVALID_MASTER_KEY' });
});

t.test('PAI_MASTER_KEY parsing', async (t) => {
  const key = randomBytes(32);
  t.same(parseMasterKey(key.toString('base64')), key);
  t.same(parseMasterKey(`  ${key.toString('base64')}\n`), key, 'surrounding whitespace is fine');
  t.same(parseMasterKey(key.toString('base64url')), key, 'base64url is accepted too');
  const cases: Array<[string, RegExp]> = [
    ['', /PAI_MASTER_KEY is empty/],
    ['   ', /PAI_MASTER_KEY is empty/],
    ['not base64!', /PAI_MASTER_KEY is not valid base64/],
    [randomBytes(16).toString('base64'), /decodes to 16 bytes; it must be the base64 of exactly 32 bytes/],
    [randomBytes(33).toString('base64'), /decodes to 33 bytes/],
    ['correct horse battery staple', /not valid base64/],
  ];
  for (const [value, message] of cases) {
    t.throws(() => parseMasterKey(value), { code: 'PAI_CRYPTO_INVALID_MASTER_KEY', statusCode: 500, message }, JSON.stringify(value));
  }
  const secret = randomBytes(16).toString('base64');
  try {
    parseMasterKey(secret);
    t.fail('should throw');
  } catch (error) {
    t.notOk((error as Error).message.includes(secret), 'never echoes the value');
  }
  t.throws(() => parseMasterKey('x', 'MY_VAR'), { message: /^MY_VAR / }, 'names the variable it was given');
});

t.test('master key file: created 0600 on first use, reused after', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'pai-crypto-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const dataDir = join(dir, 'data');

  const first = await loadOrCreateMasterKeyFile(dataDir);
  t.equal(first.created, true);
  t.equal(first.path, join(dataDir, 'master-key'));
  t.equal(first.key.length, 32);
  t.equal((await stat(first.path)).mode & 0o777, 0o600);
  t.same(parseMasterKey(await readFile(first.path, 'utf8')), first.key, 'base64 of the key');
  t.equal(first.warning, undefined);

  const again = await loadOrCreateMasterKeyFile(dataDir);
  t.equal(again.created, false);
  t.same(again.key, first.key);

  // Data keys wrapped before a restart unwrap after it.
  const before = await createLocalKeyProvider({ masterKey: first.key }).generateDataKey({ userId: 'usr_1' });
  t.same(await createLocalKeyProvider({ masterKey: again.key }).decrypt(before.wrapped, { userId: 'usr_1' }), before.plaintext);

  await chmod(first.path, 0o644);
  t.match((await loadOrCreateMasterKeyFile(dataDir)).warning, /readable by others \(mode 644\)/);

  await writeFile(first.path, 'short\n');
  await t.rejects(loadOrCreateMasterKeyFile(dataDir), { code: 'PAI_CRYPTO_INVALID_MASTER_KEY', message: /master key file .*master-key/ });
});

t.test('master key file: processes starting at once agree on one key', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'pai-crypto-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const results = await Promise.all(Array.from({ length: 8 }, () => loadOrCreateMasterKeyFile(dir)));
  t.equal(new Set(results.map((r) => r.key.toString('hex'))).size, 1);
  t.equal(results.filter((r) => r.created).length, 1);
});
