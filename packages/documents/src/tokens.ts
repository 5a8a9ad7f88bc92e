import { createRequire } from 'node:module';
import type {
  countTokens as CountTokens, decode as Decode, encodeGenerator as EncodeGenerator, isWithinTokenLimit as IsWithinTokenLimit,
} from 'gpt-tokenizer/encoding/cl100k_base';

/**
 * The BPE encoding token counts are measured in: cl100k_base, the one OpenAI's embedding models
 * (text-embedding-3-*, ada-002) use, so chunk limits line up with what the embedder accepts.
 */
export const TOKENIZER_ENCODING = 'cl100k_base';

interface Encoding {
  countTokens: typeof CountTokens;
  isWithinTokenLimit: typeof IsWithinTokenLimit;
  encodeGenerator: typeof EncodeGenerator;
  decode: typeof Decode;
}

let encoding: Encoding | undefined;

/**
 * The encoding is loaded on first use, not at import: parsing its rank table takes ~100 ms and
 * ~1 MB of source, which a process that never handles a document should not pay. `require` keeps
 * countTokens synchronous.
 */
function load(): Encoding {
  encoding ??= createRequire(import.meta.url)('gpt-tokenizer/encoding/cl100k_base') as Encoding;
  return encoding;
}

/** Document text is data: `<|endoftext|>` and friends count as ordinary text, never as special tokens. */
const AS_TEXT = { disallowedSpecial: new Set<string>() };

/**
 * The number of tokens `text` encodes to. Exact, and so as slow as the tokenizer, whose merge step
 * is quadratic in the length of one unbroken run (thousands of letters with no space): chunkText
 * never hands it such runs; callers counting untrusted text of unbounded size should chunk first.
 */
export function countTokens(text: string): number {
  if (text === '') return 0;
  return load().countTokens(text, AS_TEXT);
}

/** The token count when it is at most `limit`, else false; stops encoding as soon as the limit is passed. */
export function tokensWithin(text: string, limit: number): number | false {
  if (text === '') return 0;
  return load().isWithinTokenLimit(text, limit, AS_TEXT);
}

/**
 * About how many UTF-16 units of `text` its first `limit` tokens cover: where the tokenizer itself
 * would cut. An estimate (a character split across tokens decodes to U+FFFD, and re-encoding a
 * prefix alone can differ at its end), for callers that then check the exact count. Encoding stops
 * once `limit` is passed.
 */
export function estimateTokenPrefixLength(text: string, limit: number): number {
  const api = load();
  const tokens: number[] = [];
  for (const group of api.encodeGenerator(text, AS_TEXT)) {
    tokens.push(...group);
    if (tokens.length > limit) break;
  }
  if (tokens.length <= limit) return text.length;
  const prefix = api.decode(tokens.slice(0, limit));
  return Math.min(text.length, prefix.replace(/\uFFFD/g, '').length);
}
