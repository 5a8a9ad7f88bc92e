/**
 * A real HTTP server speaking the Amazon Bedrock runtime protocol (Converse and ConverseStream), for
 * tests and benchmarks: point `createBedrockProvider({ endpoint: standIn.url, … })` or any
 * BedrockRuntimeClient at it with dummy credentials (any SigV4 signature is accepted). It speaks
 * HTTP/1.1, or h2c (HTTP/2 without TLS, what the SDK's default NodeHttp2Handler speaks to an http://
 * endpoint) with `http2: true`.
 *
 * Like the real service it answers `POST /model/{url-encoded model id}/converse` with JSON and
 * `/converse-stream` with AWS event-stream frames (messageStart, contentBlockDelta, contentBlockStop,
 * messageStop, metadata), sends errors as an HTTP status with `x-amzn-errortype: <Name>:…` and a JSON
 * `{message}`, and errors mid-stream as `:message-type exception` frames. It validates what the real
 * service validates about turns (user first, alternating roles, no blank text) and echoes the last user
 * message by default.
 *
 * It misbehaves on demand: queue a behaviour with `enqueue()`, or put a directive into the last user
 * message: `[[stand-in:reply:<text>]]`, `[[stand-in:stop:<stopReason>]]`, `[[stand-in:no-usage]]`,
 * `[[stand-in:fail:<ExceptionName>[:<status>]]]` or `[[stand-in:fail:<status>]]`, `[[stand-in:throttle]]`,
 * `[[stand-in:drop]]`, `[[stand-in:hang]]`, `[[stand-in:hang-after:<deltas>]]`,
 * `[[stand-in:cut-after:<deltas>]]`, `[[stand-in:malformed:<deltas>[:bad-crc|garbage|truncated]]]`,
 * `[[stand-in:stream-exception:<deltas>:<ExceptionName>]]`, `[[stand-in:slow-first-token:<ms>]]`,
 * `[[stand-in:slow-chunks:<ms>]]`.
 */
import { createServer as createHttpServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import {
  constants as http2Constants,
  createServer as createHttp2Server,
  type Http2ServerRequest,
  type Http2ServerResponse,
  type Http2Session,
} from 'node:http2';
import type { AddressInfo, Socket } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { EventStreamCodec } from '@smithy/eventstream-codec';
import { fromUtf8, toUtf8 } from '@smithy/util-utf8';
import { DIRECTIVE, countArg, echoOf, parseJsonObject, pieces, readBody, waitFor, wordCount } from './stand-in-kit.js';

export type MalformedFrame = 'bad-crc' | 'garbage' | 'truncated';

export type BedrockStandInBehaviour =
  /** Answer normally (the echo, or `text`), ending with `stopReason` (default end_turn). */
  | { kind: 'reply'; text?: string; stopReason?: string }
  /** Answer normally but report no usage. */
  | { kind: 'no-usage'; text?: string }
  /** Wait `delayMs` before the first delta (or the whole body when not streaming). */
  | { kind: 'slow-first-token'; delayMs: number; text?: string }
  /** Wait `delayMs` between deltas. */
  | { kind: 'slow-chunks'; delayMs: number; text?: string }
  /** Answer with the named exception (status from the service's table unless given), before any frame. */
  | { kind: 'fail'; exception: string; status?: number; message?: string }
  /** ThrottlingException, HTTP 429. */
  | { kind: 'throttle'; message?: string }
  /** Close the connection without answering. */
  | { kind: 'drop' }
  /** Accept the request and never answer. */
  | { kind: 'hang' }
  /** Send `deltas` deltas (or half the JSON body), then go silent. */
  | { kind: 'hang-after'; deltas: number; text?: string }
  /** Send `deltas` deltas (or half the JSON body), then close the connection. */
  | { kind: 'cut-after'; deltas: number; text?: string }
  /** After `deltas` deltas, a frame that does not decode (or, not streaming, a body that is not JSON). */
  | { kind: 'malformed'; deltas?: number; frame?: MalformedFrame; text?: string }
  /** After `deltas` deltas, an exception frame (or, not streaming, the exception as an HTTP error). */
  | { kind: 'stream-exception'; deltas?: number; exception: string; message?: string; text?: string };

export interface ConverseBody {
  messages?: Array<{ role?: string; content?: Array<{ text?: string; [field: string]: unknown }> }>;
  system?: Array<{ text?: string; [field: string]: unknown }>;
  inferenceConfig?: { maxTokens?: number; temperature?: number; topP?: number; stopSequences?: string[] };
  [field: string]: unknown;
}

export interface BedrockRecordedRequest {
  method: string;
  /** The raw path, model id still URL-encoded. */
  path: string;
  operation: 'converse' | 'converse-stream' | undefined;
  /** The decoded model id. */
  modelId: string | undefined;
  headers: IncomingHttpHeaders;
  /** True when an `Authorization: AWS4-HMAC-SHA256 …` header came with it (any signature is accepted). */
  signed: boolean;
  /** 'HTTP/1.1' or 'HTTP/2.0'. */
  httpVersion: string;
  body: ConverseBody | undefined;
}

export interface BedrockStandIn {
  /** The endpoint, e.g. http://127.0.0.1:PORT. */
  readonly url: string;
  readonly http2: boolean;
  readonly requests: BedrockRecordedRequest[];
  /** Connections (HTTP/2: streams) the client closed before the response ended. */
  readonly aborted: number;
  /** Queues behaviours for the next Converse / ConverseStream requests, in order. */
  enqueue(...behaviours: BedrockStandInBehaviour[]): void;
  /** Resolves true once `aborted` reaches `count`, false if `withinMs` passes first. */
  waitForAborted(count: number, withinMs: number): Promise<boolean>;
  /** Forgets queued behaviours, recorded requests and the abort count. */
  reset(): void;
  /** Stops the server, destroying open connections (hung requests included). */
  close(): Promise<void>;
}

export interface BedrockStandInOptions {
  port?: number;
  /** Speak h2c (HTTP/2 over plain TCP) instead of HTTP/1.1. */
  http2?: boolean;
  /** Pause between streamed deltas. */
  chunkDelayMs?: number;
}

/** HTTP status of each exception, as the service sends it. */
export const BEDROCK_EXCEPTION_STATUS: Readonly<Record<string, number>> = {
  ValidationException: 400,
  ServiceQuotaExceededException: 400,
  UnrecognizedClientException: 403,
  AccessDeniedException: 403,
  ResourceNotFoundException: 404,
  ModelTimeoutException: 408,
  ModelErrorException: 424,
  ModelStreamErrorException: 424,
  ThrottlingException: 429,
  ModelNotReadyException: 429,
  InternalServerException: 500,
  ServiceUnavailableException: 503,
};

const EXCEPTION_BY_STATUS: Readonly<Record<number, string>> = {
  400: 'ValidationException',
  403: 'AccessDeniedException',
  404: 'ResourceNotFoundException',
  408: 'ModelTimeoutException',
  424: 'ModelErrorException',
  429: 'ThrottlingException',
  500: 'InternalServerException',
  503: 'ServiceUnavailableException',
};

const ERROR_TYPE_SUFFIX = ':http://internal.amazon.com/coral/com.amazon.bedrock/';
const ROUTE = /^\/model\/([^/]+)\/(converse|converse-stream)$/;
const codec = new EventStreamCodec(toUtf8, fromUtf8);

type Request = IncomingMessage | Http2ServerRequest;
type Response = ServerResponse | Http2ServerResponse;

export async function startBedrockStandIn(options: BedrockStandInOptions = {}): Promise<BedrockStandIn> {
  const queue: BedrockStandInBehaviour[] = [];
  const requests: BedrockRecordedRequest[] = [];
  const abortWaiters = new Set<() => void>();
  const closing = new AbortController();
  const chunkDelayMs = options.chunkDelayMs ?? 0;
  const http2 = options.http2 === true;
  const sockets = new Set<Socket>();
  const sessions = new Set<Http2Session>();
  let aborted = 0;
  let sequence = 0;

  const countAbort = (): void => {
    aborted += 1;
    for (const wake of abortWaiters) wake();
  };

  const onRequest = (req: Request, res: Response): void => {
    void handle(req, res).catch(() => cut(res));
  };
  const server = http2 ? createHttp2Server(onRequest) : createHttpServer(onRequest);
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  if (http2) {
    server.on('session', (session: Http2Session) => {
      sessions.add(session);
      session.on('close', () => sessions.delete(session));
    });
  }

  async function handle(req: Request, res: Response): Promise<void> {
    const raw = await readBody(req);
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const route = ROUTE.exec(path);
    const body = parseJsonObject<ConverseBody>(raw);
    const authorization = req.headers.authorization;
    requests.push({
      method: req.method ?? 'GET',
      path,
      operation: route ? (route[2] as 'converse' | 'converse-stream') : undefined,
      modelId: route ? decodeURIComponent(route[1]!) : undefined,
      headers: req.headers,
      signed: typeof authorization === 'string' && authorization.startsWith('AWS4-HMAC-SHA256 '),
      httpVersion: `HTTP/${req.httpVersion}`,
      body,
    });
    if (req.method !== 'POST' || !route) {
      return sendException(res, 'UnknownOperationException', 404, `No operation ${req.method} ${path}.`);
    }
    const invalid = validate(body);
    if (invalid) return sendException(res, 'ValidationException', 400, invalid);

    const behaviour = queue.shift() ?? directiveIn(body!) ?? { kind: 'reply' };
    const exchange = new Exchange(res, body!, behaviour, closing.signal, chunkDelayMs, `standin-${++sequence}`);
    res.on('close', () => {
      if (!exchange.cutByServer && !closing.signal.aborted && !finishedNormally(res)) countAbort();
    });
    await exchange.run(route[2] === 'converse-stream');
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
    url: `http://127.0.0.1:${port}`,
    http2,
    requests,
    get aborted() {
      return aborted;
    },
    enqueue: (...behaviours) => void queue.push(...behaviours),
    waitForAborted: (count, withinMs) => waitFor(() => aborted >= count, abortWaiters, withinMs),
    reset: () => {
      queue.length = 0;
      requests.length = 0;
      aborted = 0;
    },
    close: async () => {
      closing.abort();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const session of sessions) session.destroy();
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
}

function isHttp2(res: Response): res is Http2ServerResponse {
  return 'stream' in res;
}

function finishedNormally(res: Response): boolean {
  // HTTP/2 reports writableFinished even for a reset stream; its reset code tells.
  if (isHttp2(res)) {
    const code = res.stream.rstCode;
    return res.writableEnded && (code === undefined || code === http2Constants.NGHTTP2_NO_ERROR);
  }
  return res.writableFinished;
}

/** Closes the connection (HTTP/2: resets the stream) without finishing the response. */
function cut(res: Response): void {
  if (isHttp2(res)) res.stream.close(http2Constants.NGHTTP2_INTERNAL_ERROR);
  else res.socket?.destroy();
}

function textsOf(blocks: Array<{ text?: unknown }> | undefined): string[] {
  return (blocks ?? []).map((block) => (typeof block.text === 'string' ? block.text : ''));
}

/** What the real service rejects about the turns, in its words; undefined when the body is fine. */
function validate(body: ConverseBody | undefined): string | undefined {
  if (!body || !Array.isArray(body.messages) || body.messages.length === 0) {
    return 'The model returned the following errors: messages: at least one message is required.';
  }
  const { messages } = body;
  if (messages[0]?.role !== 'user') {
    return 'A conversation must start with a user message. Try again with a conversation that starts with a user message.';
  }
  for (const [index, message] of messages.entries()) {
    if (message.role !== 'user' && message.role !== 'assistant') return `messages.${index}.role: must be user or assistant.`;
    if (index > 0 && messages[index - 1]?.role === message.role) {
      return 'A conversation must alternate between user and assistant roles. Make sure the conversation alternates between user and assistant roles and try again.';
    }
    for (const [block, text] of textsOf(message.content).entries()) {
      if (text.trim() === '') {
        return `The text field in the ContentBlock object at messages.${index}.content.${block} is blank. Add text to the text field, and try again.`;
      }
    }
  }
  for (const [block, text] of textsOf(body.system).entries()) {
    if (text.trim() === '') return `The text field in the SystemContentBlock object at system.${block} is blank.`;
  }
  return undefined;
}

function lastUserMessage(body: ConverseBody): string {
  const messages = body.messages ?? [];
  for (let i = messages.length - 1; i >= 0; i -= 1) {
    if (messages[i]?.role === 'user') return textsOf(messages[i]?.content).join('\n');
  }
  return '';
}

function exceptionFor(arg: string | undefined): { exception: string; status?: number } {
  const [first, second] = (arg ?? '').split(':');
  if (first && /^\d+$/.test(first)) {
    const status = Number(first);
    return { exception: EXCEPTION_BY_STATUS[status] ?? 'InternalServerException', status };
  }
  return { exception: first || 'InternalServerException', status: second && /^\d+$/.test(second) ? Number(second) : undefined };
}

function directiveIn(body: ConverseBody): BedrockStandInBehaviour | undefined {
  const match = DIRECTIVE.exec(lastUserMessage(body));
  if (!match) return undefined;
  const [, kind, arg] = match;
  const [countPart, extra] = (arg ?? '').split(/:(.*)/s);
  const count = (fallback: number): number => countArg(countPart || undefined, fallback);
  switch (kind) {
    case 'reply':
      return arg === undefined ? { kind: 'reply' } : { kind: 'reply', text: arg };
    case 'stop':
      return { kind: 'reply', stopReason: arg || 'end_turn' };
    case 'no-usage':
      return { kind: 'no-usage' };
    case 'slow-first-token':
      return { kind: 'slow-first-token', delayMs: count(1_000) };
    case 'slow-chunks':
      return { kind: 'slow-chunks', delayMs: count(1_000) };
    case 'fail':
      return { kind: 'fail', ...exceptionFor(arg) };
    case 'throttle':
      return { kind: 'throttle' };
    case 'drop':
      return { kind: 'drop' };
    case 'hang':
      return { kind: 'hang' };
    case 'hang-after':
      return { kind: 'hang-after', deltas: count(2) };
    case 'cut-after':
      return { kind: 'cut-after', deltas: count(2) };
    case 'malformed': {
      const frame = extra === 'garbage' || extra === 'truncated' ? extra : 'bad-crc';
      return { kind: 'malformed', deltas: count(0), frame };
    }
    case 'stream-exception':
      return { kind: 'stream-exception', deltas: count(0), exception: extra || 'ModelStreamErrorException' };
    default:
      return { kind: 'fail', exception: 'ValidationException', message: `Unknown stand-in directive '${kind}'.` };
  }
}

function usageFor(body: ConverseBody, outputTokens: number): { inputTokens: number; outputTokens: number; totalTokens: number } {
  const messages = body.messages ?? [];
  const words =
    messages.reduce((sum, message) => sum + wordCount(textsOf(message.content).join(' ')), 0) +
    wordCount(textsOf(body.system).join(' '));
  const inputTokens = words + 4 * messages.length;
  return { inputTokens, outputTokens, totalTokens: inputTokens + outputTokens };
}

function sendJson(res: Response, status: number, value: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)), ...headers });
  res.end(text);
}

/** An error the way the service sends one (restJson1): status, x-amzn-errortype, JSON {message}. */
function sendException(res: Response, exception: string, status: number, message: string): void {
  sendJson(res, status, { message }, { 'x-amzn-errortype': `${exception}${ERROR_TYPE_SUFFIX}`, 'x-amzn-requestid': crypto.randomUUID() });
}

/** Event bodies carry a `p` padding field, as the service's do (so clients must ignore unknown fields). */
function eventFrame(eventType: string, payload: Record<string, unknown>): Uint8Array {
  return codec.encode({
    headers: {
      ':event-type': { type: 'string', value: eventType },
      ':content-type': { type: 'string', value: 'application/json' },
      ':message-type': { type: 'string', value: 'event' },
    },
    body: fromUtf8(JSON.stringify({ ...payload, p: 'abcdefghijklmnopqrstuvwxyz'.slice(0, 4 + (eventType.length % 20)) })),
  });
}

/** Mid-stream exceptions are named after the ConverseStreamOutput member: throttlingException, … */
function exceptionFrame(exception: string, message: string): Uint8Array {
  return codec.encode({
    headers: {
      ':exception-type': { type: 'string', value: exception.charAt(0).toLowerCase() + exception.slice(1) },
      ':content-type': { type: 'string', value: 'application/json' },
      ':message-type': { type: 'string', value: 'exception' },
    },
    body: fromUtf8(JSON.stringify({ message })),
  });
}

function malformedFrame(kind: MalformedFrame): Uint8Array {
  const frame = eventFrame('contentBlockDelta', { contentBlockIndex: 0, delta: { text: 'never seen' } });
  if (kind === 'bad-crc') {
    const bad = frame.slice();
    bad[bad.length - 1]! ^= 0xff;
    return bad;
  }
  if (kind === 'truncated') return frame.subarray(0, Math.floor(frame.length / 2));
  // A plausible length prefix and header length followed by junk: the prelude checksum cannot match.
  const junk = Buffer.from('not an event-stream frame, just junk', 'latin1');
  const garbage = Buffer.alloc(8 + junk.length);
  garbage.writeUInt32BE(garbage.length, 0);
  garbage.writeUInt32BE(0, 4);
  junk.copy(garbage, 8);
  return garbage;
}

/** One Converse / ConverseStream request being answered according to its behaviour. */
class Exchange {
  /** Set when the stand-in itself closed the connection, so it is not counted as a client abort. */
  cutByServer = false;
  private readonly signal: AbortSignal;
  private readonly text: string;

  constructor(
    private readonly res: Response,
    private readonly body: ConverseBody,
    private readonly behaviour: BedrockStandInBehaviour,
    closing: AbortSignal,
    private readonly chunkDelayMs: number,
    private readonly requestId: string,
  ) {
    const gone = new AbortController();
    res.on('close', () => gone.abort());
    this.signal = AbortSignal.any([closing, gone.signal]);
    this.text = ('text' in behaviour ? behaviour.text : undefined) ?? echoOf(lastUserMessage(body));
  }

  async run(streaming: boolean): Promise<void> {
    const { behaviour } = this;
    switch (behaviour.kind) {
      case 'hang':
        return;
      case 'drop':
        return this.cut();
      case 'fail': {
        const status = behaviour.status ?? BEDROCK_EXCEPTION_STATUS[behaviour.exception] ?? 500;
        return sendException(this.res, behaviour.exception, status, behaviour.message ?? `The stand-in was told to fail with ${behaviour.exception}.`);
      }
      case 'throttle':
        return sendException(this.res, 'ThrottlingException', 429, behaviour.message ?? 'Too many requests, please wait before trying again.');
    }
    if (streaming) await this.stream();
    else await this.whole();
  }

  private cut(): void {
    this.cutByServer = true;
    cut(this.res);
  }

  private async wait(ms: number): Promise<boolean> {
    if (this.signal.aborted) return false;
    if (ms <= 0) return true;
    try {
      await delay(ms, undefined, { signal: this.signal });
      return true;
    } catch {
      return false;
    }
  }

  private write(bytes: Uint8Array | string): Promise<boolean> {
    if (this.res.destroyed || this.signal.aborted) return Promise.resolve(false);
    return new Promise((resolve) => {
      (this.res as ServerResponse).write(bytes, (error) => resolve(!error));
    });
  }

  private get stopReason(): string {
    return this.behaviour.kind === 'reply' ? (this.behaviour.stopReason ?? 'end_turn') : 'end_turn';
  }

  private async whole(): Promise<void> {
    const { behaviour } = this;
    if (behaviour.kind === 'slow-first-token' && !(await this.wait(behaviour.delayMs))) return;
    if (behaviour.kind === 'stream-exception') {
      const status = BEDROCK_EXCEPTION_STATUS[behaviour.exception] ?? 500;
      return sendException(this.res, behaviour.exception, status, behaviour.message ?? `The stand-in was told to fail with ${behaviour.exception}.`);
    }
    if (behaviour.kind === 'malformed') {
      this.res.writeHead(200, { 'content-type': 'application/json' });
      this.res.end('{not json');
      return;
    }
    const answer: Record<string, unknown> = {
      output: { message: { role: 'assistant', content: [{ text: this.text }] } },
      stopReason: this.stopReason,
      metrics: { latencyMs: 12 },
    };
    if (behaviour.kind !== 'no-usage') answer.usage = usageFor(this.body, pieces(this.text).length);
    const json = JSON.stringify(answer);
    if (behaviour.kind === 'hang-after' || behaviour.kind === 'cut-after') {
      this.res.writeHead(200, { 'content-type': 'application/json', 'x-amzn-requestid': this.requestId });
      await this.write(json.slice(0, Math.floor(json.length / 2)));
      if (behaviour.kind === 'cut-after') this.cut();
      return;
    }
    sendJson(this.res, 200, answer, { 'x-amzn-requestid': this.requestId });
  }

  private async stream(): Promise<void> {
    const { behaviour } = this;
    this.res.writeHead(200, { 'content-type': 'application/vnd.amazon.eventstream', 'x-amzn-requestid': this.requestId });
    if (!isHttp2(this.res)) this.res.flushHeaders();
    if (!(await this.write(eventFrame('messageStart', { role: 'assistant' })))) return;
    if (behaviour.kind === 'slow-first-token' && !(await this.wait(behaviour.delayMs))) return;

    const all = pieces(this.text);
    const stopAfter = 'deltas' in behaviour ? Math.min(behaviour.deltas ?? 0, all.length) : all.length;
    const gap = behaviour.kind === 'slow-chunks' ? behaviour.delayMs : this.chunkDelayMs;
    for (const [index, piece] of all.slice(0, stopAfter).entries()) {
      if (index > 0 && !(await this.wait(gap))) return;
      if (!(await this.write(eventFrame('contentBlockDelta', { contentBlockIndex: 0, delta: { text: piece } })))) return;
    }

    switch (behaviour.kind) {
      case 'hang-after':
        return;
      case 'cut-after':
        return this.cut();
      case 'malformed':
        await this.write(malformedFrame(behaviour.frame ?? 'bad-crc'));
        this.res.end();
        return;
      case 'stream-exception':
        await this.write(exceptionFrame(behaviour.exception, behaviour.message ?? `The stand-in was told to fail with ${behaviour.exception}.`));
        this.res.end();
        return;
    }
    await this.write(eventFrame('contentBlockStop', { contentBlockIndex: 0 }));
    await this.write(eventFrame('messageStop', { stopReason: this.stopReason }));
    const metadata: Record<string, unknown> = { metrics: { latencyMs: 12 } };
    if (behaviour.kind !== 'no-usage') metadata.usage = usageFor(this.body, all.length);
    await this.write(eventFrame('metadata', metadata));
    this.res.end();
  }
}
