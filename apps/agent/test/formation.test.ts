import t from 'tap';
import { parseExtraction, guardFacts, episodicFact, extractionPrompt } from '../src/domain/formation.js';

const context = {
  user_message: 'I moved to Lisbon last month and I now prefer tea over coffee. What is the capital of Peru?',
  assistant_message: 'Lima is the capital of Peru. Also, the Eiffel Tower is in Paris.',
  memories: [{ id: 'mem_old', content: 'Prefers coffee', category: 'preference' }],
};

t.test('extraction output is parsed leniently but validated', async (t) => {
  t.same(parseExtraction('```json\n{"facts":[{"content":"Lives in Lisbon","category":"fact","importance":0.8}]}\n```'),
    { facts: [{ content: 'Lives in Lisbon', category: 'fact', importance: 0.8 }] });
  t.equal(parseExtraction('I could not find any facts.'), null, 'prose');
  t.equal(parseExtraction('{"facts": "none"}'), null, 'wrong shape');
  t.equal(parseExtraction('{"facts": [{"content": 42}]}'), null, 'wrong types');
  t.equal(parseExtraction('{not json}'), null);
  t.same(parseExtraction('{"facts": []}'), { facts: [] });
  t.equal(parseExtraction('{"facts":[{"content":"x","category":"fact","importance":7}]}')!.facts[0]!.importance, 0.5, 'out-of-range importance falls back');
});

t.test('the junk guard keeps user facts and drops assistant claims, trivia and duplicates', async (t) => {
  const kept = guardFacts([
    { content: 'Moved to Lisbon last month', category: 'fact', importance: 0.8 },
    { content: 'Prefers tea over coffee', category: 'preference', importance: 0.7, supersedes: 'mem_old' },
    { content: 'Lima is the capital of Peru', category: 'fact', importance: 0.3 },
    { content: 'The Eiffel Tower is in Paris', category: 'fact', importance: 0.2 },
    { content: 'Moved to Lisbon last month.', category: 'fact', importance: 0.8 },
    { content: 'ok', category: 'fact', importance: 0.9 },
    { content: 'Lives in Lisbon', category: 'weird category', importance: 0.5, supersedes: 'mem_unknown' },
  ], context);
  t.same(kept.map((f) => f.content), ['Moved to Lisbon last month', 'Prefers tea over coffee', 'Lives in Lisbon']);
  t.equal(kept[1]!.supersedes, 'mem_old', 'supersedes a memory the model was shown');
  t.equal(kept[2]!.category, 'fact', 'unknown categories become fact');
  t.notOk('supersedes' in kept[2]!, 'unknown ids are dropped');
});

t.test('at most five facts; episodic fallback quotes the user', async (t) => {
  const many = Array.from({ length: 9 }, (_, i) => ({ content: `Lisbon fact number ${i} about the move`, category: 'fact', importance: 0.5 }));
  t.equal(guardFacts(many, context).length, 5);
  const episodic = episodicFact({ ...context, user_message: 'word '.repeat(200) }, new Date('2026-11-21T10:00:00Z'));
  t.match(episodic, { category: 'episodic', importance: 0.2, content: /^On 2026-11-21 the user said: "word word/ });
  t.ok(episodic.content.length < 340);
});

t.test('the extraction prompt fences the exchange and lists existing memories with ids', async (t) => {
  const prompt = extractionPrompt(context);
  t.match(prompt, /- mem_old \[preference\] Prefers coffee/);
  t.match(prompt, /<user>\nI moved to Lisbon[\s\S]*<\/user>\n<assistant>\nLima/);
});
