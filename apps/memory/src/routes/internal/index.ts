import { z } from 'zod';
import {
  AppendMessageBodySchema, BeginTurnBodySchema, RetrievedMemoriesSchema, SearchMemoriesBodySchema,
  ApplyFormationBodySchema, FormationContextBodySchema, FormationContextSchema, FormationResultSchema,
  ApplySummaryBodySchema, SummaryContextBodySchema, SummaryContextSchema, BeginTurnResponseSchema, MessageSchema, VerifyKeyBodySchema,
  VerifyKeyResponseSchema, errorResponses, idParam,
} from '@pai/contracts';
import { userIdOf, type Authenticator, type RoutePlugin } from '@pai/service-kit';
import { appendMessage, applySummary, beginTurn, formationContext, summaryContext } from '../../domain/conversations.js';
import { conversationDto, messageDto } from '../../domain/dto.js';
import { applyFormation, searchMemories } from '../../domain/memories.js';
import { relatedMemories } from '../../domain/formation.js';

const security = [{ internalToken: [] }];

/** Routes the agent and search services call; the internal token is required (auth: 'internal'). */
export const internalRoutes: RoutePlugin<{ authenticator: Authenticator }> = async (app, { authenticator }) => {
  app.post('/internal/v1/auth/verify', {
    config: { auth: 'internal' },
    schema: {
      tags: ['internal'], security, summary: 'Resolve an API key to its principal (services only)',
      body: VerifyKeyBodySchema,
      response: { 200: VerifyKeyResponseSchema, ...errorResponses(400, 401) },
    },
  }, async (request) => {
    const principal = await authenticator.authenticate(request.body.key);
    if (principal === null) return { principal: null };
    return { principal: principal.kind === 'admin' ? { kind: 'admin' as const } : { kind: 'user' as const, user_id: principal.userId, key_id: principal.keyId } };
  });

  app.post('/internal/v1/turns', {
    config: { auth: 'internal' },
    schema: {
      tags: ['internal'], security,
      summary: "Begin a chat turn: find or create the conversation, store the user's message, return recent history",
      body: BeginTurnBodySchema,
      response: { 200: BeginTurnResponseSchema, ...errorResponses(400, 401, 403, 404, 409) },
    },
  }, async (request) => {
    const body = request.body;
    const turn = await beginTurn(app.store, userIdOf(request), {
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
  });

  app.post('/internal/v1/conversations/:id/messages', {
    config: { auth: 'internal' },
    schema: {
      tags: ['internal'], security, summary: 'Append a message to a conversation (e.g. the assistant answer)',
      params: idParam('Conversation'),
      body: AppendMessageBodySchema,
      response: { 201: MessageSchema, ...errorResponses(400, 401, 403, 404, 409) },
    },
  }, async (request, reply) => {
    const message = await appendMessage(app.store, userIdOf(request), request.params.id, request.body);
    return reply.code(201).send(messageDto(message));
  });

  app.post('/internal/v1/memories/search', {
    config: { auth: 'internal' },
    schema: {
      tags: ['internal'], security, summary: "The user's memories most relevant to a query (keyword ranking)",
      body: SearchMemoriesBodySchema,
      response: { 200: RetrievedMemoriesSchema, ...errorResponses(400, 401, 403) },
    },
  }, async (request) => {
    const found = await searchMemories(app.store, userIdOf(request), request.body.query, request.body.limit);
    return { items: found.map(({ memory, score }) => ({ id: memory.id, content: memory.content, category: memory.category, score })) };
  });

  app.post('/internal/v1/formation/context', {
    config: { auth: 'internal' },
    schema: {
      tags: ['internal'], security, summary: 'One exchange and the related memories, for memory formation',
      body: FormationContextBodySchema,
      response: { 200: FormationContextSchema, ...errorResponses(400, 401, 403, 404) },
    },
  }, async (request) => {
    const userId = userIdOf(request);
    const body = request.body;
    const context = await formationContext(app.store, userId, {
      conversationId: body.conversation_id, userMessageId: body.user_message_id, assistantMessageId: body.assistant_message_id,
    }, (query) => relatedMemories(app.store, userId, query));
    return { user_message: context.userMessage, assistant_message: context.assistantMessage, memories: context.memories };
  });

  app.post('/internal/v1/formation/apply', {
    config: { auth: 'internal' },
    schema: {
      tags: ['internal'], security, summary: 'Store formed facts: supersede contradicted memories, merge near-duplicates',
      body: ApplyFormationBodySchema,
      response: { 200: FormationResultSchema, ...errorResponses(400, 401, 403) },
    },
  }, async (request) => {
    const result = await applyFormation(app.store, userIdOf(request), request.body.source_message_id, request.body.facts);
    return { created: result.created.map((m) => m.id), merged: result.merged.map((m) => m.id), superseded: result.superseded };
  });

  app.post('/internal/v1/summary/context', {
    config: { auth: 'internal' },
    schema: {
      tags: ['internal'], security, summary: 'Messages to fold into the running summary of a conversation',
      body: SummaryContextBodySchema,
      response: { 200: SummaryContextSchema, ...errorResponses(400, 401, 403, 404) },
    },
  }, async (request) => {
    const context = await summaryContext(app.store, userIdOf(request), request.body.conversation_id, request.body.keep_from_message_id);
    return { summary: context.summary, messages: context.messages.map(messageDto) };
  });

  app.post('/internal/v1/summary/apply', {
    config: { auth: 'internal' },
    schema: {
      tags: ['internal'], security, summary: 'Replace the running summary of a conversation',
      body: ApplySummaryBodySchema,
      response: { 200: z.object({ ok: z.literal(true) }), ...errorResponses(400, 401, 403, 404) },
    },
  }, async (request) => {
    await applySummary(app.store, userIdOf(request), request.body.conversation_id, request.body.summary, request.body.through_message_id);
    return { ok: true as const };
  });
};
