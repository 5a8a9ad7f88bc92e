import t from 'tap';
import { chunkText, countTokens, type Chunk } from '@pai/documents';
import { chunkingViolations } from '@pai/documents/testing';

const words = (text: string) => text.split(/\s+/).filter((w) => w !== '');

/** Sentences with distinct numbers, so any slice of them is easy to place. */
function sentences(count: number, from = 0): string[] {
  return Array.from({ length: count }, (_, i) => `Sentence ${from + i} says something about topic ${(from + i) % 7} in plain words.`);
}

/** The text a chunk repeats from the one before it (its start, up to where the previous chunk ended). */
function overlapOf(previous: Chunk, chunk: Chunk): string {
  for (let n = Math.min(previous.text.length, chunk.text.length); n > 0; n--) {
    if (previous.text.endsWith(chunk.text.slice(0, n))) return chunk.text.slice(0, n);
  }
  return '';
}

t.test('options are validated; an overlap that leaves no room for new text is reduced', async (t) => {
  t.throws(() => chunkText('x', { maxTokens: 0, overlapTokens: 0 }), RangeError);
  t.throws(() => chunkText('x', { maxTokens: 3, overlapTokens: 0 }), RangeError);
  t.throws(() => chunkText('x', { maxTokens: 10, overlapTokens: 10 }), RangeError, 'overlap must be below maxTokens');
  t.throws(() => chunkText('x', { maxTokens: 10.5, overlapTokens: 0 }), RangeError);
  t.throws(() => chunkText('x', { maxTokens: 10, overlapTokens: -1 }), RangeError);
  t.throws(() => chunkText('x', { maxTokens: Number.NaN, overlapTokens: 0 }), RangeError);
  const text = sentences(30).join(' ');
  const chunks = chunkText(text, { maxTokens: 40, overlapTokens: 39 });
  t.ok(chunks.length > 10);
  t.same(chunkingViolations(text, chunks, 40), [], 'every chunk still within maxTokens and moving forward');
});

t.test('empty and blank text gives no chunks', async (t) => {
  t.same(chunkText('', { maxTokens: 100, overlapTokens: 10 }), []);
  t.same(chunkText(' \n\n\t \r\n', { maxTokens: 100, overlapTokens: 10 }), []);
});

t.test('a short text is one chunk with its real token count', async (t) => {
  const chunks = chunkText('\n  Hello there.\r\nSecond line.  \n', { maxTokens: 100, overlapTokens: 10 });
  t.same(chunks, [{ ordinal: 0, text: 'Hello there.\nSecond line.', heading: null, tokenCount: countTokens('Hello there.\nSecond line.') }]);
});

t.test('heading paths: nesting, siblings, setext, empty headings, text before the first heading', async (t) => {
  const md = [
    'Preamble before any heading.',
    '# Guide', 'Guide intro.',
    '## Setup', 'Setup text.',
    '### Install', 'Install text.',
    '### Configure #', 'Configure text.',
    '## Usage', 'Usage text.',
    '#', 'Under an empty heading.',
    'Appendix\n========', 'Setext level one.',
    'Notes\n-----', 'Setext level two.',
  ].join('\n\n');
  const chunks = chunkText(md, { maxTokens: 1000, overlapTokens: 0 });
  t.same(chunks.map((c) => [c.heading, c.text.split('\n').at(-1)]), [
    [null, 'Preamble before any heading.'],
    ['Guide', 'Guide intro.'],
    ['Guide › Setup', 'Setup text.'],
    ['Guide › Setup › Install', 'Install text.'],
    ['Guide › Setup › Configure', 'Configure text.'],
    ['Guide › Usage', 'Usage text.'],
    [null, 'Under an empty heading.'],
    ['Appendix', 'Setext level one.'],
    ['Appendix › Notes', 'Setext level two.'],
  ]);
  t.same(chunkingViolations(md, chunks, 1000), []);
});

t.test('text never crosses a heading boundary, however much room is left', async (t) => {
  const md = Array.from({ length: 12 }, (_, i) => `## Part ${i}\n\nShort body ${i}.`).join('\n\n');
  const chunks = chunkText(md, { maxTokens: 8000, overlapTokens: 100 });
  t.equal(chunks.length, 12);
  chunks.forEach((c, i) => {
    t.equal(c.heading, `Part ${i}`);
    t.equal(c.text, `## Part ${i}\n\nShort body ${i}.`, 'no overlap carried across sections either');
  });
});

t.test('a heading with nothing under it but a subheading joins that subsection', async (t) => {
  const chunks = chunkText('# Manual\n\n## Intro\n\nWelcome.\n\n## Next\n\nMore.', { maxTokens: 500, overlapTokens: 0 });
  t.same(chunks.map((c) => [c.heading, c.text]), [
    ['Manual › Intro', '# Manual\n\n## Intro\n\nWelcome.'],
    ['Manual › Next', '## Next\n\nMore.'],
  ]);
  const bare = chunkText('# Alone\n\n# Next\n\nText.', { maxTokens: 500, overlapTokens: 0 });
  t.same(bare.map((c) => [c.heading, c.text]), [['Alone', '# Alone'], ['Next', '# Next\n\nText.']], 'a sibling does not absorb it');
});

t.test('code fences, front matter and plain text are not mistaken for headings', async (t) => {
  const md = '---\ntitle: Notes\ntags: [a]\n---\n\n# Real\n\n```bash\n# install it\nnpm i\n\n# then run\nnpm start\n```\n\n~~~\n## also code\n~~~';
  const chunks = chunkText(md, { maxTokens: 500, overlapTokens: 0 });
  t.same(chunks.map((c) => c.heading), [null, 'Real']);
  t.equal(chunks[0]!.text, '---\ntitle: Notes\ntags: [a]\n---');
  t.match(chunks[1]!.text, '# then run');
  const plain = chunkText('# not a heading in plain text\n\nbody', { maxTokens: 500, overlapTokens: 0, contentType: 'text/plain; charset=utf-8' });
  t.same(plain.map((c) => c.heading), [null]);
  const pdf = chunkText('Title\n=====\n\nbody', { maxTokens: 500, overlapTokens: 0, contentType: 'application/pdf' });
  t.same(pdf.map((c) => c.heading), [null]);
});

t.test('small paragraphs under one heading are packed up to the limit, and cut between paragraphs', async (t) => {
  const paragraphs = Array.from({ length: 30 }, (_, i) => sentences(2, i * 2).join(' '));
  const md = `# Log\n\n${paragraphs.join('\n\n')}`;
  const chunks = chunkText(md, { maxTokens: 120, overlapTokens: 0 });
  t.ok(chunks.length > 3 && chunks.length < 30, `packed: ${chunks.length} chunks for 30 paragraphs`);
  for (const c of chunks) {
    t.ok(c.tokenCount <= 120);
    if (c !== chunks.at(-1)) t.ok(c.tokenCount > 60, 'each chunk but the last is filled well past half');
    t.match(c.text, /\.$/, 'ends where a paragraph ends');
    const body = c.text.replace(/^# Log\n\n/, '');
    for (const p of body.split('\n\n')) t.ok(paragraphs.includes(p), 'paragraphs are whole');
  }
  t.same(chunkingViolations(md, chunks, 120), []);
});

t.test('a paragraph too big for one chunk is split between sentences', async (t) => {
  const paragraph = sentences(40).join(' ');
  const chunks = chunkText(paragraph, { maxTokens: 64, overlapTokens: 0 });
  t.ok(chunks.length > 5);
  const all = sentences(40);
  for (const c of chunks) {
    t.ok(c.tokenCount <= 64);
    t.match(c.text, /^Sentence \d+ .*\.$/s, 'starts and ends on a sentence');
    for (const s of c.text.split(/(?<=\.) /)) t.ok(all.includes(s), 'sentences are whole');
  }
  t.equal(chunks.map((c) => c.text).join(' '), paragraph, 'without overlap the chunks are the text, in order');
});

t.test('a sentence too big for one chunk is split between words', async (t) => {
  const sentence = Array.from({ length: 400 }, (_, i) => `word${i}`).join(' ');
  const chunks = chunkText(`# Long\n\n${sentence}`, { maxTokens: 50, overlapTokens: 0 });
  t.match(chunks[0]!.text, /^# Long\n\nword0 word1 /, 'the heading travels with the first part, not alone');
  const source = new Set(words(sentence));
  for (const c of chunks) {
    t.ok(c.tokenCount <= 50);
    for (const w of words(c.text.replace(/^# Long\n\n/, ''))) t.ok(source.has(w), `whole word: ${w}`);
  }
  t.same(words(chunks.map((c) => c.text).join(' ')), ['#', 'Long', ...words(sentence)]);
});

t.test('code blocks too big for one chunk are split between lines', async (t) => {
  const lines = Array.from({ length: 120 }, (_, i) => `  const value${i} = compute(${i}, "label ${i}");`);
  const md = `## Code\n\n\`\`\`ts\n${lines.join('\n')}\n\`\`\``;
  const chunks = chunkText(md, { maxTokens: 100, overlapTokens: 0 });
  t.ok(chunks.length > 5);
  for (const c of chunks) {
    t.equal(c.heading, 'Code');
    for (const line of c.text.split('\n')) {
      t.ok(line === '## Code' || line === '' || line.startsWith('```') || lines.some((l) => l === line || l.trim() === line), `whole line: ${line}`);
    }
  }
  t.match(chunks[0]!.text, /^## Code\n\n```ts\n  const value0/);
});

t.test('runs with no spaces are cut mid-word, never inside a character', async (t) => {
  const blob = 'QUJD'.repeat(3000);
  const emoji = '🙂👍🏽🇵🇹'.repeat(400);
  for (const text of [blob, emoji, `${blob}\n\n${emoji}`]) {
    const chunks = chunkText(text, { maxTokens: 40, overlapTokens: 8 });
    t.ok(chunks.length > 10);
    t.same(chunkingViolations(text, chunks, 40), []);
    for (const c of chunks) t.notMatch(c.text, /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/, 'no lone surrogates');
  }
});

t.test('long runs of one kind of character stay linear (the tokenizer is quadratic in a run\'s length)', async (t) => {
  let seed = 11;
  const random = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
  const runs = {
    dna: Array.from({ length: 100_000 }, () => 'ACGT'[Math.floor(random() * 4)]).join(''),
    spaces: `start${' '.repeat(100_000)}end`,
    symbols: '=-'.repeat(50_000),
    cjk: Array.from({ length: 30_000 }, () => String.fromCharCode(0x4e00 + Math.floor(random() * 2000))).join(''),
  };
  for (const [name, text] of Object.entries(runs)) {
    const started = performance.now();
    const chunks = chunkText(`# Data\n\n${text}\n\nAfter the data.`, { maxTokens: 400, overlapTokens: 60 });
    const ms = performance.now() - started;
    t.comment(`${name}: ${text.length} chars → ${chunks.length} chunks in ${ms.toFixed(0)} ms`);
    // Fed whole to the tokenizer, each of these takes minutes.
    t.ok(ms < 10_000, `${name} took ${ms.toFixed(0)} ms`);
    t.same(chunkingViolations(`# Data\n\n${text}\n\nAfter the data.`, chunks, 400), [], name);
    t.match(chunks.at(-1)!.text, /After the data\.$/);
  }
});

t.test('overlap: each chunk starts with the tail of the previous one, within budget', async (t) => {
  const text = sentences(60).join(' ');
  const chunks = chunkText(text, { maxTokens: 80, overlapTokens: 20 });
  t.ok(chunks.length > 5);
  for (let i = 1; i < chunks.length; i++) {
    const overlap = overlapOf(chunks[i - 1]!, chunks[i]!);
    t.ok(overlap.length > 0, `chunk ${i} overlaps`);
    const tokens = countTokens(overlap);
    t.ok(tokens <= 20 && tokens >= 5, `overlap of ${tokens} tokens is about overlapTokens`);
    t.match(chunks[i]!.text, /^Sentence \d+/, 'cut at a sentence start when a sentence fits');
    t.ok(chunks[i]!.tokenCount <= 80);
  }
  t.same(chunkingViolations(text, chunks, 80), []);
});

t.test('overlap falls back to a word start when no sentence start fits', async (t) => {
  const text = Array.from({ length: 300 }, (_, i) => `w${i}`).join(' ');
  const chunks = chunkText(text, { maxTokens: 60, overlapTokens: 10 });
  for (let i = 1; i < chunks.length; i++) {
    const overlap = overlapOf(chunks[i - 1]!, chunks[i]!);
    t.ok(overlap.length > 0);
    t.ok(countTokens(overlap) <= 10);
    t.match(chunks[i]!.text, /^w\d+ /, 'starts on a whole word');
    t.ok(chunks[i - 1]!.text.includes(` ${words(chunks[i]!.text)[0]} `) || chunks[i - 1]!.text.startsWith(`${words(chunks[i]!.text)[0]} `));
  }
});

t.test('without overlap nothing repeats', async (t) => {
  const text = sentences(50).join('\n\n');
  const chunks = chunkText(text, { maxTokens: 70, overlapTokens: 0 });
  t.equal(chunks.map((c) => c.text).join('\n\n'), text);
});

t.test('a section that fits in maxTokens stays whole even when overlap would not leave room', async (t) => {
  const body = sentences(8).join(' ');
  const tokens = countTokens(`## S\n\n${body}`);
  const chunks = chunkText(`## S\n\n${body}`, { maxTokens: tokens, overlapTokens: Math.floor(tokens / 2) });
  t.equal(chunks.length, 1);
  t.equal(chunks[0]!.tokenCount, tokens);
});

t.test('deterministic, and special-token markers are just text', async (t) => {
  const text = `# A\n\n${sentences(30).join(' ')} <|endoftext|> ${sentences(30, 30).join(' ')}`;
  const a = chunkText(text, { maxTokens: 90, overlapTokens: 15 });
  const b = chunkText(text, { maxTokens: 90, overlapTokens: 15 });
  t.same(a, b);
  t.ok(a.some((c) => c.text.includes('<|endoftext|>')));
  t.same(chunkingViolations(text, a, 90), []);
});

t.test('chunking 1 MB of markdown is fast', async (t) => {
  let seed = 7;
  const random = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
  const vocabulary = 'the of and to in is that for it as was with be by on not this are or from at which but have an they you were her she there been one all we their has would when if so no will can more out other into time only new some could these two may first then do any like my now over such our man me even most made after also did many before must through back years where much your way well down should because each just those people how too little state good very make world still own see men work long get here between both life being under never day same another know while last might us great old year off come since against go came right used take three'.split(' ');
  const sentence = () => {
    const n = 6 + Math.floor(random() * 18);
    const s = Array.from({ length: n }, () => vocabulary[Math.floor(random() * vocabulary.length)]).join(' ');
    return `${s[0]!.toUpperCase()}${s.slice(1)}${random() < 0.1 ? '?' : '.'}`;
  };
  const paragraph = () => Array.from({ length: 1 + Math.floor(random() * 8) }, sentence).join(' ');
  let md = '# Handbook\n\n';
  let section = 0;
  while (md.length < 1_000_000) {
    const r = random();
    if (r < 0.05) md += `## Section ${++section}\n\n`;
    else if (r < 0.12) md += `### Part ${section}.${Math.floor(random() * 10)}\n\n`;
    else if (r < 0.15) md += `\`\`\`js\n${Array.from({ length: 5 + Math.floor(random() * 30) }, (_, i) => `const x${i} = f(${i}); // ${sentence()}`).join('\n')}\n\`\`\`\n\n`;
    else if (r < 0.2) md += `${Array.from({ length: 3 + Math.floor(random() * 6) }, () => `- ${sentence()}`).join('\n')}\n\n`;
    else if (r < 0.21) md += `${Array.from({ length: 30 }, paragraph).join(' ')}\n\n`;
    else md += `${paragraph()}\n\n`;
  }
  chunkText(md.slice(0, 10_000), { maxTokens: 512, overlapTokens: 64 }); // load the encoding outside the timing
  const started = performance.now();
  const chunks = chunkText(md, { maxTokens: 512, overlapTokens: 64 });
  const ms = performance.now() - started;
  t.comment(`${(md.length / 1e6).toFixed(2)} MB markdown → ${chunks.length} chunks in ${ms.toFixed(0)} ms`);
  // Generous for a busy CI machine; it runs in ~0.2 s. What this catches is quadratic behaviour.
  t.ok(ms < 5_000, `took ${ms.toFixed(0)} ms`);
  t.same(chunkingViolations(md, chunks, 512), []);
});
