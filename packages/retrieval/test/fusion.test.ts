import t from 'tap';
import fc from 'fast-check';
import { fuseRankings } from '@pai/retrieval';

const kw = [{ key: 'a', score: 9 }, { key: 'b', score: 5 }, { key: 'c', score: 1 }];
const vec = [{ key: 'b', score: 0.9 }, { key: 'd', score: 0.8 }, { key: 'a', score: 0.1 }];

t.test('reciprocal rank fusion', async (t) => {
  const fused = fuseRankings(kw, vec, { method: 'rrf' });
  const score = Object.fromEntries(fused.map((f) => [f.key, f.score]));
  t.equal(score.b, 1 / 62 + 1 / 61, 'b: rank 2 by keyword, rank 1 by vector');
  t.equal(score.a, 1 / 61 + 1 / 63);
  t.equal(score.c, 1 / 63);
  t.equal(score.d, 1 / 62);
  t.same(fused.map((f) => f.key), ['b', 'a', 'd', 'c'], 'fused best first; d (vector rank 2) above c (keyword rank 3)');
  t.same(fused[0], { key: 'b', score: 1 / 62 + 1 / 61, keywordScore: 5, vectorScore: 0.9 }, 'component scores are carried');
  t.notOk('vectorScore' in fused.find((f) => f.key === 'c')!, 'a keyword-only item has no vector score');
  t.notOk('keywordScore' in fused.find((f) => f.key === 'd')!, 'a vector-only item has no keyword score');
  const k10 = fuseRankings(kw, vec, { method: 'rrf', k: 10 });
  t.equal(k10.find((f) => f.key === 'c')!.score, 1 / 13, 'the constant is configurable');
  t.throws(() => fuseRankings(kw, vec, { method: 'rrf', k: -1 }), RangeError);
});

t.test('weighted fusion normalizes each list, then mixes with alpha', async (t) => {
  const fused = fuseRankings(kw, vec, { method: 'weighted', alpha: 0.5 });
  const score = Object.fromEntries(fused.map((f) => [f.key, f.score]));
  t.equal(score.a, 0.5 * 1 + 0.5 * 0, 'a: best keyword (1), worst vector (0)');
  t.equal(score.b, 0.5 * 0.5 + 0.5 * 1);
  t.equal(score.c, 0);
  t.ok(Math.abs(score.d! - 0.5 * 0.875) < 1e-12, 'd: vector only, (0.8 - 0.1) / 0.8');
  t.same(fused.map((f) => f.key), ['b', 'a', 'd', 'c']);
  const vectorOnly = fuseRankings(kw, vec, { method: 'weighted', alpha: 1 });
  t.same(vectorOnly.slice(0, 3).map((f) => f.key), ['b', 'd', 'a'], 'alpha 1 = the vector ranking');
  const keywordOnly = fuseRankings(kw, vec, { method: 'weighted', alpha: 0 });
  t.same(keywordOnly.slice(0, 3).map((f) => f.key), ['a', 'b', 'c'], 'alpha 0 = the keyword ranking');
  t.same(fuseRankings([{ key: 'x', score: 3 }, { key: 'y', score: 3 }], [], { method: 'weighted' }).map((f) => f.score), [0.5, 0.5],
    'a list of equal scores normalizes to 1');
  t.throws(() => fuseRankings(kw, vec, { method: 'weighted', alpha: 1.5 }), RangeError);
});

t.test('inputs are ranked by score and de-duplicated; limit; empty lists', async (t) => {
  const unsorted = [{ key: 'c', score: 1 }, { key: 'a', score: 9 }, { key: 'a', score: 2 }, { key: 'b', score: 5 }];
  t.same(fuseRankings(unsorted, [], { method: 'rrf' }).map((f) => [f.key, f.keywordScore]), [['a', 9], ['b', 5], ['c', 1]]);
  t.same(fuseRankings(kw, vec, { method: 'rrf', limit: 2 }).map((f) => f.key), ['b', 'a']);
  t.same(fuseRankings([], [], { method: 'weighted' }), []);
  t.same(fuseRankings([], vec, { method: 'rrf' }).map((f) => f.key), ['b', 'd', 'a']);
});

t.test('every input key appears once; an item on top of both lists ranks first', async () => {
  const list = fc.uniqueArray(fc.record({ key: fc.integer({ min: 0, max: 30 }), score: fc.double({ min: 0, max: 100, noNaN: true }) }),
    { selector: (e) => e.key, maxLength: 20 });
  fc.assert(fc.property(list, list, fc.constantFrom('rrf' as const, 'weighted' as const), (a, b, method) => {
    const fused = fuseRankings(a, b, { method });
    const keys = new Set([...a, ...b].map((e) => e.key));
    if (fused.length !== keys.size || new Set(fused.map((f) => f.key)).size !== keys.size) return false;
    for (let i = 1; i < fused.length; i++) if (fused[i]!.score > fused[i - 1]!.score) return false;
    return true;
  }), { numRuns: 300 });
  fc.assert(fc.property(list, list, fc.constantFrom('rrf' as const, 'weighted' as const), (a, b, method) => {
    const top = 1000;
    const fused = fuseRankings([{ key: top, score: 1e9 }, ...a], [{ key: top, score: 1e9 }, ...b], { method });
    return fused[0]!.key === top;
  }), { numRuns: 300 });
});
