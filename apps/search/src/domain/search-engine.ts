import { isPaiError } from '@pai/errors';
import type { EmbeddingProvider } from '@pai/embeddings';
import type { IndexRecordDto, SearchBodyParsed, SearchResponseDto, SearchResultDto } from '@pai/contracts';
import type { FusionMethod, IndexHit, IndexItem, ItemRef, SearchIndex, SearchMode } from '@pai/search-index';
import type { ChunkRecord, DocumentRecord, MemoryRecord, MessageRecord, Store } from '@pai/store';

export interface EngineLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface SearchEngineDeps {
  index: SearchIndex;
  /** null: keyword search only. */
  embeddings: EmbeddingProvider | null;
  /** The records the index is built from, opened (the sealed store). */
  store: Store;
  fusion: FusionMethod;
  log: EngineLog;
}

export interface RebuildReport {
  users: number;
  items: number;
  embedded: number;
  durationMs: number;
}

export interface SearchEngine {
  readonly index: SearchIndex;
  readonly embeddings: EmbeddingProvider | null;
  /** One user's search (the index applies the owner filter). */
  search(userId: string, body: SearchBodyParsed, signal?: AbortSignal): Promise<SearchResponseDto>;
  /** Applies the memory service's changes (memories and messages) to the index. */
  sync(userId: string, body: { upsert: IndexRecordDto[]; remove: ItemRef[] }): Promise<void>;
  /** Embeds (when possible) and indexes items. */
  write(items: IndexItem[]): Promise<void>;
  /** Every item of the user's from the store, embedded: how the embedded index rebuilds a user. */
  loadUser(userId: string): Promise<IndexItem[]>;
  rebuild(onUser?: (userId: string, items: number) => void): Promise<RebuildReport>;
  purgeUser(userId: string): Promise<void>;
}

/** Hits asked of the index beyond k, so that expired memories dropped afterwards still leave k results. */
const EXPIRY_MARGIN = 10;
/** Records read from the store per page while loading a user. */
const PAGE = 100;

/** What the embedding sees: a chunk's title and heading give its text the document's context. */
function embeddingText(item: IndexItem): string {
  return [item.title, item.heading, item.text].filter((part): part is string => typeof part === 'string' && part.length > 0).join('\n');
}

export function memoryItem(m: MemoryRecord): IndexItem {
  return {
    userId: m.userId, type: 'memory', id: m.id, text: m.content, category: m.category, createdAt: m.createdAt,
    metadata: { importance: m.importance, expires_at: m.expiresAt },
  };
}

export function messageItem(m: MessageRecord): IndexItem {
  return { userId: m.userId, type: 'message', id: m.id, text: m.content, conversationId: m.conversationId, createdAt: m.createdAt, metadata: { role: m.role } };
}

export function chunkItem(document: DocumentRecord, chunk: ChunkRecord): IndexItem {
  return {
    userId: chunk.userId, type: 'document', id: chunk.id, text: chunk.content, title: document.title, heading: chunk.heading,
    documentId: document.id, createdAt: document.createdAt, metadata: { ordinal: chunk.ordinal },
  };
}

function recordItem(userId: string, r: IndexRecordDto): IndexItem {
  return {
    userId, type: r.type, id: r.id, text: r.text, createdAt: r.created_at,
    category: r.category ?? null, conversationId: r.conversation_id ?? null, metadata: r.metadata ?? {},
  };
}

function resultOf(hit: IndexHit): SearchResultDto {
  const metadata: Record<string, unknown> = { ...hit.metadata, created_at: hit.createdAt };
  if (hit.type === 'memory') metadata.category = hit.category;
  if (hit.type === 'document') Object.assign(metadata, { document_id: hit.documentId, title: hit.title, heading: hit.heading });
  if (hit.type === 'message') metadata.conversation_id = hit.conversationId;
  if (hit.keywordScore !== undefined) metadata.keyword_score = hit.keywordScore;
  if (hit.vectorScore !== undefined) metadata.vector_score = hit.vectorScore;
  return { type: hit.type, id: hit.id, score: hit.score, content: hit.text, metadata };
}

const expired = (hit: IndexHit, now: number) => {
  const at = hit.metadata.expires_at;
  return typeof at === 'string' && Date.parse(at) <= now;
};

/**
 * Search over one user's memories, document chunks and messages: embeds the query when a provider is
 * configured, asks the index (which applies the owner filter itself), and keeps the index in step with
 * the records: items are embedded before they are written, and a user's whole index can be rebuilt
 * from the store, which stays the source of truth.
 */
export function createSearchEngine(deps: SearchEngineDeps): SearchEngine {
  const { index, embeddings, store, log } = deps;

  /** Adds vectors to the items (in place) when a provider is configured. */
  async function embed(items: IndexItem[], signal?: AbortSignal): Promise<number> {
    if (embeddings === null || items.length === 0) return 0;
    const vectors = await embeddings.embed(items.map(embeddingText), signal ? { signal } : {});
    items.forEach((item, i) => { item.vector = vectors[i] ?? null; });
    return items.length;
  }

  /**
   * Writes items, embedded when possible. An embedding failure does not lose the write: the items are
   * indexed for keyword search, and the next rebuild (or, embedded, the next load) adds their vectors.
   */
  async function write(items: IndexItem[]): Promise<void> {
    if (items.length === 0) return;
    try {
      await embed(items);
    } catch (err) {
      log.warn({ code: isPaiError(err) ? err.code : 'unknown', items: items.length }, 'embedding failed; indexed for keyword search only');
    }
    await index.upsert(items);
  }

  async function* pages<T>(fetch: (cursor: string | undefined) => Promise<{ items: T[]; nextCursor: string | null }>): AsyncGenerator<T[]> {
    let cursor: string | undefined;
    do {
      const page = await fetch(cursor);
      yield page.items;
      cursor = page.nextCursor ?? undefined;
    } while (cursor !== undefined);
  }

  /** Every item of the user's, read from the store (memories, messages, chunks of documents), not embedded. */
  async function userItems(userId: string): Promise<IndexItem[]> {
    const items: IndexItem[] = [];
    const now = new Date().toISOString();
    for await (const memories of pages((cursor) => store.memories.list(userId, { limit: PAGE, cursor, now }))) {
      items.push(...memories.map(memoryItem));
    }
    for await (const conversations of pages((cursor) => store.conversations.list(userId, { limit: PAGE, cursor }))) {
      for (const conversation of conversations) {
        for await (const messages of pages((cursor) => store.conversations.listMessages(userId, conversation.id, { limit: PAGE, cursor }))) {
          items.push(...messages.map(messageItem));
        }
      }
    }
    for await (const documents of pages((cursor) => store.documents.list(userId, { limit: PAGE, cursor }))) {
      for (const document of documents) {
        if (document.status === 'failed') continue;
        for await (const chunks of pages((cursor) => store.documents.listChunks(userId, document.id, { limit: PAGE, cursor }))) {
          items.push(...chunks.map((c) => chunkItem(document, c)));
        }
      }
    }
    return items;
  }

  /** The user's items with vectors, for an index that rebuilds itself from the store (the embedded one). */
  async function loadUser(userId: string): Promise<IndexItem[]> {
    const started = Date.now();
    const items = await userItems(userId);
    try {
      await embed(items);
    } catch (err) {
      log.warn({ code: isPaiError(err) ? err.code : 'unknown', items: items.length }, 'embedding failed while loading a user; keyword search only until the next load');
    }
    log.info({ items: items.length, ms: Date.now() - started }, 'search index loaded a user');
    return items;
  }

  async function search(userId: string, body: SearchBodyParsed, signal?: AbortSignal): Promise<SearchResponseDto> {
    let mode: SearchMode = embeddings === null ? 'keyword' : body.mode;
    let vector: Float32Array | null = null;
    if (mode !== 'keyword') {
      try {
        vector = (await embeddings!.embed([body.query], signal ? { signal } : {}))[0] ?? null;
      } catch (err) {
        // Semantic search cannot run without the query's vector; hybrid still has its keyword half.
        if (mode === 'semantic') throw err;
        log.warn({ code: isPaiError(err) ? err.code : 'unknown' }, 'query embedding failed; hybrid search ran as keyword');
        mode = 'keyword';
      }
    }
    const filters = body.filters === undefined ? undefined : {
      category: body.filters.category, documentId: body.filters.document_id, since: body.filters.since, until: body.filters.until,
    };
    const types = body.filters?.category !== undefined ? body.types.filter((t) => t === 'memory') : body.types;
    if (types.length === 0) return { results: [], mode_used: mode };
    const hits = await index.search({
      userId, text: body.query, vector, k: body.k + (types.includes('memory') ? EXPIRY_MARGIN : 0), mode, types, filters, fusion: deps.fusion,
    });
    const now = Date.now();
    return { results: hits.filter((h) => !expired(h, now)).slice(0, body.k).map(resultOf), mode_used: mode };
  }

  async function sync(userId: string, body: { upsert: IndexRecordDto[]; remove: ItemRef[] }): Promise<void> {
    if (body.remove.length > 0) await index.remove(userId, body.remove);
    await write(body.upsert.map((r) => recordItem(userId, r)));
  }

  /** Re-indexes every user's items from the store (recovery, or a new embedding model). */
  async function rebuild(onUser?: (userId: string, items: number) => void): Promise<RebuildReport> {
    const started = Date.now();
    const report: RebuildReport = { users: 0, items: 0, embedded: 0, durationMs: 0 };
    for await (const users of pages((cursor) => store.users.list({ limit: PAGE, cursor }))) {
      for (const user of users) {
        const items = await userItems(user.id);
        for (let i = 0; i < items.length; i += PAGE) report.embedded += await embed(items.slice(i, i + PAGE));
        await index.purgeUser(user.id);
        for (let i = 0; i < items.length; i += PAGE) await index.upsert(items.slice(i, i + PAGE));
        report.users += 1;
        report.items += items.length;
        onUser?.(user.id, items.length);
      }
    }
    report.durationMs = Date.now() - started;
    return report;
  }

  return { search, sync, write, loadUser, rebuild, purgeUser: (userId) => index.purgeUser(userId), index, embeddings };
}
