import t from 'tap';
import { TOKENIZER_ENCODING, countTokens } from '@pai/documents';

t.test('countTokens is the real cl100k_base BPE, loaded on first use', async (t) => {
  t.equal(TOKENIZER_ENCODING, 'cl100k_base');
  const started = performance.now();
  t.equal(countTokens('hello world'), 2);
  t.comment(`first call (loads the encoding): ${(performance.now() - started).toFixed(0)} ms`);
  // The example from OpenAI's tiktoken README: [83, 1609, 5963, 374, 2294, 0] in cl100k_base.
  t.equal(countTokens('tiktoken is great!'), 6);
  t.equal(countTokens(''), 0);
  t.ok(countTokens('日本語のテキスト') > 4, 'non-Latin text costs more tokens than characters suggest');
});

t.test('special-token markers in documents are plain text, not control tokens (and never throw)', async (t) => {
  t.equal(countTokens('<|endoftext|>'), 7, 'as text: <, |, end, of, text, |, >');
  t.ok(countTokens('before <|im_start|> after') > 3);
});

t.test('counting a large text is fast once loaded', async (t) => {
  const text = Array.from({ length: 20_000 }, (_, i) => `word${i} and some more text, sentence ${i}.`).join(' ');
  const started = performance.now();
  const n = countTokens(text);
  const ms = performance.now() - started;
  t.ok(n > 100_000);
  t.comment(`${text.length} chars, ${n} tokens in ${ms.toFixed(0)} ms`);
  t.ok(ms < 5_000);
});
