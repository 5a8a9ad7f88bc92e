/**
 * What every adapter does the same way around its own retrieval: deciding which sides of a query run
 * (keyword, vector), how deep each side looks, validating filters, and turning the two ranked lists into
 * one with the shared fusion of @pai/retrieval.
 */
import { RequestErrors, SearchErrors } from '@pai/errors';
import { fuseRankings, type Scored } from '@pai/retrieval';
import type { FusionMethod, IndexQuery, ItemType } from './port.js';

/** Hybrid fusion as configured on an adapter: a method, optionally with its constants. */
export interface HybridFusionSettings {
  method: FusionMethod;
  /** The RRF rank constant (default 60). */
  rrfK?: number;
  /** The vector weight of weighted fusion, in [0, 1] (default 0.5). */
  alpha?: number;
}

export type FusionSetting = FusionMethod | HybridFusionSettings;

export function resolveFusion(setting: FusionSetting | undefined): HybridFusionSettings {
  if (setting === undefined) return { method: 'rrf' };
  return typeof setting === 'string' ? { method: setting } : setting;
}

/** Field boosts of keyword search: a title or heading match says more about a chunk than a body match. */
export const FIELD_BOOSTS = { text: 1, title: 2, heading: 1.5 } as const;
/** How much the non-best fields add (multi_match best_fields' tie_breaker). */
export const FIELD_TIE_BREAKER = 0.3;

/**
 * How many candidates each side of a hybrid search ranks before fusion: deeper than k, so an item that
 * is only middling on one side but strong on the other can still make the fused top k.
 */
export function hybridDepth(k: number): number {
  return Math.min(Math.max(k * 4, 50), 1000);
}

export interface SearchPlan {
  userId: string;
  k: number;
  types: readonly ItemType[];
  /** Run BM25 over text, title and heading. */
  keyword: boolean;
  /** Run vector search with this query vector. */
  vector: Float32Array | null;
  /** Candidates asked of each side. */
  depth: number;
  category: string | undefined;
  documentId: string | undefined;
  /** Inclusive lower bound, normalized ISO instant and epoch ms. */
  since: { iso: string; ms: number } | undefined;
  /** Exclusive upper bound. */
  until: { iso: string; ms: number } | undefined;
  fusion: HybridFusionSettings;
}

function instant(value: string | undefined, field: string): { iso: string; ms: number } | undefined {
  if (value === undefined || value === null) return undefined;
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) throw RequestErrors.validation({ details: [{ path: `filters.${field}`, message: 'must be an ISO 8601 instant' }] });
  return { iso: new Date(ms).toISOString(), ms };
}

/**
 * The plan of a query, or null when nothing can match (k ≤ 0 or no types). Semantic search without a
 * query vector is refused; hybrid without one is keyword search.
 */
export function planSearch(q: IndexQuery, fusion: HybridFusionSettings): SearchPlan | null {
  if (q.mode === 'semantic' && !q.vector) throw SearchErrors.semanticUnavailable();
  const k = Math.floor(q.k);
  const filters = q.filters ?? {};
  const since = instant(filters.since, 'since');
  const until = instant(filters.until, 'until');
  if (!(k > 0) || q.types.length === 0) return null;
  const keyword = q.mode !== 'semantic';
  const vector = q.mode === 'keyword' ? null : (q.vector ?? null);
  return {
    userId: q.userId,
    k,
    types: [...new Set(q.types)],
    keyword,
    vector,
    depth: keyword && vector !== null ? hybridDepth(k) : k,
    category: filters.category ?? undefined,
    documentId: filters.documentId ?? undefined,
    since,
    until,
    fusion: q.fusion === undefined ? fusion : { ...fusion, method: q.fusion },
  };
}

export interface RankedKey<K> {
  key: K;
  score: number;
  keywordScore?: number;
  vectorScore?: number;
}

/** The plan's final ranking: one side as it is, or both fused; at most k. */
export function rankResults<K>(plan: SearchPlan, keyword: readonly Scored<K>[], vector: readonly Scored<K>[]): RankedKey<K>[] {
  if (plan.keyword && plan.vector !== null) {
    const { method, rrfK, alpha } = plan.fusion;
    return fuseRankings(keyword, vector, { method, k: rrfK, alpha, limit: plan.k });
  }
  if (plan.vector !== null) return vector.slice(0, plan.k).map(({ key, score }) => ({ key, score, vectorScore: score }));
  return keyword.slice(0, plan.k).map(({ key, score }) => ({ key, score, keywordScore: score }));
}
