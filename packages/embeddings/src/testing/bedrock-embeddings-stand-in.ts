/**
 * A real HTTP server speaking the Bedrock runtime's InvokeModel protocol for Amazon Titan Text Embeddings
 * v2, for tests and benchmarks: point `createBedrockEmbeddings({ endpoint: standIn.url, … })` or any
 * BedrockRuntimeClient at it with dummy credentials (any SigV4 signature is accepted). It speaks HTTP/1.1,
 * or h2c (what the SDK's NodeHttp2Handler speaks to an http:// endpoint) with `http2: true`.
 *
 * Like the service it answers `POST /model/{url-encoded model id}/invoke` with the JSON
 * `{embedding, embeddingsByType: {float}, inputTextTokenCount}` (vectors from `standInEmbedding`), rejects
 * what Titan v2 rejects (unknown keys, empty `inputText`, dimensions other than 256/512/1024) with a
 * ValidationException, and sends errors as an HTTP status with `x-amzn-errortype: <Name>:…` and a JSON
 * `{message}`. `normalize: false` gets vectors that are not unit length, as Titan's are.
 *
 * It misbehaves on demand: queue behaviours with `enqueue()` (or `failNext()`), one per request.
 */
import { randomUUID } from 'node:crypto';
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

export type BedrockEmbeddingsGarbage =
  /** 200 with a body cut off in the middle of its JSON. */
  | 'not-json'
  /** A vector three numbers longer than asked for. */
  | 'wrong-length'
  /** JSON without an `embedding` list. */
  | 'wrong-shape';

export type BedrockEmbeddingsBehaviour =
  /** Answer normally. */
  | { kind: 'reply' }
  /** Answer with the named exception (its usual status unless given), or the exception usual for `status`. */
  | { kind: 'fail'; exception?: string; status?: number; message?: string }
  /** Wait `ms`, then answer normally. */
  | { kind: 'delay'; ms: number }
  /** Accept the request and never answer. */
  | { kind: 'hang' }
  /** Close the connection without answering. */
  | { kind: 'drop' }
  /** Answer 200 with something that is not Titan's JSON. */
  | { kind: 'garbage'; what: BedrockEmbeddingsGarbage };

export interface BedrockEmbeddingsRecordedRequest {
  method: string;
  /** The raw path, model id still URL-encoded. */
  path: string;
  /** The decoded model id. */
  modelId: string | undefined;
  headers: Record<string, string | string[] | undefined>;
  /** True when an `Authorization: AWS4-HMAC-SHA256 …` header came with it (any signature is accepted). */
  signed: boolean;
  /** 'HTTP/1.1' or 'HTTP/2.0'. */
  httpVersion: string;
  /** The parsed JSON body; undefined when it is not a JSON object. */
  body: Record<string, unknown> | undefined;
}

export interface BedrockEmbeddingsStandIn extends EmbeddingsStandInTraffic {
  /** The endpoint, e.g. http://127.0.0.1:PORT. */
  readonly url: string;
  readonly http2: boolean;
  readonly requests: readonly BedrockEmbeddingsRecordedRequest[];
  /** Queues behaviours for the next InvokeModel requests, in order. */
  enqueue(...behaviours: BedrockEmbeddingsBehaviour[]): void;
  /** Makes the next `count` InvokeModel requests fail with the named exception, or the one usual for a status. */
  failNext(count: number, failure: string | number, message?: string): void;
  /** Resolves true once `aborted` reaches `count`, false if `withinMs` passes first. */
  waitForAborted(count: number, withinMs: number): Promise<boolean>;
  /** Forgets queued behaviours, recorded requests and counters. */
  reset(): void;
  /** Stops the server, destroying open connections (hung requests included). */
  close(): Promise<void>;
}

export interface BedrockEmbeddingsStandInOptions {
  port?: number;
  /** Speak h2c (HTTP/2 over plain TCP) instead of HTTP/1.1. */
  http2?: boolean;
  /** Wait this long before every answer. */
  delayMs?: number;
}

/** HTTP status of each InvokeModel exception, as the service sends it. */
export const BEDROCK_EXCEPTION_STATUS: Readonly<Record<string, number>> = {
  ValidationException: 400,
  ServiceQuotaExceededException: 400,
  UnrecognizedClientException: 403,
  AccessDeniedException: 403,
  ResourceNotFoundException: 404,
  ModelTimeoutException: 408,
  ModelErrorException: 424,
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
const ROUTE = /^\/model\/([^/]+)\/invoke$/;
const TITAN_V2 = /titan-embed-text-v2/;
const TITAN_KEYS = new Set(['inputText', 'dimensions', 'normalize', 'embeddingTypes']);
const TITAN_DIMENSIONS = [256, 512, 1024];
const TITAN_MAX_CHARS = 50_000;
/** Titan's vectors are not unit length unless asked; this stands in for their raw magnitude. */
const RAW_SCALE = 3.5;

/** An error the way the service sends one (restJson1): status, x-amzn-errortype, JSON {message}. */
function sendException(res: StandInResponse, exception: string, status: number, message: string): void {
  sendJson(res, status, { message }, { 'x-amzn-errortype': `${exception}${ERROR_TYPE_SUFFIX}`, 'x-amzn-requestid': randomUUID() });
}

const malformed = (reason: string): string => `Malformed input request: ${reason}, please reformat your input and try again.`;

/** What Titan v2 rejects about the body, in its words; undefined when it is fine. */
function validate(modelId: string, body: Record<string, unknown> | undefined): string | undefined {
  if (!TITAN_V2.test(modelId)) return 'The provided model identifier is invalid.';
  if (!body) return malformed('expected type: JSONObject');
  for (const key of Object.keys(body)) if (!TITAN_KEYS.has(key)) return malformed(`#: extraneous key [${key}] is not permitted`);
  const { inputText, dimensions, normalize } = body;
  if (inputText === undefined) return malformed('#: required key [inputText] not found');
  if (typeof inputText !== 'string') return malformed(`#/inputText: expected type: String, found: ${typeof inputText}`);
  if (inputText.length === 0) return malformed('#/inputText: expected minLength: 1, actual: 0');
  if (inputText.length > TITAN_MAX_CHARS) return malformed(`#/inputText: expected maxLength: ${TITAN_MAX_CHARS}, actual: ${inputText.length}`);
  if (dimensions !== undefined && !TITAN_DIMENSIONS.includes(dimensions as number)) {
    return malformed(`#/dimensions: ${String(dimensions)} is not a valid enum value`);
  }
  if (normalize !== undefined && typeof normalize !== 'boolean') return malformed(`#/normalize: expected type: Boolean, found: ${typeof normalize}`);
  return undefined;
}

export async function startBedrockEmbeddingsStandIn(options: BedrockEmbeddingsStandInOptions = {}): Promise<BedrockEmbeddingsStandIn> {
  const queue: BedrockEmbeddingsBehaviour[] = [];
  const requests: BedrockEmbeddingsRecordedRequest[] = [];
  const traffic = new Traffic();
  const cutByServer = new WeakSet<StandInResponse>();
  const http2 = options.http2 === true;

  const server = await startServer(handle, { port: options.port, http2 });

  async function handle(req: StandInRequest, res: StandInResponse): Promise<void> {
    const raw = await readBody(req);
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const route = ROUTE.exec(path);
    const modelId = route ? decodeURIComponent(route[1]!) : undefined;
    const body = parseJsonObject(raw);
    const authorization = req.headers.authorization;
    requests.push({
      method: req.method ?? 'GET',
      path,
      modelId,
      headers: { ...req.headers },
      signed: typeof authorization === 'string' && authorization.startsWith('AWS4-HMAC-SHA256 '),
      httpVersion: `HTTP/${req.httpVersion}`,
      body,
    });
    if (req.method !== 'POST' || modelId === undefined) {
      return sendException(res, 'UnknownOperationException', 404, `No operation ${req.method} ${path}.`);
    }
    traffic.track(res, server.closing, () => cutByServer.has(res));
    const invalid = validate(modelId, body);
    if (invalid) return sendException(res, 'ValidationException', 400, invalid);
    const inputText = body!.inputText as string;
    traffic.texts.push(inputText);

    const signal = exchangeSignal(res, server.closing);
    const behaviour = queue.shift() ?? { kind: 'reply' };
    if (options.delayMs && !(await wait(options.delayMs, signal))) return;
    switch (behaviour.kind) {
      case 'hang':
        return;
      case 'drop':
        cutByServer.add(res);
        return cut(res);
      case 'fail': {
        const exception = behaviour.exception ?? EXCEPTION_BY_STATUS[behaviour.status ?? 500] ?? 'InternalServerException';
        const status = behaviour.status ?? BEDROCK_EXCEPTION_STATUS[exception] ?? 500;
        return sendException(res, exception, status, behaviour.message ?? `The stand-in was told to fail with ${exception}.`);
      }
      case 'delay':
        if (!(await wait(behaviour.ms, signal))) return;
        break;
    }
    const garbage = behaviour.kind === 'garbage' ? behaviour.what : undefined;
    const dimensions = ((body!.dimensions as number | undefined) ?? 1024) + (garbage === 'wrong-length' ? 3 : 0);
    let vector = Array.from(standInEmbedding(inputText, dimensions));
    if (body!.normalize === false) vector = vector.map((value) => value * RAW_SCALE);
    const tokens = Math.max(1, standInTerms(inputText).length);
    const answer = JSON.stringify({ embedding: vector, embeddingsByType: { float: vector }, inputTextTokenCount: tokens });
    const headers = {
      'x-amzn-requestid': randomUUID(),
      'x-amzn-bedrock-invocation-latency': '12',
      'x-amzn-bedrock-input-token-count': String(tokens),
    };
    if (garbage === 'not-json') return sendRaw(res, 200, answer.slice(0, Math.floor(answer.length / 2)), headers);
    if (garbage === 'wrong-shape') return sendJson(res, 200, { embeddings: 'none', inputTextTokenCount: tokens }, headers);
    sendRaw(res, 200, answer, headers);
  }

  return {
    url: `http://127.0.0.1:${server.port}`,
    http2,
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
    failNext: (count, failure, message) => {
      const behaviour: BedrockEmbeddingsBehaviour =
        typeof failure === 'number' ? { kind: 'fail', status: failure, message } : { kind: 'fail', exception: failure, message };
      for (let i = 0; i < count; i += 1) queue.push({ ...behaviour });
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
