/**
 * Adapter for any server speaking the OpenAI `/chat/completions` protocol (Ollama, vLLM, LM Studio,
 * OpenAI itself). Every failure leaves here as a PAI_LLM_* catalogue error; see the port in ../index.ts.
 */
import { Agent, request, type Dispatcher } from 'undici';
import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { z } from 'zod';
import { LlmErrors, type PaiError } from '@pai/errors';
import { CallScope, firstTokenArrived, firstTokenTimeout, openCallScope, type CallLimits } from '../call-scope.js';
import { connectionFailure as knownConnectionFailure, describeError, errorCode } from '@pai/errors';
import { RetryBudget, withRetries, type AttemptFailure } from '../retry.js';
import {
  DEFAULT_RETRY,
  DEFAULT_TIMEOUTS,
  estimateTokens,
  type CallOptions,
  type FinishReason,
  type ModelHealth,
  type ModelProvider,
  type ModelRequest,
  type ModelResponse,
  type ModelStreamEvent,
  type ModelTimeouts,
  type RetryPolicy,
  type TokenUsage,
} from '../index.js';

export interface OpenAiProviderOptions {
  /** e.g. http://127.0.0.1:11434/v1 (a trailing slash is tolerated). */
  baseUrl: string;
  apiKey?: string;
  defaultModel: string;
  timeouts?: Partial<ModelTimeouts>;
  retry?: Partial<RetryPolicy>;
  /** Source of randomness for the backoff jitter (tests pin it). */
  random?: () => number;
  /** Shared by every call of this provider; a fresh default budget when omitted. */
  retryBudget?: RetryBudget;
}

type ResponseBody = Dispatcher.ResponseData['body'];

interface AdapterContext extends CallLimits {
  baseUrl: string;
  /** baseUrl without any credentials, for messages. */
  endpoint: string;
  apiKey: string | undefined;
  timeouts: ModelTimeouts;
  retry: RetryPolicy;
  random: () => number;
  budget: RetryBudget;
  agent: Agent;
}

/** A chat completion answer can be large, but not unbounded. */
const MAX_ANSWER_BYTES = 16 * 1024 * 1024;
const MAX_ERROR_BODY_BYTES = 8 * 1024;
const MAX_UPSTREAM_MESSAGE_CHARS = 200;
/** A single SSE event bigger than this is not a token chunk. */
const MAX_SSE_EVENT_CHARS = 1024 * 1024;
const CHECK_GRACE_MS = 500;

// ---------------------------------------------------------------------------------------------
// Upstream shapes

const usageSchema = z.object({
  prompt_tokens: z.number().int().nonnegative(),
  completion_tokens: z.number().int().nonnegative(),
});
/** Usage in a shape PAI does not understand counts as not reported (it is then estimated). */
const optionalUsageSchema = usageSchema.nullish().catch(undefined);

const completionSchema = z.object({
  model: z.string().nullish(),
  choices: z
    .array(
      z.object({
        message: z.object({ content: z.string() }),
        finish_reason: z.string().nullish(),
      }),
    )
    .min(1),
  usage: optionalUsageSchema,
});

const chunkSchema = z.object({
  model: z.string().nullish(),
  choices: z
    .array(
      z.object({
        delta: z.object({ content: z.string().nullish() }).nullish(),
        finish_reason: z.string().nullish(),
      }),
    )
    .optional()
    .default([]),
  usage: optionalUsageSchema,
});

const errorFieldSchema = z.union([z.object({ message: z.string() }).transform((error) => error.message), z.string()]);
/** An error event inside a stream (OpenAI and vLLM send these when generation fails midway). */
const streamErrorSchema = z.object({ error: errorFieldSchema }).transform((body) => body.error);
/** `{error:{message}}` (OpenAI, vLLM), `{error:"…"}` (Ollama) or `{message:"…"}`. */
const upstreamErrorSchema = z.union([
  streamErrorSchema,
  z.object({ message: z.string() }).transform((body) => body.message),
]);

type Usage = z.infer<typeof usageSchema>;

// ---------------------------------------------------------------------------------------------
// Sending, with retries before the first token

type Attempt =
  | { ok: true; value: Dispatcher.ResponseData }
  | (AttemptFailure & {
      /** For connection failures: what went wrong, e.g. "connection refused". */
      connection?: string;
    });

interface Send {
  method: 'GET' | 'POST';
  path: string;
  body?: unknown;
  accept: string;
  /** The model asked for, for 404 messages. */
  model?: string;
}

function requestHeaders(ctx: AdapterContext, send: Send): Record<string, string> {
  const headers: Record<string, string> = { accept: send.accept };
  if (send.body !== undefined) headers['content-type'] = 'application/json';
  if (ctx.apiKey) headers.authorization = `Bearer ${ctx.apiKey}`;
  return headers;
}

async function sendOnce(ctx: AdapterContext, scope: CallScope, send: Send): Promise<Attempt> {
  let response: Dispatcher.ResponseData;
  try {
    response = await request(`${ctx.baseUrl}${send.path}`, {
      dispatcher: ctx.agent,
      method: send.method,
      headers: requestHeaders(ctx, send),
      body: send.body === undefined ? undefined : JSON.stringify(send.body),
      signal: scope.signal,
    });
  } catch (error) {
    if (scope.stopReason) throw scope.stopReason;
    return connectionFailure(ctx, error);
  }
  if (response.statusCode >= 200 && response.statusCode < 300) return { ok: true, value: response };
  const { text } = await readText(response.body, MAX_ERROR_BODY_BYTES).catch(() => ({ text: '' }));
  if (scope.stopReason) throw scope.stopReason;
  return statusFailure(ctx, send, response, text);
}

function sendWithRetries(
  ctx: AdapterContext,
  scope: CallScope,
  send: Send,
  firstTokenError: () => PaiError,
): Promise<Dispatcher.ResponseData> {
  const retrying = { policy: ctx.retry, budget: ctx.budget, random: ctx.random, firstTokenMs: ctx.timeouts.firstTokenMs, firstTokenError };
  return withRetries(scope, retrying, () => sendOnce(ctx, scope, send));
}

// ---------------------------------------------------------------------------------------------
// Failure classification

function connectionFailure(ctx: AdapterContext, error: unknown): Attempt {
  const code = errorCode(error);
  if (code === 'UND_ERR_CONNECT_TIMEOUT') {
    const detail = `Connecting to the model server at ${ctx.endpoint} timed out (connect timeout ${ctx.timeouts.connectMs} ms).`;
    return { ok: false, retryable: true, connection: 'connect timeout', error: LlmErrors.timeout(detail, { cause: error }) };
  }
  const connection = knownConnectionFailure(error);
  if (connection) {
    const detail = `No model server reachable at ${ctx.endpoint} (${connection}).`;
    return { ok: false, retryable: true, connection, error: LlmErrors.unavailable(detail, { cause: error }) };
  }
  if (code === 'UND_ERR_DESTROYED' || code === 'UND_ERR_CLOSED') {
    return { ok: false, retryable: false, error: LlmErrors.unavailable(`The model provider for ${ctx.endpoint} is closed.`) };
  }
  if (code?.startsWith('HPE_')) {
    const detail = `The model server at ${ctx.endpoint} answered with something that is not HTTP (${code}).`;
    return { ok: false, retryable: false, error: LlmErrors.badResponse(detail, { cause: error }) };
  }
  const detail = `Calling the model server at ${ctx.endpoint} failed (${describeError(error)}).`;
  return { ok: false, retryable: false, connection: describeError(error), error: LlmErrors.unavailable(detail, { cause: error }) };
}

function statusFailure(ctx: AdapterContext, send: Send, response: Dispatcher.ResponseData, body: string): Attempt {
  const status = response.statusCode;
  const said = upstreamMessage(ctx, body);
  const suffix = said ? `: ${said}` : '.';
  const retryAfterMs = retryAfter(response.headers['retry-after'], ctx.retry.maxDelayMs);
  if (status === 429) {
    const seconds = headerValue(response.headers['retry-after']);
    const detail = `The model server at ${ctx.endpoint} is rate limiting requests (HTTP 429)${suffix}`;
    const headers = seconds && /^\d+$/.test(seconds) ? { 'Retry-After': seconds } : undefined;
    return { ok: false, retryable: true, retryAfterMs, error: LlmErrors.rateLimited(detail, { headers }) };
  }
  if (status === 401 || status === 403) {
    const detail = ctx.apiKey
      ? `The model server at ${ctx.endpoint} rejected the API key (HTTP ${status}).`
      : `The model server at ${ctx.endpoint} requires an API key (HTTP ${status}); none is configured.`;
    return { ok: false, retryable: false, error: LlmErrors.unavailable(detail) };
  }
  if (status === 404) {
    const what = send.model
      ? `Model '${send.model}' was not found at ${ctx.endpoint} (or ${ctx.endpoint}${send.path} does not exist)`
      : `${ctx.endpoint}${send.path} does not exist (HTTP 404)`;
    return { ok: false, retryable: false, error: LlmErrors.unavailable(`${what}${suffix}`) };
  }
  const retryable = status === 500 || status === 502 || status === 503 || status === 504;
  const detail = `The model server at ${ctx.endpoint} answered ${status}${suffix}`;
  const error = LlmErrors.upstream(detail, { details: { upstreamStatus: status } });
  return { ok: false, retryable, retryAfterMs: retryable ? retryAfterMs : undefined, error };
}

/** The upstream's own error text, shortened and with the API key redacted should it echo it. */
function upstreamMessage(ctx: AdapterContext, body: string): string | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return undefined;
  }
  const result = upstreamErrorSchema.safeParse(parsed);
  if (!result.success) return undefined;
  return truncate(redact(result.data.trim(), ctx.apiKey), MAX_UPSTREAM_MESSAGE_CHARS) || undefined;
}

function redact(text: string, secret: string | undefined): string {
  return secret ? text.replaceAll(secret, '[redacted]') : text;
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** Retry-After in seconds (the only form model servers send), capped by the policy's maximum delay. */
function retryAfter(value: string | string[] | undefined, maxDelayMs: number): number | undefined {
  const text = headerValue(value)?.trim();
  if (!text || !/^\d+(\.\d+)?$/.test(text)) return undefined;
  return Math.min(Math.round(Number(text) * 1000), maxDelayMs);
}

// ---------------------------------------------------------------------------------------------
// Reading answers

async function readText(body: ResponseBody, maxBytes: number): Promise<{ text: string; truncated: boolean }> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    const room = maxBytes - size;
    if (chunk.length > room) {
      chunks.push(chunk.subarray(0, room));
      return { text: Buffer.concat(chunks).toString('utf8'), truncated: true };
    }
    chunks.push(chunk);
    size += chunk.length;
  }
  return { text: Buffer.concat(chunks).toString('utf8'), truncated: false };
}

function firstIssue(error: z.ZodError): string {
  const issue = error.issues[0];
  if (!issue) return 'unexpected shape';
  const path = issue.path.map((key) => (typeof key === 'number' ? `[${key}]` : `.${String(key)}`)).join('');
  return `${path.replace(/^\./, '') || '(root)'}: ${issue.message}`;
}

function parseCompletion(ctx: AdapterContext, text: string): z.infer<typeof completionSchema> {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw LlmErrors.badResponse(`The model server at ${ctx.endpoint} answered with something that is not JSON.`);
  }
  const result = completionSchema.safeParse(json);
  if (!result.success) {
    throw LlmErrors.badResponse(
      `The answer from ${ctx.endpoint} is not a chat completion (${firstIssue(result.error)}).`,
    );
  }
  return result.data;
}

function parseChunk(ctx: AdapterContext, data: string): z.infer<typeof chunkSchema> {
  let json: unknown;
  try {
    json = JSON.parse(data);
  } catch {
    throw LlmErrors.badResponse(`The stream from ${ctx.endpoint} carried an event that is not JSON.`);
  }
  const streamedError = streamErrorSchema.safeParse(json);
  if (streamedError.success) {
    const said = truncate(redact(streamedError.data, ctx.apiKey), MAX_UPSTREAM_MESSAGE_CHARS);
    throw LlmErrors.upstream(`The model server at ${ctx.endpoint} reported an error mid-stream: ${said}`);
  }
  const result = chunkSchema.safeParse(json);
  if (!result.success) {
    throw LlmErrors.badResponse(
      `The stream from ${ctx.endpoint} carried a chunk that is not a chat completion chunk (${firstIssue(result.error)}).`,
    );
  }
  return result.data;
}

/** The `data` of each SSE event of the body, in order. */
async function* sseData(body: ResponseBody): AsyncGenerator<string> {
  const pending: string[] = [];
  let overflow = false;
  const parser = createParser({
    maxBufferSize: MAX_SSE_EVENT_CHARS,
    onEvent: (event: EventSourceMessage) => pending.push(event.data),
    onError: (error) => {
      // Unknown fields are ignored, as the SSE spec says; only an endless event is fatal.
      if (error.type === 'max-buffer-size-exceeded') overflow = true;
    },
  });
  const decoder = new TextDecoder();
  for await (const chunk of body as AsyncIterable<Buffer>) {
    parser.feed(decoder.decode(chunk, { stream: true }));
    if (overflow) throw LlmErrors.badResponse('The model stream carried an event larger than 1 MiB.');
    yield* pending.splice(0);
  }
  parser.feed(decoder.decode());
  // Servers that omit the blank line after the last event still get it dispatched.
  parser.reset({ consume: true });
  yield* pending.splice(0);
}

function finishReason(reason: string | null | undefined): FinishReason {
  if (reason === 'stop' || reason === 'length' || reason === 'content_filter') return reason;
  return reason ? 'other' : 'stop';
}

function tokenUsage(reported: Usage | null | undefined, request: ModelRequest, answer: string): TokenUsage {
  if (reported) {
    return { inputTokens: reported.prompt_tokens, outputTokens: reported.completion_tokens, estimated: false };
  }
  const prompt = request.messages.map((message) => message.content).join('\n');
  return { inputTokens: estimateTokens(prompt), outputTokens: estimateTokens(answer), estimated: true };
}

function chatBody(request: ModelRequest, model: string, stream: boolean): Record<string, unknown> {
  const body: Record<string, unknown> = {
    model,
    messages: request.messages.map(({ role, content }) => ({ role, content })),
    stream,
  };
  if (stream) body.stream_options = { include_usage: true };
  if (request.temperature !== undefined) body.temperature = request.temperature;
  if (request.maxTokens !== undefined) body.max_tokens = request.maxTokens;
  return body;
}

// ---------------------------------------------------------------------------------------------
// The three calls

async function complete(ctx: AdapterContext, request: ModelRequest, model: string, options?: CallOptions): Promise<ModelResponse> {
  const scope = openCallScope(ctx, options?.signal);
  try {
    const send: Send = { method: 'POST', path: '/chat/completions', body: chatBody(request, model, false), accept: 'application/json', model };
    const response = await sendWithRetries(ctx, scope, send, firstTokenTimeout(ctx, 'answer'));
    const { text, truncated } = await readText(response.body, MAX_ANSWER_BYTES).catch((error: unknown) => {
      throw scope.explain(error, () => LlmErrors.badResponse(`The model server at ${ctx.endpoint} closed the connection before the answer was complete.`));
    });
    if (truncated) throw LlmErrors.badResponse(`The answer from ${ctx.endpoint} exceeds ${MAX_ANSWER_BYTES} bytes.`);
    const parsed = parseCompletion(ctx, text);
    const choice = parsed.choices[0]!;
    return {
      text: choice.message.content,
      model: parsed.model ?? model,
      usage: tokenUsage(parsed.usage, request, choice.message.content),
      finishReason: finishReason(choice.finish_reason),
    };
  } finally {
    scope.dispose();
  }
}

async function* stream(
  ctx: AdapterContext,
  request: ModelRequest,
  model: string,
  options?: CallOptions,
): AsyncGenerator<ModelStreamEvent> {
  const scope = openCallScope(ctx, options?.signal);
  try {
    const send: Send = { method: 'POST', path: '/chat/completions', body: chatBody(request, model, true), accept: 'text/event-stream', model };
    const response = await sendWithRetries(ctx, scope, send, firstTokenTimeout(ctx, 'token'));
    let answer = '';
    let reportedModel: string | undefined;
    let usage: Usage | null | undefined;
    let finish: string | null | undefined;
    let finished = false;
    const cutOff = (): PaiError =>
      LlmErrors.badResponse(`The stream from ${ctx.endpoint} was cut off after ${answer.length} characters (connection closed).`);
    try {
      for await (const data of scope.paced(sseData(response.body))) {
        if (data.trim() === '[DONE]') {
          finished = true;
          break;
        }
        const chunk = parseChunk(ctx, data);
        reportedModel = chunk.model ?? reportedModel;
        usage = chunk.usage ?? usage;
        const choice = chunk.choices[0];
        finish = choice?.finish_reason ?? finish;
        const text = choice?.delta?.content;
        if (text) {
          if (answer === '') firstTokenArrived(scope, ctx);
          answer += text;
          yield { type: 'delta', text };
        }
      }
    } catch (error) {
      throw scope.explain(error, cutOff);
    }
    if (scope.stopReason) throw scope.stopReason;
    if (!finished && !finish) {
      throw LlmErrors.badResponse(
        `The stream from ${ctx.endpoint} ended after ${answer.length} characters without a finish reason or [DONE].`,
      );
    }
    scope.disarm('first-token');
    yield { type: 'done', model: reportedModel ?? model, usage: tokenUsage(usage, request, answer), finishReason: finishReason(finish) };
  } finally {
    scope.dispose();
  }
}

async function check(ctx: AdapterContext, options?: CallOptions): Promise<ModelHealth> {
  const scope = new CallScope(options?.signal);
  const limitMs = Math.min(ctx.timeouts.connectMs, 2_000) + CHECK_GRACE_MS;
  scope.arm('total', limitMs, () => LlmErrors.timeout(`no answer from ${ctx.endpoint} within ${limitMs} ms`));
  try {
    const attempt = await sendOnce(ctx, scope, { method: 'GET', path: '/models', accept: 'application/json' });
    if (!attempt.ok) {
      return { ok: false, reason: attempt.connection ? `${attempt.connection} at ${ctx.endpoint}` : attempt.error.message };
    }
    await attempt.value.body.dump();
    return { ok: true };
  } catch (error) {
    // sendOnce only throws when the scope stopped: the check's time limit or the caller's signal.
    const reason = scope.explain(error, () => LlmErrors.unavailable(describeError(error)));
    return { ok: false, reason: reason.code === LlmErrors.aborted.code ? 'check cancelled' : reason.message };
  } finally {
    scope.dispose();
  }
}

function withoutCredentials(url: string): string {
  try {
    const parsed = new URL(url);
    if (!parsed.username && !parsed.password) return url;
    parsed.username = '';
    parsed.password = '';
    return parsed.toString().replace(/\/+$/, '');
  } catch {
    return url;
  }
}

export function createOpenAiProvider(options: OpenAiProviderOptions): ModelProvider {
  const baseUrl = options.baseUrl.replace(/\/+$/, '');
  const endpoint = withoutCredentials(baseUrl);
  const timeouts: ModelTimeouts = { ...DEFAULT_TIMEOUTS, ...options.timeouts };
  // undici's own header/body timeouts are off: the call scope enforces first-token, idle and total.
  const agent = new Agent({ connect: { timeout: timeouts.connectMs }, headersTimeout: 0, bodyTimeout: 0 });
  const ctx: AdapterContext = {
    baseUrl,
    endpoint,
    apiKey: options.apiKey || undefined,
    timeouts,
    retry: { ...DEFAULT_RETRY, ...options.retry },
    random: options.random ?? Math.random,
    budget: options.retryBudget ?? new RetryBudget(),
    agent,
  };
  return {
    name: 'openai',
    endpoint,
    defaultModel: options.defaultModel,
    complete: (request, callOptions) => complete(ctx, request, request.model ?? options.defaultModel, callOptions),
    stream: (request, callOptions) => stream(ctx, request, request.model ?? options.defaultModel, callOptions),
    check: (callOptions) => check(ctx, callOptions),
    close: () => agent.destroy(),
  };
}
