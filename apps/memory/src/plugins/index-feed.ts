import type { IndexRecordDto, SearchClient } from '@pai/contracts';
import type { MemoryRecord, MessageRecord, Store } from '@pai/store';

export interface FeedLog {
  warn(obj: object, msg: string): void;
}

const memoryRecord = (m: MemoryRecord): IndexRecordDto => ({
  type: 'memory', id: m.id, text: m.content, created_at: m.createdAt, category: m.category,
  metadata: { importance: m.importance, expires_at: m.expiresAt },
});
const messageRecord = (m: MessageRecord): IndexRecordDto => ({
  type: 'message', id: m.id, text: m.content, created_at: m.createdAt, conversation_id: m.conversationId, metadata: { role: m.role },
});

/** Message ids of a conversation, read before it is deleted so their index entries can follow. */
async function messageIds(store: Store, userId: string, conversationId: string): Promise<string[]> {
  const ids: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await store.conversations.listMessages(userId, conversationId, { limit: 100, cursor });
    ids.push(...page.items.map((m) => m.id));
    cursor = page.nextCursor ?? undefined;
  } while (cursor !== undefined);
  return ids;
}

/**
 * The store as the memory service writes it when a search service is attached: after each write of a
 * memory or message succeeds, the change goes to the search index. The record is the source of truth:
 * an index update that fails is logged and never fails the write (`npm run rebuild-index`, or for the
 * embedded index the next load of the user, brings the index back in step). Memory changes are applied
 * before the write returns, so a memory is searchable as soon as it is created; message changes go in
 * the background, because embedding a message must not delay a chat turn.
 */
export function createIndexFeedStore(store: Store, search: SearchClient, log: FeedLog): Store {
  const ctx = (userId: string) => ({ userId, requestId: 'index-feed' });
  const apply = async (userId: string, body: { upsert?: IndexRecordDto[]; remove?: { type: 'memory' | 'message'; id: string }[] }) => {
    try {
      await search.sync({ upsert: body.upsert ?? [], remove: body.remove ?? [] }, ctx(userId));
    } catch (err) {
      log.warn({ code: (err as { code?: string }).code ?? 'unknown' }, 'search index update failed; the index is behind until it is rebuilt');
    }
  };
  const later = (userId: string, body: Parameters<typeof apply>[1]) => void apply(userId, body);
  const memoryChanged = (m: MemoryRecord) =>
    m.supersededBy === null ? apply(m.userId, { upsert: [memoryRecord(m)] }) : apply(m.userId, { remove: [{ type: 'memory', id: m.id }] });

  return {
    ...store,
    conversations: {
      ...store.conversations,
      createWithMessage: async (c, m) => {
        await store.conversations.createWithMessage(c, m);
        later(m.userId, { upsert: [messageRecord(m)] });
      },
      appendMessage: async (m) => {
        await store.conversations.appendMessage(m);
        later(m.userId, { upsert: [messageRecord(m)] });
      },
      delete: async (userId, id) => {
        const ids = await messageIds(store, userId, id);
        const deleted = await store.conversations.delete(userId, id);
        if (deleted && ids.length > 0) later(userId, { remove: ids.map((mid) => ({ type: 'message' as const, id: mid })) });
        return deleted;
      },
    },
    memories: {
      ...store.memories,
      create: async (m) => {
        await store.memories.create(m);
        await memoryChanged(m);
      },
      update: async (userId, id, patch) => {
        const updated = await store.memories.update(userId, id, patch);
        if (updated !== null) await memoryChanged(updated);
        return updated;
      },
      delete: async (userId, id) => {
        const deleted = await store.memories.delete(userId, id);
        if (deleted) await apply(userId, { remove: [{ type: 'memory', id }] });
        return deleted;
      },
    },
    purgeUser: async (userId) => {
      const receipt = await store.purgeUser(userId);
      try {
        await search.purgeUser(ctx(userId));
      } catch (err) {
        log.warn({ code: (err as { code?: string }).code ?? 'unknown' }, "could not remove a deleted user's search index entries; rebuild the index");
      }
      return receipt;
    },
  };
}
