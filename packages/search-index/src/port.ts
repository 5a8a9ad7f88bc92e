/**
 * The search-index port: where memories, document chunks and messages are indexed for keyword (BM25)
 * and vector search. The owner filter is applied inside every adapter on every operation: no call can
 * return, count or remove another user's item. Adapters share one fusion implementation
 * (@pai/retrieval) for hybrid ranking.
 */
export type ItemType = 'memory' | 'document' | 'message';
export const ITEM_TYPES: readonly ItemType[] = ['memory', 'document', 'message'];

export type SearchMode = 'hybrid' | 'semantic' | 'keyword';

export interface IndexItem {
  userId: string;
  type: ItemType;
  /** The record's id (memory id, chunk id, message id); unique per user and type. */
  id: string;
  /** The text searched and returned. */
  text: string;
  /** Document title (document chunks); searched with a boost. */
  title?: string | null;
  /** Heading the chunk sits under (document chunks); searched with the title. */
  heading?: string | null;
  /** Memory category. */
  category?: string | null;
  /** The chunk's document. */
  documentId?: string | null;
  /** The message's conversation. */
  conversationId?: string | null;
  /** ISO instant: what since/until filter on. */
  createdAt: string;
  /** Small caller-defined values returned with hits (e.g. importance, ordinal, role). */
  metadata?: Record<string, string | number | boolean | null>;
  /** The embedding of `text` (with title/heading), when an embedding provider is configured. */
  vector?: Float32Array | null;
}

export interface SearchFilters {
  category?: string | undefined;
  documentId?: string | undefined;
  /** Inclusive lower bound on createdAt (ISO). */
  since?: string | undefined;
  /** Exclusive upper bound on createdAt (ISO). */
  until?: string | undefined;
}

export type FusionMethod = 'rrf' | 'weighted';

export interface IndexQuery {
  userId: string;
  text: string;
  /** The query's embedding; required for semantic and used by hybrid when present. */
  vector?: Float32Array | null;
  k: number;
  mode: SearchMode;
  types: readonly ItemType[];
  filters?: SearchFilters | undefined;
  /** Hybrid fusion; defaults to the adapter's configured method. */
  fusion?: FusionMethod | undefined;
}

export interface IndexHit {
  type: ItemType;
  id: string;
  /** Higher is better; comparable within one result list only. */
  score: number;
  text: string;
  title: string | null;
  heading: string | null;
  category: string | null;
  documentId: string | null;
  conversationId: string | null;
  createdAt: string;
  metadata: Record<string, string | number | boolean | null>;
  /** The component scores that went into `score` (absent when that side did not find the item). */
  keywordScore?: number;
  vectorScore?: number;
}

export interface ItemRef {
  type: ItemType;
  id: string;
}

export interface SearchIndex {
  /** "embedded" or "opensearch". */
  readonly kind: string;
  /** Creates what the adapter needs (idempotent; safe to call from every instance at start). */
  init(): Promise<void>;
  /** Adds or replaces items (by userId + type + id). */
  upsert(items: IndexItem[]): Promise<void>;
  /** Removes the user's items by ref; unknown refs are ignored. */
  remove(userId: string, refs: ItemRef[]): Promise<void>;
  /** Removes every chunk of the user's document. */
  removeDocument(userId: string, documentId: string): Promise<void>;
  /** Removes everything of the user's. */
  purgeUser(userId: string): Promise<void>;
  /** Best first, at most q.k hits, only the user's items of the asked types that pass the filters. */
  search(q: IndexQuery): Promise<IndexHit[]>;
  /** How many items the user has in the index (per type when asked). */
  count(userId: string, type?: ItemType): Promise<number>;
  /** Cheap round trip for /readyz; throws when unusable. */
  ping(): Promise<void>;
  close(): Promise<void>;
}
