import t from 'tap';
import { titleFrom } from '../src/domain/conversations.js';

t.test('titles come from the first line of the first message, cut at a word', async (t) => {
  t.equal(titleFrom('  Plan my trip to Lisbon \nwith details'), 'Plan my trip to Lisbon');
  const long = 'word '.repeat(40);
  const title = titleFrom(long);
  t.ok(title.length <= 81);
  t.ok(title.endsWith('…'));
  t.notMatch(title, /wor…$/, 'not cut inside a word');
  t.equal(titleFrom('x'.repeat(100)).length, 81, 'one long word is cut hard');
});
