/**
 * A real HTTP server speaking the OpenAI chat completions protocol, for tests and benchmarks.
 * It echoes the last user message by default and misbehaves on demand: queue a behaviour with
 * `enqueue()`, or put a directive such as `[[stand-in:hang]]` into the last user message so that
 * end-to-end tests through the whole app can pick one by message text.
 *
 * Directives: `[[stand-in:reply:<text>]]`, `[[stand-in:fail:<status>]]`, `[[stand-in:drop]]`,
 * `[[stand-in:hang]]`, `[[stand-in:hang-after:<deltas>]]`, `[[stand-in:cut-after:<deltas>]]`,
 * `[[stand-in:garbage:<deltas>]]`, `[[stand-in:slow-first-token:<ms>]]`, `[[stand-in:slow-chunks:<ms>]]`,
 * `[[stand-in:no-usage]]`.
 */
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { DIRECTIVE, countArg, echoOf, parseJsonObject, pieces, readBody, waitFor, wordCount } from './stand-in-kit.js';

export type StandInBehaviour =
  /** Answer normally (the echo, or `text`). */
  | { kind: 'reply'; text?: string }
  /** Answer normally but report no usage. */
  | { kind: 'no-usage'; text?: string }
  /** Wait `delayMs` before the first chunk (or the whole body when not streaming). */
  | { kind: 'slow-first-token'; delayMs: number; text?: string }
  /** Wait `delayMs` between streamed chunks (an upstream that stalls mid-stream). */
  | { kind: 'slow-chunks'; delayMs: number; text?: string }
  /** Answer `status` with an OpenAI error body, before any byte of a stream. */
  | { kind: 'fail'; status: number; message?: string; headers?: Record<string, string> }
  /** Close the connection without answering (the client sees a reset). */
  | { kind: 'drop' }
  /** Accept the request and never answer. */
  | { kind: 'hang' }
  /** Send `deltas` content chunks (or part of the JSON body), then go silent. */
  | { kind: 'hang-after'; deltas: number; text?: string }
  /** Send `deltas` content chunks (or part of the JSON body), then destroy the socket. */
  | { kind: 'cut-after'; deltas: number; text?: string }
  /** 200 with a body that is not JSON; when streaming, a `data: {not json` event after `deltas` chunks. */
  | { kind: 'garbage'; deltas?: number; text?: string };

export interface StandInChatBody {
  model?: string;
  messages?: Array<{ role: string; content: string }>;
  stream?: boolean;
  stream_options?: { include_usage?: boolean };
  temperature?: number;
  max_tokens?: number;
  [field: string]: unknown;
}

export interface RecordedRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  /** The parsed JSON body; undefined for GET or a body that is not JSON. */
  body: StandInChatBody | undefined;
}

export interface OpenAiStandIn {
  /** Base URL including `/v1`, e.g. http://127.0.0.1:PORT/v1. */
  readonly url: string;
  readonly requests: RecordedRequest[];
  /** Connections the client closed before the response ended. */
  readonly aborted: number;
  /** Queues behaviours for the next chat completion requests, in order. */
  enqueue(...behaviours: StandInBehaviour[]): void;
  /** Resolves true once `aborted` reaches `count`, false if `withinMs` passes first. */
  waitForAborted(count: number, withinMs: number): Promise<boolean>;
  /** Forgets queued behaviours, recorded requests and the abort count. */
  reset(): void;
  /** Stops the server, destroying open connections (hung requests included). */
  close(): Promise<void>;
}

export interface OpenAiStandInOptions {
  port?: number;
  /** Pause between streamed chunks. */
  chunkDelayMs?: number;
}

export const STAND_IN_MODEL = 'stand-in';
const CREATED = 1_700_000_000;

export async function startOpenAiStandIn(options: OpenAiStandInOptions = {}): Promise<OpenAiStandIn> {
  const queue: StandInBehaviour[] = [];
  const requests: RecordedRequest[] = [];
  const abortWaiters = new Set<() => void>();
  const closing = new AbortController();
  const chunkDelayMs = options.chunkDelayMs ?? 0;
  let aborted = 0;
  let sequence = 0;

  const countAbort = (): void => {
    aborted += 1;
    for (const wake of abortWaiters) wake();
  };

  const server = createServer((req, res) => {
    void handle(req, res).catch(() => res.destroy());
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = await readBody(req);
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const body = parseJsonObject<StandInChatBody>(raw);
    requests.push({ method: req.method ?? 'GET', path, headers: req.headers, body });
    if (req.method === 'GET' && path === '/v1/models') return sendModels(res);
    if (req.method !== 'POST' || path !== '/v1/chat/completions') {
      return sendError(res, 404, `No route ${req.method} ${path}`);
    }
    if (!body || !Array.isArray(body.messages)) return sendError(res, 400, 'The body must be JSON with a messages array.');

    const behaviour = queue.shift() ?? directiveIn(body) ?? { kind: 'reply' };
    const exchange = new Exchange(res, body, behaviour, closing.signal, chunkDelayMs, `chatcmpl-standin-${++sequence}`);
    res.on('close', () => {
      if (!res.writableFinished && !exchange.cutByServer && !closing.signal.aborted) countAbort();
    });
    await exchange.run();
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
    url: `http://127.0.0.1:${port}/v1`,
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
      server.closeAllConnections();
      await closed;
    },
  };
}

function lastUserMessage(body: StandInChatBody): string {
  const messages = body.messages ?? [];
  for (let i = messages.length - 1; i >= 0; i -= 1) {
    const message = messages[i];
    if (message?.role === 'user' && typeof message.content === 'string') return message.content;
  }
  return '';
}

function directiveIn(body: StandInChatBody): StandInBehaviour | undefined {
  const match = DIRECTIVE.exec(lastUserMessage(body));
  if (!match) return undefined;
  const [, kind, arg] = match;
  const count = (fallback: number): number => countArg(arg, fallback);
  switch (kind) {
    case 'reply':
      return arg === undefined ? { kind: 'reply' } : { kind: 'reply', text: arg };
    case 'no-usage':
      return { kind: 'no-usage' };
    case 'slow-first-token':
      return { kind: 'slow-first-token', delayMs: count(1_000) };
    case 'slow-chunks':
      return { kind: 'slow-chunks', delayMs: count(1_000) };
    case 'fail':
      return { kind: 'fail', status: count(500) };
    case 'drop':
      return { kind: 'drop' };
    case 'hang':
      return { kind: 'hang' };
    case 'hang-after':
      return { kind: 'hang-after', deltas: count(2) };
    case 'cut-after':
      return { kind: 'cut-after', deltas: count(2) };
    case 'garbage':
      return { kind: 'garbage', deltas: count(0) };
    default:
      return { kind: 'fail', status: 400, message: `Unknown stand-in directive '${kind}'.` };
  }
}

/** The default answer: the last user message echoed, without its directive. */
function echo(body: StandInChatBody): string {
  return echoOf(lastUserMessage(body));
}

function usageFor(body: StandInChatBody, completionTokens: number): Record<string, number> {
  const words = (body.messages ?? []).reduce((sum, message) => sum + wordCount(String(message.content)), 0);
  const promptTokens = words + 4 * (body.messages?.length ?? 0);
  return { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens };
}

function sendJson(res: ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

function sendError(res: ServerResponse, status: number, message: string, headers?: Record<string, string>): void {
  sendJson(res, status, { error: { message, type: status >= 500 ? 'server_error' : 'invalid_request_error', code: null } }, headers);
}

function sendModels(res: ServerResponse): void {
  sendJson(res, 200, { object: 'list', data: [{ id: STAND_IN_MODEL, object: 'model', created: CREATED, owned_by: 'pai' }] });
}

/** One chat completion request being answered according to its behaviour. */
class Exchange {
  /** Set when the stand-in itself closed the connection, so it is not counted as a client abort. */
  cutByServer = false;
  private readonly signal: AbortSignal;
  private readonly model: string;
  private readonly text: string;

  constructor(
    private readonly res: ServerResponse,
    private readonly body: StandInChatBody,
    private readonly behaviour: StandInBehaviour,
    closing: AbortSignal,
    private readonly chunkDelayMs: number,
    private readonly id: string,
  ) {
    const gone = new AbortController();
    res.on('close', () => gone.abort());
    this.signal = AbortSignal.any([closing, gone.signal]);
    this.model = typeof body.model === 'string' && body.model ? body.model : STAND_IN_MODEL;
    this.text = ('text' in behaviour ? behaviour.text : undefined) ?? echo(body);
  }

  async run(): Promise<void> {
    const { behaviour } = this;
    if (behaviour.kind === 'hang') return;
    if (behaviour.kind === 'drop') return this.cut();
    if (behaviour.kind === 'fail') {
      return sendError(this.res, behaviour.status, behaviour.message ?? `The stand-in was told to fail with ${behaviour.status}.`, behaviour.headers);
    }
    if (this.body.stream === true) await this.stream();
    else await this.whole();
  }

  private cut(): void {
    this.cutByServer = true;
    this.res.socket?.destroy();
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

  private write(text: string): Promise<boolean> {
    if (this.res.destroyed) return Promise.resolve(false);
    return new Promise((resolve) => this.res.write(text, (error) => resolve(!error)));
  }

  private async whole(): Promise<void> {
    const { behaviour } = this;
    if (behaviour.kind === 'slow-first-token' && !(await this.wait(behaviour.delayMs))) return;
    if (behaviour.kind === 'garbage') {
      this.res.writeHead(200, { 'content-type': 'application/json' });
      this.res.end('{not json');
      return;
    }
    const completion: Record<string, unknown> = {
      id: this.id,
      object: 'chat.completion',
      created: CREATED,
      model: this.model,
      system_fingerprint: null,
      choices: [{ index: 0, message: { role: 'assistant', content: this.text, refusal: null }, logprobs: null, finish_reason: 'stop' }],
    };
    if (behaviour.kind !== 'no-usage') completion.usage = usageFor(this.body, pieces(this.text).length);
    const json = JSON.stringify(completion);
    if (behaviour.kind === 'hang-after' || behaviour.kind === 'cut-after') {
      this.res.writeHead(200, { 'content-type': 'application/json' });
      await this.write(json.slice(0, Math.floor(json.length / 2)));
      if (behaviour.kind === 'cut-after') this.cut();
      return;
    }
    this.res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(json) });
    this.res.end(json);
  }

  private chunk(delta: Record<string, unknown>, finishReason: string | null): string {
    const chunk: Record<string, unknown> = {
      id: this.id,
      object: 'chat.completion.chunk',
      created: CREATED,
      model: this.model,
      system_fingerprint: null,
      choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }],
    };
    if (this.includeUsage) chunk.usage = null;
    return `data: ${JSON.stringify(chunk)}\n\n`;
  }

  private get includeUsage(): boolean {
    return this.body.stream_options?.include_usage === true && this.behaviour.kind !== 'no-usage';
  }

  private async stream(): Promise<void> {
    const { behaviour } = this;
    this.res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
    this.res.flushHeaders();
    if (behaviour.kind === 'slow-first-token' && !(await this.wait(behaviour.delayMs))) return;
    if (!(await this.write(this.chunk({ role: 'assistant', content: '' }, null)))) return;

    const all = pieces(this.text);
    const stopAfter = 'deltas' in behaviour ? Math.min(behaviour.deltas ?? 0, all.length) : all.length;
    const gap = behaviour.kind === 'slow-chunks' ? behaviour.delayMs : this.chunkDelayMs;
    for (const [index, piece] of all.slice(0, stopAfter).entries()) {
      if (index > 0 && !(await this.wait(gap))) return;
      if (!(await this.write(this.chunk({ content: piece }, null)))) return;
    }

    if (behaviour.kind === 'hang-after') return;
    if (behaviour.kind === 'cut-after') return this.cut();
    if (behaviour.kind === 'garbage') {
      await this.write('data: {not json\n\n');
      this.res.end();
      return;
    }
    await this.write(this.chunk({}, 'stop'));
    if (this.includeUsage) {
      const usage = usageFor(this.body, all.length);
      await this.write(`data: ${JSON.stringify({ id: this.id, object: 'chat.completion.chunk', created: CREATED, model: this.model, system_fingerprint: null, choices: [], usage })}\n\n`);
    }
    await this.write('data: [DONE]\n\n');
    this.res.end();
  }
}
