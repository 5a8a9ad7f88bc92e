import t from 'tap';
import fc from 'fast-check';
import { chunkText, countTokens, HEADING_PATH_SEPARATOR } from '@pai/documents';
import { chunkingViolations } from '@pai/documents/testing';

/** Words from a small vocabulary (so texts repeat themselves, as real ones do) plus odd ones. */
const word = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom('the', 'cat', 'sat', 'on', 'a', 'mat', 'Porto', 'coffee', 'über', 'naïve', '42', 'x86_64', 'e.g.', 'don\'t') },
  { weight: 2, arbitrary: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 12 }).map((s) => s.replace(/\s/g, '') || 'w') },
  { weight: 1, arbitrary: fc.string({ unit: fc.constantFrom('a', 'b', 'Z', '9', '-', '🙂', '界'), minLength: 20, maxLength: 300 }) },
);
const sentence = fc.tuple(fc.array(word, { minLength: 1, maxLength: 25 }), fc.constantFrom('.', '!', '?', '', '…', '."'))
  .map(([ws, end]) => `${ws.join(' ')}${end}`);
const paragraph = fc.tuple(fc.array(sentence, { minLength: 1, maxLength: 8 }), fc.constantFrom(' ', '  ', '\n'))
  .map(([ss, separator]) => ss.join(separator));
const heading = fc.tuple(fc.integer({ min: 1, max: 6 }), fc.array(word, { minLength: 0, maxLength: 4 }))
  .map(([level, ws]) => `${'#'.repeat(level)} ${ws.join(' ')}`.trimEnd());
const setext = fc.tuple(fc.array(word, { minLength: 1, maxLength: 4 }), fc.constantFrom('===', '---'))
  .map(([ws, line]) => `${ws.join(' ')}\n${line}`);
const code = fc.array(fc.oneof(sentence, heading, fc.constant('')), { maxLength: 8 }).map((lines) => `\`\`\`\n${lines.join('\n')}\n\`\`\``);
const list = fc.array(sentence, { minLength: 1, maxLength: 6 }).map((items) => items.map((i) => `- ${i}`).join('\n'));
const block = fc.oneof({ weight: 6, arbitrary: paragraph }, { weight: 3, arbitrary: heading }, { weight: 1, arbitrary: setext }, { weight: 1, arbitrary: code }, { weight: 1, arbitrary: list });
const document = fc.tuple(fc.array(block, { maxLength: 30 }), fc.constantFrom('\n\n', '\n\n\n', '\r\n\r\n', '\n \n'))
  .map(([blocks, separator]) => blocks.join(separator));
const limits = fc.integer({ min: 8, max: 300 }).chain((maxTokens) => fc.record({
  maxTokens: fc.constant(maxTokens),
  overlapTokens: fc.integer({ min: 0, max: maxTokens - 1 }),
  contentType: fc.constantFrom(undefined, 'text/markdown', 'text/plain', 'text/html', 'application/pdf'),
}));

t.test('any document: chunks fit, are slices, cover every non-whitespace character in order, and are deterministic', async (t) => {
  fc.assert(
    fc.property(document, limits, (text, options) => {
      const chunks = chunkText(text, options);
      const problems = chunkingViolations(text, chunks, options.maxTokens);
      if (problems.length > 0) throw new Error(problems.join('; '));
      if (JSON.stringify(chunkText(text, options)) !== JSON.stringify(chunks)) throw new Error('not deterministic');
      if (text.trim() !== '' && chunks.length === 0) throw new Error('text lost');
    }),
    { numRuns: 300 },
  );
  t.pass('300 random documents');
});

t.test('any document: a chunk\'s heading path names only headings that occur in the text, in order', async (t) => {
  fc.assert(
    fc.property(document, limits, (text, options) => {
      const chunks = chunkText(text, { ...options, contentType: 'text/markdown' });
      let searchFrom = 0;
      for (const chunk of chunks) {
        if (chunk.heading === null) continue;
        for (const name of chunk.heading.split(HEADING_PATH_SEPARATOR)) {
          if (name === '' || !text.includes(name)) throw new Error(`heading "${name}" is not in the text`);
        }
        const at = text.replace(/\r\n?/g, '\n').indexOf(chunk.text, searchFrom);
        if (at !== -1) searchFrom = at;
      }
    }),
    { numRuns: 200 },
  );
  t.pass('200 random documents');
});

t.test('structure-free text with overlap 0: the chunks are the text, in order, nothing repeated', async (t) => {
  fc.assert(
    fc.property(fc.array(paragraph, { minLength: 1, maxLength: 20 }), fc.integer({ min: 8, max: 200 }), (paragraphs, maxTokens) => {
      const text = paragraphs.join('\n\n');
      const chunks = chunkText(text, { maxTokens, overlapTokens: 0, contentType: 'text/plain' });
      const squash = (s: string) => s.replace(/\s+/g, '');
      if (chunks.map((c) => squash(c.text)).join('') !== squash(text)) throw new Error('chunks are not the text');
      if (chunks.some((c) => c.tokenCount !== countTokens(c.text) || c.tokenCount > maxTokens)) throw new Error('bad token count');
    }),
    { numRuns: 200 },
  );
  t.pass('200 random texts');
});
