import { z } from 'zod';
import multipart from '@fastify/multipart';
import type { FastifyRequest } from 'fastify';
import {
  CreateDocumentBodySchema, DOCUMENT_CONTENT_TYPES, DocumentSchema, ListQuerySchema, errorResponses, idParam, pageOf,
} from '@pai/contracts';
import { DocumentErrors, RequestErrors } from '@pai/errors';
import { contentTypeFromFilename } from '@pai/documents';
import { userIdOf, type RoutePlugin, type ValidationIssue } from '@pai/service-kit';
import { createDocument, deleteDocument, documentDto, getDocument, type DocumentDeps, type Upload } from '../../domain/documents.js';

const security = [{ bearer: [] }];
/** Room for JSON escaping and the other fields around a document of the maximum size. */
const JSON_OVERHEAD_BYTES = 64 * 1024;
const MULTIPART_FIELD_BYTES = 4 * 1024;

function validationError(issues: z.core.$ZodIssue[]) {
  const details: ValidationIssue[] = issues.map((i) => ({ field: ['body', ...i.path.map(String)].join('.'), message: i.message }));
  return RequestErrors.validation({ details });
}

const isTooLarge = (err: unknown) => (err as { code?: string }).code === 'FST_REQ_FILE_TOO_LARGE';

/** Reads a multipart upload: one `file` part, optional `title` and `content_type` fields. */
async function readMultipart(request: FastifyRequest, maxBytes: number): Promise<Upload> {
  const fields: Record<string, string> = {};
  let file: { data: Buffer; mimetype: string; filename: string } | null = null;
  try {
    for await (const part of request.parts()) {
      if (part.type === 'file') {
        if (file !== null || part.fieldname !== 'file') {
          throw RequestErrors.validation({ details: [{ field: `body.${part.fieldname}`, message: 'send exactly one file, in the part named "file"' }] });
        }
        file = { data: await part.toBuffer(), mimetype: part.mimetype, filename: part.filename };
      } else if (typeof part.value === 'string') {
        fields[part.fieldname] = part.value;
      }
    }
  } catch (err) {
    if (isTooLarge(err)) throw DocumentErrors.tooLarge(maxBytes);
    throw err;
  }
  if (file === null) throw RequestErrors.validation({ details: [{ field: 'body.file', message: 'required: the document, as a part named "file"' }] });
  const title = fields.title?.trim();
  if (title !== undefined && (title.length === 0 || title.length > 500)) {
    throw RequestErrors.validation({ details: [{ field: 'body.title', message: '1..500 characters' }] });
  }
  const declared = fields.content_type ?? (file.mimetype && file.mimetype !== 'application/octet-stream' ? file.mimetype : undefined);
  return {
    title: title || undefined,
    filename: file.filename || undefined,
    contentType: declared ?? contentTypeFromFilename(file.filename) ?? file.mimetype ?? 'application/octet-stream',
    data: new Uint8Array(file.data.buffer, file.data.byteOffset, file.data.byteLength),
    sizeBytes: file.data.byteLength,
  };
}

export const documentRoutes: RoutePlugin<{ deps: DocumentDeps }> = async (app, { deps }) => {
  const maxBytes = deps.settings.maxBytes;
  await app.register(multipart, { limits: { fileSize: maxBytes, files: 1, fields: 4, fieldSize: MULTIPART_FIELD_BYTES, parts: 6 } });

  app.post('/v1/documents', {
    bodyLimit: maxBytes + JSON_OVERHEAD_BYTES,
    schema: {
      tags: ['documents'], security,
      summary: 'Add a document to search and chat (JSON or multipart upload)',
      description:
        'Two ways to send a document:\n\n' +
        '- **JSON** (`application/json`): `{title, content, content_type}` with content_type text/plain, text/markdown or text/html.\n' +
        '- **Multipart** (`multipart/form-data`): a part named `file` (text/plain, text/markdown, text/html or application/pdf; ' +
        'the type comes from the `content_type` field, else the part\'s Content-Type, else the file name), and optional `title` and ' +
        '`content_type` fields. The title defaults to the document\'s own title (HTML <title>, first Markdown heading, PDF metadata) or the file name.\n\n' +
        `The text is extracted, split into token-bounded chunks along headings and paragraphs, and stored encrypted; the answer is ` +
        '202 with status `pending`. Embedding and indexing run in the background: poll `GET /v1/documents/{id}` for `status` and ' +
        '`chunks_indexed / chunks_total`. Errors: 413 PAI_DOCUMENT_TOO_LARGE over PAI_DOCUMENT_MAX_BYTES, 415 PAI_DOCUMENT_UNSUPPORTED_TYPE ' +
        `(supported: ${DOCUMENT_CONTENT_TYPES.join(', ')}), 422 PAI_DOCUMENT_UNREADABLE (e.g. a corrupt or encrypted PDF) or PAI_DOCUMENT_EMPTY (no text).`,
      response: { 202: DocumentSchema, ...errorResponses(400, 401, 403, 413, 415, 422, 503) },
    },
  }, async (request, reply) => {
    let upload: Upload;
    if (request.isMultipart()) {
      upload = await readMultipart(request, maxBytes);
    } else {
      const parsed = CreateDocumentBodySchema.safeParse(request.body);
      if (!parsed.success) throw validationError(parsed.error.issues);
      const size = Buffer.byteLength(parsed.data.content, 'utf8');
      upload = { title: parsed.data.title, contentType: parsed.data.content_type, data: parsed.data.content, sizeBytes: size };
    }
    const document = await createDocument(deps, userIdOf(request), upload);
    return reply.code(202).header('location', `/v1/documents/${document.id}`).send(documentDto(document));
  });

  app.get('/v1/documents', {
    schema: {
      tags: ['documents'], security, summary: "List the caller's documents, newest first, with their indexing progress",
      querystring: ListQuerySchema,
      response: { 200: pageOf(DocumentSchema), ...errorResponses(400, 401, 403, 503) },
    },
  }, async (request) => {
    const page = await deps.store.documents.list(userIdOf(request), { limit: request.query.limit, cursor: request.query.cursor });
    return { items: page.items.map(documentDto), next_cursor: page.nextCursor };
  });

  app.get('/v1/documents/:id', {
    schema: {
      tags: ['documents'], security, summary: 'Get a document and its indexing progress (status, chunks_indexed / chunks_total)',
      params: idParam('Document'),
      response: { 200: DocumentSchema, ...errorResponses(401, 403, 404, 503) },
    },
  }, async (request) => documentDto(await getDocument(deps.store, userIdOf(request), request.params.id)));

  app.delete('/v1/documents/:id', {
    schema: {
      tags: ['documents'], security, summary: 'Delete a document, its chunks and every index entry of it',
      params: idParam('Document'),
      response: { 204: z.null().describe('Deleted'), ...errorResponses(401, 403, 404, 503) },
    },
  }, async (request, reply) => {
    await deleteDocument(deps, userIdOf(request), request.params.id);
    return reply.code(204).send(null);
  });
};
