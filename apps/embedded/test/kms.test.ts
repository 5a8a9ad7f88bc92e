import t from 'tap';
import { startKmsTestServer } from '@pai/crypto/testing';
import { startPai } from './helper.js';

process.env.AWS_ACCESS_KEY_ID = 'AKIDKMSTEST';
process.env.AWS_SECRET_ACCESS_KEY = 'kms-test-secret';

t.test('KEY_PROVIDER=kms: data keys come from KMS with the user in the encryption context; KMS down is a typed 503', async (t) => {
  const kms = await startKmsTestServer({ region: 'us-east-1' });
  t.teardown(() => kms.close());
  const key = kms.createKey({ alias: 'pai-test' });
  const { app, newUser } = await startPai(t, {
    env: { KEY_PROVIDER: 'kms', KMS_KEY_ID: key.arn, KMS_ENDPOINT: kms.endpoint, AWS_REGION: 'us-east-1' },
  });
  const ready = (await app.inject({ method: 'GET', url: '/readyz' })).json();
  t.same(ready.checks.keys, { ok: true }, 'the key is described as enabled');

  const u = await newUser();
  const created = await app.inject({ method: 'POST', url: '/v1/memories', headers: u.headers, payload: { content: 'kept under KMS' } });
  t.equal(created.statusCode, 201);
  const generate = kms.requests.filter((r) => r.target === 'GenerateDataKey');
  t.equal(generate.length, 1, 'one data key for the user');
  t.same(generate[0]!.encryptionContext, { pai_user: u.id }, 'bound to the user');
  t.equal((await app.inject({ method: 'GET', url: `/v1/memories/${created.json().id}`, headers: u.headers })).json().content, 'kept under KMS');

  const other = await newUser('other');
  await kms.down();
  const down = await app.inject({ method: 'POST', url: '/v1/memories', headers: other.headers, payload: { content: 'needs a new key' } });
  t.equal(down.statusCode, 503);
  t.equal(down.json().error.code, 'PAI_CRYPTO_KEY_UNAVAILABLE');
  t.same((await app.inject({ method: 'GET', url: '/v1/memories', headers: other.headers })).json().items, [], 'nothing half-written');
  const cached = await app.inject({ method: 'GET', url: `/v1/memories/${created.json().id}`, headers: u.headers });
  t.equal(cached.statusCode, 200, 'users whose key is cached keep working while KMS is down');
  const notReady = await app.inject({ method: 'GET', url: '/readyz' });
  t.equal(notReady.statusCode, 503);
  t.equal(notReady.json().checks.keys.ok, false);
  await kms.up();
  t.equal((await app.inject({ method: 'POST', url: '/v1/memories', headers: other.headers, payload: { content: 'now it works' } })).statusCode, 201);
});

t.test('KEY_PROVIDER=kms needs KMS_KEY_ID', async (t) => {
  await t.rejects(startPai(t, { env: { KEY_PROVIDER: 'kms' } }), /KMS_KEY_ID: is required with KEY_PROVIDER=kms/);
});
