/**
 * The embedded search index: one in-memory index per user (BM25 inverted index + exact cosine over a
 * contiguous Float32Array), nothing written to disk. After a restart each user's index is rebuilt
 * lazily from the source of truth by the caller's `hydrate`, the first time the user is touched.
 */
import { SearchErrors, isPaiError } from '@pai/errors';
import { Bm25Index, VectorIndex } from '@pai/retrieval';
import type { IndexHit, IndexItem, IndexQuery, ItemRef, ItemType, SearchIndex } from '../port.js';
import {
  FIELD_BOOSTS, FIELD_TIE_BREAKER, planSearch, rankResults, resolveFusion, type FusionSetting, type SearchPlan,
} from '../ranking.js';

export interface EmbeddedSearchIndexOptions {
  /** Hybrid fusion when a query names none; default rrf. */
  fusion?: FusionSetting;
  /**
   * Loads every item of a user from the source of truth. Called once per user before the first
   * operation on them (concurrent callers share one call; a failed call is retried by the next
   * operation). Without it every user starts empty.
   */
  hydrate?: (userId: string) => Promise<IndexItem[]>;
  /** With `hydrate`: keep at most this many users' indexes, dropping the least recently used (they re-hydrate). */
  maxUsers?: number;
}

interface Entry {
  readonly item: Readonly<Omit<IndexItem, 'vector'>>;
  readonly createdAtMs: number;
}

const refKey = (type: ItemType, id: string) => `${type}:${id}`;

function dimensionMismatch(got: number, held: number, what: string) {
  return SearchErrors.indexUnavailable(`${what} has ${got} dimensions but this index holds ${held}-dimensional vectors; rebuild the index after changing the embedding model.`);
}

/** One user's items, keyword index and vectors. */
class UserIndex {
  private readonly entries = new Map<string, Entry>();
  private readonly bm25 = new Bm25Index<Entry>({ boosts: FIELD_BOOSTS, tieBreaker: FIELD_TIE_BREAKER });
  private vectors: VectorIndex<Entry> | null = null;
  private readonly counts = new Map<ItemType, number>();

  /** Throws before anything changes when a vector's dimensions differ from the index's (or the batch's). */
  checkVectors(items: readonly IndexItem[]): void {
    let held = this.vectors?.dimensions;
    for (const item of items) {
      if (!item.vector) continue;
      if (held === undefined) held = item.vector.length;
      else if (item.vector.length !== held) throw dimensionMismatch(item.vector.length, held, 'an item vector');
    }
  }

  upsert(item: IndexItem): void {
    const key = refKey(item.type, item.id);
    this.removeKey(key);
    const { vector, ...rest } = item;
    const entry: Entry = {
      item: {
        ...rest,
        title: rest.title ?? null,
        heading: rest.heading ?? null,
        category: rest.category ?? null,
        documentId: rest.documentId ?? null,
        conversationId: rest.conversationId ?? null,
        metadata: { ...(rest.metadata ?? {}) },
      },
      createdAtMs: Date.parse(item.createdAt),
    };
    this.entries.set(key, entry);
    this.counts.set(item.type, (this.counts.get(item.type) ?? 0) + 1);
    this.bm25.set(entry, { text: item.text, title: item.title, heading: item.heading });
    if (vector) {
      this.vectors ??= new VectorIndex<Entry>(vector.length);
      this.vectors.set(entry, vector);
    }
  }

  removeKey(key: string): void {
    const entry = this.entries.get(key);
    if (entry === undefined) return;
    this.entries.delete(key);
    this.counts.set(entry.item.type, this.counts.get(entry.item.type)! - 1);
    this.bm25.delete(entry);
    this.vectors?.delete(entry);
  }

  removeDocument(documentId: string): void {
    for (const [key, entry] of this.entries) if (entry.item.documentId === documentId) this.removeKey(key);
  }

  clear(): void {
    this.entries.clear();
    this.counts.clear();
    this.bm25.clear();
    this.vectors = null;
  }

  count(type?: ItemType): number {
    return type === undefined ? this.entries.size : (this.counts.get(type) ?? 0);
  }

  search(plan: SearchPlan, text: string): IndexHit[] {
    const types = new Set(plan.types);
    const { category, documentId } = plan;
    const since = plan.since?.ms;
    const until = plan.until?.ms;
    const accept = ({ item, createdAtMs }: Entry) =>
      types.has(item.type) &&
      (category === undefined || item.category === category) &&
      (documentId === undefined || item.documentId === documentId) &&
      (since === undefined || createdAtMs >= since) &&
      (until === undefined || createdAtMs < until);
    const keyword = plan.keyword ? this.bm25.search(text, { limit: plan.depth, accept }) : [];
    let vector: ReturnType<VectorIndex<Entry>['search']> = [];
    if (plan.vector !== null && this.vectors !== null) {
      if (plan.vector.length !== this.vectors.dimensions) throw dimensionMismatch(plan.vector.length, this.vectors.dimensions, 'the query vector');
      vector = this.vectors.search(plan.vector, { limit: plan.depth, accept });
    }
    return rankResults(plan, keyword, vector).map(({ key: { item }, score, keywordScore, vectorScore }) => {
      const hit: IndexHit = {
        type: item.type,
        id: item.id,
        score,
        text: item.text,
        title: item.title ?? null,
        heading: item.heading ?? null,
        category: item.category ?? null,
        documentId: item.documentId ?? null,
        conversationId: item.conversationId ?? null,
        createdAt: item.createdAt,
        metadata: { ...item.metadata },
      };
      if (keywordScore !== undefined) hit.keywordScore = keywordScore;
      if (vectorScore !== undefined) hit.vectorScore = vectorScore;
      return hit;
    });
  }
}

/** A user's index and where its hydration stands. */
interface Slot {
  readonly index: UserIndex;
  ready: boolean;
  /** The one hydration in flight (or done); operations queue on it in arrival order. */
  hydration: Promise<void> | null;
  /** Operations waiting on the hydration; a slot with waiters is never evicted. */
  waiting: number;
}

export function createEmbeddedSearchIndex(options: EmbeddedSearchIndexOptions = {}): SearchIndex {
  const fusion = resolveFusion(options.fusion);
  const hydrate = options.hydrate;
  const maxUsers = options.maxUsers;
  if (maxUsers !== undefined) {
    if (!hydrate) throw new Error('maxUsers needs hydrate: an evicted user could not be rebuilt');
    if (!Number.isInteger(maxUsers) || maxUsers < 1) throw new RangeError(`maxUsers must be a positive integer, got ${maxUsers}`);
  }
  // Map order is recency: a used slot is moved to the end, eviction takes from the front.
  const users = new Map<string, Slot>();
  let closed = false;

  const newSlot = (userId: string, ready: boolean): Slot => {
    const slot: Slot = { index: new UserIndex(), ready, hydration: null, waiting: 0 };
    users.set(userId, slot);
    return slot;
  };

  const touch = (userId: string, slot: Slot): void => {
    if (users.get(userId) !== slot) return;
    users.delete(userId);
    users.set(userId, slot);
    if (maxUsers === undefined) return;
    for (const [id, candidate] of users) {
      if (users.size <= maxUsers) break;
      if (candidate !== slot && candidate.ready && candidate.waiting === 0) users.delete(id);
    }
  };

  const startHydration = (userId: string, slot: Slot): Promise<void> => {
    const load = async () => {
      let items: IndexItem[];
      try {
        items = await hydrate!(userId);
      } catch (error) {
        if (isPaiError(error)) throw error;
        throw SearchErrors.indexUnavailable('The search index could not be rebuilt from the store.', { cause: error });
      }
      // Another user's item in this user's index would break isolation: refuse the whole load.
      if (items.some((item) => item.userId !== userId)) throw SearchErrors.indexUnavailable('Index hydration returned items of another user.');
      slot.index.checkVectors(items);
      for (const item of items) slot.index.upsert(item);
      slot.ready = true;
    };
    return load().catch((error: unknown) => {
      // Forget the failed attempt: the next operation starts a fresh one.
      slot.index.clear();
      if (users.get(userId) === slot) users.delete(userId);
      throw error;
    });
  };

  /**
   * Runs `fn` on the user's index once it is hydrated. Operations that arrive while a hydration is in
   * flight await the same promise, so they run after the hydrated items are in, in arrival order: a
   * write made during hydration is never overwritten by the (older) hydrated copy.
   */
  async function withUser<T>(userId: string, fn: (index: UserIndex) => T): Promise<T> {
    if (closed) throw SearchErrors.indexUnavailable('The search index is closed.');
    let slot = users.get(userId);
    if (slot !== undefined && slot.ready && slot.waiting === 0) {
      const result = fn(slot.index);
      touch(userId, slot);
      return result;
    }
    if (slot === undefined) {
      slot = newSlot(userId, hydrate === undefined);
      if (hydrate === undefined) return withUser(userId, fn);
    }
    slot.hydration ??= startHydration(userId, slot);
    slot.waiting++;
    try {
      // Awaited directly (no wrapper) so waiters resume in the order they arrived.
      await slot.hydration;
    } finally {
      slot.waiting--;
    }
    if (closed) throw SearchErrors.indexUnavailable('The search index is closed.');
    const result = fn(slot.index);
    touch(userId, slot);
    return result;
  }

  const byUser = (items: readonly IndexItem[]) => {
    const groups = new Map<string, IndexItem[]>();
    for (const item of items) {
      let group = groups.get(item.userId);
      if (group === undefined) groups.set(item.userId, (group = []));
      group.push(item);
    }
    return groups;
  };

  return {
    kind: 'embedded',
    async init() {},
    async upsert(items) {
      for (const [userId, group] of byUser(items)) {
        await withUser(userId, (index) => {
          index.checkVectors(group);
          for (const item of group) index.upsert(item);
        });
      }
    },
    async remove(userId: string, refs: ItemRef[]) {
      await withUser(userId, (index) => {
        for (const ref of refs) index.removeKey(refKey(ref.type, ref.id));
      });
    },
    async removeDocument(userId, documentId) {
      await withUser(userId, (index) => index.removeDocument(documentId));
    },
    async purgeUser(userId) {
      if (closed) throw SearchErrors.indexUnavailable('The search index is closed.');
      // Not loaded: an empty, ready index is what a hydrate-then-clear would leave, without the load.
      if (!users.has(userId)) {
        touch(userId, newSlot(userId, true));
        return;
      }
      await withUser(userId, (index) => index.clear());
    },
    async search(q: IndexQuery) {
      const plan = planSearch(q, fusion);
      if (plan === null) return withUser(q.userId, () => []);
      return withUser(q.userId, (index) => index.search(plan, q.text));
    },
    async count(userId, type) {
      return withUser(userId, (index) => index.count(type));
    },
    async ping() {
      if (closed) throw SearchErrors.indexUnavailable('The search index is closed.');
    },
    async close() {
      closed = true;
      users.clear();
    },
  };
}
