import { newId } from '@pai/ids';
import { NotFoundErrors } from '@pai/errors';
import {
  EXPORT_SCHEMA_VERSION, ExportedConversationSchema, ExportedMemorySchema,
  type ExportDocumentDto, type ImportReceiptDto,
} from '@pai/contracts';
import type { ConversationRecord, MemoryRecord, MessageRecord, Store } from '@pai/store';
import { conversationDto, memoryDto, messageDto, userDto } from './dto.js';

async function allPages<T>(load: (cursor: string | undefined) => Promise<{ items: T[]; nextCursor: string | null }>): Promise<T[]> {
  const out: T[] = [];
  let cursor: string | undefined;
  do {
    const page = await load(cursor);
    out.push(...page.items);
    cursor = page.nextCursor ?? undefined;
  } while (cursor);
  return out;
}

/** Everything the user owns, decrypted, as one document. */
export async function exportUser(store: Store, userId: string): Promise<ExportDocumentDto> {
  const user = await store.users.get(userId);
  if (!user) throw NotFoundErrors.user(userId);
  const conversations = await allPages((cursor) => store.conversations.list(userId, { limit: 100, cursor }));
  const exported = [];
  for (const conversation of conversations.reverse()) {
    const messages = await allPages((cursor) => store.conversations.listMessages(userId, conversation.id, { limit: 100, cursor }));
    exported.push({
      ...conversationDto(conversation),
      messages: messages.map((m) => ({ ...messageDto(m), incomplete: m.incomplete })),
    });
  }
  // Expired and superseded memories are part of what the user owns: export them too.
  const memories = await allPages((cursor) => store.memories.list(userId, { limit: 100, cursor, includeSuperseded: true, now: '0000-01-01T00:00:00.000Z' }));
  const documents = [];
  for (const d of (await allPages((cursor) => store.documents.list(userId, { limit: 100, cursor }))).reverse()) {
    const chunks = await allPages((cursor) => store.documents.listChunks(userId, d.id, { limit: 100, cursor }));
    documents.push({
      id: d.id, title: d.title, content_type: d.contentType, size_bytes: d.sizeBytes, status: d.status, created_at: d.createdAt, updated_at: d.updatedAt,
      chunks: chunks.map((c) => ({ id: c.id, ordinal: c.ordinal, heading: c.heading, content: c.content, token_count: c.tokenCount })),
    });
  }
  return {
    schema_version: EXPORT_SCHEMA_VERSION,
    exported_at: new Date().toISOString(),
    user: userDto(user),
    conversations: exported,
    memories: memories.reverse().map(memoryDto),
    documents,
    agents: [],
  };
}

const firstIssue = (error: { issues: Array<{ path: PropertyKey[]; message: string }> }) => {
  const issue = error.issues[0]!;
  return issue.path.length ? `${issue.path.map(String).join('.')}: ${issue.message}` : issue.message;
};

const idOf = (item: unknown): string | null =>
  typeof item === 'object' && item !== null && typeof (item as { id?: unknown }).id === 'string' ? (item as { id: string }).id : null;

/**
 * Restores an export into the caller's account under new ids (timestamps kept). Items are validated one
 * by one: a bad conversation or memory is listed with its reason and the rest are imported. Memory links
 * (superseded_by, source_message_id) follow the new ids.
 */
export async function importUser(
  store: Store, userId: string, doc: { conversations: unknown[]; memories: unknown[]; documents: unknown[]; agents: unknown[] },
): Promise<ImportReceiptDto> {
  const idMap: Record<string, string> = {};
  const rejected: ImportReceiptDto['rejected'] = [];
  const imported = { conversations: 0, messages: 0, memories: 0 };

  for (const [index, raw] of doc.conversations.entries()) {
    const parsed = ExportedConversationSchema.safeParse(raw);
    if (!parsed.success) {
      rejected.push({ kind: 'conversation', index, id: idOf(raw), reason: firstIssue(parsed.error) });
      continue;
    }
    const c = parsed.data;
    if (c.messages.length === 0) {
      const conversation: ConversationRecord = { id: newId('conv'), userId, title: c.title, agentId: c.agent_id, createdAt: c.created_at, updatedAt: c.updated_at };
      await store.conversations.create(conversation);
      idMap[c.id] = conversation.id;
      imported.conversations++;
      continue;
    }
    const conversation: ConversationRecord = { id: newId('conv'), userId, title: c.title, agentId: c.agent_id, createdAt: c.created_at, updatedAt: c.created_at };
    const messages: MessageRecord[] = c.messages.map((m) => ({
      id: newId('msg'), conversationId: conversation.id, userId, role: m.role, content: m.content, incomplete: m.incomplete ?? false, createdAt: m.created_at,
    }));
    await store.conversations.createWithMessage(conversation, messages[0]!);
    for (const message of messages.slice(1)) await store.conversations.appendMessage(message);
    idMap[c.id] = conversation.id;
    c.messages.forEach((m, i) => (idMap[m.id] = messages[i]!.id));
    imported.conversations++;
    imported.messages += messages.length;
  }

  const memories: Array<{ record: MemoryRecord; supersededBy: string | null }> = [];
  for (const [index, raw] of doc.memories.entries()) {
    const parsed = ExportedMemorySchema.safeParse(raw);
    if (!parsed.success) {
      rejected.push({ kind: 'memory', index, id: idOf(raw), reason: firstIssue(parsed.error) });
      continue;
    }
    const m = parsed.data;
    const record: MemoryRecord = {
      id: newId('mem'), userId, content: m.content, category: m.category, importance: m.importance,
      sourceMessageId: m.source_message_id ? idMap[m.source_message_id] ?? null : null, supersededBy: null,
      expiresAt: m.expires_at, createdAt: m.created_at, updatedAt: m.updated_at,
    };
    idMap[m.id] = record.id;
    memories.push({ record, supersededBy: m.superseded_by });
  }
  for (const { record, supersededBy } of memories) {
    await store.memories.create({ ...record, supersededBy: supersededBy ? idMap[supersededBy] ?? null : null });
    imported.memories++;
  }
  for (const [index, raw] of doc.documents.entries()) {
    rejected.push({ kind: 'document', index, id: idOf(raw), reason: 'documents cannot be imported by this version of PAI yet' });
  }
  for (const [index, raw] of doc.agents.entries()) {
    rejected.push({ kind: 'agent', index, id: idOf(raw), reason: 'agents cannot be imported by this version of PAI yet' });
  }
  return { imported, rejected, id_map: idMap };
}
