import { newId } from '@pai/ids';
import { NotFoundErrors } from '@pai/errors';
import type { ConversationRecord, MessageRecord, MessageRole, Page, PageRequest, Store } from '@pai/store';

const TITLE_MAX = 80;

/** A title from the first message: its first line, cut at a word boundary. */
export function titleFrom(message: string): string {
  const line = message.trim().split('\n')[0]!.trim();
  if (line.length <= TITLE_MAX) return line;
  const cut = line.slice(0, TITLE_MAX);
  const space = cut.lastIndexOf(' ');
  return `${(space > TITLE_MAX / 2 ? cut.slice(0, space) : cut).trimEnd()}…`;
}

export async function createConversation(store: Store, userId: string, input: { title?: string | undefined; agentId?: string | undefined }): Promise<ConversationRecord> {
  const now = new Date().toISOString();
  const conversation: ConversationRecord = {
    id: newId('conv'), userId, title: input.title ?? null, agentId: input.agentId ?? 'default', createdAt: now, updatedAt: now,
  };
  await store.conversations.create(conversation);
  return conversation;
}

export async function getConversation(store: Store, userId: string, id: string): Promise<ConversationRecord> {
  const conversation = await store.conversations.get(userId, id);
  if (!conversation) throw NotFoundErrors.conversation(id);
  return conversation;
}

export function listConversations(store: Store, userId: string, page: PageRequest): Promise<Page<ConversationRecord>> {
  return store.conversations.list(userId, page);
}

export async function getConversationWithMessages(store: Store, userId: string, id: string, page: PageRequest) {
  const conversation = await getConversation(store, userId, id);
  const messages = await store.conversations.listMessages(userId, id, page);
  return { conversation, messages };
}

export async function deleteConversation(store: Store, userId: string, id: string): Promise<void> {
  if (!(await store.conversations.delete(userId, id))) throw NotFoundErrors.conversation(id);
}

export interface BeginTurnInput {
  conversationId?: string | undefined;
  agentId: string;
  message: { id: string; content: string };
  historyLimit: number;
}

/**
 * The first half of a chat turn: the conversation (created when none is given, titled from the
 * message), the user's message stored, and the recent history for the prompt.
 */
export async function beginTurn(store: Store, userId: string, input: BeginTurnInput) {
  const now = new Date().toISOString();
  const message = (conversationId: string): MessageRecord => ({
    id: input.message.id, conversationId, userId, role: 'user', content: input.message.content, incomplete: false, createdAt: now,
  });
  if (input.conversationId === undefined) {
    const conversation: ConversationRecord = {
      id: newId('conv'), userId, title: titleFrom(input.message.content), agentId: input.agentId, createdAt: now, updatedAt: now,
    };
    const first = message(conversation.id);
    await store.conversations.createWithMessage(conversation, first);
    return { conversation, created: true, userMessage: first, history: [] as MessageRecord[], historyComplete: true };
  }
  const conversation = await getConversation(store, userId, input.conversationId);
  const userMessage = message(conversation.id);
  await store.conversations.appendMessage(userMessage);
  const recent = input.historyLimit > 0
    ? await store.conversations.recentMessages(userId, conversation.id, input.historyLimit, userMessage.id)
    : [];
  // Messages the summary already covers are not repeated verbatim.
  const covered = conversation.summaryThrough ? recent.findIndex((m) => m.id === conversation.summaryThrough) : -1;
  const history = covered >= 0 ? recent.slice(covered + 1) : recent;
  const historyComplete = covered >= 0 || recent.length < input.historyLimit;
  return { conversation: { ...conversation, updatedAt: now }, created: false, userMessage, history, historyComplete };
}

/** At most this many messages go into one summary step. */
export const SUMMARY_BATCH = 200;

/** The messages after the running summary and before `keepFromId` (a bounded batch, oldest first). */
export async function summaryContext(store: Store, userId: string, conversationId: string, keepFromId: string) {
  const conversation = await getConversation(store, userId, conversationId);
  const batch: MessageRecord[] = [];
  let started = conversation.summaryThrough === undefined;
  let cursor: string | undefined;
  do {
    const page = await store.conversations.listMessages(userId, conversationId, { limit: 100, cursor });
    for (const m of page.items) {
      if (m.id === keepFromId) return { summary: conversation.summary ?? null, messages: batch };
      if (started) batch.push(m);
      else if (m.id === conversation.summaryThrough) started = true;
      if (batch.length === SUMMARY_BATCH) return { summary: conversation.summary ?? null, messages: batch };
    }
    cursor = page.nextCursor ?? undefined;
  } while (cursor);
  // keepFrom is not in the conversation (deleted meanwhile): nothing safe to summarize.
  return { summary: conversation.summary ?? null, messages: [] };
}

export async function applySummary(store: Store, userId: string, conversationId: string, summary: string, through: string): Promise<void> {
  if (!(await store.conversations.setSummary(userId, conversationId, summary, through))) throw NotFoundErrors.conversation(conversationId);
}

export async function appendMessage(
  store: Store,
  userId: string,
  conversationId: string,
  input: { id: string; role: MessageRole; content: string; incomplete: boolean },
): Promise<MessageRecord> {
  const message: MessageRecord = { ...input, conversationId, userId, createdAt: new Date().toISOString() };
  await store.conversations.appendMessage(message);
  return message;
}

/** The two messages of one exchange, with the user's memories related to it (most relevant first, then newest). */
export async function formationContext(
  store: Store, userId: string, ids: { conversationId: string; userMessageId: string; assistantMessageId: string },
  related: (query: string) => Promise<{ id: string; content: string; category: string }[]>,
) {
  await getConversation(store, userId, ids.conversationId);
  const [user, assistant] = await Promise.all([
    store.conversations.getMessage(userId, ids.userMessageId),
    store.conversations.getMessage(userId, ids.assistantMessageId),
  ]);
  if (!user || user.conversationId !== ids.conversationId) throw NotFoundErrors.message(ids.userMessageId);
  if (!assistant || assistant.conversationId !== ids.conversationId) throw NotFoundErrors.message(ids.assistantMessageId);
  return { userMessage: user.content, assistantMessage: assistant.content, memories: await related(user.content) };
}
