import type { MemoryClient } from '@pai/contracts';
import type { Authenticator } from '@pai/service-kit';
import type { Store } from '@pai/store';
import { appendMessage, applySummary, beginTurn, formationContext, summaryContext } from './domain/conversations.js';
import { applyFormation, searchMemories } from './domain/memories.js';
import { relatedMemories } from './domain/formation.js';
import { conversationDto, messageDto } from './domain/dto.js';

/**
 * The memory client for the embedded default: the same interface the agent uses across processes,
 * answered by direct calls into the memory domain (no HTTP, no serialization), so one process pays
 * nothing for the service boundary. Inputs were validated at the agent's edge.
 */
export function createLocalMemoryClient(store: Store, authenticator: Authenticator): MemoryClient {
  return {
    async verifyKey(key) {
      const principal = await authenticator.authenticate(key);
      if (principal === null) return null;
      return principal.kind === 'admin' ? { kind: 'admin' } : { kind: 'user', user_id: principal.userId, key_id: principal.keyId };
    },
    async beginTurn(body, ctx) {
      const turn = await beginTurn(store, ctx.userId, {
        conversationId: body.conversation_id, agentId: body.agent_id, message: body.message, historyLimit: body.history_limit,
      });
      return {
        conversation: conversationDto(turn.conversation),
        created: turn.created,
        user_message: messageDto(turn.userMessage),
        history: turn.history.map(messageDto),
        summary: turn.conversation.summary ?? null,
        history_complete: turn.historyComplete,
      };
    },
    async appendMessage(conversationId, body, ctx) {
      return messageDto(await appendMessage(store, ctx.userId, conversationId, { ...body, incomplete: body.incomplete ?? false }));
    },
    async formationContext(ids, ctx) {
      const context = await formationContext(store, ctx.userId, ids, (query) => relatedMemories(store, ctx.userId, query));
      return { user_message: context.userMessage, assistant_message: context.assistantMessage, memories: context.memories };
    },
    async applyFormation(sourceMessageId, facts, ctx) {
      const result = await applyFormation(store, ctx.userId, sourceMessageId, facts);
      return { created: result.created.map((m) => m.id), merged: result.merged.map((m) => m.id), superseded: result.superseded };
    },
    async summaryContext(conversationId, keepFromMessageId, ctx) {
      const context = await summaryContext(store, ctx.userId, conversationId, keepFromMessageId);
      return { summary: context.summary, messages: context.messages.map(messageDto) };
    },
    applySummary: (conversationId, summary, through, ctx) => applySummary(store, ctx.userId, conversationId, summary, through),
    async searchMemories(query, limit, ctx) {
      const found = await searchMemories(store, ctx.userId, query, limit);
      return found.map(({ memory, score }) => ({ id: memory.id, content: memory.content, category: memory.category, score }));
    },
    async ready() {
      await store.ping();
    },
    async close() {},
  };
}
