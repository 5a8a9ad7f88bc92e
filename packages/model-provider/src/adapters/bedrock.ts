/**
 * Adapter for Amazon Bedrock through the runtime's Converse and ConverseStream APIs, which speak one
 * message format for every model family (Anthropic, Amazon Nova, Meta, Mistral, …): nothing here is
 * family-specific. Every failure leaves here as a PAI_LLM_* catalogue error; see the port in ../index.ts.
 *
 * The SDK's own retries are off (`maxAttempts: 1`): the shared retry loop (../retry.ts) retries with
 * backoff and a retry budget, and only before the first token. By default requests go over HTTP/1.1
 * through NodeHttpHandler, so that the connect timeout applies; pass `requestHandler` to choose another
 * (e.g. the SDK's NodeHttp2Handler).
 */
import {
  BedrockRuntimeClient,
  ConverseCommand,
  ConverseStreamCommand,
  type BedrockRuntimeClientConfig,
  type ContentBlock,
  type ConverseCommandOutput,
  type ConverseStreamCommandInput,
  type ConverseStreamCommandOutput,
  type ConverseStreamOutput,
  type Message,
  type TokenUsage as BedrockUsage,
} from '@aws-sdk/client-bedrock-runtime';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { LlmErrors, type PaiError } from '@pai/errors';
import { CallScope, firstTokenArrived, firstTokenTimeout, openCallScope, type CallLimits } from '../call-scope.js';
import { connectionFailure, describeError } from '@pai/errors';
import { RetryBudget, withRetries, type Attempt, type AttemptFailure, type Retrying } from '../retry.js';
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

export interface BedrockProviderOptions {
  /** e.g. us-east-1 */
  region: string;
  /** Endpoint override (tests, VPC endpoints); the region's bedrock-runtime endpoint when omitted. */
  endpoint?: string;
  /** A model or inference-profile id, e.g. anthropic.claude-3-5-haiku-20241022-v1:0 or us.amazon.nova-lite-v1:0. */
  defaultModel: string;
  timeouts?: Partial<ModelTimeouts>;
  retry?: Partial<RetryPolicy>;
  /** Shared by every call of this provider; a fresh default budget when omitted. */
  retryBudget?: RetryBudget;
  /** Static credentials or a provider; the SDK's default chain when omitted. */
  credentials?: BedrockRuntimeClientConfig['credentials'];
  /** The SDK HTTP handler; NodeHttpHandler (HTTP/1.1) with the connect timeout when omitted. */
  requestHandler?: BedrockRuntimeClientConfig['requestHandler'];
  /** Source of randomness for the backoff jitter (tests pin it). */
  random?: () => number;
}

interface BedrockContext extends CallLimits {
  client: BedrockRuntimeClient;
  region: string;
  retry: RetryPolicy;
  budget: RetryBudget;
  random: () => number;
  closed: boolean;
}

const MAX_UPSTREAM_MESSAGE_CHARS = 200;
const CHECK_GRACE_MS = 1_000;
/** Enough sockets for many concurrent streams (the handler's default is 50 per host). */
const MAX_SOCKETS = 256;
/** Bedrock requires the conversation to start with a user turn; this stands in when it does not. */
const LEADING_USER_TURN = '(The conversation continues.)';

// ---------------------------------------------------------------------------------------------
// Request

/**
 * The Converse request: system messages become `system` blocks; the rest become alternating user and
 * assistant turns (consecutive turns of one role merged, blank ones dropped, a user turn first).
 */
function converseInput(request: ModelRequest, model: string): ConverseStreamCommandInput {
  const system = request.messages
    .filter((message) => message.role === 'system' && message.content.trim() !== '')
    .map((message) => ({ text: message.content }));
  const turns: Array<{ role: 'user' | 'assistant'; texts: string[] }> = [];
  for (const message of request.messages) {
    if (message.role === 'system' || message.content.trim() === '') continue;
    const last = turns.at(-1);
    if (last?.role === message.role) last.texts.push(message.content);
    else turns.push({ role: message.role, texts: [message.content] });
  }
  if (turns.length === 0) {
    throw LlmErrors.invalidRequest('The request has no user or assistant message with text to send to the model.');
  }
  if (turns[0]?.role === 'assistant') turns.unshift({ role: 'user', texts: [LEADING_USER_TURN] });
  const messages: Message[] = turns.map(({ role, texts }) => ({ role, content: [{ text: texts.join('\n\n') }] }));
  const input: ConverseStreamCommandInput = { modelId: model, messages };
  if (system.length > 0) input.system = system;
  const inferenceConfig: NonNullable<ConverseStreamCommandInput['inferenceConfig']> = {};
  if (request.maxTokens !== undefined) inferenceConfig.maxTokens = request.maxTokens;
  if (request.temperature !== undefined) inferenceConfig.temperature = request.temperature;
  if (Object.keys(inferenceConfig).length > 0) input.inferenceConfig = inferenceConfig;
  return input;
}

// ---------------------------------------------------------------------------------------------
// Failure classification

interface SdkError {
  name?: unknown;
  message?: unknown;
  $metadata?: { httpStatusCode?: number };
  $fault?: 'client' | 'server';
  originalStatusCode?: unknown;
}

/** Where a failure happened: before the response, or reading the event stream (before or after the first token). */
type Phase = { kind: 'request' } | { kind: 'stream'; answered: number; firstToken: boolean };

const CREDENTIAL_REJECTIONS = new Set([
  'UnrecognizedClientException',
  'InvalidSignatureException',
  'IncompleteSignatureException',
  'ExpiredTokenException',
  'ExpiredToken',
  'InvalidClientTokenId',
  'MissingAuthenticationTokenException',
]);

/** Exceptions inside an event stream arrive named after the union member (`throttlingException`). */
function exceptionName(error: SdkError): string {
  const name = typeof error.name === 'string' ? error.name : 'Error';
  return name.charAt(0).toUpperCase() + name.slice(1);
}

/** AWS's own message (unwrapped when an unmodelled stream exception carries its JSON body), redacted and shortened. */
function awsMessage(error: SdkError): string | undefined {
  let text = typeof error.message === 'string' ? error.message.trim() : '';
  if (text.startsWith('{')) {
    try {
      const parsed = JSON.parse(text) as { message?: unknown; Message?: unknown };
      const message = parsed.message ?? parsed.Message;
      text = typeof message === 'string' ? message.trim() : '';
    } catch {
      // Not JSON after all: keep the text.
    }
  }
  // Access key ids are not secrets, but they have no place in a message shown to users.
  text = text.replace(/\b(AKIA|ASIA)[A-Z0-9]{12,}\b/g, '[redacted]');
  if (text === '' || text === 'UnknownError') return undefined;
  return text.length <= MAX_UPSTREAM_MESSAGE_CHARS ? text : `${text.slice(0, MAX_UPSTREAM_MESSAGE_CHARS - 1)}…`;
}

function failure(error: PaiError, retryable = false): AttemptFailure {
  return { ok: false, error, retryable };
}

function classify(ctx: BedrockContext, error: unknown, model: string, phase: Phase): AttemptFailure {
  const sdk = (typeof error === 'object' && error !== null ? error : { message: String(error) }) as SdkError;
  const name = exceptionName(sdk);
  const status = sdk.$metadata?.httpStatusCode;
  const said = awsMessage(sdk);
  const because = `(${name}${said ? `: ${said}` : ''})`;
  const where = `model '${model}' in ${ctx.region}`;
  const beforeToken = phase.kind === 'request' || !phase.firstToken;
  const options = { cause: error };

  switch (name) {
    case 'ThrottlingException': {
      const seconds = String(Math.max(1, Math.ceil(ctx.retry.maxDelayMs / 1000)));
      const detail = `Bedrock is throttling requests for ${where} ${because}.`;
      return failure(LlmErrors.rateLimited(detail, { ...options, headers: { 'Retry-After': seconds } }), beforeToken);
    }
    case 'ServiceQuotaExceededException':
      return failure(LlmErrors.rateLimited(`The Bedrock service quota for ${where} is exhausted ${because}.`, options));
    case 'ServiceUnavailableException':
      return failure(LlmErrors.unavailable(`Bedrock is unavailable for ${where} ${because}.`, options), beforeToken);
    case 'ModelNotReadyException':
      return failure(LlmErrors.unavailable(`The ${where} is not ready to serve requests yet ${because}.`, options), beforeToken);
    case 'ModelTimeoutException':
      return failure(LlmErrors.timeout(`The ${where} took too long to process the request ${because}.`, options));
    case 'ValidationException':
      return failure(LlmErrors.invalidRequest(`Bedrock rejected the request for ${where} ${because}.`, options));
    case 'AccessDeniedException':
      return failure(
        LlmErrors.unavailable(
          `Bedrock denied access to ${where} ${because}. Enable access to this model in the Bedrock console ` +
            '(Model access) for this account and region, and allow the IAM identity bedrock:InvokeModel and ' +
            'bedrock:InvokeModelWithResponseStream.',
          options,
        ),
      );
    case 'ResourceNotFoundException':
      return failure(
        LlmErrors.unavailable(
          `Bedrock has no ${where} ${because}. Check the model id (some models are only offered through an ` +
            "inference profile such as 'us.<model id>') and the region.",
          options,
        ),
      );
    case 'InternalServerException':
      return failure(upstream(`Bedrock failed internally serving ${where} ${because}.`, status ?? 500, error), beforeToken);
    case 'ModelErrorException':
      return failure(upstream(`The ${where} failed processing the request ${because}.`, status ?? 424, error));
    case 'ModelStreamErrorException': {
      const original = typeof sdk.originalStatusCode === 'number' ? sdk.originalStatusCode : undefined;
      return failure(upstream(`The ${where} failed in the middle of the stream ${because}.`, original, error));
    }
    case 'CredentialsProviderError':
      return failure(
        LlmErrors.unavailable(
          `No AWS credentials found for Bedrock ${because}. Provide credentials the AWS SDK can find ` +
            '(environment variables, a shared config or SSO profile, or an IAM role).',
          options,
        ),
      );
  }
  if (CREDENTIAL_REJECTIONS.has(name)) {
    const detail = `Bedrock rejected the AWS credentials ${because}. Check the access key, secret and session token, or the role PAI runs with.`;
    return failure(LlmErrors.unavailable(detail, options));
  }
  if (status !== undefined && status >= 200 && status < 300) {
    // The SDK could not read a successful answer: not JSON, or cut off midway.
    const reason = connectionFailure(error) ?? describeError(error).split('\n')[0]?.trim();
    return failure(LlmErrors.badResponse(`The answer from Bedrock at ${ctx.endpoint} could not be read (${reason}).`, options));
  }
  if (status !== undefined) {
    // Another error the service answered with a status.
    const detail = `Bedrock answered ${status} for ${where} ${because}.`;
    return failure(upstream(detail, status, error), beforeToken && [500, 502, 503, 504].includes(status));
  }
  // The SDK's HTTP handlers rename ECONNRESET, EPIPE and ETIMEDOUT errors to TimeoutError: the code decides.
  const connection = connectionFailure(error);
  if (phase.kind === 'request') {
    if (!connection && name === 'TimeoutError') {
      const detail = `Connecting to Bedrock at ${ctx.endpoint} timed out (connect timeout ${ctx.timeouts.connectMs} ms).`;
      return failure(LlmErrors.timeout(detail, options), true);
    }
    const detail = connection
      ? `No Bedrock endpoint reachable at ${ctx.endpoint} (${connection}).`
      : `Calling Bedrock at ${ctx.endpoint} failed (${describeError(error)}).`;
    return failure(LlmErrors.unavailable(detail, options), connection !== undefined);
  }
  if (connection || name === 'TimeoutError') {
    const detail = `The stream from Bedrock at ${ctx.endpoint} was cut off after ${phase.answered} characters (${connection ?? 'socket timeout'}).`;
    return failure(LlmErrors.badResponse(detail, options), beforeToken);
  }
  if (name !== 'Error' && name.endsWith('Exception')) {
    // An exception the SDK does not model, sent as an event-stream exception frame.
    return failure(upstream(`Bedrock reported an error for ${where} in the middle of the stream ${because}.`, undefined, error));
  }
  // The event-stream decoder's complaints: bad checksums, truncated or oversized frames.
  const detail = `The stream from Bedrock at ${ctx.endpoint} carried a malformed event-stream frame (${describeError(error)}).`;
  return failure(LlmErrors.badResponse(detail, options));
}

function upstream(detail: string, upstreamStatus: number | undefined, cause: unknown): PaiError {
  return LlmErrors.upstream(detail, { cause, details: upstreamStatus === undefined ? undefined : { upstreamStatus } });
}

// ---------------------------------------------------------------------------------------------
// Answers

function finishReason(reason: string | undefined): FinishReason {
  switch (reason) {
    case 'end_turn':
    case 'stop_sequence':
      return 'stop';
    case 'max_tokens':
    case 'model_context_window_exceeded':
      return 'length';
    case 'content_filtered':
    case 'guardrail_intervened':
      return 'content_filter';
    default:
      return 'other';
  }
}

function tokenUsage(reported: BedrockUsage | undefined, request: ModelRequest, answer: string): TokenUsage {
  if (typeof reported?.inputTokens === 'number' && typeof reported.outputTokens === 'number') {
    return { inputTokens: reported.inputTokens, outputTokens: reported.outputTokens, estimated: false };
  }
  const prompt = request.messages.map((message) => message.content).join('\n');
  return { inputTokens: estimateTokens(prompt), outputTokens: estimateTokens(answer), estimated: true };
}

/** The answer's text; other blocks (reasoning, tool use) are not part of a chat answer. */
function textOf(content: ContentBlock[] | undefined): string {
  return (content ?? []).map((block) => ('text' in block && typeof block.text === 'string' ? block.text : '')).join('');
}

function deltaText(event: ConverseStreamOutput): string {
  const text = event.contentBlockDelta?.delta && 'text' in event.contentBlockDelta.delta ? event.contentBlockDelta.delta.text : undefined;
  return typeof text === 'string' ? text : '';
}

// ---------------------------------------------------------------------------------------------
// The three calls

function retrying(ctx: BedrockContext, what: 'token' | 'answer'): Retrying {
  return {
    policy: ctx.retry,
    budget: ctx.budget,
    random: ctx.random,
    firstTokenMs: ctx.timeouts.firstTokenMs,
    firstTokenError: firstTokenTimeout(ctx, what),
  };
}

function closedError(ctx: BedrockContext): PaiError {
  return LlmErrors.unavailable(`The model provider for ${ctx.endpoint} is closed.`);
}

async function complete(ctx: BedrockContext, request: ModelRequest, model: string, options?: CallOptions): Promise<ModelResponse> {
  if (ctx.closed) throw closedError(ctx);
  const input = converseInput(request, model);
  const scope = openCallScope(ctx, options?.signal);
  try {
    const output = await withRetries(scope, retrying(ctx, 'answer'), async (): Promise<Attempt<ConverseCommandOutput>> => {
      const attempt = scope.attempt();
      try {
        const value = await scope.settle(ctx.client.send(new ConverseCommand(input), { abortSignal: attempt.signal }));
        return { ok: true, value };
      } catch (error) {
        scope.throwIfStopped();
        attempt.abort();
        return classify(ctx, error, model, { kind: 'request' });
      }
    });
    const message = output.output?.message;
    if (!message) throw LlmErrors.badResponse(`The answer from Bedrock at ${ctx.endpoint} has no message.`);
    const text = textOf(message.content);
    return { text, model, usage: tokenUsage(output.usage, request, text), finishReason: finishReason(output.stopReason) };
  } finally {
    scope.dispose();
  }
}

/** A stream read up to its first text delta (or its end), so that failures before it can be retried. */
interface Primed {
  read: ConverseStreamOutput[];
  rest: AsyncIterator<ConverseStreamOutput> | undefined;
}

async function primeStream(
  ctx: BedrockContext,
  scope: CallScope,
  input: ConverseStreamCommandInput,
  model: string,
): Promise<Attempt<Primed>> {
  const attempt = scope.attempt();
  const fail = (error: unknown, phase: Phase): AttemptFailure => {
    scope.throwIfStopped();
    // Close this attempt's connection before the next one.
    attempt.abort();
    return classify(ctx, error, model, phase);
  };
  let response: ConverseStreamCommandOutput;
  try {
    response = await scope.settle(ctx.client.send(new ConverseStreamCommand(input), { abortSignal: attempt.signal }));
  } catch (error) {
    return fail(error, { kind: 'request' });
  }
  if (!response.stream) {
    attempt.abort();
    return failure(LlmErrors.badResponse(`The answer from Bedrock at ${ctx.endpoint} carries no event stream.`));
  }
  const rest = response.stream[Symbol.asyncIterator]();
  const read: ConverseStreamOutput[] = [];
  try {
    for (;;) {
      const next = await rest.next();
      if (next.done) return { ok: true, value: { read, rest: undefined } };
      read.push(next.value);
      if (deltaText(next.value) !== '') return { ok: true, value: { read, rest } };
    }
  } catch (error) {
    return fail(error, { kind: 'stream', answered: 0, firstToken: false });
  }
}

async function* streamEvents(scope: CallScope, primed: Primed): AsyncGenerator<ConverseStreamOutput> {
  yield* primed.read;
  const { rest } = primed;
  if (rest) yield* scope.paced({ [Symbol.asyncIterator]: () => rest });
}

async function* stream(
  ctx: BedrockContext,
  request: ModelRequest,
  model: string,
  options?: CallOptions,
): AsyncGenerator<ModelStreamEvent> {
  if (ctx.closed) throw closedError(ctx);
  const input = converseInput(request, model);
  const scope = openCallScope(ctx, options?.signal);
  try {
    const primed = await withRetries(scope, retrying(ctx, 'token'), () => primeStream(ctx, scope, input, model));
    let answer = '';
    let stopReason: string | undefined;
    let usage: BedrockUsage | undefined;
    try {
      for await (const event of streamEvents(scope, primed)) {
        if (event.messageStop) stopReason = event.messageStop.stopReason ?? 'end_turn';
        if (event.metadata?.usage) usage = event.metadata.usage;
        const text = deltaText(event);
        if (text !== '') {
          if (answer === '') firstTokenArrived(scope, ctx);
          answer += text;
          yield { type: 'delta', text };
        }
      }
    } catch (error) {
      throw scope.explain(error, () => classify(ctx, error, model, { kind: 'stream', answered: answer.length, firstToken: answer !== '' }).error);
    }
    scope.throwIfStopped();
    if (stopReason === undefined) {
      throw LlmErrors.badResponse(`The stream from Bedrock at ${ctx.endpoint} ended after ${answer.length} characters without a messageStop event.`);
    }
    scope.disarm('first-token');
    yield { type: 'done', model, usage: tokenUsage(usage, request, answer), finishReason: finishReason(stopReason) };
  } finally {
    scope.dispose();
  }
}

type HandlerRequest = Parameters<BedrockRuntimeClient['config']['requestHandler']['handle']>[0];

/** Free and cheap: credentials resolve, and the endpoint answers HTTP at all (any status). No model is called. */
async function check(ctx: BedrockContext, options?: CallOptions): Promise<ModelHealth> {
  if (ctx.closed) return { ok: false, reason: closedError(ctx).message };
  const scope = new CallScope(options?.signal);
  const limitMs = Math.min(ctx.timeouts.connectMs, 2_000) + CHECK_GRACE_MS;
  scope.arm('total', limitMs, () => LlmErrors.timeout(`no answer from ${ctx.endpoint} within ${limitMs} ms`));
  try {
    try {
      await scope.settle(ctx.client.config.credentials());
    } catch (error) {
      scope.throwIfStopped();
      return { ok: false, reason: `no AWS credentials for Bedrock (${awsMessage(error as SdkError) ?? describeError(error)})` };
    }
    const url = new URL(ctx.endpoint);
    const probe = {
      protocol: url.protocol,
      hostname: url.hostname,
      port: url.port === '' ? undefined : Number(url.port),
      method: 'GET',
      path: '/',
      query: {},
      headers: { host: url.host },
    } as HandlerRequest;
    const { response } = await scope.settle(ctx.client.config.requestHandler.handle(probe, { abortSignal: scope.signal }));
    (response.body as { resume?: () => void } | undefined)?.resume?.();
    return { ok: true };
  } catch (error) {
    const reason = scope.explain(error, () => LlmErrors.unavailable(`${connectionFailure(error) ?? describeError(error)} at ${ctx.endpoint}`));
    return { ok: false, reason: reason.code === LlmErrors.aborted.code ? 'check cancelled' : reason.message };
  } finally {
    scope.dispose();
  }
}

function withoutCredentials(url: string): string {
  try {
    const parsed = new URL(url);
    parsed.username = '';
    parsed.password = '';
    return parsed.toString().replace(/\/+$/, '');
  } catch {
    return url.replace(/\/+$/, '');
  }
}

export function createBedrockProvider(options: BedrockProviderOptions): ModelProvider {
  const timeouts: ModelTimeouts = { ...DEFAULT_TIMEOUTS, ...options.timeouts };
  const client = new BedrockRuntimeClient({
    region: options.region,
    endpoint: options.endpoint,
    credentials: options.credentials,
    maxAttempts: 1,
    requestHandler:
      options.requestHandler ??
      new NodeHttpHandler({
        connectionTimeout: timeouts.connectMs,
        httpAgent: { maxSockets: MAX_SOCKETS },
        httpsAgent: { maxSockets: MAX_SOCKETS },
      }),
  });
  const endpoint = withoutCredentials(options.endpoint ?? client.config.endpointProvider({ Region: options.region }).url.href);
  const ctx: BedrockContext = {
    client,
    endpoint,
    region: options.region,
    timeouts,
    retry: { ...DEFAULT_RETRY, ...options.retry },
    budget: options.retryBudget ?? new RetryBudget(),
    random: options.random ?? Math.random,
    closed: false,
  };
  return {
    name: 'bedrock',
    endpoint,
    defaultModel: options.defaultModel,
    complete: (request, callOptions) => complete(ctx, request, request.model ?? options.defaultModel, callOptions),
    stream: (request, callOptions) => stream(ctx, request, request.model ?? options.defaultModel, callOptions),
    check: (callOptions) => check(ctx, callOptions),
    close: async () => {
      ctx.closed = true;
      client.destroy();
    },
  };
}
