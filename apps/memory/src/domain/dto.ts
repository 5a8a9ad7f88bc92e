import type { ApiKeyDto, ConversationDto, DeleteUserReceiptDto, MemoryDto, MessageDto, UserDto } from '@pai/contracts';
import type { ApiKeyRecord, ConversationRecord, MemoryRecord, MessageRecord, PurgeReceipt, UserRecord } from '@pai/store';

export const userDto = (u: UserRecord): UserDto => ({ id: u.id, name: u.name, created_at: u.createdAt });

export const apiKeyDto = (k: ApiKeyRecord): ApiKeyDto => ({
  id: k.id, user_id: k.userId, prefix: k.prefix, created_at: k.createdAt, revoked_at: k.revokedAt,
});

export const conversationDto = (c: ConversationRecord): ConversationDto => ({
  id: c.id, title: c.title, agent_id: c.agentId, created_at: c.createdAt, updated_at: c.updatedAt,
});

export const messageDto = (m: MessageRecord): MessageDto => ({
  id: m.id, role: m.role, content: m.content, created_at: m.createdAt, ...(m.incomplete ? { incomplete: true as const } : {}),
});

export const memoryDto = (m: MemoryRecord): MemoryDto => ({
  id: m.id, content: m.content, category: m.category, importance: m.importance, source_message_id: m.sourceMessageId,
  superseded_by: m.supersededBy, expires_at: m.expiresAt, created_at: m.createdAt, updated_at: m.updatedAt,
});

export const receiptDto = (userId: string, r: PurgeReceipt, shredded: boolean): DeleteUserReceiptDto => ({
  user_id: userId,
  crypto_shredded: shredded,
  deleted: {
    users: r.users, api_keys: r.apiKeys, conversations: r.conversations, messages: r.messages,
    memories: r.memories, usage: r.usage, data_keys: r.dataKeys,
  },
});
