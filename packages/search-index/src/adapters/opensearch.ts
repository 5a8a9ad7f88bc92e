/**
 * The OpenSearch search index (AWS deployment, docker compose): one shared index for every user, BM25
 * over text/title/heading with the english analyzer and k-NN (Lucene HNSW, cosine) over `vector`. Each
 * user's documents are routed to one shard by user id, and every query, count and delete carries the
 * owner filter built by `ownerFilter`. Hybrid search sends both queries in one _msearch and fuses the
 * two lists here with the shared fusion.
 */
import type { Client } from '@opensearch-project/opensearch';
import { SearchErrors, isPaiError } from '@pai/errors';
import type { Scored } from '@pai/retrieval';
import type { IndexHit, IndexItem, IndexQuery, ItemRef, ItemType, SearchIndex } from '../port.js';
import {
  FIELD_BOOSTS, FIELD_TIE_BREAKER, planSearch, rankResults, resolveFusion, type FusionSetting, type SearchPlan,
} from '../ranking.js';

export interface OpenSearchIndexOptions {
  /** The client (node, auth/signing, retries, timeouts are the caller's). close() leaves it open. */
  client: Client;
  /** Prepended to the index and template names, e.g. "pai-" → index "pai-items" (OPENSEARCH_INDEX_PREFIX). */
  indexPrefix: string;
  /** The embedding dimensions, or null when no embedding provider is configured (no vector field). */
  dimensions: number | null;
  /** Hybrid fusion when a query names none; default rrf. */
  fusion?: FusionSetting;
  /**
   * Whether writes wait until they are searchable: 'wait_for' (default) waits for the next refresh,
   * true forces one, false leaves it to the refresh interval. Deletes by query refresh unless false.
   */
  refresh?: boolean | 'wait_for';
  /** Largest _bulk request body in bytes (default 5 MiB, under every OpenSearch http.max_content_length). */
  maxBulkBytes?: number;
}

/** Fields of one indexed document (the _source). */
interface IndexedSource {
  user_id: string;
  type: ItemType;
  item_id: string;
  text: string;
  title: string | null;
  heading: string | null;
  category: string | null;
  document_id: string | null;
  conversation_id: string | null;
  created_at: string;
  metadata: Record<string, string | number | boolean | null>;
  vector?: number[];
}

interface SearchHitBody {
  _id: string;
  _score: number | null;
  _source?: IndexedSource;
}

interface MsearchResponseBody {
  responses: Array<{ hits?: { hits: SearchHitBody[] }; error?: { type?: string }; status?: number }>;
}

interface BulkResponseBody {
  errors: boolean;
  items: Array<Record<string, { status: number; error?: { type?: string } }>>;
}

const TEXT_FIELD = { type: 'text', analyzer: 'english' } as const;
const KEYWORD = { type: 'keyword' } as const;
/** multi_match fields with their boosts ("title^2"), the same boosts the embedded index uses. */
const MATCH_FIELDS = Object.entries(FIELD_BOOSTS).map(([field, boost]) => (boost === 1 ? field : `${field}^${boost}`));
const DEFAULT_MAX_BULK_BYTES = 5 * 1024 * 1024;
/** Also bounded by count: per-item work on the cluster grows with it. */
const MAX_BULK_ITEMS = 1000;

/** Index settings and mappings: shared by the index template and the explicit create. */
export function openSearchIndexBody(dimensions: number | null): { settings: Record<string, unknown>; mappings: Record<string, unknown> } {
  const properties: Record<string, unknown> = {
    user_id: KEYWORD,
    type: KEYWORD,
    item_id: KEYWORD,
    category: KEYWORD,
    document_id: KEYWORD,
    conversation_id: KEYWORD,
    text: TEXT_FIELD,
    title: TEXT_FIELD,
    heading: TEXT_FIELD,
    created_at: { type: 'date' },
    // Returned with hits, never searched: no mapping explosion from caller-defined keys.
    metadata: { type: 'object', enabled: false },
  };
  if (dimensions !== null) {
    properties.vector = {
      type: 'knn_vector',
      dimension: dimensions,
      // Lucene HNSW: supports efficient filtering inside the knn query (the owner filter).
      method: { name: 'hnsw', space_type: 'cosinesimil', engine: 'lucene', parameters: { m: 16, ef_construction: 128 } },
    };
  }
  return {
    // index.knn only when there are vectors: a cluster without the k-NN plugin rejects the setting.
    settings: dimensions === null ? {} : { index: { knn: true } },
    // strict: a typo'd field fails loudly; required routing: no write can land on the wrong user's shard.
    mappings: { dynamic: 'strict', _routing: { required: true }, properties },
  };
}

/** Escapes ':' (the separator) and '%' so distinct (user, id) pairs can never share a document id. */
const idPart = (value: string) => value.replace(/%/g, '%25').replace(/:/g, '%3A');

/** The document id: `${userId}:${type}:${id}` (components escaped). */
export function openSearchDocumentId(userId: string, type: ItemType, id: string): string {
  return `${idPart(userId)}:${type}:${idPart(id)}`;
}

export interface OwnerScope {
  types?: readonly ItemType[];
  category?: string | undefined;
  documentId?: string | undefined;
  /** Inclusive lower bound on created_at (ISO). */
  since?: string | undefined;
  /** Exclusive upper bound on created_at (ISO). */
  until?: string | undefined;
}

/**
 * The tenant filter: every search, count and delete_by_query of this adapter is built from it, so none
 * can reach another user's documents. Returned as bool.filter clauses (no scoring, cached by OpenSearch).
 */
export function ownerFilter(userId: string, scope: OwnerScope = {}): Array<Record<string, unknown>> {
  const filter: Array<Record<string, unknown>> = [{ term: { user_id: userId } }];
  if (scope.types !== undefined) filter.push({ terms: { type: [...scope.types] } });
  if (scope.category !== undefined) filter.push({ term: { category: scope.category } });
  if (scope.documentId !== undefined) filter.push({ term: { document_id: scope.documentId } });
  if (scope.since !== undefined || scope.until !== undefined) {
    const range: Record<string, string> = {};
    if (scope.since !== undefined) range.gte = scope.since;
    if (scope.until !== undefined) range.lt = scope.until;
    filter.push({ range: { created_at: range } });
  }
  return filter;
}

/** The OpenSearch error type of a ResponseError ("resource_already_exists_exception"), if any. */
function errorType(error: unknown): string | undefined {
  const type = (error as { body?: { error?: { type?: unknown } } } | null)?.body?.error?.type;
  return typeof type === 'string' ? type : undefined;
}

/** A short reason for a failed call. Never the client's message or meta: they can echo indexed text. */
function reasonOf(operation: string, error: unknown): string {
  const e = (error ?? {}) as { name?: unknown; statusCode?: unknown; message?: unknown };
  const name = typeof e.name === 'string' ? e.name : 'Error';
  if (name === 'ResponseError') {
    const type = errorType(error);
    return `OpenSearch ${operation} failed: HTTP ${String(e.statusCode)}${type ? ` (${type})` : ''}.`;
  }
  if (name === 'ConnectionError' || name === 'NoLivingConnectionsError') {
    const code = typeof e.message === 'string' ? /\bE[A-Z]{3,}\b/.exec(e.message)?.[0] : undefined;
    return `OpenSearch is unreachable (${operation}${code ? `: ${code}` : ''}).`;
  }
  if (name === 'TimeoutError') return `OpenSearch timed out (${operation}).`;
  if (name === 'RequestAbortedError') return `The OpenSearch request was aborted (${operation}).`;
  return `OpenSearch ${operation} failed (${name}).`;
}

/** Lucene's cosinesimil score is (1 + cos) / 2; hits report the cosine itself, as the embedded index does. */
const cosineOf = (score: number) => 2 * score - 1;

/** Float32 values carry ~7 significant digits; writing more only makes requests larger. */
const vectorJson = (vector: Float32Array) => Array.from(vector, (x) => Number(x.toPrecision(7)));

export function createOpenSearchIndex(options: OpenSearchIndexOptions): SearchIndex {
  const { client, dimensions } = options;
  if (!/^([a-z0-9][a-z0-9._-]*)?$/.test(options.indexPrefix)) {
    throw new Error(`invalid OpenSearch index prefix '${options.indexPrefix}': lowercase letters, digits, '.', '_' and '-' only`);
  }
  if (dimensions !== null && (!Number.isInteger(dimensions) || dimensions <= 0)) throw new RangeError(`invalid vector dimensions ${dimensions}`);
  const index = `${options.indexPrefix}items`;
  const fusion = resolveFusion(options.fusion);
  const refresh = options.refresh ?? 'wait_for';
  const maxBulkBytes = options.maxBulkBytes ?? DEFAULT_MAX_BULK_BYTES;
  let closed = false;

  /** Runs one client call, turning every failure into PAI_SEARCH_UNAVAILABLE with a short reason. */
  async function call<T>(operation: string, fn: () => Promise<T>): Promise<T> {
    if (closed) throw SearchErrors.indexUnavailable('The search index is closed.');
    try {
      return await fn();
    } catch (error) {
      if (isPaiError(error)) throw error;
      throw SearchErrors.indexUnavailable(reasonOf(operation, error));
    }
  }

  const checkDimensions = (vector: Float32Array, what: string) => {
    if (dimensions !== null && vector.length !== dimensions) {
      throw SearchErrors.indexUnavailable(`${what} has ${vector.length} dimensions but the index holds ${dimensions}-dimensional vectors.`);
    }
  };

  /**
   * Sends bulk operations (each one NDJSON entry: an action line, plus its document for index) in
   * requests of bounded size; throws when any operation failed.
   */
  async function bulk(operation: string, entries: string[]): Promise<void> {
    let batch: string[] = [];
    let bytes = 0;
    const flush = async () => {
      if (batch.length === 0) return;
      const body = batch;
      batch = [];
      bytes = 0;
      // Pre-serialized entries: the client writes strings verbatim (its types only list objects).
      const response = await call(operation, () => client.bulk({ body: body as unknown as Array<Record<string, unknown>>, refresh }));
      const result = response.body as unknown as BulkResponseBody;
      if (!result.errors) return;
      // A delete of a missing document answers 404 without an error: unknown refs are ignored.
      const failed = result.items.map((item) => Object.values(item)[0]!).filter((r) => r.error !== undefined || (r.status >= 300 && r.status !== 404));
      if (failed.length === 0) return;
      const type = failed.find((r) => typeof r.error?.type === 'string')?.error?.type;
      throw SearchErrors.indexUnavailable(`OpenSearch rejected ${failed.length} of ${result.items.length} ${operation} operations${type ? ` (${type})` : ''}.`);
    };
    for (const entry of entries) {
      const size = Buffer.byteLength(entry) + 1;
      if (batch.length > 0 && (bytes + size > maxBulkBytes || batch.length >= MAX_BULK_ITEMS)) await flush();
      batch.push(entry);
      bytes += size;
    }
    await flush();
  }

  async function deleteByQuery(operation: string, userId: string, scope: OwnerScope): Promise<void> {
    const response = await call(operation, () => client.deleteByQuery({
      index,
      routing: userId,
      refresh: refresh !== false,
      conflicts: 'proceed',
      body: { query: { bool: { filter: ownerFilter(userId, scope) } } },
    }));
    const failures = (response.body as { failures?: unknown[] }).failures ?? [];
    if (failures.length > 0) throw SearchErrors.indexUnavailable(`OpenSearch ${operation} failed for ${failures.length} documents.`);
  }

  function searchBodies(plan: SearchPlan, text: string): { keyword: object | null; vector: object | null } {
    const filter = ownerFilter(plan.userId, {
      types: plan.types, category: plan.category, documentId: plan.documentId, since: plan.since?.iso, until: plan.until?.iso,
    });
    const source = { excludes: ['vector'] };
    return {
      keyword: plan.keyword
        ? {
          size: plan.depth,
          _source: source,
          query: {
            bool: {
              must: [{ multi_match: { query: text, fields: MATCH_FIELDS, type: 'best_fields', tie_breaker: FIELD_TIE_BREAKER } }],
              filter,
            },
          },
        }
        : null,
      vector: plan.vector !== null
        ? {
          size: plan.depth,
          _source: source,
          query: { knn: { vector: { vector: vectorJson(plan.vector), k: plan.depth, filter: { bool: { filter } } } } },
        }
        : null,
    };
  }

  const toHit = (source: IndexedSource, scores: { score: number; keywordScore?: number; vectorScore?: number }): IndexHit => {
    const hit: IndexHit = {
      type: source.type,
      id: source.item_id,
      score: scores.score,
      text: source.text,
      title: source.title ?? null,
      heading: source.heading ?? null,
      category: source.category ?? null,
      documentId: source.document_id ?? null,
      conversationId: source.conversation_id ?? null,
      createdAt: source.created_at,
      metadata: { ...(source.metadata ?? {}) },
    };
    if (scores.keywordScore !== undefined) hit.keywordScore = scores.keywordScore;
    if (scores.vectorScore !== undefined) hit.vectorScore = scores.vectorScore;
    return hit;
  };

  return {
    kind: 'opensearch',

    async init() {
      const body = openSearchIndexBody(dimensions);
      await call('template update', () => client.indices.putIndexTemplate({
        name: index,
        body: { index_patterns: [`${index}*`], priority: 100, template: body },
      }));
      const exists = await call('index check', () => client.indices.exists({ index }));
      if (exists.body === true) return;
      await call('index creation', async () => {
        try {
          await client.indices.create({ index, body });
        } catch (error) {
          // Another instance created it between our check and create: that is success.
          if (errorType(error) !== 'resource_already_exists_exception') throw error;
        }
      });
    },

    async upsert(items: IndexItem[]) {
      if (items.length === 0) return;
      for (const item of items) {
        if (item.vector && dimensions !== null) checkDimensions(item.vector, 'an item vector');
      }
      const entries: string[] = [];
      for (const item of items) {
        const source: IndexedSource = {
          user_id: item.userId,
          type: item.type,
          item_id: item.id,
          text: item.text,
          title: item.title ?? null,
          heading: item.heading ?? null,
          category: item.category ?? null,
          document_id: item.documentId ?? null,
          conversation_id: item.conversationId ?? null,
          created_at: item.createdAt,
          metadata: item.metadata ?? {},
        };
        if (item.vector && dimensions !== null) source.vector = vectorJson(item.vector);
        const action = { index: { _index: index, _id: openSearchDocumentId(item.userId, item.type, item.id), routing: item.userId } };
        // The client joins body entries with newlines: one entry = the action line and its document.
        entries.push(`${JSON.stringify(action)}\n${JSON.stringify(source)}`);
      }
      await bulk('index', entries);
    },

    async remove(userId: string, refs: ItemRef[]) {
      if (refs.length === 0) return;
      await bulk('delete', refs.map((ref) =>
        JSON.stringify({ delete: { _index: index, _id: openSearchDocumentId(userId, ref.type, ref.id), routing: userId } })));
    },

    async removeDocument(userId, documentId) {
      await deleteByQuery('document removal', userId, { documentId });
    },

    async purgeUser(userId) {
      await deleteByQuery('user purge', userId, {});
    },

    async search(q: IndexQuery) {
      if (dimensions === null && q.mode === 'semantic') throw SearchErrors.semanticUnavailable();
      // Without a vector field, hybrid is keyword search.
      const query = dimensions === null ? { ...q, vector: null } : q;
      const plan = planSearch(query, fusion);
      if (plan === null) return [];
      if (plan.vector !== null) checkDimensions(plan.vector, 'the query vector');
      const bodies = searchBodies(plan, q.text);
      const header = { index, routing: plan.userId };
      const body: object[] = [];
      if (bodies.keyword) body.push(header, bodies.keyword);
      if (bodies.vector) body.push(header, bodies.vector);
      const response = await call('search', () => client.msearch({ body }));
      const responses = (response.body as unknown as MsearchResponseBody).responses;
      const failed = responses.find((r) => r.error !== undefined);
      if (failed !== undefined || responses.length !== body.length / 2) {
        throw SearchErrors.indexUnavailable(`OpenSearch search failed${failed?.error?.type ? ` (${failed.error.type})` : ''}.`);
      }
      const sources = new Map<string, IndexedSource>();
      const listOf = (r: (typeof responses)[number] | undefined, toScore: (score: number) => number): Scored<string>[] => {
        const out: Scored<string>[] = [];
        for (const hit of r?.hits?.hits ?? []) {
          // Second line of defence behind the owner filter: never return a document of someone else.
          if (hit._source === undefined || hit._source.user_id !== plan.userId) continue;
          sources.set(hit._id, hit._source);
          out.push({ key: hit._id, score: toScore(hit._score ?? 0) });
        }
        return out;
      };
      const keyword = bodies.keyword ? listOf(responses[0], (s) => s) : [];
      const vector = bodies.vector ? listOf(responses[bodies.keyword ? 1 : 0], cosineOf) : [];
      return rankResults(plan, keyword, vector).map(({ key, ...scores }) => toHit(sources.get(key)!, scores));
    },

    async count(userId, type) {
      const response = await call('count', () => client.count({
        index,
        routing: userId,
        body: { query: { bool: { filter: ownerFilter(userId, type === undefined ? {} : { types: [type] }) } } },
      }));
      return (response.body as { count: number }).count;
    },

    async ping() {
      const exists = await call('ping', () => client.indices.exists({ index }));
      if (exists.body !== true) throw SearchErrors.indexUnavailable(`The OpenSearch index '${index}' does not exist; it is created at start (init).`);
    },

    async close() {
      closed = true;
    },
  };
}
