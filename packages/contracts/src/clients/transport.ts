import { request as undiciRequest, Agent } from 'undici';

/** One call to another service: the typed clients are written against this, not a socket. */
export interface TransportRequest {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  path: string;
  query?: Record<string, string | number | undefined>;
  body?: unknown;
  headers: Record<string, string>;
  signal?: AbortSignal;
}

export interface TransportResponse {
  status: number;
  body: unknown;
}

export interface Transport {
  /** Where calls go, for error messages. */
  readonly target: string;
  send(request: TransportRequest): Promise<TransportResponse>;
  close(): Promise<void>;
}

function pathWithQuery(request: TransportRequest): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(request.query ?? {})) if (v !== undefined) params.set(k, String(v));
  const qs = params.toString();
  return qs ? `${request.path}?${qs}` : request.path;
}

export interface HttpTransportOptions {
  baseUrl: string;
  timeoutMs?: number;
  connectTimeoutMs?: number;
}

/** Calls a service in another process over HTTP (keep-alive connection pool). */
export function createHttpTransport(options: HttpTransportOptions): Transport {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const dispatcher = new Agent({
    connect: { timeout: options.connectTimeoutMs ?? 3_000 },
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
    keepAliveTimeout: 10_000,
  });
  const base = options.baseUrl.replace(/\/+$/, '');
  return {
    target: base,
    async send(request) {
      const headers: Record<string, string> = { accept: 'application/json', ...request.headers };
      let payload: string | undefined;
      if (request.body !== undefined) {
        payload = JSON.stringify(request.body);
        headers['content-type'] = 'application/json';
      }
      const response = await undiciRequest(base + pathWithQuery(request), {
        method: request.method,
        headers,
        body: payload,
        dispatcher,
        signal: request.signal,
      });
      const text = await response.body.text();
      let body: unknown = undefined;
      if (text.length > 0) {
        try {
          body = JSON.parse(text);
        } catch {
          body = text;
        }
      }
      return { status: response.statusCode, body };
    },
    async close() {
      await dispatcher.close();
    },
  };
}
