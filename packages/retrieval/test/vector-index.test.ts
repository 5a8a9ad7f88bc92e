import t from 'tap';
import fc from 'fast-check';
import { VectorIndex, normalize } from '@pai/retrieval';

const DIMS = 6;
const vector = fc.array(fc.float({ min: -1, max: 1, noNaN: true }), { minLength: DIMS, maxLength: DIMS }).map((v) => normalize(v));
const dot = (a: ArrayLike<number>, b: ArrayLike<number>) => { let s = 0; for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!; return s; };

t.test('exact top-k by dot product, honouring accept, after replaces and deletes', async () => {
  const op = fc.oneof(
    fc.record({ kind: fc.constant('set' as const), key: fc.integer({ min: 0, max: 20 }), v: vector }),
    fc.record({ kind: fc.constant('delete' as const), key: fc.integer({ min: 0, max: 20 }) }),
  );
  fc.assert(fc.property(fc.array(op, { maxLength: 80 }), vector, fc.integer({ min: 1, max: 8 }), (ops, query, limit) => {
    const index = new VectorIndex<number>(DIMS);
    const truth = new Map<number, Float32Array>();
    for (const o of ops) {
      if (o.kind === 'set') { index.set(o.key, o.v); truth.set(o.key, o.v); } else { index.delete(o.key); truth.delete(o.key); }
    }
    if (index.size !== truth.size) return false;
    const accept = (key: number) => key % 3 !== 0;
    const expected = [...truth].filter(([k]) => accept(k)).map(([key, v]) => ({ key, score: dot(v, query) }))
      .sort((a, b) => b.score - a.score).slice(0, limit);
    const got = index.search(query, { limit, accept });
    return got.length === expected.length && got.every((g, i) => Math.abs(g.score - expected[i]!.score) < 1e-5 && accept(g.key)
      && Math.abs(dot(truth.get(g.key)!, query) - g.score) < 1e-5);
  }), { numRuns: 200 });
});

t.test('dimensions are checked; normalize makes unit vectors', async (t) => {
  const index = new VectorIndex<string>(3);
  t.throws(() => index.set('a', [1, 0]), RangeError);
  t.throws(() => index.search([1, 0, 0, 0], { limit: 1 }), RangeError);
  t.throws(() => new VectorIndex(0), RangeError);
  index.set('a', normalize([3, 4, 0]));
  t.same(Array.from(normalize([3, 4, 0])).map((x) => Math.round(x * 1000) / 1000), [0.6, 0.8, 0]);
  t.same(Array.from(normalize([0, 0, 0])), [0, 0, 0], 'a zero vector stays zero');
  t.equal(index.search([0.6, 0.8, 0], { limit: 1 })[0]!.key, 'a');
  t.same(index.search([1, 0, 0], { limit: 0 }), []);
  index.clear();
  t.equal(index.size, 0);
  t.same(index.search([1, 0, 0], { limit: 3 }), []);
});
