import type { RoutePlugin } from '@pai/service-kit';
import {
  DeleteUserReceiptSchema,
  CreateApiKeyBodySchema, CreateUserBodySchema, CreatedApiKeySchema, ApiKeySchema, ListQuerySchema, UserSchema,
  errorResponses, idParam, pageOf,
} from '@pai/contracts';
import { userIdOf } from '@pai/service-kit';
import { createApiKey, createUser, getUser, listApiKeys, listUsers } from '../../domain/accounts.js';
import { apiKeyDto, receiptDto, userDto } from '../../domain/dto.js';
import { deleteUser, type Shredder } from '../../domain/memories.js';

const security = [{ bearer: [] }];

const DELETE_DESCRIPTION = 'Crypto-shred: the user\'s data key is destroyed first, so their ciphertext becomes unreadable ' +
  'wherever it was copied without the wrapped key; then their conversations, messages, memories, usage, API keys and the user ' +
  'are deleted. Other users are unaffected. Repeating the call finishes an interrupted deletion. A backup taken before the ' +
  'deletion that also holds the wrapped key stays readable until it expires (see the README).';

export const userRoutes: RoutePlugin<{ shred: Shredder }> = async (app, { shred }) => {
  app.delete('/v1/users/me', {
    config: { auth: 'user' },
    schema: {
      tags: ['users'], security, summary: 'Delete my account and everything I own (crypto-shred)',
      description: DELETE_DESCRIPTION,
      response: { 200: DeleteUserReceiptSchema, ...errorResponses(401, 403) },
    },
  }, async (request) => {
    const userId = userIdOf(request);
    const { receipt, shredded } = await deleteUser(app.store, userId, shred);
    request.log.info({ user_id: userId, receipt }, 'user deleted');
    return receiptDto(userId, receipt, shredded);
  });

  app.delete('/v1/users/:id', {
    config: { auth: 'admin' },
    schema: {
      tags: ['users'], security, summary: 'Delete a user and everything they own (admin, crypto-shred)',
      description: DELETE_DESCRIPTION,
      params: idParam('User'),
      response: { 200: DeleteUserReceiptSchema, ...errorResponses(401, 403, 404) },
    },
  }, async (request) => {
    const { receipt, shredded } = await deleteUser(app.store, request.params.id, shred);
    request.log.info({ user_id: request.params.id, receipt }, 'user deleted');
    return receiptDto(request.params.id, receipt, shredded);
  });

  app.post('/v1/users', {
    config: { auth: 'admin' },
    schema: {
      tags: ['users'], security, summary: 'Create a user (admin)',
      body: CreateUserBodySchema,
      response: { 201: UserSchema, ...errorResponses(400, 401, 403, 413) },
    },
  }, async (request, reply) => reply.code(201).send(userDto(await createUser(app.store, request.body.name))));

  app.get('/v1/users', {
    config: { auth: 'admin' },
    schema: {
      tags: ['users'], security, summary: 'List users, oldest first (admin)',
      querystring: ListQuerySchema,
      response: { 200: pageOf(UserSchema), ...errorResponses(400, 401, 403) },
    },
  }, async (request) => {
    const page = await listUsers(app.store, request.query);
    return { items: page.items.map(userDto), next_cursor: page.nextCursor };
  });

  app.get('/v1/users/me', {
    config: { auth: 'user' },
    schema: {
      tags: ['users'], security, summary: 'The user this API key belongs to',
      response: { 200: UserSchema, ...errorResponses(401, 403) },
    },
  }, async (request) => userDto(await getUser(app.store, userIdOf(request))));

  app.get('/v1/users/:id', {
    config: { auth: 'admin' },
    schema: {
      tags: ['users'], security, summary: 'Get a user (admin)',
      params: idParam('User'),
      response: { 200: UserSchema, ...errorResponses(401, 403, 404) },
    },
  }, async (request) => userDto(await getUser(app.store, request.params.id)));

  app.post('/v1/users/:id/api-keys', {
    config: { auth: 'admin' },
    schema: {
      tags: ['api-keys'], security, summary: 'Create an API key for a user (admin); the key is shown once',
      params: idParam('User'),
      body: CreateApiKeyBodySchema,
      response: { 201: CreatedApiKeySchema, ...errorResponses(400, 401, 403, 404) },
    },
  }, async (request, reply) => {
    const { record, secret } = await createApiKey(app.store, request.params.id, request.body?.name ?? null);
    return reply.code(201).send({ ...apiKeyDto(record), key: secret });
  });

  app.get('/v1/users/:id/api-keys', {
    config: { auth: 'admin' },
    schema: {
      tags: ['api-keys'], security, summary: "List a user's API keys (admin); secrets are never listed",
      params: idParam('User'),
      querystring: ListQuerySchema,
      response: { 200: pageOf(ApiKeySchema), ...errorResponses(400, 401, 403, 404) },
    },
  }, async (request) => {
    const page = await listApiKeys(app.store, request.params.id, request.query);
    return { items: page.items.map(apiKeyDto), next_cursor: page.nextCursor };
  });
};

