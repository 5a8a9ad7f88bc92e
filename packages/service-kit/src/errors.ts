import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { isPaiError, PaiError, RequestErrors, ServiceErrors, toErrorBody } from '@pai/errors';

export interface ValidationIssue {
  /** Where: `body.message`, `query.limit`, `params.id`. */
  field: string;
  message: string;
}

const CONTEXT_NAMES: Record<string, string> = { body: 'body', querystring: 'query', params: 'params', headers: 'headers' };

/** Maps anything thrown in a request to a catalogue error. Unknown errors become a generic 500. */
export function toPaiError(error: unknown, bodyLimit: number): PaiError {
  if (isPaiError(error)) return error as PaiError;
  if (hasZodFastifySchemaValidationErrors(error)) {
    const where = CONTEXT_NAMES[(error as { validationContext?: string }).validationContext ?? 'body'] ?? 'body';
    const details: ValidationIssue[] = error.validation.map((v) => ({
      field: [where, ...v.instancePath.split('/').filter(Boolean)].join('.'),
      message: v.message ?? 'invalid',
    }));
    return RequestErrors.validation({ details });
  }
  const code = (error as FastifyError | undefined)?.code;
  switch (code) {
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return RequestErrors.malformedJson();
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return RequestErrors.tooLarge(bodyLimit);
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE'
        ? RequestErrors.unsupportedMediaType(String((error as Error).message.match(/: (.*)$/)?.[1] ?? 'unknown'))
        : RequestErrors.validation({ details: [{ field: 'headers.content-length', message: 'does not match the body' }] });
  }
  // Fastify's own JSON parser throws a SyntaxError with statusCode 400.
  const status = (error as { statusCode?: number } | undefined)?.statusCode;
  if (error instanceof SyntaxError && status === 400) return RequestErrors.malformedJson();
  if (typeof status === 'number' && status >= 400 && status < 500 && typeof code === 'string' && code.startsWith('FST_')) {
    return new PaiError('PAI_REQUEST_INVALID', status, (error as Error).message);
  }
  return ServiceErrors.internal();
}

export function sendError(request: FastifyRequest, reply: FastifyReply, error: PaiError): FastifyReply {
  if (error.headers) reply.headers(error.headers);
  return reply.code(error.statusCode).type('application/json; charset=utf-8').send(toErrorBody(error, request.id));
}

export function registerErrorHandling(app: FastifyInstance, bodyLimit: number): void {
  app.setErrorHandler((error, request, reply) => {
    const paiError = toPaiError(error, bodyLimit);
    app.metrics.errors.inc({ code: paiError.code });
    if (paiError.statusCode >= 500) {
      // The original error (with stack) goes to the log only, never to the client.
      request.log.error({ err: error, code: paiError.code }, 'request failed');
    } else {
      request.log.info({ code: paiError.code, status: paiError.statusCode }, 'request rejected');
    }
    return sendError(request, reply, paiError);
  });
  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0] ?? request.url;
    const error = RequestErrors.routeNotFound(request.method, path);
    app.metrics.errors.inc({ code: error.code });
    return sendError(request, reply, error);
  });
}
