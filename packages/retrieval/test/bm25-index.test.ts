import t from 'tap';
import fc from 'fast-check';
import { Bm25Index, rankBm25 } from '@pai/retrieval';

const VOCABULARY = ['porto', 'lisbon', 'coffee', 'tea', 'trip', 'cat', 'dog', 'budget', 'music', 'garden', 'train', 'rain'];
const docText = fc.array(fc.constantFrom(...VOCABULARY), { minLength: 1, maxLength: 8 }).map((words) => words.join(' '));
const close = (a: number, b: number) => Math.abs(a - b) < 1e-9 * Math.max(1, Math.abs(a), Math.abs(b));

t.test('one field: the same scores as the one-shot rankBm25', async () => {
  fc.assert(fc.property(fc.array(docText, { minLength: 1, maxLength: 30 }), fc.array(fc.constantFrom(...VOCABULARY), { minLength: 1, maxLength: 3 }),
    (docs, queryWords) => {
      const query = queryWords.join(' ');
      const index = new Bm25Index<number>();
      docs.forEach((text, i) => index.set(i, text));
      const expected = rankBm25(query, docs.map((text, i) => ({ i, text })), (d) => d.text);
      const got = index.search(query, { limit: docs.length });
      if (got.length !== expected.length) return false;
      const byKey = new Map(got.map((g) => [g.key, g.score]));
      return expected.every((e) => close(byKey.get(e.item.i) ?? NaN, e.score));
    }), { numRuns: 200 });
});

t.test('incremental set/replace/delete scores like an index built from scratch', async () => {
  const op = fc.oneof(
    fc.record({ kind: fc.constant('set' as const), key: fc.integer({ min: 0, max: 15 }), text: docText, title: fc.option(docText, { nil: undefined }) }),
    fc.record({ kind: fc.constant('delete' as const), key: fc.integer({ min: 0, max: 15 }) }),
  );
  fc.assert(fc.property(fc.array(op, { maxLength: 60 }), fc.constantFrom(...VOCABULARY), (ops, query) => {
    const boosts = { text: 1, title: 2 };
    const live = new Bm25Index<number>({ boosts, tieBreaker: 0.3 });
    const truth = new Map<number, { text: string; title: string | undefined }>();
    for (const o of ops) {
      if (o.kind === 'set') {
        live.set(o.key, { text: o.text, title: o.title });
        truth.set(o.key, { text: o.text, title: o.title });
      } else {
        live.delete(o.key);
        truth.delete(o.key);
      }
    }
    const fresh = new Bm25Index<number>({ boosts, tieBreaker: 0.3 });
    for (const [key, doc] of truth) fresh.set(key, doc);
    if (live.size !== truth.size) return false;
    const a = live.search(query, { limit: 100 });
    const b = fresh.search(query, { limit: 100 });
    const scoreOf = new Map(b.map((x) => [x.key, x.score]));
    return a.length === b.length && a.every((x) => close(x.score, scoreOf.get(x.key) ?? NaN));
  }), { numRuns: 200 });
});

t.test('limit and accept: the best accepted documents, in order', async () => {
  fc.assert(fc.property(fc.array(docText, { minLength: 1, maxLength: 40 }), fc.integer({ min: 1, max: 10 }), fc.integer({ min: 2, max: 4 }),
    (docs, limit, modulo) => {
      const index = new Bm25Index<number>();
      docs.forEach((text, i) => index.set(i, text));
      const accept = (key: number) => key % modulo === 0;
      const all = index.search('coffee trip rain', { limit: docs.length }).filter((r) => accept(r.key));
      const top = index.search('coffee trip rain', { limit, accept });
      if (top.length !== Math.min(limit, all.length)) return false;
      for (let i = 1; i < top.length; i++) if (top[i]!.score > top[i - 1]!.score) return false;
      // The k-th best score matches (ties may pick different keys of equal score).
      return top.every((r, i) => accept(r.key) && close(r.score, all[i]!.score));
    }), { numRuns: 200 });
});

t.test('field boosts and the tie breaker combine field scores like multi_match best_fields', async (t) => {
  const index = new Bm25Index<string>({ boosts: { text: 1, title: 2 } });
  index.set('title-hit', { title: 'Budget 2025', text: 'numbers for the year' });
  index.set('text-hit', { title: 'Notes', text: 'the budget is tight this year' });
  index.set('none', { title: 'Garden', text: 'tomatoes and basil' });
  const ranked = index.search('budget', { limit: 10 });
  t.same(ranked.map((r) => r.key), ['title-hit', 'text-hit'], 'the boosted title match ranks first, no-match left out');

  const both = new Bm25Index<string>({ boosts: { text: 1, title: 1 } });
  both.set('a', { title: 'porto', text: 'porto' });
  both.set('b', { title: 'lisbon', text: 'lisbon' });
  const best = both.search('porto', { limit: 1 })[0]!.score;
  const summed = both.search('porto', { limit: 1, tieBreaker: 1 })[0]!.score;
  t.ok(Math.abs(summed - 2 * best) < 1e-9, 'tie breaker 1 sums the two equal field scores, 0 keeps the best');
  t.same(both.search('porto', { limit: 5, boosts: { heading: 1 } }), [], 'an unindexed field matches nothing');
  t.same(index.search('budget', { limit: 5, boosts: { text: 1 } }).map((r) => r.key), ['text-hit'], 'search can narrow the fields');
});

t.test('replace, delete, stop words, empty index and bad limits', async (t) => {
  const index = new Bm25Index<string>();
  t.same(index.search('coffee', { limit: 5 }), [], 'empty index');
  index.set('m1', 'black coffee every morning');
  index.set('m2', 'green tea in the afternoon');
  t.same(index.search('coffee', { limit: 5 }).map((r) => r.key), ['m1']);
  index.set('m1', 'oolong tea');
  t.same(index.search('coffee', { limit: 5 }), [], 'replaced text is no longer found');
  t.same(index.search('tea', { limit: 5 }).map((r) => r.key).sort(), ['m1', 'm2']);
  t.equal(index.delete('m2'), true);
  t.equal(index.delete('m2'), false, 'deleting twice is a no-op');
  t.equal(index.size, 1);
  t.notOk(index.has('m2'));
  t.same(index.search('the and of', { limit: 5 }), [], 'stop words only');
  t.same(index.search('tea', { limit: 0 }), []);
  t.same(index.search('tea', { limit: Number.NaN }), []);
  index.set('empty', { text: '', title: null });
  t.equal(index.size, 2, 'a document without text still counts');
  index.clear();
  t.equal(index.size, 0);
  t.same(index.search('tea', { limit: 5 }), []);
});

t.test('a throwing accept leaves the index consistent', async (t) => {
  const index = new Bm25Index<number>();
  for (let i = 0; i < 50; i++) index.set(i, i % 2 ? 'coffee trip' : 'coffee');
  const before = index.search('coffee trip', { limit: 50 });
  t.throws(() => index.search('coffee trip', { limit: 50, accept: () => { throw new Error('boom'); } }));
  t.same(index.search('coffee trip', { limit: 50 }), before, 'the next search is not polluted by the aborted one');
});
