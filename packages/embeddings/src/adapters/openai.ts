/**
 * Adapter for any server speaking OpenAI's `POST /embeddings` (OpenAI, Ollama, vLLM, LM Studio, TEI's
 * OpenAI route). It sends `{model, input: [...], dimensions, encoding_format: "float"}` and reads
 * `data[].{index, embedding}` back, in index order. Every failure leaves as a PAI_EMBEDDINGS_* error:
 *
 *   400/413/422                          → PAI_EMBEDDINGS_INVALID_REQUEST (not retried)
 *   429, 408, 5xx, connection failures   → PAI_EMBEDDINGS_UNAVAILABLE (retried)
 *   401/403/404                          → PAI_EMBEDDINGS_UNAVAILABLE (not retried; the message says what to fix)
 *   not JSON, wrong shape, missing items → PAI_EMBEDDINGS_BAD_RESPONSE (not retried)
 *
 * Timeouts, retries and the cache are the shared pipeline's (../pipeline.ts).
 */
import { Agent, request, type Dispatcher } from 'undici';
import { z } from 'zod';
import { SearchErrors } from '@pai/errors';
import { connectionFailure, describeError, errorCode } from '@pai/errors';
import { createPipelineProvider, requireWhole, type ResilienceOptions } from '../pipeline.js';
import { failure, upstreamText, withoutCredentials, type EmbeddingUpstream, type UpstreamResult } from '../upstream.js';
import { vectorFromBase64 } from '../vector.js';
import type { ClosableEmbeddingProvider } from '../index.js';

export interface OpenAiEmbeddingsOptions extends ResilienceOptions {
  /** e.g. http://127.0.0.1:11434/v1 or https://api.openai.com/v1 (a trailing slash is tolerated). */
  baseUrl: string;
  apiKey?: string | undefined;
  model: string;
  /** Sent as `dimensions`; every vector must come back this long. */
  dimensions: number;
  /** Texts per request. */
  batchSize: number;
  /** Limit for each request, from sending it to having read the whole answer. */
  timeoutMs: number;
  /** Requests of one call in flight at once; 2 when omitted. */
  concurrency?: number;
}

const DEFAULT_CONCURRENCY = 2;
const MAX_CONNECT_MS = 10_000;
const MAX_ERROR_BODY_BYTES = 8 * 1024;
/** Room for JSON around the numbers, and for each number's text (`-0.0123456789012345678,`). */
const ANSWER_OVERHEAD_BYTES = 1024 * 1024;
const BYTES_PER_NUMBER = 32;

// ---------------------------------------------------------------------------------------------
// Upstream shapes

/** `embedding` is a list of numbers, or base64 Float32 when a server ignores `encoding_format`. */
const answerSchema = z.object({
  data: z.array(
    z.object({
      index: z.number().int().nonnegative(),
      embedding: z.union([z.array(z.number()), z.string()]),
    }),
  ),
});

const errorFieldSchema = z.union([z.object({ message: z.string() }).transform((error) => error.message), z.string()]);
/** `{error:{message}}` (OpenAI, vLLM), `{error:"…"}` (Ollama) or `{message:"…"}`. */
const upstreamErrorSchema = z.union([
  z.object({ error: errorFieldSchema }).transform((body) => body.error),
  z.object({ message: z.string() }).transform((body) => body.message),
]);

function firstIssue(error: z.ZodError): string {
  const issue = error.issues[0];
  if (!issue) return 'unexpected shape';
  const path = issue.path.map((key) => (typeof key === 'number' ? `[${key}]` : `.${String(key)}`)).join('');
  return `${path.replace(/^\./, '') || '(root)'}: ${issue.message}`;
}

// ---------------------------------------------------------------------------------------------
// Reading answers

type ResponseBody = Dispatcher.ResponseData['body'];

async function readText(body: ResponseBody, maxBytes: number): Promise<{ text: string; truncated: boolean }> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    if (chunk.length > maxBytes - size) {
      chunks.push(chunk.subarray(0, maxBytes - size));
      body.destroy();
      return { text: Buffer.concat(chunks).toString('utf8'), truncated: true };
    }
    chunks.push(chunk);
    size += chunk.length;
  }
  return { text: Buffer.concat(chunks).toString('utf8'), truncated: false };
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** Retry-After in seconds (what API servers send); undefined for dates or junk. */
function retryAfterMs(value: string | undefined): number | undefined {
  const text = value?.trim();
  return text && /^\d+(\.\d+)?$/.test(text) ? Math.round(Number(text) * 1000) : undefined;
}

// ---------------------------------------------------------------------------------------------
// The adapter

interface Context {
  url: string;
  endpoint: string;
  apiKey: string | undefined;
  model: string;
  dimensions: number;
  agent: Agent;
}

function connectionFailed(ctx: Context, error: unknown): UpstreamResult {
  const code = errorCode(error);
  if (code === 'UND_ERR_DESTROYED' || code === 'UND_ERR_CLOSED') {
    return failure(SearchErrors.embeddingsUnavailable(`The embedding provider for ${ctx.endpoint} is closed.`), false);
  }
  if (code?.startsWith('HPE_')) {
    const detail = `The embedding server at ${ctx.endpoint} answered with something that is not HTTP (${code}).`;
    return failure(SearchErrors.embeddingsBadResponse(detail, { cause: error }), false);
  }
  const connection = connectionFailure(error);
  if (connection) {
    const detail = `No embedding server reachable at ${ctx.endpoint} (${connection}).`;
    return failure(SearchErrors.embeddingsUnavailable(detail, { cause: error }), true);
  }
  const detail = `Calling the embedding server at ${ctx.endpoint} failed (${describeError(error)}).`;
  return failure(SearchErrors.embeddingsUnavailable(detail, { cause: error }), false);
}

function statusFailed(ctx: Context, status: number, headers: Dispatcher.ResponseData['headers'], body: string): UpstreamResult {
  let said: string | undefined;
  try {
    const parsed = upstreamErrorSchema.safeParse(JSON.parse(body));
    if (parsed.success) said = upstreamText(parsed.data, [ctx.apiKey]) || undefined;
  } catch {
    // Not JSON: the status alone has to do.
  }
  const suffix = said ? `: ${said}` : '.';
  const retryAfterText = headerValue(headers['retry-after']);
  const details = { upstreamStatus: status };
  if (status === 400 || status === 413 || status === 422) {
    const detail = `The embedding server at ${ctx.endpoint} rejected the request (HTTP ${status})${suffix}`;
    return failure(SearchErrors.embeddingsInvalidRequest(detail, { details }), false);
  }
  if (status === 401 || status === 403) {
    const detail = ctx.apiKey
      ? `The embedding server at ${ctx.endpoint} rejected the API key (HTTP ${status}); check OPENAI_API_KEY.`
      : `The embedding server at ${ctx.endpoint} requires an API key (HTTP ${status}); set OPENAI_API_KEY.`;
    return failure(SearchErrors.embeddingsUnavailable(detail, { details }), false);
  }
  if (status === 404) {
    const detail = `The embedding model '${ctx.model}' was not found at ${ctx.endpoint} (or ${ctx.endpoint}/embeddings does not exist)${suffix} ` +
      'Check EMBEDDINGS_MODEL and OPENAI_BASE_URL (Ollama: pull the model first).';
    return failure(SearchErrors.embeddingsUnavailable(detail, { details }), false);
  }
  const retryable = status === 408 || status === 429 || (status >= 500 && status !== 501);
  const what = status === 429 ? 'is rate limiting requests (HTTP 429)' : `answered HTTP ${status}`;
  const headersOut = status === 429 && retryAfterText && /^\d+$/.test(retryAfterText) ? { 'Retry-After': retryAfterText } : undefined;
  const error = SearchErrors.embeddingsUnavailable(`The embedding server at ${ctx.endpoint} ${what}${suffix}`, { details, headers: headersOut });
  return failure(error, retryable, retryable ? retryAfterMs(retryAfterText) : undefined);
}

/** The answer's vectors in the order of the texts: each index exactly once. */
function parseAnswer(ctx: Context, text: string, count: number): UpstreamResult {
  const bad = (detail: string): UpstreamResult => failure(SearchErrors.embeddingsBadResponse(detail), false);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return bad(`The embedding server at ${ctx.endpoint} answered with something that is not JSON.`);
  }
  const parsed = answerSchema.safeParse(json);
  if (!parsed.success) return bad(`The answer from ${ctx.endpoint} is not an embeddings list (${firstIssue(parsed.error)}).`);
  const vectors: Array<ArrayLike<number> | undefined> = new Array(count).fill(undefined);
  for (const item of parsed.data.data) {
    if (item.index >= count) return bad(`The answer from ${ctx.endpoint} has an item for input ${item.index}, but only ${count} texts were sent.`);
    if (vectors[item.index] !== undefined) return bad(`The answer from ${ctx.endpoint} has two items for input ${item.index}.`);
    if (typeof item.embedding === 'string') {
      try {
        vectors[item.index] = vectorFromBase64(item.embedding);
      } catch {
        return bad(`The answer from ${ctx.endpoint} has an embedding for input ${item.index} that is neither numbers nor base64 floats.`);
      }
    } else {
      vectors[item.index] = item.embedding;
    }
  }
  const missing = vectors.findIndex((vector) => vector === undefined);
  if (missing !== -1) return bad(`The answer from ${ctx.endpoint} has no embedding for input ${missing} of ${count}.`);
  return { ok: true, value: vectors as ArrayLike<number>[] };
}

async function send(ctx: Context, texts: readonly string[], signal: AbortSignal): Promise<UpstreamResult> {
  const headers: Record<string, string> = { accept: 'application/json', 'content-type': 'application/json' };
  if (ctx.apiKey) headers.authorization = `Bearer ${ctx.apiKey}`;
  const body = JSON.stringify({ model: ctx.model, input: texts, dimensions: ctx.dimensions, encoding_format: 'float' });
  let response: Dispatcher.ResponseData;
  try {
    response = await request(ctx.url, { dispatcher: ctx.agent, method: 'POST', headers, body, signal });
  } catch (error) {
    return connectionFailed(ctx, error);
  }
  const ok = response.statusCode >= 200 && response.statusCode < 300;
  const limit = ok ? ANSWER_OVERHEAD_BYTES + texts.length * ctx.dimensions * BYTES_PER_NUMBER : MAX_ERROR_BODY_BYTES;
  let read: { text: string; truncated: boolean };
  try {
    read = await readText(response.body, limit);
  } catch (error) {
    const detail = `The embedding server at ${ctx.endpoint} closed the connection before the answer was complete (${describeError(error)}).`;
    return failure(SearchErrors.embeddingsUnavailable(detail, { cause: error }), true);
  }
  if (!ok) return statusFailed(ctx, response.statusCode, response.headers, read.text);
  if (read.truncated) {
    return failure(SearchErrors.embeddingsBadResponse(`The answer from ${ctx.endpoint} is larger than ${limit} bytes for ${texts.length} texts.`), false);
  }
  return parseAnswer(ctx, read.text, texts.length);
}

/** The OpenAI-protocol upstream alone, for the pipeline. */
export function openAiUpstream(options: OpenAiEmbeddingsOptions): EmbeddingUpstream {
  requireWhole('EMBEDDINGS_DIMENSIONS', options.dimensions, 1);
  requireWhole('The embedding batch size', options.batchSize, 1);
  requireWhole('The embedding request timeout (ms)', options.timeoutMs, 1);
  const concurrency = options.concurrency ?? DEFAULT_CONCURRENCY;
  requireWhole('The embedding request concurrency', concurrency, 1);
  if (!options.model) throw new RangeError('EMBEDDINGS_MODEL is required for the openai embedding provider.');
  let base: URL;
  try {
    base = new URL(options.baseUrl);
  } catch {
    throw new RangeError(`OPENAI_BASE_URL must be an http(s) URL (got '${withoutCredentials(options.baseUrl)}').`);
  }
  if (base.protocol !== 'http:' && base.protocol !== 'https:') {
    throw new RangeError(`OPENAI_BASE_URL must be an http(s) URL (got '${withoutCredentials(options.baseUrl)}').`);
  }
  const baseUrl = options.baseUrl.replace(/\/+$/, '');
  // undici's own header/body timeouts are off: the pipeline's per-request timeout covers both.
  const agent = new Agent({ connect: { timeout: Math.min(options.timeoutMs, MAX_CONNECT_MS) }, headersTimeout: 0, bodyTimeout: 0 });
  const ctx: Context = {
    url: `${baseUrl}/embeddings`,
    endpoint: withoutCredentials(baseUrl),
    apiKey: options.apiKey || undefined,
    model: options.model,
    dimensions: options.dimensions,
    agent,
  };
  return {
    name: 'openai',
    model: options.model,
    dimensions: options.dimensions,
    endpoint: ctx.endpoint,
    maxBatchSize: options.batchSize,
    concurrency,
    send: (texts, signal) => send(ctx, texts, signal),
    close: () => agent.destroy(),
  };
}

/**
 * An embedding provider over an OpenAI-compatible server. Retries and the cache are off unless
 * `maxRetries` / `cacheEntries` say otherwise (createEmbeddingProvider sets them from the config).
 */
export function createOpenAiEmbeddings(options: OpenAiEmbeddingsOptions): ClosableEmbeddingProvider {
  return createPipelineProvider(openAiUpstream(options), options);
}
