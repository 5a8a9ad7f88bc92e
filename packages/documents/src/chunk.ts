import { normalizeContentType } from './content-type.js';
import { scanSections, type Block, type BlockKind } from './markdown-structure.js';
import { countTokens, estimateTokenPrefixLength, tokensWithin } from './tokens.js';

export interface Chunk {
  /** 0-based position in the document. */
  ordinal: number;
  text: string;
  /** The heading path the chunk sits under ("Setup › Install"), or null. */
  heading: string | null;
  /** Tokens in `text` (cl100k_base); never more than the chunking's maxTokens. */
  tokenCount: number;
}

export interface ChunkOptions {
  /** Upper bound on every chunk's tokens, overlap included. */
  maxTokens: number;
  /**
   * Roughly how many tokens of the previous chunk's tail to repeat at the start of the next one;
   * less than maxTokens, and at most maxTokens − 4 is used (room for new text).
   */
  overlapTokens: number;
  /**
   * How to read structure: markdown and html (as extracted, with `#` headings) split at headings;
   * text/plain and application/pdf split at paragraphs only. Default: markdown.
   */
  contentType?: string;
}

/** The least room for new text a chunk must have: one code point can take up to 4 byte-level tokens. */
const MIN_NEW_TOKENS = 4;

/** Offsets into the text: [start, end). */
interface Span {
  start: number;
  end: number;
}

/** Finds the cut positions of one structural level inside [start, end); the last one is `end`. */
type Splitter = (text: string, start: number, end: number) => number[];

interface Packer {
  text: string;
  /** Where the section starts: its first chunk has no overlap, so it may use all of maxTokens. */
  sectionStart: number;
  maxTokens: number;
  /** Room for new text in chunks that start with an overlap. */
  newTokens: number;
}

/**
 * Splits text into chunks of at most `maxTokens` tokens along its structure: headings first (text
 * never crosses a heading boundary), then paragraphs (small ones under the same heading are packed
 * together), then sentences (lines in code blocks), then words, and mid-word only for runs that
 * have no other break. Each chunk after the first in a section starts with ~`overlapTokens` of the
 * previous chunk's tail, cut at a sentence or word start. Deterministic; every chunk's text is a
 * slice of the (newline-normalized) input, and together they cover all of its non-whitespace text.
 */
export function chunkText(text: string, options: ChunkOptions): Chunk[] {
  const { maxTokens } = options;
  if (!Number.isInteger(maxTokens) || maxTokens < MIN_NEW_TOKENS || !Number.isInteger(options.overlapTokens) || options.overlapTokens < 0 || options.overlapTokens >= maxTokens) {
    throw new RangeError(`chunkText needs integers maxTokens ≥ ${MIN_NEW_TOKENS} and 0 ≤ overlapTokens < maxTokens (got ${maxTokens}, ${options.overlapTokens})`);
  }
  // Every chunk must have room for some new text after its overlap.
  const overlapTokens = Math.min(options.overlapTokens, maxTokens - MIN_NEW_TOKENS);
  const source = normalizeNewlines(text);
  const type = options.contentType === undefined ? 'text/markdown' : normalizeContentType(options.contentType);
  const markdown = type !== 'text/plain' && type !== 'application/pdf';

  const chunks: Chunk[] = [];
  for (const section of scanSections(source, { markdown })) {
    const first = section.blocks[0]!;
    const packer: Packer = { text: source, sectionStart: first.start, maxTokens, newTokens: maxTokens - overlapTokens };
    const spans = packBlocks(packer, section.blocks);
    let previous: Span | null = null;
    for (const span of spans) {
      const piece = withOverlap(packer, previous, span, overlapTokens);
      previous = span;
      if (piece === null) continue;
      chunks.push({ ordinal: chunks.length, text: piece.text, heading: section.path, tokenCount: piece.tokens });
    }
  }
  return chunks;
}

function normalizeNewlines(text: string): string {
  return (text.charCodeAt(0) === 0xfeff ? text.slice(1) : text).replace(/\r\n?/g, '\n');
}

// ---------------------------------------------------------------------------------------------
// Packing

const LADDERS: Record<BlockKind, Splitter[]> = {
  text: [sentenceCuts, wordCuts],
  heading: [wordCuts],
  code: [lineCuts, wordCuts],
};

/**
 * Section blocks → spans: whole blocks packed greedily; oversized ones split down their ladder. A
 * heading travels with the block after it, so it is never left alone in a chunk of its own.
 */
function packBlocks(packer: Packer, blocks: Block[]): Span[] {
  const cuts: number[] = [];
  const kinds: BlockKind[] = [];
  blocks.forEach((block, i) => {
    if (block.kind === 'heading' && i + 1 < blocks.length) return;
    cuts.push(block.end);
    kinds.push(block.kind);
  });
  return pack(packer, blocks[0]!.start, cuts, (start, end, index) => splitDown(packer, start, end, LADDERS[kinds[index]!]));
}

function splitDown(packer: Packer, start: number, end: number, ladder: Splitter[]): Span[] {
  const [splitter, ...finer] = ladder;
  if (splitter === undefined) return hardSplit(packer, start, end);
  return pack(packer, start, splitter(packer.text, start, end), (s, e) => splitDown(packer, s, e, finer));
}

/**
 * Greedy packing of the pieces between `cuts` (each piece runs from the previous cut): each span
 * takes as many whole pieces as fit. A piece too big on its own is split by `finer`; the last part
 * of it may then take the following pieces along. Fit is measured on the exact span text, so the
 * token limit holds by the real tokenizer, not by an estimate.
 */
function pack(packer: Packer, start: number, cuts: number[], finer: (start: number, end: number, index: number) => Span[]): Span[] {
  const spans: Span[] = [];
  let from = start;
  let i = 0;
  while (i < cuts.length) {
    const j = furthestFit(packer, from, cuts, i);
    if (j >= 0) {
      spans.push({ start: from, end: cuts[j]! });
      from = cuts[j]!;
      i = j + 1;
      continue;
    }
    const parts = finer(from, cuts[i]!, i);
    const last = parts.pop()!;
    spans.push(...parts);
    i += 1;
    const k = i < cuts.length ? furthestFit(packer, last.start, cuts, i) : -1;
    if (k >= 0) {
      spans.push({ start: last.start, end: cuts[k]! });
      from = cuts[k]!;
      i = k + 1;
    } else {
      spans.push(last);
      from = last.end;
    }
  }
  return spans;
}

/**
 * The largest j ≥ i with [from, cuts[j]) fitting, or -1 when not even the first piece fits. Pieces
 * are counted one by one (each once) to estimate how far the span reaches, then the estimate is
 * checked on the exact span text, since tokens can merge or split where pieces join.
 */
function furthestFit(packer: Packer, from: number, cuts: number[], i: number): number {
  const budget = budgetAt(packer, from);
  const first = spanTokens(packer, from, cuts[i]!, budget);
  if (first === false) return -1;
  let total = first;
  let j = i;
  while (j + 1 < cuts.length) {
    const piece = boundedTokens(packer.text.slice(cuts[j], cuts[j + 1]), budget - total);
    if (piece === false) break;
    total += piece;
    j += 1;
  }
  while (j > i && !fits(packer, from, cuts[j]!)) j -= 1;
  return j;
}

/**
 * Mid-word cuts, for runs with no whitespace at all: about where the tokenizer itself would cut
 * after the budget's last token, then moved back until the exact count fits. Always at code point
 * boundaries.
 */
function hardSplit(packer: Packer, start: number, end: number): Span[] {
  const { text } = packer;
  const spans: Span[] = [];
  let from = start;
  while (from < end) {
    const budget = budgetAt(packer, from);
    const minimal = nextCodePoint(text, from);
    // The tokenizer only ever sees a window: enough for the budget at 4 characters a token, and no
    // more than RUN_MAX where the window holds a long run (see boundedTokens).
    let window = Math.min(end, from + budget * 4);
    if (LONG_RUN.test(text.slice(from, window))) window = Math.min(window, from + RUN_MAX);
    window = Math.max(minimal, alignToCodePoint(text, window));
    const estimate = Math.max(minimal, alignToCodePoint(text, from + estimateTokenPrefixLength(text.slice(from, window), budget)));
    spans.push({ start: from, end: fitBefore(packer, from, minimal, estimate) });
    from = spans.at(-1)!.end;
  }
  return spans;
}

/** The furthest cut in [minimal, guess] at which [from, cut) fits, probing back from the guess. */
function fitBefore(packer: Packer, from: number, minimal: number, guess: number): number {
  if (fits(packer, from, guess)) return guess;
  let bad = guess;
  let good = minimal;
  for (let step = 1; ; step *= 2) {
    const probe = alignToCodePoint(packer.text, bad - step);
    if (probe <= minimal) break;
    if (fits(packer, from, probe)) {
      good = probe;
      break;
    }
    bad = probe;
  }
  while (bad - good > 1) {
    const mid = alignToCodePoint(packer.text, (good + bad) >>> 1);
    if (mid <= good || mid >= bad) break;
    if (fits(packer, from, mid)) good = mid;
    else bad = mid;
  }
  return good;
}

/**
 * The tokenizer's BPE merge takes time quadratic in the length of a pre-token (a run of letters, of
 * symbols or of whitespace), so runs longer than RUN_MAX are never handed to it: a text holding one
 * does not fit, which sends it down to the mid-word split, whose pieces keep such runs short.
 */
const RUN_MAX = 256;
const LONG_RUN = new RegExp(`[\\p{L}\\p{M}]{${RUN_MAX + 1}}|[^\\s\\p{L}\\p{M}\\p{N}]{${RUN_MAX + 1}}|\\s{${RUN_MAX + 1}}`, 'u');

/** Like tokensWithin, without ever feeding the tokenizer a long run (or a text too long to fit anyway). */
function boundedTokens(text: string, limit: number): number | false {
  // Without long runs no token is longer than RUN_MAX characters, so this is sure not to fit.
  if (text.length > (limit + 1) * RUN_MAX) return false;
  if (LONG_RUN.test(text)) return false;
  return tokensWithin(text, limit);
}

/** The section's first chunk has no overlap before it, so it may use all of maxTokens. */
function budgetAt(packer: Packer, start: number): number {
  return start === packer.sectionStart ? packer.maxTokens : packer.newTokens;
}

function spanTokens(packer: Packer, start: number, end: number, budget: number): number | false {
  const span = trimSpan(packer.text, start, end);
  return boundedTokens(packer.text.slice(span.start, span.end), budget);
}

function fits(packer: Packer, start: number, end: number): boolean {
  return spanTokens(packer, start, end, budgetAt(packer, start)) !== false;
}

// ---------------------------------------------------------------------------------------------
// Cut positions

const SENTENCE_END = /[.!?…]+["'”’»)\]]*(?=\s)|[。！？]+["'”’」』)\]]*/g;
/** A line that starts a list item or quote is a sentence start even without punctuation before it. */
const LIST_LINE = /\n(?=[ \t]*(?:[-*+•]|\d{1,9}[.)])[ \t]|[ \t]*>)/g;

function sentenceCuts(text: string, start: number, end: number): number[] {
  const slice = text.slice(start, end);
  const cuts: number[] = [];
  for (const m of slice.matchAll(SENTENCE_END)) cuts.push(start + m.index + m[0].length);
  for (const m of slice.matchAll(LIST_LINE)) cuts.push(start + m.index);
  return finishCuts(cuts, start, end);
}

function wordCuts(text: string, start: number, end: number): number[] {
  const cuts: number[] = [];
  for (const m of text.slice(start, end).matchAll(/\s+/g)) cuts.push(start + m.index);
  return finishCuts(cuts, start, end);
}

function lineCuts(text: string, start: number, end: number): number[] {
  const cuts: number[] = [];
  for (let nl = text.indexOf('\n', start); nl !== -1 && nl < end; nl = text.indexOf('\n', nl + 1)) cuts.push(nl);
  return finishCuts(cuts, start, end);
}

/** Sorted, unique, strictly inside (start, end), then `end`. */
function finishCuts(cuts: number[], start: number, end: number): number[] {
  cuts.sort((a, b) => a - b);
  const out: number[] = [];
  for (const c of cuts) if (c > start && c < end && c !== out.at(-1)) out.push(c);
  out.push(end);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Overlap

/**
 * The chunk for `span`, starting with up to `overlapTokens` of `previous`'s tail. The tail starts at
 * a sentence when one gives at least half the overlap, else at a word, else (a run with no spaces)
 * anywhere. Null when the span is only whitespace.
 */
function withOverlap(packer: Packer, previous: Span | null, span: Span, overlapTokens: number): { text: string; tokens: number } | null {
  const { text, maxTokens } = packer;
  const own = trimSpan(text, span.start, span.end);
  if (own.start >= own.end) return null;
  const starts = previous === null || overlapTokens === 0 ? [] : overlapStarts(text, previous, span.start, overlapTokens);
  for (const start of starts) {
    const chunk = text.slice(trimSpan(text, start, span.end).start, own.end);
    const tokens = boundedTokens(chunk, maxTokens);
    if (tokens !== false) return { text: chunk, tokens };
  }
  // No overlap asked for, or none that fits: the span alone, which packing made fit.
  const chunk = text.slice(own.start, own.end);
  return { text: chunk, tokens: countTokens(chunk) };
}

/** Where the overlap taken from `previous` (ending at `end`) may start, best first, each later one shorter. */
function overlapStarts(text: string, previous: Span, end: number, overlapTokens: number): number[] {
  const tailTokens = (from: number): number | false => {
    const tail = trimSpan(text, from, end);
    return boundedTokens(text.slice(tail.start, tail.end), overlapTokens);
  };
  // Walk back word by word, estimating the tail's tokens as the sum of its words (each counted with
  // the space before it, as the tokenizer sees it mid-text), until the overlap is spent.
  const words: Array<{ start: number; tokens: number }> = [];
  let total = 0;
  let p = end;
  let sawSpace = false;
  for (;;) {
    let wordEnd = p;
    while (wordEnd > previous.start && isSpace(text.charCodeAt(wordEnd - 1))) wordEnd -= 1;
    if (wordEnd <= previous.start) break;
    let wordStart = wordEnd;
    while (wordStart > previous.start && !isSpace(text.charCodeAt(wordStart - 1))) wordStart -= 1;
    if (wordStart > previous.start) sawSpace = true;
    else if (!sawSpace) return charOverlapStarts(text, previous.start, end, tailTokens);
    const piece = boundedTokens(text.slice(Math.max(previous.start, wordStart - 1), wordEnd), overlapTokens - total);
    if (piece === false) break;
    total += piece;
    words.push({ start: wordStart, tokens: total });
    p = wordStart;
  }
  words.reverse();
  // The estimate can be a token or two short: confirm, and give up words from the left if needed.
  while (words.length > 0 && tailTokens(words[0]!.start) === false) words.shift();
  const sentence = words.findIndex((w) => isSentenceStart(text, w.start, previous.start));
  const chosen = sentence >= 0 && words[sentence]!.tokens * 2 >= overlapTokens ? words.slice(sentence) : words;
  return chosen.map((w) => w.start);
}

/**
 * A run with no spaces: the overlap starts at the earliest code point whose tail fits. Searched
 * from the end, doubling, so the tokenizer sees tails about the overlap's size, not the whole span.
 */
function charOverlapStarts(text: string, start: number, end: number, tailTokens: (from: number) => number | false): number[] {
  let good = end;
  let bad = start - 1;
  for (let step = 8; ; step *= 2) {
    const probe = Math.max(start, alignToCodePoint(text, end - step));
    if (tailTokens(probe) === false) {
      bad = probe;
      break;
    }
    good = probe;
    if (probe === start) break;
  }
  while (good - bad > 1) {
    const mid = alignToCodePoint(text, (good + bad) >>> 1);
    if (mid <= bad || mid >= good) break;
    if (tailTokens(mid) !== false) good = mid;
    else bad = mid;
  }
  return good < end ? [good] : [];
}

const SENTENCE_PUNCTUATION = /[.!?…。！？]/;
const CLOSERS = /["'”’»)\]」』]/;

/** True when the word at `at` follows a line break or a sentence's end (punctuation, maybe quoted). */
function isSentenceStart(text: string, at: number, floor: number): boolean {
  let p = at - 1;
  while (p >= floor && isSpace(text.charCodeAt(p))) {
    if (text.charCodeAt(p) === 10) return true;
    p--;
  }
  if (p < floor) return true;
  while (p > floor && CLOSERS.test(text[p]!)) p--;
  return SENTENCE_PUNCTUATION.test(text[p]!);
}

// ---------------------------------------------------------------------------------------------
// Text helpers

function isSpace(code: number): boolean {
  return code === 32 || code === 10 || code === 9 || code === 13 || code === 12 || code === 11 || code === 0xa0
    || (code > 0x1fff && (code <= 0x200a || code === 0x2028 || code === 0x2029 || code === 0x202f || code === 0x205f || code === 0x3000))
    || code === 0x1680 || code === 0xfeff;
}

/** The span without the whitespace around it. */
function trimSpan(text: string, start: number, end: number): Span {
  let s = start;
  while (s < end && isSpace(text.charCodeAt(s))) s++;
  let e = end;
  while (e > s && isSpace(text.charCodeAt(e - 1))) e--;
  return { start: s, end: e };
}

function nextCodePoint(text: string, at: number): number {
  const code = text.charCodeAt(at);
  return code >= 0xd800 && code <= 0xdbff && at + 1 < text.length ? at + 2 : at + 1;
}

/** Moves a cut that would fall inside a surrogate pair to before it. */
function alignToCodePoint(text: string, at: number): number {
  const code = text.charCodeAt(at - 1);
  return code >= 0xd800 && code <= 0xdbff ? at - 1 : at;
}
