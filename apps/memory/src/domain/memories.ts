import { newId } from '@pai/ids';
import { MemoryErrors, NotFoundErrors } from '@pai/errors';
import { analyze, rankBm25 } from '@pai/retrieval';
import type { MemoryRecord, Page, PurgeReceipt, Store } from '@pai/store';

export interface NewMemory {
  content: string;
  category: string;
  importance: number;
  expiresAt?: string | undefined;
  sourceMessageId?: string | null;
}

const isExpired = (m: MemoryRecord, now: Date) => m.expiresAt !== null && Date.parse(m.expiresAt) <= now.getTime();

export async function createMemory(store: Store, userId: string, input: NewMemory): Promise<MemoryRecord> {
  const at = new Date().toISOString();
  const memory: MemoryRecord = {
    id: newId('mem'), userId, content: input.content, category: input.category, importance: input.importance,
    sourceMessageId: input.sourceMessageId ?? null, supersededBy: null,
    expiresAt: input.expiresAt ? new Date(input.expiresAt).toISOString() : null, createdAt: at, updatedAt: at,
  };
  await store.memories.create(memory);
  return memory;
}

/** A memory of the user's; an expired one is forgotten (404) even before anything deletes it. */
export async function getMemory(store: Store, userId: string, id: string, now = new Date()): Promise<MemoryRecord> {
  const memory = await store.memories.get(userId, id);
  if (!memory || isExpired(memory, now)) throw MemoryErrors.notFound(id);
  return memory;
}

export function listMemories(
  store: Store, userId: string,
  query: { limit: number; cursor?: string | undefined; category?: string | undefined; includeSuperseded: boolean },
): Promise<Page<MemoryRecord>> {
  return store.memories.list(userId, { ...query, now: new Date().toISOString() });
}

export interface MemoryChanges {
  content?: string | undefined;
  category?: string | undefined;
  importance?: number | undefined;
  /** null clears the expiry; undefined leaves it. */
  expiresAt?: string | null | undefined;
}

export async function patchMemory(store: Store, userId: string, id: string, changes: MemoryChanges): Promise<MemoryRecord> {
  await getMemory(store, userId, id);
  const patch: Parameters<Store['memories']['update']>[2] = { updatedAt: new Date().toISOString() };
  if (changes.content !== undefined) patch.content = changes.content;
  if (changes.category !== undefined) patch.category = changes.category;
  if (changes.importance !== undefined) patch.importance = changes.importance;
  if (changes.expiresAt !== undefined) patch.expiresAt = changes.expiresAt === null ? null : new Date(changes.expiresAt).toISOString();
  const updated = await store.memories.update(userId, id, patch);
  if (!updated) throw MemoryErrors.notFound(id);
  return updated;
}

export async function deleteMemory(store: Store, userId: string, id: string): Promise<void> {
  if (!(await store.memories.delete(userId, id))) throw MemoryErrors.notFound(id);
}

/** Destroys a user's data key; true when there was one. */
export type Shredder = (userId: string) => Promise<boolean>;

/**
 * Deletes a user for good: the data key first (from then on their ciphertext is unreadable wherever it
 * was copied without the wrapped key), then every record, their API keys and the user. Repeating it
 * finishes an interrupted deletion.
 */
export async function deleteUser(store: Store, userId: string, shred: Shredder): Promise<{ receipt: PurgeReceipt; shredded: boolean }> {
  const user = await store.users.get(userId);
  const shredded = await shred(userId);
  if (!user && !shredded) throw NotFoundErrors.user(userId);
  const receipt = await store.purgeUser(userId);
  return { receipt: { ...receipt, dataKeys: receipt.dataKeys + (shredded ? 1 : 0) }, shredded };
}

export interface RetrievedMemory {
  memory: MemoryRecord;
  score: number;
}

const MAX_CANDIDATES = 5_000;

/** The user's active memories (not expired, not superseded), newest first, up to a safety bound. */
export async function activeMemories(store: Store, userId: string): Promise<MemoryRecord[]> {
  const all: MemoryRecord[] = [];
  let cursor: string | undefined;
  const now = new Date().toISOString();
  do {
    const page = await store.memories.list(userId, { limit: 100, cursor, now });
    all.push(...page.items);
    cursor = page.nextCursor ?? undefined;
  } while (cursor && all.length < MAX_CANDIDATES);
  return all;
}

/**
 * The memories most relevant to a message: BM25 over the user's active memories, nudged by importance
 * (up to +50 %), best first.
 */
export async function searchMemories(store: Store, userId: string, query: string, limit: number): Promise<RetrievedMemory[]> {
  const candidates = await activeMemories(store, userId);
  return rankBm25(query, candidates, (m) => `${m.category} ${m.content}`)
    .map(({ item, score }) => ({ memory: item, score: Math.round(score * (1 + 0.5 * item.importance) * 1e4) / 1e4 }))
    .sort((a, b) => b.score - a.score)
    .slice(0, limit);
}

export interface FormedFact {
  content: string;
  category: string;
  importance: number;
  /** An existing memory this fact contradicts. */
  supersedes?: string | undefined;
}

/** Word-set similarity of two memories (Jaccard over analyzed terms). */
function similarity(a: string, b: string): number {
  const x = new Set(analyze(a));
  const y = new Set(analyze(b));
  if (x.size === 0 || y.size === 0) return 0;
  let shared = 0;
  for (const term of x) if (y.has(term)) shared++;
  return shared / (x.size + y.size - shared);
}

/** At or above this similarity a new fact is the same memory said again: merged, not added. */
export const NEAR_DUPLICATE = 0.75;

/**
 * Stores the facts formed from one message: a fact that supersedes an active memory of the user replaces
 * it (the old one is kept with superseded_by); a near-duplicate of an active memory is merged into it
 * (importance raised); anything else becomes a new memory linked to its source message.
 */
export async function applyFormation(store: Store, userId: string, sourceMessageId: string, facts: FormedFact[]) {
  const active = await activeMemories(store, userId);
  const created: MemoryRecord[] = [];
  const merged: MemoryRecord[] = [];
  const superseded: string[] = [];
  for (const fact of facts) {
    const replaced = fact.supersedes ? active.find((m) => m.id === fact.supersedes) : undefined;
    const twin = replaced ? undefined : active.find((m) => similarity(m.content, fact.content) >= NEAR_DUPLICATE);
    if (twin) {
      const updated = await store.memories.update(userId, twin.id, { importance: Math.max(twin.importance, fact.importance), updatedAt: new Date().toISOString() });
      if (updated) merged.push(updated);
      continue;
    }
    const memory = await createMemory(store, userId, { content: fact.content, category: fact.category, importance: fact.importance, sourceMessageId });
    active.unshift(memory);
    created.push(memory);
    if (replaced) {
      await store.memories.update(userId, replaced.id, { supersededBy: memory.id, updatedAt: memory.createdAt });
      active.splice(active.indexOf(replaced), 1);
      superseded.push(replaced.id);
    }
  }
  return { created, merged, superseded };
}
