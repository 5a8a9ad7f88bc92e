import { z } from 'zod';
import type { RoutePlugin } from '@pai/service-kit';
import {
  ConversationSchema, ConversationWithMessagesSchema, CreateConversationBodySchema, ListQuerySchema,
  errorResponses, idParam, pageOf,
} from '@pai/contracts';
import { userIdOf } from '@pai/service-kit';
import {
  createConversation, deleteConversation, getConversationWithMessages, listConversations,
} from '../../domain/conversations.js';
import { conversationDto, messageDto } from '../../domain/dto.js';

const security = [{ bearer: [] }];

export const conversationRoutes: RoutePlugin = async (app) => {
  app.post('/v1/conversations', {
    schema: {
      tags: ['conversations'], security, summary: 'Start an empty conversation',
      body: CreateConversationBodySchema.nullish(),
      response: { 201: ConversationSchema, ...errorResponses(400, 401, 403) },
    },
  }, async (request, reply) => {
    const conversation = await createConversation(app.store, userIdOf(request), {
      title: request.body?.title, agentId: request.body?.agent_id,
    });
    return reply.code(201).send(conversationDto(conversation));
  });

  app.get('/v1/conversations', {
    schema: {
      tags: ['conversations'], security, summary: 'List conversations, newest first',
      querystring: ListQuerySchema,
      response: { 200: pageOf(ConversationSchema), ...errorResponses(400, 401, 403) },
    },
  }, async (request) => {
    const page = await listConversations(app.store, userIdOf(request), request.query);
    return { items: page.items.map(conversationDto), next_cursor: page.nextCursor };
  });

  app.get('/v1/conversations/:id', {
    schema: {
      tags: ['conversations'], security,
      summary: 'A conversation with its messages (oldest first, paginated with ?limit&cursor)',
      params: idParam('Conversation'),
      querystring: ListQuerySchema,
      response: { 200: ConversationWithMessagesSchema, ...errorResponses(400, 401, 403, 404) },
    },
  }, async (request) => {
    const { conversation, messages } = await getConversationWithMessages(app.store, userIdOf(request), request.params.id, request.query);
    return { ...conversationDto(conversation), messages: messages.items.map(messageDto), next_cursor: messages.nextCursor };
  });

  app.delete('/v1/conversations/:id', {
    schema: {
      tags: ['conversations'], security, summary: 'Delete a conversation and all its messages',
      params: idParam('Conversation'),
      response: { 204: z.null().describe('Deleted'), ...errorResponses(401, 403, 404) },
    },
  }, async (request, reply) => {
    await deleteConversation(app.store, userIdOf(request), request.params.id);
    return reply.code(204).send(null);
  });
};
