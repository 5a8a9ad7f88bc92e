import type { Store } from '@pai/store';
import { activeMemories, searchMemories } from './memories.js';

const RELATED_LIMIT = 20;

/**
 * Memories a formation step should see to decide what a new fact supersedes: the most relevant to the
 * message, then the newest, at most 20.
 */
export async function relatedMemories(store: Store, userId: string, message: string) {
  const relevant = (await searchMemories(store, userId, message, RELATED_LIMIT)).map((r) => r.memory);
  const seen = new Set(relevant.map((m) => m.id));
  const recent = (await activeMemories(store, userId)).filter((m) => !seen.has(m.id)).slice(0, RELATED_LIMIT - relevant.length);
  return [...relevant, ...recent].map((m) => ({ id: m.id, content: m.content, category: m.category }));
}
