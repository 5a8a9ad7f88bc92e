/**
 * The stand-ins' embedding: a deterministic hashing bag of words, good enough for tests to show that
 * semantic search finds meaning without shared keywords. Words are lowercased, stop words dropped, plural
 * and tense endings trimmed ("cars" → "car", "played" → "play"), and synonyms mapped to one word before
 * each is hashed into one of `dimensions` buckets; the counts are L2-normalized. Synonym groups:
 *
 *   car automobile auto motorcar · doctor physician medic · movie film cinema · lawyer attorney counsel
 *   house home residence dwelling · happy glad joyful cheerful · sad unhappy sorrowful · big large huge
 *   enormous · small little tiny · buy purchase · start begin commence · fast quick rapid speedy · help
 *   assist aid · child kid children · dog puppy canine · couch sofa · job occupation profession career ·
 *   vacation holiday · sick ill unwell · money cash funds · medicine medication · bike bicycle · phone
 *   telephone smartphone cellphone · meal dinner supper · shop store · rich wealthy · smart clever intelligent
 *
 * So "my automobile broke down" and "car repair" share the bucket of "car" (and nothing else), while
 * texts with no words in common (after this mapping) are orthogonal unless two words collide in a bucket.
 */
import { normalize } from '../vector.js';

const STOP_WORDS = new Set(
  ('a an and are as at be been but by can could did do does for from had has have he her his how i if in into is it its ' +
    'me my of on or our she so that the their them then there these they this those to was we were what when where which ' +
    'who will with would you your').split(' '),
);

const SYNONYM_GROUPS: readonly string[][] = [
  ['car', 'automobile', 'auto', 'motorcar'],
  ['doctor', 'physician', 'medic'],
  ['movie', 'film', 'cinema'],
  ['lawyer', 'attorney', 'counsel'],
  ['house', 'home', 'residence', 'dwelling'],
  ['happy', 'glad', 'joyful', 'cheerful'],
  ['sad', 'unhappy', 'sorrowful'],
  ['big', 'large', 'huge', 'enormous'],
  ['small', 'little', 'tiny'],
  ['buy', 'purchase'],
  ['start', 'begin', 'commence'],
  ['fast', 'quick', 'rapid', 'speedy'],
  ['help', 'assist', 'aid'],
  ['child', 'kid', 'children'],
  ['dog', 'puppy', 'canine'],
  ['couch', 'sofa'],
  ['job', 'occupation', 'profession', 'career'],
  ['vacation', 'holiday'],
  ['sick', 'ill', 'unwell'],
  ['money', 'cash', 'funds'],
  ['medicine', 'medication'],
  ['bike', 'bicycle'],
  ['phone', 'telephone', 'smartphone', 'cellphone'],
  ['meal', 'dinner', 'supper'],
  ['shop', 'store'],
  ['rich', 'wealthy'],
  ['smart', 'clever', 'intelligent'],
];

/** Trims common English endings; crude, but the same word always gives the same stem. */
function stem(word: string): string {
  if (word.length <= 3) return word;
  if (word.endsWith('ies') && word.length > 4) return `${word.slice(0, -3)}y`;
  if (word.endsWith('sses')) return word.slice(0, -2);
  if (/(?:x|z|ch|sh)es$/.test(word)) return word.slice(0, -2);
  if (word.endsWith('ing') && word.length > 5) return word.slice(0, -3);
  if (word.endsWith('ed') && word.length > 4) return word.slice(0, -2);
  if (word.endsWith('s') && !/(?:ss|us|is)$/.test(word)) return word.slice(0, -1);
  return word;
}

const CANONICAL = new Map<string, string>();
for (const group of SYNONYM_GROUPS) {
  const canonical = stem(group[0]!);
  for (const word of group) CANONICAL.set(stem(word), canonical);
}

/** The words of `text` as the stand-in counts them (stop words gone, stemmed, synonyms merged). */
export function standInTerms(text: string): string[] {
  const words = text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [];
  return words.filter((word) => !STOP_WORDS.has(word)).map((word) => {
    const stemmed = stem(word);
    return CANONICAL.get(stemmed) ?? stemmed;
  });
}

/** 32-bit FNV-1a over UTF-16 code units. */
function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i += 1) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash;
}

/**
 * The unit vector the stand-ins answer for `text`. A text with no countable words (only stop words or
 * punctuation) still gets a vector: one bucket chosen by the whole text.
 */
export function standInEmbedding(text: string, dimensions: number): Float32Array {
  if (!Number.isSafeInteger(dimensions) || dimensions < 1) throw new RangeError(`dimensions must be a whole number ≥ 1 (got ${dimensions}).`);
  const counts = new Float64Array(dimensions);
  const terms = standInTerms(text);
  if (terms.length === 0) counts[fnv1a(`\0${text.trim().toLowerCase()}`) % dimensions] = 1;
  for (const term of terms) counts[fnv1a(term) % dimensions]! += 1;
  return normalize(counts);
}
