/**
 * The error catalogue: every error a client can see has a stable code `PAI_<AREA>_<REASON>`, an HTTP
 * status and a message written for the person reading it. Domain code throws these; the service kit's
 * error handler turns them into the SPEC error body. Anything else becomes a generic 500.
 */
export interface PaiErrorOptions {
  details?: unknown;
  cause?: unknown;
  /** Extra response headers, e.g. Retry-After. */
  headers?: Record<string, string>;
}

export class PaiError extends Error {
  readonly code: string;
  readonly statusCode: number;
  readonly details: unknown;
  readonly headers: Record<string, string> | undefined;

  constructor(code: string, statusCode: number, message: string, options: PaiErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'PaiError';
    this.code = code;
    this.statusCode = statusCode;
    this.details = options.details;
    this.headers = options.headers;
  }
}

export function isPaiError(error: unknown): error is PaiError {
  return error instanceof PaiError || (
    typeof error === 'object' && error !== null &&
    typeof (error as { code?: unknown }).code === 'string' &&
    (error as { code: string }).code.startsWith('PAI_') &&
    typeof (error as { statusCode?: unknown }).statusCode === 'number'
  );
}


export interface ErrorFactory<A extends unknown[]> {
  (...args: [...A, PaiErrorOptions?]): PaiError;
  readonly code: string;
  readonly statusCode: number;
  /** True when `error` was made by this factory (or carries its code). */
  is(error: unknown): error is PaiError;
}

/** Declares one catalogue entry. `message` is a fixed string or a function of the call's arguments. */
export function defineError<A extends unknown[] = []>(
  code: string,
  statusCode: number,
  message: string | ((...args: A) => string),
): ErrorFactory<A> {
  if (!/^PAI_[A-Z0-9]+_[A-Z0-9_]+$/.test(code)) throw new Error(`bad error code ${code}`);
  const factory = ((...args: unknown[]) => {
    const last = args.at(-1);
    const arity = typeof message === 'function' ? message.length : 0;
    const options = args.length > arity && typeof last === 'object' && last !== null ? (last as PaiErrorOptions) : {};
    const text = typeof message === 'function' ? (message as (...a: unknown[]) => string)(...args.slice(0, arity)) : message;
    return new PaiError(code, statusCode, text, options);
  }) as unknown as ErrorFactory<A>;
  Object.defineProperties(factory, {
    code: { value: code },
    statusCode: { value: statusCode },
    is: { value: (error: unknown) => isPaiError(error) && error.code === code },
  });
  return factory;
}


/** Errors of the request itself (validation, size, routing). */
export const RequestErrors = {
  validation: defineError('PAI_REQUEST_INVALID', 400, 'The request is invalid; see details for the offending fields.'),
  malformedJson: defineError('PAI_REQUEST_MALFORMED_JSON', 400, 'The request body is not valid JSON.'),
  tooLarge: defineError<[limit: number]>('PAI_REQUEST_TOO_LARGE', 413, (limit) => `The request body exceeds the limit of ${limit} bytes.`),
  unsupportedMediaType: defineError<[type: string]>('PAI_REQUEST_UNSUPPORTED_MEDIA_TYPE', 415, (type) => `Content-Type '${type}' is not supported here.`),
  routeNotFound: defineError<[method: string, url: string]>('PAI_ROUTE_NOT_FOUND', 404, (method, url) => `No route ${method} ${url}.`),
  invalidCursor: defineError('PAI_REQUEST_INVALID_CURSOR', 400, 'The cursor is not one this API issued (or it belongs to another listing).'),
  rateLimited: defineError<[retryAfterSeconds: number]>('PAI_REQUEST_RATE_LIMITED', 429, (s) => `Too many requests; retry after ${s} s.`),
} as const;

export const AuthErrors = {
  missingKey: defineError('PAI_AUTH_MISSING_KEY', 401, 'Missing API key: send "Authorization: Bearer <api-key>".'),
  invalidKey: defineError('PAI_AUTH_INVALID_KEY', 401, 'The API key is unknown or revoked.'),
  adminRequired: defineError('PAI_AUTH_ADMIN_REQUIRED', 403, 'This route needs the admin API key.'),
  userRequired: defineError('PAI_AUTH_USER_REQUIRED', 403, 'This route acts as a user: call it with a user\'s API key (the admin key manages users and keys only).'),
  internalOnly: defineError('PAI_AUTH_INTERNAL_ONLY', 401, 'This route is for PAI services only and needs the internal token.'),
} as const;

export const NotFoundErrors = {
  user: defineError<[id: string]>('PAI_USER_NOT_FOUND', 404, (id) => `User '${id}' not found.`),
  apiKey: defineError<[id: string]>('PAI_API_KEY_NOT_FOUND', 404, (id) => `API key '${id}' not found.`),
  conversation: defineError<[id: string]>('PAI_CONVERSATION_NOT_FOUND', 404, (id) => `Conversation '${id}' not found.`),
  message: defineError<[id: string]>('PAI_MESSAGE_NOT_FOUND', 404, (id) => `Message '${id}' not found.`),
} as const;

export const ConflictErrors = {
  messageExists: defineError<[id: string]>('PAI_MESSAGE_CONFLICT', 409, (id) => `Message '${id}' already exists.`),
} as const;

export const StoreErrors = {
  unavailable: defineError('PAI_STORE_UNAVAILABLE', 503, 'The data store is unavailable; try again shortly.'),
} as const;

export const LlmErrors = {
  unavailable: defineError<[detail: string]>('PAI_LLM_UNAVAILABLE', 503, (detail) => detail),
  timeout: defineError<[detail: string]>('PAI_LLM_TIMEOUT', 504, (detail) => detail),
  badResponse: defineError<[detail: string]>('PAI_LLM_BAD_RESPONSE', 502, (detail) => detail),
  upstream: defineError<[detail: string]>('PAI_LLM_UPSTREAM_ERROR', 502, (detail) => detail),
  rateLimited: defineError<[detail: string]>('PAI_LLM_RATE_LIMITED', 503, (detail) => detail),
  /** The provider rejected the request itself (e.g. Bedrock ValidationException); retrying will not help. */
  invalidRequest: defineError<[detail: string]>('PAI_LLM_INVALID_REQUEST', 400, (detail) => detail),
  aborted: defineError('PAI_LLM_ABORTED', 499, 'The model call was cancelled.'),
} as const;

export const ServiceErrors = {
  shuttingDown: defineError('PAI_SERVICE_SHUTTING_DOWN', 503, 'The server is shutting down; retry on another instance or in a moment.'),
  dependencyUnavailable: defineError<[service: string]>('PAI_SERVICE_UNAVAILABLE', 503, (service) => `The ${service} service is unavailable.`),
  internal: defineError('PAI_INTERNAL_ERROR', 500, 'Internal error. The request id identifies it in the server logs.'),
} as const;

/** The SPEC error body. */
export interface ErrorBody {
  error: { code: string; message: string; details?: unknown };
  request_id: string;
}

export function toErrorBody(error: PaiError, requestId: string): ErrorBody {
  const body: ErrorBody = { error: { code: error.code, message: error.message }, request_id: requestId };
  if (error.details !== undefined) body.error.details = error.details;
  return body;
}

export const MemoryErrors = {
  notFound: defineError<[id: string]>('PAI_MEMORY_NOT_FOUND', 404, (id) => `Memory '${id}' not found.`),
};

/** Encryption at rest (@pai/crypto): key providers, data keys, sealed records. */
export const CryptoErrors = {
  /** The key provider (KMS, or a local master key version) cannot be used right now; the detail says why and what to do. */
  keyUnavailable: defineError<[detail: string]>('PAI_CRYPTO_KEY_UNAVAILABLE', 503, (detail) => detail),
  /** Ciphertext or a wrapped key failed authentication: tampered, truncated, or moved to another user/record. */
  decryptFailed: defineError('PAI_CRYPTO_DECRYPT_FAILED', 500, 'Stored encrypted data failed its integrity check and cannot be read.'),
  /** The user's data key was destroyed (crypto-shred); what was encrypted under it is gone for good. */
  keyDestroyed: defineError<[userId: string]>('PAI_CRYPTO_KEY_DESTROYED', 410, (userId) => `The data key of user '${userId}' has been destroyed; data encrypted under it can no longer be read.`),
  /** A configured master key (PAI_MASTER_KEY, the master key file) is not a 256-bit key. */
  invalidMasterKey: defineError<[detail: string]>('PAI_CRYPTO_INVALID_MASTER_KEY', 500, (detail) => detail),
} as const;

/** Documents (RAG sources) in the search service. */
export const DocumentErrors = {
  notFound: defineError<[id: string]>('PAI_DOCUMENT_NOT_FOUND', 404, (id) => `Document '${id}' not found.`),
  conflict: defineError<[id: string]>('PAI_DOCUMENT_CONFLICT', 409, (id) => `Document '${id}' already exists.`),
  unsupportedType: defineError<[type: string, supported: readonly string[]]>('PAI_DOCUMENT_UNSUPPORTED_TYPE', 415,
    (type, supported) => `Documents of type '${type}' are not supported; send one of ${supported.join(', ')}.`),
  tooLarge: defineError<[limit: number]>('PAI_DOCUMENT_TOO_LARGE', 413, (limit) => `The document exceeds the upload limit of ${limit} bytes.`),
  unreadable: defineError<[detail: string]>('PAI_DOCUMENT_UNREADABLE', 422, (detail) => `The document could not be read: ${detail}`),
  empty: defineError('PAI_DOCUMENT_EMPTY', 422, 'The document contains no text to index.'),
} as const;

/** Embeddings and the search index. */
export const SearchErrors = {
  embeddingsUnavailable: defineError<[detail: string]>('PAI_EMBEDDINGS_UNAVAILABLE', 503, (detail) => detail),
  embeddingsTimeout: defineError<[detail: string]>('PAI_EMBEDDINGS_TIMEOUT', 504, (detail) => detail),
  embeddingsBadResponse: defineError<[detail: string]>('PAI_EMBEDDINGS_BAD_RESPONSE', 502, (detail) => detail),
  /** The embedding provider rejected the input itself (e.g. too long); retrying will not help. */
  embeddingsInvalidRequest: defineError<[detail: string]>('PAI_EMBEDDINGS_INVALID_REQUEST', 400, (detail) => detail),
  indexUnavailable: defineError<[detail: string]>('PAI_SEARCH_UNAVAILABLE', 503, (detail) => detail),
  semanticUnavailable: defineError('PAI_SEARCH_SEMANTIC_UNAVAILABLE', 400,
    'Semantic search needs an embedding provider: set EMBEDDINGS_PROVIDER (openai or bedrock), or use mode "keyword" or "hybrid".'),
} as const;

/** The agent registry. */
export const AgentErrors = {
  notFound: defineError<[id: string]>('PAI_AGENT_NOT_FOUND', 404, (id) => `Agent '${id}' not found.`),
  conflict: defineError<[id: string]>('PAI_AGENT_CONFLICT', 409, (id) => `Agent '${id}' already exists.`),
  versionNotFound: defineError<[id: string, version: number | string]>('PAI_AGENT_VERSION_NOT_FOUND', 404,
    (id, version) => `Agent '${id}' has no version ${version}.`),
  invalidRouting: defineError<[detail: string]>('PAI_AGENT_INVALID_ROUTING', 400, (detail) => detail),
  evaluationNotFound: defineError<[id: string]>('PAI_EVALUATION_NOT_FOUND', 404, (id) => `Evaluation '${id}' not found.`),
} as const;
export { connectionFailure, describeError, errorCode } from './connection-failure.js';
