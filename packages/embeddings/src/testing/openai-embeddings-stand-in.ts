/**
 * A real HTTP server speaking OpenAI's embeddings protocol (`POST /v1/embeddings`), for tests and
 * benchmarks: point `createOpenAiEmbeddings({ baseUrl: standIn.url, … })` at it. It answers
 * `{object: "list", data: [{object: "embedding", index, embedding}], model, usage}` with the deterministic
 * vectors of `standInEmbedding` (as numbers, or base64 Float32 for `encoding_format: "base64"`), validates
 * the body as OpenAI does (model, non-empty input strings, at most 2048 of them, dimensions,
 * encoding_format) and counts what it receives.
 *
 * It misbehaves on demand: queue behaviours with `enqueue()` (or `failNext()`), one per request.
 */
import { vectorToBase64 } from '../vector.js';
import { standInEmbedding, standInTerms } from './stand-in-embedding.js';
import {
  Traffic,
  cut,
  exchangeSignal,
  parseJsonObject,
  readBody,
  sendJson,
  sendRaw,
  startServer,
  wait,
  type EmbeddingsStandInTraffic,
  type StandInRequest,
  type StandInResponse,
} from './stand-in-kit.js';

export type OpenAiEmbeddingsGarbage =
  /** 200 with a body cut off in the middle of its JSON. */
  | 'not-json'
  /** Vectors three numbers longer than asked for. */
  | 'wrong-length'
  /** The item of the last input left out. */
  | 'missing-item'
  /** JSON, but not an embeddings list. */
  | 'wrong-shape';

export type OpenAiEmbeddingsBehaviour =
  /** Answer normally. */
  | { kind: 'reply' }
  /** Answer `status` with an OpenAI error body (and `headers`, e.g. Retry-After). */
  | { kind: 'fail'; status: number; message?: string; headers?: Record<string, string> }
  /** Wait `ms`, then answer normally. */
  | { kind: 'delay'; ms: number }
  /** Accept the request and never answer. */
  | { kind: 'hang' }
  /** Close the connection without answering. */
  | { kind: 'drop' }
  /** Answer 200 with something that is not a usable embeddings list. */
  | { kind: 'garbage'; what: OpenAiEmbeddingsGarbage }
  /** Answer normally, but with the items in reverse order (their `index` still right). */
  | { kind: 'shuffle' }
  /** Answer base64 Float32 vectors whatever `encoding_format` asked for. */
  | { kind: 'base64' };

export interface OpenAiEmbeddingsRecordedRequest {
  method: string;
  path: string;
  headers: Record<string, string | string[] | undefined>;
  /** The parsed JSON body; undefined when it is not a JSON object. */
  body: Record<string, unknown> | undefined;
}

export interface OpenAiEmbeddingsStandIn extends EmbeddingsStandInTraffic {
  /** Base URL including `/v1`, e.g. http://127.0.0.1:PORT/v1. */
  readonly url: string;
  readonly requests: readonly OpenAiEmbeddingsRecordedRequest[];
  /** Queues behaviours for the next embedding requests, in order. */
  enqueue(...behaviours: OpenAiEmbeddingsBehaviour[]): void;
  /** Makes the next `count` embedding requests fail with `status`. */
  failNext(count: number, status: number, message?: string): void;
  /** Resolves true once `aborted` reaches `count`, false if `withinMs` passes first. */
  waitForAborted(count: number, withinMs: number): Promise<boolean>;
  /** Forgets queued behaviours, recorded requests and counters. */
  reset(): void;
  /** Stops the server, destroying open connections (hung requests included). */
  close(): Promise<void>;
}

export interface OpenAiEmbeddingsStandInOptions {
  port?: number;
  /** Vector length when a request names none (text-embedding-3-small's 1536 when omitted). */
  defaultDimensions?: number;
  /** Ignore the requested `dimensions` and always answer this many (a model that cannot shorten its vectors). */
  fixedDimensions?: number;
  /** Answer vectors that are not unit length, as some Ollama models do. */
  unnormalized?: boolean;
  /** Require `Authorization: Bearer <apiKey>`. */
  apiKey?: string;
  /** Wait this long before every answer. */
  delayMs?: number;
}

/** OpenAI's limit on inputs per request. */
export const OPENAI_MAX_INPUTS = 2048;
const DEFAULT_DIMENSIONS = 1536;

interface EmbeddingsBody {
  model: string;
  texts: string[];
  dimensions: number | undefined;
  base64: boolean;
}

function errorBody(status: number, message: string, code: string | null = null): Record<string, unknown> {
  return { error: { message, type: status >= 500 ? 'server_error' : 'invalid_request_error', param: null, code } };
}

/** The body as OpenAI reads it, or the message OpenAI answers 400 with. */
function parseEmbeddingsBody(body: Record<string, unknown> | undefined): EmbeddingsBody | string {
  if (!body) return 'We could not parse the JSON body of your request. The OpenAI API expects a JSON payload.';
  if (typeof body.model !== 'string' || body.model === '') return 'you must provide a model parameter';
  const input = body.input;
  const texts = typeof input === 'string' ? [input] : input;
  if (!Array.isArray(texts) || texts.length === 0 || texts.some((text) => typeof text !== 'string' || text === '')) {
    return "'$.input' is invalid. Please check the API reference: https://platform.openai.com/docs/api-reference.";
  }
  if (texts.length > OPENAI_MAX_INPUTS) return `'$.input' is too long: at most ${OPENAI_MAX_INPUTS} inputs per request.`;
  const { dimensions } = body;
  if (dimensions !== undefined && (typeof dimensions !== 'number' || !Number.isInteger(dimensions) || dimensions < 1)) {
    return `Invalid value for 'dimensions' = ${String(dimensions)}. Must be a positive integer.`;
  }
  const format = body.encoding_format;
  if (format !== undefined && format !== 'float' && format !== 'base64') {
    return `Invalid value for 'encoding_format' = ${String(format)}. Must be 'float' or 'base64'.`;
  }
  return { model: body.model, texts: texts as string[], dimensions, base64: format === 'base64' };
}

export async function startOpenAiEmbeddingsStandIn(options: OpenAiEmbeddingsStandInOptions = {}): Promise<OpenAiEmbeddingsStandIn> {
  const queue: OpenAiEmbeddingsBehaviour[] = [];
  const requests: OpenAiEmbeddingsRecordedRequest[] = [];
  const traffic = new Traffic();
  const cutByServer = new WeakSet<StandInResponse>();

  const server = await startServer(handle, { port: options.port });

  async function handle(req: StandInRequest, res: StandInResponse): Promise<void> {
    const raw = await readBody(req);
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const json = parseJsonObject(raw);
    requests.push({ method: req.method ?? 'GET', path, headers: { ...req.headers }, body: json });
    if (req.method !== 'POST' || path !== '/v1/embeddings') {
      return sendJson(res, 404, errorBody(404, `Invalid URL (${req.method} ${path})`));
    }
    traffic.track(res, server.closing, () => cutByServer.has(res));
    if (options.apiKey !== undefined && req.headers.authorization !== `Bearer ${options.apiKey}`) {
      return sendJson(res, 401, errorBody(401, 'Incorrect API key provided.', 'invalid_api_key'));
    }
    const body = parseEmbeddingsBody(json);
    if (typeof body === 'string') return sendJson(res, 400, errorBody(400, body));
    traffic.texts.push(...body.texts);

    const signal = exchangeSignal(res, server.closing);
    const behaviour = queue.shift() ?? { kind: 'reply' };
    if (options.delayMs && !(await wait(options.delayMs, signal))) return;
    switch (behaviour.kind) {
      case 'hang':
        return;
      case 'drop':
        cutByServer.add(res);
        return cut(res);
      case 'fail':
        return sendJson(res, behaviour.status, errorBody(behaviour.status, behaviour.message ?? `The stand-in was told to fail with ${behaviour.status}.`), behaviour.headers);
      case 'delay':
        if (!(await wait(behaviour.ms, signal))) return;
        break;
    }
    const dimensions = options.fixedDimensions ?? body.dimensions ?? options.defaultDimensions ?? DEFAULT_DIMENSIONS;
    const garbage = behaviour.kind === 'garbage' ? behaviour.what : undefined;
    const base64 = body.base64 || behaviour.kind === 'base64';
    let data = body.texts.map((text, index) => {
      let vector = standInEmbedding(text, garbage === 'wrong-length' ? dimensions + 3 : dimensions);
      if (options.unnormalized) vector = vector.map((value) => value * (2 + (text.length % 5)));
      return { object: 'embedding', index, embedding: base64 ? vectorToBase64(vector) : Array.from(vector) };
    });
    if (garbage === 'missing-item') data = data.slice(0, -1);
    if (behaviour.kind === 'shuffle') data.reverse();
    const tokens = body.texts.reduce((sum, text) => sum + Math.max(1, standInTerms(text).length), 0);
    const answer = JSON.stringify({ object: 'list', data, model: body.model, usage: { prompt_tokens: tokens, total_tokens: tokens } });
    if (garbage === 'not-json') return sendRaw(res, 200, answer.slice(0, Math.floor(answer.length / 2)));
    if (garbage === 'wrong-shape') return sendJson(res, 200, { object: 'list', results: 'none' });
    sendRaw(res, 200, answer);
  }

  return {
    url: `http://127.0.0.1:${server.port}/v1`,
    requests,
    get calls() {
      return traffic.calls;
    },
    get texts() {
      return traffic.texts;
    },
    get inFlight() {
      return traffic.inFlight;
    },
    get maxInFlight() {
      return traffic.maxInFlight;
    },
    get aborted() {
      return traffic.aborted;
    },
    enqueue: (...behaviours) => void queue.push(...behaviours),
    failNext: (count, status, message) => {
      for (let i = 0; i < count; i += 1) queue.push(message === undefined ? { kind: 'fail', status } : { kind: 'fail', status, message });
    },
    waitForAborted: (count, withinMs) => traffic.waitForAborted(count, withinMs),
    reset: () => {
      queue.length = 0;
      requests.length = 0;
      traffic.reset();
    },
    close: () => server.close(),
  };
}
