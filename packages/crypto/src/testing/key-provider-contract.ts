import type { Test } from 'tap';
import fc from 'fast-check';
import { CryptoErrors } from '@pai/errors';
import type { KeyProvider } from '../index.js';

export interface KeyProviderHarness {
  provider: KeyProvider;
  /** Makes a new master key current; returns a provider that wraps under it and still unwraps the old. */
  rotate(): Promise<KeyProvider>;
  /** After `rotate`: retires the previous master key (dropped, or disabled); returns the provider to use. */
  retirePrevious(): Promise<KeyProvider>;
  /** fast-check runs for properties that call the provider (default 200). */
  numRuns?: number;
  close?(): Promise<void>;
}

/** Resolves to the error the promise rejected with, or fails the test when it resolved. */
export async function rejection(
  t: Test,
  promise: Promise<unknown>,
  expected: { readonly code: string; is(error: unknown): boolean },
  message?: string,
): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    t.ok(expected.is(error), message ?? `rejects with ${expected.code}`, { found: error });
    return error;
  }
  t.fail(message ?? `rejects with ${expected.code}`, { found: 'it resolved' });
  return undefined;
}

const userId = fc.string({ minLength: 1, maxLength: 24, unit: 'grapheme' });

/**
 * The behaviour every KeyProvider adapter must have. An adapter's test file calls this with a factory
 * that returns a fresh provider (and its rotation hooks).
 */
export function runKeyProviderContract(t: Test, makeHarness: () => Promise<KeyProviderHarness>): void {
  const withHarness = (name: string, fn: (t: Test, h: KeyProviderHarness) => Promise<void>) =>
    t.test(name, async (t) => {
      const harness = await makeHarness();
      t.teardown(() => harness.close?.());
      await fn(t, harness);
    });

  withHarness('generates fresh 32-byte data keys, wrapped in a self-describing string', async (t, { provider }) => {
    const a = await provider.generateDataKey({ userId: 'usr_a' });
    const b = await provider.generateDataKey({ userId: 'usr_a' });
    t.ok(Buffer.isBuffer(a.plaintext));
    t.equal(a.plaintext.length, 32);
    t.not(a.plaintext.toString('hex'), b.plaintext.toString('hex'), 'a new key each time');
    t.not(a.wrapped, b.wrapped);
    t.match(a.wrapped, /^[a-z0-9]+:/, 'a versioned prefix');
    t.notOk(a.wrapped.includes(a.plaintext.toString('base64')) || a.wrapped.includes(a.plaintext.toString('base64url')), 'no plaintext in it');
    t.type(a.keyId, 'string');
    t.ok(a.keyId.length > 0);
    t.same(await provider.decrypt(a.wrapped, { userId: 'usr_a' }), a.plaintext);
    const described = provider.describe();
    t.type(described.kind, 'string');
    t.type(described.keyId, 'string');
    t.same(await provider.check(), { ok: true });
  });

  withHarness('a data key wrapped for one user never unwraps as another', async (t, { provider, numRuns }) => {
    await fc.assert(
      fc.asyncProperty(userId, userId, async (a, b) => {
        fc.pre(a !== b);
        const key = await provider.generateDataKey({ userId: a });
        if (!(await provider.decrypt(key.wrapped, { userId: a })).equals(key.plaintext)) return false;
        try {
          await provider.decrypt(key.wrapped, { userId: b });
          return false;
        } catch (error) {
          return CryptoErrors.decryptFailed.is(error);
        }
      }),
      { numRuns: numRuns ?? 200 },
    );
    t.pass('held for every pair');
  });

  withHarness('any changed character of a wrapped key fails to unwrap; garbage fails too', async (t, { provider, numRuns }) => {
    const key = await provider.generateDataKey({ userId: 'usr_t' });
    const payloadStart = key.wrapped.lastIndexOf(':') + 1;
    await fc.assert(
      fc.asyncProperty(
        fc.nat({ max: key.wrapped.length - payloadStart - 1 }),
        fc.constantFrom(...'AQgw09_-+/='),
        async (offset, replacement) => {
          const at = payloadStart + offset;
          fc.pre(key.wrapped[at] !== replacement);
          const tampered = key.wrapped.slice(0, at) + replacement + key.wrapped.slice(at + 1);
          try {
            await provider.decrypt(tampered, { userId: 'usr_t' });
            return false;
          } catch (error) {
            return CryptoErrors.decryptFailed.is(error);
          }
        },
      ),
      { numRuns: numRuns ?? 200 },
    );
    for (const garbage of ['', 'nope', key.wrapped.slice(0, payloadStart), key.wrapped.slice(0, -8), `${key.wrapped}AAAA`]) {
      await rejection(t, provider.decrypt(garbage, { userId: 'usr_t' }), CryptoErrors.decryptFailed, `garbage ${JSON.stringify(garbage.slice(0, 12))}…`);
    }
  });

  withHarness('rotation: rewrap moves data keys to the new master key; then the old one can go', async (t, harness) => {
    const before = await harness.provider.generateDataKey({ userId: 'usr_r' });
    const rotated = await harness.rotate();
    t.same(await rotated.decrypt(before.wrapped, { userId: 'usr_r' }), before.plaintext, 'old wraps still unwrap');
    const fresh = await rotated.generateDataKey({ userId: 'usr_r2' });
    t.not(fresh.keyId, before.keyId, 'new keys are wrapped under the new master key');

    const moved = await rotated.rewrap(before.wrapped, { userId: 'usr_r' });
    t.not(moved.wrapped, before.wrapped);
    t.equal(moved.keyId, fresh.keyId, 'rewrapped under the current master key');
    t.same(await rotated.decrypt(moved.wrapped, { userId: 'usr_r' }), before.plaintext, 'same data key inside');
    await rejection(t, rotated.decrypt(moved.wrapped, { userId: 'usr_other' }), CryptoErrors.decryptFailed, 'still bound to its user');
    await rejection(t, rotated.rewrap(before.wrapped, { userId: 'usr_other' }), CryptoErrors.decryptFailed, 'rewrap checks the user too');

    const retired = await harness.retirePrevious();
    t.same(await retired.decrypt(moved.wrapped, { userId: 'usr_r' }), before.plaintext, 'rewrapped keys survive retiring the old master key');
    t.same(await retired.decrypt(fresh.wrapped, { userId: 'usr_r2' }), fresh.plaintext);
    await rejection(t, retired.decrypt(before.wrapped, { userId: 'usr_r' }), CryptoErrors.keyUnavailable, 'keys left under the retired master key are unavailable');
  });
}
