import t from 'tap';
import { statSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { buildApp, loadMemoryConfig } from '@pai/memory';
import { buildMemory, ADMIN_KEY } from './helper.js';

t.test('admin creates users and keys; a user key acts as that user', async (t) => {
  const { app, admin } = await buildMemory(t);
  const created = await app.inject({ method: 'POST', url: '/v1/users', headers: admin, payload: { name: 'Ada' } });
  t.equal(created.statusCode, 201);
  const user = created.json();
  t.match(user, { id: /^usr_/, name: 'Ada', created_at: String });

  const key = await app.inject({ method: 'POST', url: `/v1/users/${user.id}/api-keys`, headers: admin, payload: {} });
  t.equal(key.statusCode, 201);
  t.match(key.json(), { id: /^key_/, key: /^pai_/, user_id: user.id, prefix: String, revoked_at: null });
  t.equal(key.json().prefix, key.json().key.slice(0, 10));

  const me = await app.inject({ method: 'GET', url: '/v1/users/me', headers: { authorization: `Bearer ${key.json().key}` } });
  t.equal(me.statusCode, 200);
  t.equal(me.json().id, user.id);

  const listed = await app.inject({ method: 'GET', url: `/v1/users/${user.id}/api-keys`, headers: admin });
  t.equal(listed.json().items.length, 1);
  t.notOk('key' in listed.json().items[0], 'secrets are never listed');

  const users = await app.inject({ method: 'GET', url: '/v1/users?limit=1', headers: admin });
  t.equal(users.json().items.length, 1);
  t.equal(users.json().next_cursor, null);
});

t.test('the key is stored only as a hash', async (t) => {
  const { app, admin, dataDir, newUser } = await buildMemory(t);
  const u = await newUser();
  const secret = u.headers.authorization!.slice('Bearer '.length);
  await app.close();
  const db = readFileSync(join(dataDir, 'pai.db')).toString('latin1') + readFileSync(join(dataDir, 'pai.db-wal'), { flag: 'a+' }).toString('latin1');
  t.notOk(db.includes(secret), 'the secret is not in the database files');
  t.notOk(db.includes(secret.slice(4)), 'nor its random part');
  t.ok(admin);
});

t.test('auth failures', async (t) => {
  const { app, admin, newUser } = await buildMemory(t);
  const u = await newUser();

  const missing = await app.inject({ method: 'GET', url: '/v1/conversations' });
  t.equal(missing.statusCode, 401);
  t.equal(missing.json().error.code, 'PAI_AUTH_MISSING_KEY');
  t.type(missing.json().request_id, 'string');

  const wrong = await app.inject({ method: 'GET', url: '/v1/conversations', headers: { authorization: 'Bearer pai_nope' } });
  t.equal(wrong.json().error.code, 'PAI_AUTH_INVALID_KEY');

  const basic = await app.inject({ method: 'GET', url: '/v1/conversations', headers: { authorization: 'Basic abc' } });
  t.equal(basic.statusCode, 401);

  const notAdmin = await app.inject({ method: 'POST', url: '/v1/users', headers: u.headers, payload: { name: 'x' } });
  t.equal(notAdmin.statusCode, 403);
  t.equal(notAdmin.json().error.code, 'PAI_AUTH_ADMIN_REQUIRED');

  const adminAsUser = await app.inject({ method: 'GET', url: '/v1/conversations', headers: admin });
  t.equal(adminAsUser.statusCode, 403);
  t.equal(adminAsUser.json().error.code, 'PAI_AUTH_USER_REQUIRED');

  const forgedInternal = await app.inject({
    method: 'GET', url: '/v1/conversations', headers: { 'x-pai-internal-token': 'guess-guess-guess-guess-guess', 'x-pai-user-id': u.id },
  });
  t.equal(forgedInternal.statusCode, 401, 'a wrong internal token does not impersonate');

  const internalWithKey = await app.inject({ method: 'POST', url: '/internal/v1/auth/verify', headers: u.headers, payload: { key: 'x' } });
  t.equal(internalWithKey.statusCode, 401);
  t.equal(internalWithKey.json().error.code, 'PAI_AUTH_INTERNAL_ONLY');
});

t.test('revoking a key locks it out at once; users revoke only their own keys', async (t) => {
  const { app, admin, newUser } = await buildMemory(t);
  const a = await newUser('a');
  const b = await newUser('b');

  const foreign = await app.inject({ method: 'DELETE', url: `/v1/api-keys/${b.keyId}`, headers: a.headers });
  t.equal(foreign.statusCode, 404, "another user's key is not found");
  t.equal((await app.inject({ method: 'GET', url: '/v1/users/me', headers: b.headers })).statusCode, 200, 'and still works');

  const revoked = await app.inject({ method: 'DELETE', url: `/v1/api-keys/${b.keyId}`, headers: admin });
  t.equal(revoked.statusCode, 204);
  t.equal(revoked.body, '');
  const after = await app.inject({ method: 'GET', url: '/v1/users/me', headers: b.headers });
  t.equal(after.statusCode, 401);
  const again = await app.inject({ method: 'DELETE', url: `/v1/api-keys/${b.keyId}`, headers: admin });
  t.equal(again.statusCode, 404);
  const unknownUser = await app.inject({ method: 'POST', url: '/v1/users/usr_nobody/api-keys', headers: admin, payload: {} });
  t.equal(unknownUser.statusCode, 404);
  t.equal(unknownUser.json().error.code, 'PAI_USER_NOT_FOUND');
});

t.test('user creation validates its body', async (t) => {
  const { app, admin } = await buildMemory(t);
  const empty = await app.inject({ method: 'POST', url: '/v1/users', headers: admin, payload: { name: '   ' } });
  t.equal(empty.statusCode, 400);
  t.equal(empty.json().error.code, 'PAI_REQUEST_INVALID');
  t.match(empty.json().error.details, [{ field: 'body.name' }]);
  const extra = await app.inject({ method: 'POST', url: '/v1/users', headers: admin, payload: { name: 'a', admin: true } });
  t.equal(extra.statusCode, 400, 'unknown fields are rejected');
  const wrongType = await app.inject({ method: 'POST', url: '/v1/users', headers: admin, payload: { name: 42 } });
  t.equal(wrongType.statusCode, 400);
});

t.test('without PAI_ADMIN_API_KEY a key is generated into the data dir with mode 0600 and reused', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'pai-admin-'));
  const lines: string[] = [];
  const stream = { write: (s: string) => lines.push(s) } as unknown as NodeJS.WritableStream;
  const config = loadMemoryConfig({ PAI_DATA_DIR: dataDir });
  const app = await buildApp(config, { logger: { level: 'info', stream } });
  const path = join(dataDir, 'admin-api-key');
  t.equal(statSync(path).mode & 0o777, 0o600);
  const secret = readFileSync(path, 'utf8').trim();
  t.ok(lines.some((l) => l.includes(path)), 'the path is logged');
  t.notOk(lines.some((l) => l.includes(secret)), 'the key is not');
  const ok = await app.inject({ method: 'GET', url: '/v1/users', headers: { authorization: `Bearer ${secret}` } });
  t.equal(ok.statusCode, 200);
  await app.close();

  const again = await buildApp(config, { logger: false });
  t.teardown(() => again.close());
  const reuse = await again.inject({ method: 'GET', url: '/v1/users', headers: { authorization: `Bearer ${secret}` } });
  t.equal(reuse.statusCode, 200, 'the same key works after a restart');
  t.not(secret, ADMIN_KEY);
});
