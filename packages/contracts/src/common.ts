import { z } from 'zod';

export const timestamp = z.string().describe('ISO 8601 UTC timestamp');

export const ErrorBodySchema = z
  .object({
    error: z.object({
      code: z.string().describe('Stable machine-readable code, PAI_<AREA>_<REASON>'),
      message: z.string().describe('What went wrong, for a person'),
      details: z.unknown().optional().describe('Extra data, e.g. the offending fields of a 400 as [{field, message}]'),
    }),
    request_id: z.string().describe('The x-request-id of the call; quote it when reporting a problem'),
  })
  .meta({ id: 'Error' });

export type ErrorBodyDto = z.infer<typeof ErrorBodySchema>;

const ERROR_DESCRIPTIONS: Record<number, string> = {
  400: 'Invalid request (PAI_REQUEST_INVALID with details per field, PAI_REQUEST_MALFORMED_JSON, PAI_REQUEST_INVALID_CURSOR)',
  401: 'Missing or unknown API key (PAI_AUTH_MISSING_KEY, PAI_AUTH_INVALID_KEY)',
  403: 'Wrong kind of key for this route (PAI_AUTH_ADMIN_REQUIRED, PAI_AUTH_USER_REQUIRED)',
  404: 'Unknown id, or an id owned by another user (PAI_*_NOT_FOUND)',
  409: 'Conflict with the current state',
  413: 'Body larger than PAI_BODY_LIMIT_BYTES (PAI_REQUEST_TOO_LARGE), or a document over PAI_DOCUMENT_MAX_BYTES (PAI_DOCUMENT_TOO_LARGE)',
  415: 'Unsupported Content-Type (PAI_REQUEST_UNSUPPORTED_MEDIA_TYPE), or a document type that cannot be indexed (PAI_DOCUMENT_UNSUPPORTED_TYPE)',
  422: 'The document has no readable text (PAI_DOCUMENT_UNREADABLE, PAI_DOCUMENT_EMPTY)',
  429: 'Rate limited; see Retry-After',
  500: 'Unexpected failure (PAI_INTERNAL_ERROR); details are in the server log under request_id',
  502: 'The model answered garbage or an error (PAI_LLM_BAD_RESPONSE, PAI_LLM_UPSTREAM_ERROR)',
  503: 'A dependency is unavailable (PAI_LLM_UNAVAILABLE, PAI_LLM_RATE_LIMITED, PAI_STORE_UNAVAILABLE, PAI_SERVICE_UNAVAILABLE, PAI_SERVICE_SHUTTING_DOWN, PAI_EMBEDDINGS_UNAVAILABLE, PAI_SEARCH_UNAVAILABLE)',
  504: 'The model or the embedding provider did not answer in time (PAI_LLM_TIMEOUT, PAI_EMBEDDINGS_TIMEOUT)',
};

/** Response schemas for the error statuses a route can answer, each with its description. */
export function errorResponses(...statuses: number[]): Record<number, z.ZodType> {
  const out: Record<number, z.ZodType> = {};
  for (const status of statuses) out[status] = ErrorBodySchema.describe(ERROR_DESCRIPTIONS[status] ?? 'Error');
  return out;
}

export const idParam = (what: string) => z.object({ id: z.string().min(1).max(100).describe(`${what} id`) });

export const ListQuerySchema = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(20).describe('Page size, 1..100 (default 20)'),
  cursor: z.string().min(1).max(500).optional().describe('next_cursor from the previous page'),
});

export type ListQuery = z.infer<typeof ListQuerySchema>;

export function pageOf<T extends z.ZodType>(item: T) {
  return z.object({
    items: z.array(item),
    next_cursor: z.string().nullable().describe('Pass as ?cursor= for the next page; null on the last page'),
  });
}
