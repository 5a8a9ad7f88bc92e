/**
 * Socket-level failures, as Node, undici and the AWS SDK's HTTP handlers report them, in words a person
 * can act on, so "connection refused" reads the same from every adapter.
 */
const CONNECTION_FAILURES: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  EPIPE: 'connection reset',
  UND_ERR_SOCKET: 'connection closed by the server',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'DNS lookup failed',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ETIMEDOUT: 'connection timed out',
  UND_ERR_CONNECT_TIMEOUT: 'connect timed out',
  ERR_HTTP2_STREAM_ERROR: 'HTTP/2 stream reset by the server',
  ERR_HTTP2_SESSION_ERROR: 'HTTP/2 session closed by the server',
  ERR_HTTP2_GOAWAY_SESSION: 'HTTP/2 session closed by the server',
  ERR_HTTP2_INVALID_SESSION: 'HTTP/2 session closed',
};

/** The `code` of an error, looking through AggregateErrors and causes. */
export function errorCode(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const { code, errors, cause } = error as { code?: unknown; errors?: unknown; cause?: unknown };
  if (typeof code === 'string') return code;
  // Happy-eyeballs connects fail with an AggregateError of the per-address errors.
  if (Array.isArray(errors)) return errorCode(errors[0]);
  return errorCode(cause);
}

/** The error's code, or the first line of its message when it has none. */
export function describeError(error: unknown): string {
  const text = errorCode(error) ?? (error instanceof Error ? error.message : String(error));
  return text.split('\n')[0]?.trim() || 'unknown error';
}

/** "connection refused" and the like when `error` is a known socket failure, otherwise undefined. */
export function connectionFailure(error: unknown): string | undefined {
  const code = errorCode(error);
  return code === undefined ? undefined : CONNECTION_FAILURES[code];
}
