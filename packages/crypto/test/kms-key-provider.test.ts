import t, { type Test } from 'tap';
import { CryptoErrors } from '@pai/errors';
import { createKmsKeyProvider, KMS_CONTEXT_USER } from '@pai/crypto';
import { createKmsTestClient, rejection, runKeyProviderContract, startKmsTestServer } from '@pai/crypto/testing';

const server = await startKmsTestServer();
t.teardown(() => server.close());
const client = createKmsTestClient(server);
t.teardown(() => client.destroy());

t.test('contract', async (t) => {
  runKeyProviderContract(t, async () => {
    const first = server.createKey();
    const second = server.createKey();
    return {
      provider: createKmsKeyProvider({ client, keyId: first.keyId }),
      // Rotation to another KMS key: KMS_KEY_ID now names the new one.
      rotate: async () => createKmsKeyProvider({ client, keyId: second.keyId }),
      retirePrevious: async () => {
        server.setKeyState(first.keyId, 'Disabled');
        return createKmsKeyProvider({ client, keyId: second.keyId });
      },
      numRuns: 100,
    };
  });
});

t.test('KMS sees the user in the encryption context, never the data key', async (t) => {
  const key = server.createKey({ alias: 'pai-records' });
  const provider = createKmsKeyProvider({ client, keyId: 'alias/pai-records' });
  const from = server.requests.length;
  const generated = await provider.generateDataKey({ userId: 'usr_ctx' });
  t.match(generated.wrapped, /^kms1:[A-Za-z0-9+/]+=*$/);
  t.equal(generated.keyId, key.arn, 'keyId is the ARN KMS reports');
  t.same(provider.describe(), { kind: 'kms', keyId: 'alias/pai-records' });
  await provider.decrypt(generated.wrapped, { userId: 'usr_ctx' });
  await provider.rewrap(generated.wrapped, { userId: 'usr_ctx' });
  const seen = server.requests.slice(from);
  t.same(
    seen.map((r) => [r.target, r.keyId, r.encryptionContext]),
    [
      ['GenerateDataKey', 'alias/pai-records', { [KMS_CONTEXT_USER]: 'usr_ctx' }],
      ['Decrypt', undefined, { pai_user: 'usr_ctx' }],
      ['ReEncrypt', 'alias/pai-records', { pai_user: 'usr_ctx' }],
    ],
  );
  t.same(seen[2]!.destinationEncryptionContext, { pai_user: 'usr_ctx' });
  t.ok(seen.every((r) => r.signed), 'SigV4-signed');
  const recorded = JSON.stringify(seen);
  t.notOk(recorded.includes(generated.plaintext.toString('base64')), 'no plaintext key recorded');
});

t.test('KMS material rotation: old blobs still unwrap; ReEncrypt moves them to the new material', async (t) => {
  const key = server.createKey();
  const provider = createKmsKeyProvider({ client, keyId: key.keyId });
  const before = await provider.generateDataKey({ userId: 'usr_m' });
  server.rotateKeyMaterial(key.keyId);
  t.same(await provider.decrypt(before.wrapped, { userId: 'usr_m' }), before.plaintext);
  const moved = await provider.rewrap(before.wrapped, { userId: 'usr_m' });
  t.not(moved.wrapped, before.wrapped);
  t.equal(moved.keyId, key.arn);
  t.same(await provider.decrypt(moved.wrapped, { userId: 'usr_m' }), before.plaintext);
});

t.test('failures become typed errors', async (t) => {
  const key = server.createKey();
  const provider = createKmsKeyProvider({ client, keyId: key.keyId, requestTimeoutMs: 300 });
  const wrapped = (await provider.generateDataKey({ userId: 'usr_f' })).wrapped;
  const unavailable = async (t: Test, what: string, run: () => Promise<unknown>, message: RegExp) => {
    const error = await rejection(t, run(), CryptoErrors.keyUnavailable, what);
    t.equal((error as { statusCode?: number })?.statusCode, 503, `${what}: 503`);
    t.match((error as Error)?.message, message, `${what}: says why`);
    return error;
  };

  await t.test('KMS down: connection refused', async (t) => {
    await server.down();
    t.teardown(() => server.up());
    await unavailable(t, 'generate', () => provider.generateDataKey({ userId: 'usr_f' }), /KMS is unreachable \(connection refused\)/);
    await unavailable(t, 'decrypt', () => provider.decrypt(wrapped, { userId: 'usr_f' }), /connection refused/);
    const health = await provider.check();
    t.equal(health.ok, false);
    t.match(health, { reason: /connection refused/ }, '/readyz reason');
  });

  await t.test('connection reset mid-request', async (t) => {
    server.fail({ kind: 'reset' }, { times: 1 });
    await unavailable(t, 'reset', () => provider.decrypt(wrapped, { userId: 'usr_f' }), /connection reset/);
  });

  await t.test('throttled', async (t) => {
    server.fail({ kind: 'throttle' }, { times: 1 });
    const error = await unavailable(t, 'throttle', () => provider.generateDataKey({ userId: 'usr_f' }), /throttling/);
    t.same((error as { headers?: unknown }).headers, { 'Retry-After': '1' });
  });

  await t.test('KMS internal error', async (t) => {
    server.fail({ kind: 'internal' }, { times: 1, targets: ['Decrypt'] });
    await unavailable(t, 'internal', () => provider.decrypt(wrapped, { userId: 'usr_f' }), /KMS is unavailable \(KMSInternalException\)/);
  });

  await t.test('slow KMS: abandoned after requestTimeoutMs', async (t) => {
    server.fail({ kind: 'slow', delayMs: 1_500 }, { times: 1 });
    const started = Date.now();
    await unavailable(t, 'slow', () => provider.decrypt(wrapped, { userId: 'usr_f' }), /did not answer within 300 ms/);
    t.ok(Date.now() - started < 1_200, 'did not wait for the answer');
  });

  await t.test('disabled, pending deletion, missing key: actionable messages', async (t) => {
    server.setKeyState(key.keyId, 'Disabled');
    await unavailable(t, 'disabled', () => provider.generateDataKey({ userId: 'usr_f' }), /is disabled: enable it in KMS/);
    await unavailable(t, 'disabled (decrypt)', () => provider.decrypt(wrapped, { userId: 'usr_f' }), /is disabled/);
    t.match(await provider.check(), { ok: false, reason: /is Disabled; it must be Enabled/ });
    server.setKeyState(key.keyId, 'PendingDeletion');
    await unavailable(t, 'pending deletion', () => provider.generateDataKey({ userId: 'usr_f' }), /pending deletion/);
    server.setKeyState(key.keyId, 'Enabled');
    t.same(await provider.check(), { ok: true });
    const missing = createKmsKeyProvider({ client, keyId: 'alias/does-not-exist' });
    await unavailable(t, 'not found', () => missing.generateDataKey({ userId: 'usr_f' }), /was not found: check KMS_KEY_ID/);
    t.match(await missing.check(), { ok: false, reason: /not found/ });
  });

  await t.test('a locally wrapped key given to KMS names the provider to configure', async (t) => {
    await rejection(t, provider.decrypt('lk1:0123456789ab:AAAA', { userId: 'usr_f' }), CryptoErrors.keyUnavailable);
  });

  t.same(await provider.decrypt(wrapped, { userId: 'usr_f' }).then((k) => k.length), 32, 'works again once healed');
});
