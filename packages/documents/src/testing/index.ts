/**
 * Test support: the invariants every chunking must keep, as a checker tests (here and in the
 * services that store chunks) can run against any output.
 */
import type { Chunk } from '../chunk.js';
import { countTokens } from '../tokens.js';

/**
 * What is wrong with `chunks` as a chunking of `source` with `maxTokens`; empty when nothing is.
 * Checked: ordinals 0..n-1; no blank chunk; tokenCount is the real count and within maxTokens;
 * each chunk is a slice of the source; and reading the chunks in order, each one starting no later
 * than where the previous ones reached (overlap), covers every non-whitespace character.
 */
export function chunkingViolations(source: string, chunks: readonly Chunk[], maxTokens: number): string[] {
  const problems: string[] = [];
  const text = (source.charCodeAt(0) === 0xfeff ? source.slice(1) : source).replace(/\r\n?/g, '\n');
  chunks.forEach((chunk, i) => {
    if (chunk.ordinal !== i) problems.push(`chunk ${i} has ordinal ${chunk.ordinal}`);
    if (chunk.text.trim() === '') problems.push(`chunk ${i} is blank`);
    const real = countTokens(chunk.text);
    if (chunk.tokenCount !== real) problems.push(`chunk ${i} says ${chunk.tokenCount} tokens, has ${real}`);
    if (real > maxTokens) problems.push(`chunk ${i} has ${real} tokens, more than ${maxTokens}`);
    if (!text.includes(chunk.text)) problems.push(`chunk ${i} is not a slice of the source`);
  });
  if (!coversInOrder(text.replace(/\s+/g, ''), chunks.map((c) => c.text.replace(/\s+/g, '')))) {
    problems.push('the chunks do not cover every non-whitespace character in order');
  }
  return problems;
}

/**
 * True when the pieces can be laid over `target` in order, each starting at or before the end of
 * what the pieces before it covered, together reaching its end. Taking, for each piece, the
 * furthest-reaching place allowed is enough: reaching further never rules out a later placement.
 */
function coversInOrder(target: string, pieces: string[]): boolean {
  let covered = 0;
  for (const piece of pieces) {
    const at = target.lastIndexOf(piece, covered);
    if (at === -1) return false;
    covered = Math.max(covered, at + piece.length);
  }
  return covered === target.length;
}
