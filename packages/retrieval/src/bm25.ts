/**
 * Okapi BM25: a one-shot ranking over a small candidate set (rankBm25) and an incremental inverted
 * index (Bm25Index) for search over many documents.
 */
import { analyze } from './analyze.js';
import { TopK, type Scored } from './top-k.js';

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

/** A document's text by field name; null, undefined and empty fields are not indexed. */
export type Bm25Fields = Readonly<Record<string, string | null | undefined>>;

export interface Bm25IndexOptions extends Bm25Options {
  /** Fields searched by default and their boosts; without it every indexed field is searched with boost 1. */
  boosts?: Readonly<Record<string, number>>;
  /**
   * How field scores combine (Lucene's dis_max / multi_match best_fields): the best boosted field score
   * plus tieBreaker × the other fields' scores. 0 = best field only, 1 = sum of fields. Default 0.
   */
  tieBreaker?: number;
}

export interface Bm25SearchOptions<K> {
  /** At most this many results. */
  limit: number;
  /** Only keys for which this returns true are ranked (called on matching documents only). */
  accept?: (key: K) => boolean;
  /** Fields to search and their boosts, overriding the index's; a field never indexed matches nothing. */
  boosts?: Readonly<Record<string, number>>;
  tieBreaker?: number;
}

/** One field's postings and length statistics (BM25 keeps them per field, as Lucene does). */
class FieldIndex {
  /** term → (doc id → term frequency). */
  readonly postings = new Map<string, Map<number, number>>();
  /** Distinct terms of each document in this field, to undo its postings on removal. */
  readonly docTerms: Array<string[] | undefined> = [];
  lengths = new Float64Array(0);
  /** Documents with at least one term in this field. */
  docCount = 0;
  totalLength = 0;
  /** Scratch accumulator for search, all zeros between searches. */
  scratch = new Float64Array(0);

  grow(capacity: number): void {
    const lengths = new Float64Array(capacity);
    lengths.set(this.lengths);
    this.lengths = lengths;
    this.scratch = new Float64Array(capacity);
  }

  add(doc: number, terms: readonly string[]): void {
    if (terms.length === 0) return;
    const tf = new Map<string, number>();
    for (const term of terms) tf.set(term, (tf.get(term) ?? 0) + 1);
    for (const [term, count] of tf) {
      let list = this.postings.get(term);
      if (list === undefined) this.postings.set(term, (list = new Map()));
      list.set(doc, count);
    }
    this.docTerms[doc] = [...tf.keys()];
    this.lengths[doc] = terms.length;
    this.docCount++;
    this.totalLength += terms.length;
  }

  remove(doc: number): void {
    const terms = this.docTerms[doc];
    if (terms === undefined) return;
    for (const term of terms) {
      const list = this.postings.get(term)!;
      list.delete(doc);
      if (list.size === 0) this.postings.delete(term);
    }
    this.docTerms[doc] = undefined;
    this.docCount--;
    this.totalLength -= this.lengths[doc]!;
    this.lengths[doc] = 0;
  }
}

/**
 * An incremental BM25 inverted index keyed by K: documents are analyzed once when set, searches walk only
 * the postings of the query's terms. Field statistics (document count, average length, document
 * frequency) are kept per field, and a document's score combines its boosted field scores like
 * OpenSearch's multi_match best_fields does. Not safe for concurrent mutation during a search (JS is
 * single-threaded, and search is synchronous).
 */
export class Bm25Index<K> {
  private readonly k1: number;
  private readonly b: number;
  private readonly boosts: Readonly<Record<string, number>> | undefined;
  private readonly tieBreaker: number;
  private readonly fields = new Map<string, FieldIndex>();
  private readonly ids = new Map<K, number>();
  private keys: Array<K | undefined> = [];
  private readonly free: number[] = [];
  private capacity = 0;
  private marked = new Uint8Array(0);
  private touched = new Int32Array(0);

  constructor(options: Bm25IndexOptions = {}) {
    this.k1 = options.k1 ?? 1.2;
    this.b = options.b ?? 0.75;
    this.boosts = options.boosts;
    this.tieBreaker = options.tieBreaker ?? 0;
  }

  /** How many documents are indexed. */
  get size(): number {
    return this.ids.size;
  }

  has(key: K): boolean {
    return this.ids.has(key);
  }

  /** Adds the document, or replaces the one with the same key. A string is shorthand for `{text}`. */
  set(key: K, document: Bm25Fields | string): void {
    const fields: Bm25Fields = typeof document === 'string' ? { text: document } : document;
    this.delete(key);
    const doc = this.allocate();
    this.keys[doc] = key;
    this.ids.set(key, doc);
    for (const [name, text] of Object.entries(fields)) {
      if (text === null || text === undefined || text === '') continue;
      this.field(name).add(doc, analyze(text));
    }
  }

  /** Removes the document; false when there was none. */
  delete(key: K): boolean {
    const doc = this.ids.get(key);
    if (doc === undefined) return false;
    for (const field of this.fields.values()) field.remove(doc);
    this.ids.delete(key);
    this.keys[doc] = undefined;
    this.free.push(doc);
    return true;
  }

  clear(): void {
    this.fields.clear();
    this.ids.clear();
    this.keys = [];
    this.free.length = 0;
    this.capacity = 0;
    this.marked = new Uint8Array(0);
    this.touched = new Int32Array(0);
  }

  /** The best `limit` accepted documents for `query`, highest score first; documents sharing no term are left out. */
  search(query: string, options: Bm25SearchOptions<K>): Scored<K>[] {
    if (!(options.limit > 0) || this.ids.size === 0) return [];
    const terms = [...new Set(analyze(query))];
    if (terms.length === 0) return [];
    const boosts = options.boosts ?? this.boosts ?? Object.fromEntries([...this.fields.keys()].map((name) => [name, 1]));
    const active: Array<{ field: FieldIndex; boost: number }> = [];
    for (const [name, boost] of Object.entries(boosts)) {
      const field = this.fields.get(name);
      if (field !== undefined && field.docCount > 0 && boost > 0) active.push({ field, boost });
    }
    const { k1, b } = this;
    const marked = this.marked;
    const touched = this.touched;
    let count = 0;
    for (const { field } of active) {
      const n = field.docCount;
      const avgLength = field.totalLength / n;
      const lengths = field.lengths;
      const acc = field.scratch;
      for (const term of terms) {
        const postings = field.postings.get(term);
        if (postings === undefined) continue;
        const df = postings.size;
        const weight = Math.log(1 + (n - df + 0.5) / (df + 0.5)) * (k1 + 1);
        for (const [doc, tf] of postings) {
          acc[doc] = acc[doc]! + (weight * tf) / (tf + k1 * (1 - b + (b * lengths[doc]!) / avgLength));
          if (marked[doc] === 0) {
            marked[doc] = 1;
            touched[count++] = doc;
          }
        }
      }
    }
    // Combine field scores and reset the scratch state before calling out to `accept`.
    const tieBreaker = options.tieBreaker ?? this.tieBreaker;
    const scores = new Float64Array(count);
    for (let i = 0; i < count; i++) {
      const doc = touched[i]!;
      marked[doc] = 0;
      let best = 0;
      let sum = 0;
      for (const { field, boost } of active) {
        const s = field.scratch[doc]! * boost;
        field.scratch[doc] = 0;
        sum += s;
        if (s > best) best = s;
      }
      scores[i] = best + tieBreaker * (sum - best);
    }
    const top = new TopK(options.limit);
    const accept = options.accept;
    for (let i = 0; i < count; i++) {
      const score = scores[i]!;
      if (score < top.threshold) continue;
      const doc = touched[i]!;
      if (accept !== undefined && !accept(this.keys[doc]!)) continue;
      top.push(score, doc);
    }
    return top.sorted().map(({ position, score }) => ({ key: this.keys[position]!, score }));
  }

  private field(name: string): FieldIndex {
    let field = this.fields.get(name);
    if (field === undefined) {
      field = new FieldIndex();
      if (this.capacity > 0) field.grow(this.capacity);
      this.fields.set(name, field);
    }
    return field;
  }

  private allocate(): number {
    const reused = this.free.pop();
    if (reused !== undefined) return reused;
    const doc = this.keys.length;
    if (doc >= this.capacity) {
      this.capacity = Math.max(64, this.capacity * 2);
      for (const field of this.fields.values()) field.grow(this.capacity);
      const marked = new Uint8Array(this.capacity);
      marked.set(this.marked);
      this.marked = marked;
      this.touched = new Int32Array(this.capacity);
    }
    this.keys.push(undefined);
    return doc;
  }
}
