/**
 * Hybrid ranking: one keyword (BM25) list and one vector list fused into one. Every search backend
 * uses this, so the embedded index and OpenSearch rank hybrid results the same way.
 */
import type { Scored } from './top-k.js';

export type FusionMethod = 'rrf' | 'weighted';

export interface FusionOptions {
  /**
   * rrf: reciprocal rank fusion, Σ 1 / (k + rank) over the lists an item appears in (rank from 1);
   * ignores score scales. weighted: each list's scores min-max normalized to [0, 1], then
   * alpha × vector + (1 − alpha) × keyword, a missing side counting 0.
   */
  method: FusionMethod;
  /** The RRF rank constant; default 60. */
  k?: number;
  /** Vector weight of the weighted method, in [0, 1]; default 0.5. */
  alpha?: number;
  /** At most this many results. */
  limit?: number;
}

export interface Fused<K> {
  key: K;
  score: number;
  /** The item's score in the keyword list, when it was in it. */
  keywordScore?: number;
  /** The item's score in the vector list, when it was in it. */
  vectorScore?: number;
}

/** The list best first, keeping the first occurrence of a key (stable: equal scores keep their order). */
function ranked<K>(list: readonly Scored<K>[]): Scored<K>[] {
  const seen = new Set<K>();
  const unique: Scored<K>[] = [];
  for (const entry of [...list].sort((a, b) => b.score - a.score)) {
    if (seen.has(entry.key)) continue;
    seen.add(entry.key);
    unique.push(entry);
  }
  return unique;
}

/** Min-max normalization; a list whose scores are all equal normalizes to 1. */
function normalizer(list: readonly Scored<unknown>[]): (score: number) => number {
  let min = Infinity;
  let max = -Infinity;
  for (const { score } of list) {
    if (score < min) min = score;
    if (score > max) max = score;
  }
  const span = max - min;
  return span > 0 && Number.isFinite(span) ? (score) => (score - min) / span : () => 1;
}

/**
 * Fuses a keyword list and a vector list (each ranked by its own score) into one list, best first.
 * Items in both lists carry both component scores. Ties keep keyword-list order, then vector-list order.
 */
export function fuseRankings<K>(keyword: readonly Scored<K>[], vector: readonly Scored<K>[], options: FusionOptions): Fused<K>[] {
  const kw = ranked(keyword);
  const vec = ranked(vector);
  const fused = new Map<K, Fused<K>>();
  const entry = (key: K): Fused<K> => {
    let found = fused.get(key);
    if (found === undefined) fused.set(key, (found = { key, score: 0 }));
    return found;
  };
  if (options.method === 'rrf') {
    const k = options.k ?? 60;
    if (!(k >= 0)) throw new RangeError(`invalid RRF constant ${k}`);
    kw.forEach(({ key, score }, i) => {
      const e = entry(key);
      e.keywordScore = score;
      e.score += 1 / (k + i + 1);
    });
    vec.forEach(({ key, score }, i) => {
      const e = entry(key);
      e.vectorScore = score;
      e.score += 1 / (k + i + 1);
    });
  } else {
    const alpha = options.alpha ?? 0.5;
    if (!(alpha >= 0 && alpha <= 1)) throw new RangeError(`invalid fusion alpha ${alpha}`);
    const kwNorm = normalizer(kw);
    const vecNorm = normalizer(vec);
    for (const { key, score } of kw) {
      const e = entry(key);
      e.keywordScore = score;
      e.score += (1 - alpha) * kwNorm(score);
    }
    for (const { key, score } of vec) {
      const e = entry(key);
      e.vectorScore = score;
      e.score += alpha * vecNorm(score);
    }
  }
  // Map iteration is insertion order (keyword first), and Array.prototype.sort is stable.
  const out = [...fused.values()].sort((a, b) => b.score - a.score);
  return options.limit === undefined ? out : out.slice(0, Math.max(0, options.limit));
}
