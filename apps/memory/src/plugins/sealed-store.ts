import { isSealed, type Keyring } from '@pai/crypto';
import type { ChunkRecord, ConversationRecord, DocumentRecord, MemoryRecord, MessageRecord, Page, Store } from '@pai/store';

/** Record kinds bound into each ciphertext, so a sealed value moved to another kind of record fails. */
const KIND = {
  title: 'conversation.title', summary: 'conversation.summary', message: 'message.content', memory: 'memory.content',
  documentTitle: 'document.title', chunk: 'chunk.content', chunkHeading: 'chunk.heading',
} as const;

/**
 * The store as the memory service uses it: every piece of user content (conversation titles, message
 * text, memory content) is sealed with the owner's data key before it reaches the adapter, bound to the
 * user, record kind and record id, and opened on the way out. Adapters only ever see ciphertext.
 * Values written before encryption was enabled (not sealed) are read as they are.
 */
export function createSealedStore(store: Store, keyring: Keyring): Store {
  const seal = (userId: string, kind: string, id: string, text: string) => keyring.seal(userId, kind, id, text);
  const open = (userId: string, kind: string, id: string, value: string) =>
    isSealed(value) ? keyring.open(userId, kind, id, value) : Promise.resolve(value);

  const sealConversation = async (c: ConversationRecord): Promise<ConversationRecord> =>
    c.title === null ? c : { ...c, title: await seal(c.userId, KIND.title, c.id, c.title) };
  const openConversation = async (c: ConversationRecord): Promise<ConversationRecord> => ({
    ...c,
    title: c.title === null ? null : await open(c.userId, KIND.title, c.id, c.title),
    ...(c.summary === undefined ? {} : { summary: await open(c.userId, KIND.summary, c.id, c.summary) }),
  });
  const sealMessage = async (m: MessageRecord): Promise<MessageRecord> => ({ ...m, content: await seal(m.userId, KIND.message, m.id, m.content) });
  const openMessage = async (m: MessageRecord): Promise<MessageRecord> => ({ ...m, content: await open(m.userId, KIND.message, m.id, m.content) });
  const sealMemory = async (m: MemoryRecord): Promise<MemoryRecord> => ({ ...m, content: await seal(m.userId, KIND.memory, m.id, m.content) });
  const openMemory = async (m: MemoryRecord): Promise<MemoryRecord> => ({ ...m, content: await open(m.userId, KIND.memory, m.id, m.content) });
  const sealDocument = async (d: DocumentRecord): Promise<DocumentRecord> => ({ ...d, title: await seal(d.userId, KIND.documentTitle, d.id, d.title) });
  const openDocument = async (d: DocumentRecord): Promise<DocumentRecord> => ({ ...d, title: await open(d.userId, KIND.documentTitle, d.id, d.title) });
  const sealChunk = async (c: ChunkRecord): Promise<ChunkRecord> => ({
    ...c,
    content: await seal(c.userId, KIND.chunk, c.id, c.content),
    heading: c.heading === null ? null : await seal(c.userId, KIND.chunkHeading, c.id, c.heading),
  });
  const openChunk = async (c: ChunkRecord): Promise<ChunkRecord> => ({
    ...c,
    content: await open(c.userId, KIND.chunk, c.id, c.content),
    heading: c.heading === null ? null : await open(c.userId, KIND.chunkHeading, c.id, c.heading),
  });
  const openPage = async <T>(page: Page<T>, fn: (item: T) => Promise<T>): Promise<Page<T>> => ({ ...page, items: await Promise.all(page.items.map(fn)) });
  const openOrNull = async <T>(item: T | null, fn: (item: T) => Promise<T>): Promise<T | null> => (item === null ? null : fn(item));

  return {
    kind: store.kind,
    users: store.users,
    apiKeys: store.apiKeys,
    usage: store.usage,
    dataKeys: store.dataKeys,
    conversations: {
      create: async (c) => store.conversations.create(await sealConversation(c)),
      createWithMessage: async (c, m) => store.conversations.createWithMessage(await sealConversation(c), await sealMessage(m)),
      get: async (userId, id) => openOrNull(await store.conversations.get(userId, id), openConversation),
      list: async (userId, page) => openPage(await store.conversations.list(userId, page), openConversation),
      delete: (userId, id) => store.conversations.delete(userId, id),
      appendMessage: async (m) => store.conversations.appendMessage(await sealMessage(m)),
      getMessage: async (userId, id) => openOrNull(await store.conversations.getMessage(userId, id), openMessage),
      listMessages: async (userId, conversationId, page) => openPage(await store.conversations.listMessages(userId, conversationId, page), openMessage),
      recentMessages: async (userId, conversationId, limit, excludeId) =>
        Promise.all((await store.conversations.recentMessages(userId, conversationId, limit, excludeId)).map(openMessage)),
      setSummary: async (userId, conversationId, summary, through) =>
        store.conversations.setSummary(userId, conversationId, await seal(userId, KIND.summary, conversationId, summary), through),
    },
    memories: {
      create: async (m) => store.memories.create(await sealMemory(m)),
      get: async (userId, id) => openOrNull(await store.memories.get(userId, id), openMemory),
      list: async (userId, query) => openPage(await store.memories.list(userId, query), openMemory),
      update: async (userId, id, patch) => {
        const sealed = patch.content === undefined ? patch : { ...patch, content: await seal(userId, KIND.memory, id, patch.content) };
        return openOrNull(await store.memories.update(userId, id, sealed), openMemory);
      },
      delete: (userId, id) => store.memories.delete(userId, id),
    },
    documents: {
      createWithChunks: async (d, chunks) => store.documents.createWithChunks(await sealDocument(d), await Promise.all(chunks.map(sealChunk))),
      get: async (userId, id) => openOrNull(await store.documents.get(userId, id), openDocument),
      list: async (userId, page) => openPage(await store.documents.list(userId, page), openDocument),
      update: async (userId, id, patch) => openOrNull(await store.documents.update(userId, id, patch), openDocument),
      listChunks: async (userId, documentId, page) => openPage(await store.documents.listChunks(userId, documentId, page), openChunk),
      getChunks: async (userId, ids) => Promise.all((await store.documents.getChunks(userId, ids)).map(openChunk)),
      delete: (userId, id) => store.documents.delete(userId, id),
    },
    // Agent definitions (prompts, rubrics, evaluation cases) are configuration the agent service reads
    // on every turn without the user's key; see the README's encryption section.
    agents: store.agents,
    purgeUser: (userId) => store.purgeUser(userId),
    ping: () => store.ping(),
    close: () => store.close(),
  };
}
