/**
 * Text analysis shared by every keyword path (the embedded index, the OpenSearch stand-in, memory
 * ranking): lowercase, Unicode word split, stop words, light English stemming. Both sides of a match
 * (documents and queries) go through the same function, so consistency matters more than linguistics.
 */
const STOP_WORDS = new Set(
  ('a an and are as at be been but by can could did do does for from had has have he her hers him his how i if in into is it its ' +
    "me my mine no not of on or our ours she so that the their them they this to too was we were what when where which who why " +
    'will with would you your yours am im ive id dont does doesnt ' +
    'about also just very there these those then than here such being having doing whom should shall each both nor ' +
    'myself yourself himself herself itself ourselves themselves').split(' '),
);

/** True for a stop word (after lowercasing); such words are never indexed or searched. */
export function isStopWord(word: string): boolean {
  return STOP_WORDS.has(word);
}

const VOWELS = new Set(['a', 'e', 'i', 'o', 'u']);

function isConsonant(word: string, i: number): boolean {
  const c = word[i]!;
  if (VOWELS.has(c)) return false;
  // Porter: y is a vowel after a consonant ("fly"), a consonant at the start or after a vowel ("play").
  return c !== 'y' || i === 0 || !isConsonant(word, i - 1);
}

/** Porter's measure m: the number of vowel→consonant transitions ([C](VC)^m[V]). */
function measure(word: string): number {
  let m = 0;
  for (let i = 1; i < word.length; i++) if (isConsonant(word, i) && !isConsonant(word, i - 1)) m++;
  return m;
}

function hasVowel(word: string): boolean {
  for (let i = 0; i < word.length; i++) if (!isConsonant(word, i)) return true;
  return false;
}

/** consonant-vowel-consonant at the end, the last not w, x or y ("hop", not "play"). */
function endsCvc(word: string): boolean {
  const n = word.length;
  return n >= 3 && isConsonant(word, n - 1) && !isConsonant(word, n - 2) && isConsonant(word, n - 3) && !/[wxy]$/.test(word);
}

/** Porter step 1b's repair after -ed/-ing: "hoping"→"hope", "running"→"run", "related"→"relate". */
function afterVerbEnding(base: string, word: string): string {
  if (!/^[a-z]+$/.test(base) || !hasVowel(base)) return word; // "string", "shed" keep their ending
  let out = base;
  if (/(at|bl|iz)$/.test(base)) out = `${base}e`;
  else if (/([^aeiouylsz])\1$/.test(base)) out = base.slice(0, -1);
  else if (measure(base) === 1 && endsCvc(base)) out = `${base}e`;
  return out.length >= 3 ? out : word;
}

function keepLong(candidate: string, word: string): string {
  return candidate.length >= 3 ? candidate : word;
}

/** Plural endings: "flies"→"fly", "classes"→"class", "boxes"→"box", "cats"→"cat". */
function stripPlural(word: string): string {
  if (word.endsWith('ies')) return keepLong(`${word.slice(0, -3)}y`, word);
  if (word.endsWith('sses')) return word.slice(0, -2);
  if (/(ch|sh|x)es$/.test(word)) return keepLong(word.slice(0, -2), word);
  if (/[^s]s$/.test(word)) return keepLong(word.slice(0, -1), word);
  return word;
}

function stemUncached(word: string): string {
  if (word.length <= 3) return word;
  const singular = stripPlural(word);
  if (singular.endsWith('eed')) return singular; // "speed", "need": not a past tense
  if (singular.endsWith('edly')) return afterVerbEnding(singular.slice(0, -4), singular);
  if (singular.endsWith('ing')) return afterVerbEnding(singular.slice(0, -3), singular);
  if (singular.endsWith('ed')) return afterVerbEnding(singular.slice(0, -2), singular);
  // -ly only on longer words and not after i ("family", "daily", "early", "reply" stay whole).
  if (/[^i]ly$/.test(singular) && singular.length >= 6) return singular.slice(0, -2);
  return singular;
}

// Indexing stems the same few thousand words over and over; a bounded memo keeps that cheap.
const STEM_CACHE_LIMIT = 50_000;
const stemCache = new Map<string, string>();

/**
 * A conservative English stemmer: plural, -ed/-ing (with Porter's e/double-consonant repair) and -ly
 * endings only; words of three letters or fewer are kept, and no ending is stripped below three letters.
 */
export function stem(word: string): string {
  const cached = stemCache.get(word);
  if (cached !== undefined) return cached;
  const stemmed = stemUncached(word);
  if (stemCache.size >= STEM_CACHE_LIMIT) stemCache.clear();
  stemCache.set(word, stemmed);
  return stemmed;
}

const WORD = /[\p{L}\p{N}]+/gu;

/** Terms of a text: lowercased Unicode words without stop words, stemmed. */
export function analyze(text: string): string[] {
  const words = text.toLowerCase().normalize('NFKC').replace(/['’]/g, '').match(WORD);
  if (words === null) return [];
  const terms: string[] = [];
  for (const word of words) if (!STOP_WORDS.has(word)) terms.push(stem(word));
  return terms;
}
