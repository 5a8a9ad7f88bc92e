import type { FastifyReply, FastifyRequest } from 'fastify';

/**
 * A Server-Sent Events response written straight to the socket (the reply is hijacked, so Fastify's
 * serializer and onSend hooks are out of the way). `signal` aborts when the client goes away before
 * `end()`, which is how a handler cancels upstream work.
 */
export interface SseStream {
  readonly signal: AbortSignal;
  readonly open: boolean;
  /** Writes one event; waits for the socket to drain when its buffer is full. */
  send(event: string, data: unknown): Promise<void>;
  /** Writes a bare `data:` line (OpenAI style): JSON for objects, as is for strings like `[DONE]`. */
  sendData(data: unknown): Promise<void>;
  /** Sends what was written since open() in one packet (headers included); see `corked`. */
  flush(): void;
  end(): void;
}

export interface SseOptions {
  /** Interval of `: ping` comments that keep proxies from timing the stream out. */
  pingMs: number;
  /**
   * Hold the headers and the first events until flush(), so that they leave in one packet (the
   * chat route sends `start` and the first `delta` together).
   */
  corked?: boolean;
  headers?: Record<string, string>;
}

export function openSse(request: FastifyRequest, reply: FastifyReply, options: SseOptions): SseStream {
  const res = reply.raw;
  const disconnected = new AbortController();
  let ended = false;

  reply.hijack();
  let corked = options.corked === true;
  try {
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
      'x-request-id': request.id,
      ...options.headers,
    });
    // Real sockets: send each event at once (injected requests have no socket options).
    if (typeof res.socket?.setNoDelay === 'function') res.socket.setNoDelay(true);
    if (corked) res.cork();
    else res.flushHeaders();
  } catch (err) {
    // The reply is hijacked: nothing else would ever end it.
    res.destroy();
    throw err;
  }

  const ping = setInterval(() => {
    if (!ended && res.writable) res.write(': ping\n\n');
  }, options.pingMs);
  ping.unref();

  res.on('close', () => {
    clearInterval(ping);
    if (!ended) disconnected.abort(new Error('client disconnected'));
    ended = true;
  });

  const write = (chunk: string): Promise<void> => {
    if (ended || !res.writable) return Promise.resolve();
    if (res.write(chunk)) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        res.off('drain', done);
        res.off('close', done);
        resolve();
      };
      res.on('drain', done);
      res.on('close', done);
    });
  };

  return {
    signal: disconnected.signal,
    get open() {
      return !ended && res.writable;
    },
    send(event, data) {
      return write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    },
    sendData(data) {
      return write(`data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`);
    },
    flush() {
      if (corked) {
        corked = false;
        res.uncork();
      }
    },
    end() {
      if (corked) {
        corked = false;
        res.uncork();
      }
      if (ended) return;
      ended = true;
      clearInterval(ping);
      res.end();
    },
  };
}
