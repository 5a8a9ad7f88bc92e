/** What both embedding stand-ins share: the server, traffic counters, waits, JSON replies. */
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import {
  constants as http2Constants,
  createServer as createHttp2Server,
  type Http2ServerRequest,
  type Http2ServerResponse,
  type Http2Session,
} from 'node:http2';
import type { AddressInfo, Socket } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';

export type StandInRequest = IncomingMessage | Http2ServerRequest;
export type StandInResponse = ServerResponse | Http2ServerResponse;

/** What a stand-in has seen, for tests of batching, caching and cancellation. */
export interface EmbeddingsStandInTraffic {
  /** Embedding requests received, failed and rejected ones included. */
  readonly calls: number;
  /** Every text received in a well-formed request, in arrival order. */
  readonly texts: readonly string[];
  /** Requests being answered right now. */
  readonly inFlight: number;
  /** The most requests ever answered at once. */
  readonly maxInFlight: number;
  /** Requests whose connection the client closed before the answer ended (e.g. on abort or timeout). */
  readonly aborted: number;
}

export class Traffic implements EmbeddingsStandInTraffic {
  calls = 0;
  texts: string[] = [];
  inFlight = 0;
  maxInFlight = 0;
  aborted = 0;
  private readonly abortWaiters = new Set<() => void>();

  /** Counts a request from now until its response closes. */
  track(res: StandInResponse, closing: AbortSignal, cutByServer: () => boolean): void {
    this.calls += 1;
    this.inFlight += 1;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    res.on('close', () => {
      this.inFlight -= 1;
      if (!finishedNormally(res) && !cutByServer() && !closing.aborted) {
        this.aborted += 1;
        for (const wake of this.abortWaiters) wake();
      }
    });
  }

  /** Resolves true once `aborted` reaches `count`, false if `withinMs` passes first. */
  waitForAborted(count: number, withinMs: number): Promise<boolean> {
    if (this.aborted >= count) return Promise.resolve(true);
    return new Promise((resolve) => {
      const finish = (result: boolean): void => {
        clearTimeout(timer);
        this.abortWaiters.delete(wake);
        resolve(result);
      };
      const wake = (): void => {
        if (this.aborted >= count) finish(true);
      };
      const timer = setTimeout(() => finish(false), withinMs);
      this.abortWaiters.add(wake);
    });
  }

  reset(): void {
    this.calls = 0;
    this.texts = [];
    this.maxInFlight = this.inFlight;
    this.aborted = 0;
  }
}

function isHttp2(res: StandInResponse): res is Http2ServerResponse {
  return 'stream' in res;
}

function finishedNormally(res: StandInResponse): boolean {
  // HTTP/2 reports writableFinished even for a reset stream; its reset code tells.
  if (isHttp2(res)) {
    const code = res.stream.rstCode;
    return res.writableEnded && (code === undefined || code === http2Constants.NGHTTP2_NO_ERROR);
  }
  return res.writableFinished;
}

/** Closes the connection (HTTP/2: resets the stream) without answering. */
export function cut(res: StandInResponse): void {
  if (isHttp2(res)) res.stream.close(http2Constants.NGHTTP2_INTERNAL_ERROR);
  else res.socket?.destroy();
}

export function sendJson(res: StandInResponse, status: number, value: unknown, headers: Record<string, string> = {}): void {
  sendRaw(res, status, JSON.stringify(value), headers);
}

export function sendRaw(res: StandInResponse, status: number, text: string, headers: Record<string, string> = {}): void {
  if (res.destroyed || res.headersSent) return;
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)), ...headers });
  res.end(text);
}

export async function readBody(req: StandInRequest): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8');
}

/** The parsed JSON object, or undefined for invalid JSON or a non-object. */
export function parseJsonObject(raw: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(raw);
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** Waits `ms`; false when the exchange ended first (client gone or server closing). */
export async function wait(ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return false;
  if (ms <= 0) return true;
  try {
    await delay(ms, undefined, { signal });
    return true;
  } catch {
    return false;
  }
}

/** A signal that aborts when the response closes or the server shuts down. */
export function exchangeSignal(res: StandInResponse, closing: AbortSignal): AbortSignal {
  const gone = new AbortController();
  res.on('close', () => gone.abort());
  return AbortSignal.any([closing, gone.signal]);
}

export interface StandInServer {
  readonly port: number;
  /** Aborts when close() begins, ending delayed and hung answers. */
  readonly closing: AbortSignal;
  close(): Promise<void>;
}

/** Listens on 127.0.0.1 (HTTP/1.1, or h2c with `http2`); a handler that throws closes the connection. */
export async function startServer(
  handle: (req: StandInRequest, res: StandInResponse) => Promise<void>,
  options: { port?: number | undefined; http2?: boolean | undefined },
): Promise<StandInServer> {
  const closing = new AbortController();
  const sockets = new Set<Socket>();
  const sessions = new Set<Http2Session>();
  const onRequest = (req: StandInRequest, res: StandInResponse): void => {
    void handle(req, res).catch(() => cut(res));
  };
  const server = options.http2 ? createHttp2Server(onRequest) : createHttpServer(onRequest);
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  if (options.http2) {
    server.on('session', (session: Http2Session) => {
      sessions.add(session);
      session.on('close', () => sessions.delete(session));
    });
  }
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  return {
    port,
    closing: closing.signal,
    close: async () => {
      closing.abort();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const session of sessions) session.destroy();
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
}
