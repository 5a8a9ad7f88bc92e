import type { ApiKeyDto, ConversationDto, MessageDto, UserDto } from '@pai/contracts';
import type { ApiKeyRecord, ConversationRecord, MessageRecord, UserRecord } from '@pai/store';

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
