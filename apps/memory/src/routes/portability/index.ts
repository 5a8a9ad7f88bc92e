import { ExportDocumentSchema, ImportBodySchema, ImportReceiptSchema, errorResponses } from '@pai/contracts';
import { userIdOf, type RoutePlugin } from '@pai/service-kit';
import { exportUser, importUser } from '../../domain/portability.js';

const security = [{ bearer: [] }];

export const portabilityRoutes: RoutePlugin<{ importLimitBytes: number }> = async (app, { importLimitBytes }) => {
  app.get('/v1/export', {
    schema: {
      tags: ['portability'], security,
      summary: 'Everything I own as one JSON document (decrypted): conversations with messages, memories, documents, agents',
      response: { 200: ExportDocumentSchema, ...errorResponses(401, 403) },
    },
  }, async (request, reply) => {
    const doc = await exportUser(app.store, userIdOf(request));
    reply.header('content-disposition', `attachment; filename="pai-export-${doc.exported_at.slice(0, 10)}.json"`);
    return doc;
  });

  app.post('/v1/import', {
    bodyLimit: importLimitBytes,
    schema: {
      tags: ['portability'], security,
      summary: 'Restore an export into my account (new ids; invalid items are listed with reasons)',
      description: 'Validates each conversation and memory on its own; the valid ones are imported, the rest are listed in ' +
        '`rejected`. Memory links follow the new ids (see `id_map`). Importing the same document twice imports it twice.',
      body: ImportBodySchema,
      response: { 200: ImportReceiptSchema, ...errorResponses(400, 401, 403, 413) },
    },
  }, async (request) => importUser(app.store, userIdOf(request), request.body));
};
