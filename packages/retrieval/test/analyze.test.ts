import t from 'tap';
import { analyze, isStopWord, stem } from '@pai/retrieval';

t.test('inflected forms of one word share a stem', async (t) => {
  const groups = [
    ['run', 'running', 'runs'],
    ['hope', 'hoping', 'hoped', 'hopes'],
    ['make', 'making', 'makes'],
    ['plan', 'planned', 'planning', 'plans'],
    ['relate', 'related', 'relating'],
    ['box', 'boxes'],
    ['wish', 'wishes', 'wished'],
    ['match', 'matches', 'matched'],
    ['class', 'classes'],
    ['family', 'families'],
    ['reply', 'replies'],
    ['meet', 'meeting', 'meetings'],
    ['hundred', 'hundreds'],
    ['play', 'playing', 'played', 'plays'],
    ['quick', 'quickly'],
    ['report', 'reportedly', 'reported'],
  ];
  for (const group of groups) {
    const stems = new Set(group.map(stem));
    t.equal(stems.size, 1, `${group.join('/')} → ${[...stems].join('/')}`);
  }
});

t.test('words that only look inflected are kept whole', async (t) => {
  for (const word of ['string', 'spring', 'thing', 'speed', 'need', 'shed', 'early', 'daily', 'family', 'only', 'fly', 'bus', 'is'])
    t.equal(stem(word), word, word);
  t.not(stem('early'), stem('ear'), '"early" is not "ear"');
  t.equal(stem('naïve'), 'naïve', 'non-ASCII words are not mangled');
});

t.test('analysis keeps the earlier behaviour and drops a few more function words', async (t) => {
  t.same(analyze("My sister's cats are playing in Porto!"), ['sister', 'cat', 'play', 'porto']);
  t.same(analyze('There are also just these very few'), ['few']);
  t.ok(isStopWord('the'));
  t.notOk(isStopWord('porto'));
  t.same(analyze('   '), []);
  t.same(analyze('ＦＵＬＬ width'), ['full', 'width'], 'NFKC folds full-width letters');
});
