/**
 * Keyword ranking shared by every retrieval path: text analysis (lowercase, Unicode word split, stop
 * words, light suffix stemming) and Okapi BM25 over a small candidate set. The search milestone adds
 * vector scores and fusion on top of these.
 */
const STOP_WORDS = new Set(
  ('a an and are as at be been but by can could did do does for from had has have he her hers him his how i if in into is it its ' +
    "me my mine no not of on or our ours she so that the their them they this to too was we were what when where which who why " +
    'will with would you your yours am im ive id dont does doesnt').split(' '),
);

/** A conservative English stemmer: plural and verb endings only, never below three letters. */
export function stem(word: string): string {
  const rules: Array<[RegExp, string]> = [
    [/ies$/, 'y'], [/sses$/, 'ss'], [/([^s])s$/, '$1'], [/ing$/, ''], [/edly$/, ''], [/ed$/, ''], [/ly$/, ''],
  ];
  for (const [pattern, replacement] of rules) {
    if (pattern.test(word)) {
      const stemmed = word.replace(pattern, replacement);
      return stemmed.length >= 3 ? stemmed : word;
    }
  }
  return word;
}

/** Terms of a text: lowercased Unicode words without stop words, stemmed. */
export function analyze(text: string): string[] {
  const words = text.toLowerCase().normalize('NFKC').replace(/['’]/g, '').match(/[\p{L}\p{N}]+/gu) ?? [];
  return words.filter((w) => !STOP_WORDS.has(w)).map(stem);
}

export interface RankedItem<T> {
  item: T;
  score: number;
}

export interface Bm25Options {
  k1?: number;
  b?: number;
}

/**
 * Okapi BM25 of `query` against each candidate's text, highest first; candidates sharing no term score 0
 * and are left out. Scores are comparable within one call only.
 */
export function rankBm25<T>(query: string, candidates: readonly T[], textOf: (item: T) => string, options: Bm25Options = {}): RankedItem<T>[] {
  const k1 = options.k1 ?? 1.2;
  const b = options.b ?? 0.75;
  const terms = [...new Set(analyze(query))];
  if (terms.length === 0 || candidates.length === 0) return [];
  const docs = candidates.map((item) => {
    const tokens = analyze(textOf(item));
    const tf = new Map<string, number>();
    for (const token of tokens) tf.set(token, (tf.get(token) ?? 0) + 1);
    return { item, length: tokens.length, tf };
  });
  const avgLength = docs.reduce((n, d) => n + d.length, 0) / docs.length || 1;
  const df = new Map<string, number>();
  for (const term of terms) df.set(term, docs.filter((d) => d.tf.has(term)).length);
  const n = docs.length;
  const ranked: RankedItem<T>[] = [];
  for (const doc of docs) {
    let score = 0;
    for (const term of terms) {
      const f = doc.tf.get(term);
      if (!f) continue;
      const idf = Math.log(1 + (n - df.get(term)! + 0.5) / (df.get(term)! + 0.5));
      score += idf * ((f * (k1 + 1)) / (f + k1 * (1 - b + (b * doc.length) / avgLength)));
    }
    if (score > 0) ranked.push({ item: doc.item, score });
  }
  return ranked.sort((x, y) => y.score - x.score);
}
