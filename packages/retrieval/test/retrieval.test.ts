import t from 'tap';
import { analyze, rankBm25, stem } from '@pai/retrieval';

t.test('analysis lowercases, drops stop words and stems plurals and verb endings', async (t) => {
  t.same(analyze("My sister's cats are playing in Porto!"), ['sister', 'cat', 'play', 'porto']);
  t.same(analyze('Café — naïve Zoë 2024'), ['café', 'naïve', 'zoë', '2024']);
  t.equal(stem('flies'), 'fly');
  t.equal(stem('is'), 'is', 'short words are kept');
  t.same(analyze(''), []);
});

t.test('BM25 ranks the matching memories first and leaves unrelated ones out', async (t) => {
  const memories = ['Prefers black coffee in the morning', 'Has a cat called Miso', 'Sister Eva lives in Porto', 'Coffee makes them jittery at night'];
  const ranked = rankBm25('what coffee do I like?', memories, (m) => m);
  t.same(ranked.map((r) => r.item).sort(), ['Coffee makes them jittery at night', 'Prefers black coffee in the morning']);
  t.ok(ranked[0]!.score > 0);
  t.same(rankBm25('cats', memories, (m) => m).map((r) => r.item), ['Has a cat called Miso'], 'stemming matches cat/cats');
  t.same(rankBm25('the and of', memories, (m) => m), [], 'a query of stop words matches nothing');
  t.same(rankBm25('coffee', [], (m: string) => m), []);
});

t.test('rarer terms weigh more', async (t) => {
  const docs = ['porto trip', 'trip to lisbon', 'trip to madrid', 'trip notes'];
  const ranked = rankBm25('porto trip', docs, (d) => d);
  t.equal(ranked[0]!.item, 'porto trip');
});
