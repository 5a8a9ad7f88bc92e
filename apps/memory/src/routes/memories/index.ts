import { z } from 'zod';
import {
  CreateMemoryBodySchema, MemoryListQuerySchema, MemorySchema, PatchMemoryBodySchema, errorResponses, idParam, pageOf,
} from '@pai/contracts';
import { userIdOf, type RoutePlugin } from '@pai/service-kit';
import { createMemory, deleteMemory, getMemory, listMemories, patchMemory } from '../../domain/memories.js';
import { memoryDto } from '../../domain/dto.js';

const security = [{ bearer: [] }];

export const memoryRoutes: RoutePlugin = async (app) => {
  app.post('/v1/memories', {
    schema: {
      tags: ['memories'], security, summary: 'Remember something about the caller',
      body: CreateMemoryBodySchema,
      response: { 201: MemorySchema, ...errorResponses(400, 401, 403, 413) },
    },
  }, async (request, reply) => {
    const body = request.body;
    const memory = await createMemory(app.store, userIdOf(request), {
      content: body.content, category: body.category, importance: body.importance, expiresAt: body.expires_at,
    });
    return reply.code(201).send(memoryDto(memory));
  });

  app.get('/v1/memories', {
    schema: {
      tags: ['memories'], security, summary: 'List memories, newest first (expired and superseded ones hidden)',
      querystring: MemoryListQuerySchema,
      response: { 200: pageOf(MemorySchema), ...errorResponses(400, 401, 403) },
    },
  }, async (request) => {
    const q = request.query;
    const page = await listMemories(app.store, userIdOf(request), {
      limit: q.limit, cursor: q.cursor, category: q.category, includeSuperseded: q.include_superseded === 'true',
    });
    return { items: page.items.map(memoryDto), next_cursor: page.nextCursor };
  });

  app.get('/v1/memories/:id', {
    schema: {
      tags: ['memories'], security, summary: 'Get a memory',
      params: idParam('Memory'),
      response: { 200: MemorySchema, ...errorResponses(401, 403, 404) },
    },
  }, async (request) => memoryDto(await getMemory(app.store, userIdOf(request), request.params.id)));

  app.patch('/v1/memories/:id', {
    schema: {
      tags: ['memories'], security, summary: 'Change a memory (content, category, importance, expiry)',
      params: idParam('Memory'),
      body: PatchMemoryBodySchema,
      response: { 200: MemorySchema, ...errorResponses(400, 401, 403, 404) },
    },
  }, async (request) => {
    const body = request.body;
    const memory = await patchMemory(app.store, userIdOf(request), request.params.id, {
      content: body.content, category: body.category, importance: body.importance, expiresAt: body.expires_at,
    });
    return memoryDto(memory);
  });

  app.delete('/v1/memories/:id', {
    schema: {
      tags: ['memories'], security, summary: 'Forget a memory',
      params: idParam('Memory'),
      response: { 204: z.null().describe('Deleted'), ...errorResponses(401, 403, 404) },
    },
  }, async (request, reply) => {
    await deleteMemory(app.store, userIdOf(request), request.params.id);
    return reply.code(204).send(null);
  });
};
