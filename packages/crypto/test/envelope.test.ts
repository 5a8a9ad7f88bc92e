import t from 'tap';
import fc from 'fast-check';
import { randomBytes } from 'node:crypto';
import { CryptoErrors } from '@pai/errors';
import { canonicalAad, isSealed, openBytes, openString, sealBytes, sealString, type SealContext } from '@pai/crypto';

const numRuns = 400;
const key = randomBytes(32);
const id = fc.string({ maxLength: 20, unit: 'grapheme' });
const context: fc.Arbitrary<SealContext> = fc.record({ userId: id, kind: id, recordId: id });
const sameContext = (a: SealContext, b: SealContext) => a.userId === b.userId && a.kind === b.kind && a.recordId === b.recordId;

/** Throws decrypt-failed, and nothing else (never returns garbage). */
const failsToOpen = (open: () => unknown): boolean => {
  try {
    open();
    return false;
  } catch (error) {
    return CryptoErrors.decryptFailed.is(error);
  }
};

t.test('seal → open round-trips any string', async (t) => {
  fc.assert(
    fc.property(fc.string({ maxLength: 500, unit: 'grapheme' }), context, (text, ctx) => openString(key, sealString(key, text, ctx), ctx) === text),
    { numRuns },
  );
  // Any code units at all: lone surrogates come back as U+FFFD, exactly as UTF-8 stores them.
  fc.assert(
    fc.property(fc.string({ maxLength: 200, unit: 'binary' }), context, (text, ctx) =>
      openString(key, sealString(key, text, ctx), ctx) === Buffer.from(text, 'utf8').toString('utf8'),
    ),
    { numRuns },
  );
  const ctx = { userId: 'usr_1', kind: 'message', recordId: 'msg_1' };
  for (const text of ['', 'a', 'héllo wörld', '👩‍👩‍👧‍👦 family', '\u0000nul\u0000', 'e\u0301', '日本語のテキスト', '"quotes" and \\ backslashes\n']) {
    t.equal(openString(key, sealString(key, text, ctx), ctx), text, JSON.stringify(text));
  }
  const large = 'x'.repeat(3 * 1024 * 1024) + '✓';
  t.equal(openString(key, sealString(key, large, ctx), ctx), large, '3 MiB');
});

t.test('sealed format: pe1.<base64url iv|ct|tag>, a fresh IV every time', async (t) => {
  const ctx = { userId: 'usr_1', kind: 'memory', recordId: 'mem_1' };
  const a = sealString(key, 'same text', ctx);
  const b = sealString(key, 'same text', ctx);
  t.match(a, /^pe1\.[A-Za-z0-9_-]+$/);
  t.not(a, b, 'same plaintext, different ciphertext');
  t.not(a.slice(4, 20), b.slice(4, 20), 'different IVs');
  t.equal(Buffer.from(a.slice(4), 'base64url').length, 12 + 'same text'.length + 16);
  t.equal(sealString(key, '', ctx).length, 4 + 38, 'an empty string seals to 42 characters');
  t.notOk(a.includes(Buffer.from('same text').toString('base64')), 'no plaintext in it');
});

t.test('a ciphertext opened under ANY other (userId, kind, recordId) fails', async (t) => {
  fc.assert(
    fc.property(fc.string({ maxLength: 100 }), context, context, (text, a, b) => {
      fc.pre(!sameContext(a, b));
      return failsToOpen(() => openString(key, sealString(key, text, a), b));
    }),
    { numRuns },
  );
  // The same characters split differently between fields: ("ab","c") is not ("a","bc").
  const splits = fc
    .tuple(fc.string({ minLength: 1, maxLength: 30 }), fc.nat(), fc.nat(), fc.nat(), fc.nat())
    .map(([s, i, j, k, l]) => {
      const cut = (x: number, y: number) => [Math.min(x % (s.length + 1), y % (s.length + 1)), Math.max(x % (s.length + 1), y % (s.length + 1))] as const;
      const [a1, a2] = cut(i, j);
      const [b1, b2] = cut(k, l);
      return [
        { userId: s.slice(0, a1), kind: s.slice(a1, a2), recordId: s.slice(a2) },
        { userId: s.slice(0, b1), kind: s.slice(b1, b2), recordId: s.slice(b2) },
      ] as const;
    });
  fc.assert(
    fc.property(splits, ([a, b]) => {
      fc.pre(!sameContext(a, b));
      return failsToOpen(() => openString(key, sealString(key, 'secret', a), b));
    }),
    { numRuns },
  );
  const sealed = sealString(key, 'secret', { userId: 'ab', kind: 'c', recordId: 'r' });
  t.ok(failsToOpen(() => openString(key, sealed, { userId: 'a', kind: 'bc', recordId: 'r' })), '("ab","c") ≠ ("a","bc")');
  t.ok(failsToOpen(() => openString(randomBytes(32), sealed, { userId: 'ab', kind: 'c', recordId: 'r' })), 'another key');
});

t.test('ANY single flipped byte, changed character or truncation fails', async (t) => {
  const ctx = { userId: 'usr_1', kind: 'chunk', recordId: 'chk_1' };
  fc.assert(
    fc.property(fc.string({ maxLength: 200 }), fc.nat(), fc.integer({ min: 1, max: 255 }), (text, at, mask) => {
      const sealed = sealString(key, text, ctx);
      const body = Buffer.from(sealed.slice(4), 'base64url');
      body[at % body.length]! ^= mask;
      return failsToOpen(() => openString(key, `pe1.${body.toString('base64url')}`, ctx));
    }),
    { numRuns },
  );
  fc.assert(
    fc.property(fc.string({ maxLength: 200 }), fc.nat(), fc.constantFrom(...'Ab9_-+/=.p é'), (text, at, replacement) => {
      const sealed = sealString(key, text, ctx);
      const i = at % sealed.length;
      fc.pre(sealed[i] !== replacement);
      return failsToOpen(() => openString(key, sealed.slice(0, i) + replacement + sealed.slice(i + 1), ctx));
    }),
    { numRuns },
  );
  fc.assert(
    fc.property(fc.string({ maxLength: 200 }), fc.nat(), (text, cut) => {
      const sealed = sealString(key, text, ctx);
      return failsToOpen(() => openString(key, sealed.slice(0, cut % sealed.length), ctx));
    }),
    { numRuns },
  );
  for (const garbage of ['', 'pe1.', 'pe1.AAAA', 'hello', 'pe2.' + sealString(key, 'x', ctx).slice(4)]) {
    t.ok(failsToOpen(() => openString(key, garbage, ctx)), JSON.stringify(garbage));
  }
});

t.test('isSealed tells sealed values from plaintext', async (t) => {
  fc.assert(fc.property(fc.string({ maxLength: 300 }), context, (text, ctx) => isSealed(sealString(key, text, ctx))), { numRuns });
  fc.assert(fc.property(fc.string({ maxLength: 300 }), (text) => !isSealed(text) || text.startsWith('pe1.')), { numRuns });
  for (const value of ['', 'pe1.', 'pe1.short', 'hello world', 'pe1.' + 'A'.repeat(37), 'pe1.' + '!'.repeat(40), null, 42, undefined]) {
    t.notOk(isSealed(value), JSON.stringify(value));
  }
});

t.test('bytes form: round-trips and authenticates the same way', async (t) => {
  const ctx = { userId: 'usr_1', kind: 'index', recordId: 'search' };
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), fc.nat(), fc.integer({ min: 1, max: 255 }), (data, at, mask) => {
      const sealed = sealBytes(key, data, ctx);
      if (!openBytes(key, sealed, ctx).equals(Buffer.from(data))) return false;
      sealed[at % sealed.length]! ^= mask;
      return failsToOpen(() => openBytes(key, sealed, ctx));
    }),
    { numRuns },
  );
  t.ok(failsToOpen(() => openBytes(key, sealBytes(key, Buffer.from('x'), ctx), { ...ctx, recordId: 'other' })));
  t.throws(() => sealString(randomBytes(16), 'x', ctx), TypeError, 'only 32-byte keys');
});

t.test('canonical AAD: length-prefixed, injective, refuses lone surrogates', async (t) => {
  t.not(canonicalAad('d', ['ab', 'c']).toString('hex'), canonicalAad('d', ['a', 'bc']).toString('hex'));
  t.not(canonicalAad('d', ['a', '']).toString('hex'), canonicalAad('d', ['a']).toString('hex'));
  t.same(canonicalAad('d', ['é']), Buffer.from([0, 0, 0, 1, 0x64, 0, 0, 0, 2, 0xc3, 0xa9]));
  fc.assert(
    fc.property(fc.array(fc.string({ maxLength: 8, unit: 'grapheme' }), { maxLength: 4 }), fc.array(fc.string({ maxLength: 8, unit: 'grapheme' }), { maxLength: 4 }), (a, b) =>
      (a.length === b.length && a.every((x, i) => x === b[i])) === canonicalAad('d', a).equals(canonicalAad('d', b)),
    ),
    { numRuns },
  );
  t.throws(() => canonicalAad('d', ['a\uD800']), TypeError);
  t.throws(() => sealString(key, 'x', { userId: '\uDC00', kind: 'k', recordId: 'r' }), TypeError);
});
