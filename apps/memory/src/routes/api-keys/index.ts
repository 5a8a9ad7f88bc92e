import { z } from 'zod';
import type { RoutePlugin } from '@pai/service-kit';
import { errorResponses, idParam } from '@pai/contracts';
import { revokeApiKey } from '../../domain/accounts.js';

export const apiKeyRoutes: RoutePlugin = async (app) => {
  app.delete('/v1/api-keys/:id', {
    config: { auth: 'any' },
    schema: {
      tags: ['api-keys'], security: [{ bearer: [] }],
      summary: 'Revoke an API key',
      description: 'The admin revokes any key; a user may revoke their own keys. Effective immediately.',
      params: idParam('API key'),
      response: { 204: z.null().describe('Revoked'), ...errorResponses(401, 404) },
    },
  }, async (request, reply) => {
    await revokeApiKey(app.store, request.principal!, request.params.id);
    return reply.code(204).send(null);
  });
};
