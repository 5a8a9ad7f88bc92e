/**
 * Adapter for Amazon Titan Text Embeddings v2 on Bedrock (InvokeModel): body
 * `{"inputText", "dimensions": 256|512|1024, "normalize": true}`, answer `{"embedding": [...],
 * "inputTextTokenCount"}`. Titan embeds one text per call, so a batch is a number of calls in flight
 * at once (8 by default). Every failure leaves as a PAI_EMBEDDINGS_* error:
 *
 *   ThrottlingException, ServiceUnavailable, InternalServer, ModelNotReady, 5xx, connection failures
 *                                                          → PAI_EMBEDDINGS_UNAVAILABLE (retried)
 *   AccessDenied, ResourceNotFound, quota, credentials     → PAI_EMBEDDINGS_UNAVAILABLE (not retried; says what to fix)
 *   ModelTimeoutException                                  → PAI_EMBEDDINGS_TIMEOUT
 *   ValidationException                                    → PAI_EMBEDDINGS_INVALID_REQUEST
 *   an answer that is not the documented JSON              → PAI_EMBEDDINGS_BAD_RESPONSE
 *
 * The SDK's own retries are off (`maxAttempts: 1`): the shared pipeline retries, with its own timeout.
 * Requests go over HTTP/1.1 through NodeHttpHandler unless another `requestHandler` is given.
 */
import {
  BedrockRuntimeClient,
  InvokeModelCommand,
  type BedrockRuntimeClientConfig,
  type InvokeModelCommandOutput,
} from '@aws-sdk/client-bedrock-runtime';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { z } from 'zod';
import { SearchErrors } from '@pai/errors';
import { connectionFailure, describeError } from '@pai/errors';
import { createPipelineProvider, requireWhole, type ResilienceOptions } from '../pipeline.js';
import { failure, upstreamText, withoutCredentials, type EmbeddingUpstream, type UpstreamResult } from '../upstream.js';
import type { ClosableEmbeddingProvider } from '../index.js';

export interface BedrockEmbeddingsOptions extends ResilienceOptions {
  /** e.g. us-east-1 */
  region: string;
  /** Endpoint override (tests, VPC endpoints); the region's bedrock-runtime endpoint when omitted. */
  endpoint?: string | undefined;
  /** e.g. amazon.titan-embed-text-v2:0 */
  model: string;
  /** Titan v2: 256, 512 or 1024. */
  dimensions: number;
  /** Limit for each call, from sending it to having read the whole answer. */
  timeoutMs: number;
  /** Calls in flight at once for one embed call; 8 when omitted. */
  concurrency?: number;
  /** A ready client (tests, custom middleware); it is not destroyed by close(). */
  client?: BedrockRuntimeClient | undefined;
  /** Static credentials or a provider; the SDK's default chain when omitted. */
  credentials?: BedrockRuntimeClientConfig['credentials'];
  /** The SDK HTTP handler; NodeHttpHandler (HTTP/1.1) when omitted. */
  requestHandler?: BedrockRuntimeClientConfig['requestHandler'];
}

/** The sizes Titan Text Embeddings v2 can produce. */
export const TITAN_V2_DIMENSIONS: readonly number[] = [256, 512, 1024];

const DEFAULT_CONCURRENCY = 8;
const MAX_CONNECT_MS = 10_000;
/** Enough sockets for several embed calls at full concurrency. */
const MAX_SOCKETS = 64;

const answerSchema = z.object({
  embedding: z.array(z.number()),
  inputTextTokenCount: z.number().optional(),
});

function isTitanV2(model: string): boolean {
  return model.includes('titan-embed-text-v2');
}

// ---------------------------------------------------------------------------------------------
// Failure classification

interface SdkError {
  name?: unknown;
  message?: unknown;
  $metadata?: { httpStatusCode?: number };
}

const CREDENTIAL_REJECTIONS = new Set([
  'UnrecognizedClientException',
  'InvalidSignatureException',
  'IncompleteSignatureException',
  'ExpiredTokenException',
  'ExpiredToken',
  'InvalidClientTokenId',
  'MissingAuthenticationTokenException',
]);

interface Context {
  client: BedrockRuntimeClient;
  ownsClient: boolean;
  model: string;
  dimensions: number;
  region: string;
  endpoint: string;
}

function classify(ctx: Context, error: unknown): UpstreamResult {
  const sdk = (typeof error === 'object' && error !== null ? error : { message: String(error) }) as SdkError;
  const name = typeof sdk.name === 'string' ? sdk.name : 'Error';
  const status = sdk.$metadata?.httpStatusCode;
  const text = typeof sdk.message === 'string' ? upstreamText(sdk.message) : '';
  const said = text && text !== 'UnknownError' ? `: ${text}` : '';
  const because = `(${name}${said})`;
  const where = `model '${ctx.model}' in ${ctx.region}`;
  const options = { cause: error, details: status === undefined ? undefined : { upstreamStatus: status } };
  const unavailable = (detail: string, retryable: boolean): UpstreamResult =>
    failure(SearchErrors.embeddingsUnavailable(detail, options), retryable);

  switch (name) {
    case 'ThrottlingException':
      return unavailable(`Bedrock is throttling embedding requests for ${where} ${because}.`, true);
    case 'ServiceUnavailableException':
      return unavailable(`Bedrock is unavailable for ${where} ${because}.`, true);
    case 'InternalServerException':
      return unavailable(`Bedrock failed internally serving ${where} ${because}.`, true);
    case 'ModelNotReadyException':
      return unavailable(`The ${where} is not ready to serve requests yet ${because}.`, true);
    case 'ModelTimeoutException':
      return failure(SearchErrors.embeddingsTimeout(`The ${where} took too long to embed the text ${because}.`, options), false);
    case 'ValidationException':
      return failure(SearchErrors.embeddingsInvalidRequest(`Bedrock rejected the embedding request for ${where} ${because}.`, options), false);
    case 'ModelErrorException':
      return unavailable(`The ${where} failed processing the text ${because}.`, false);
    case 'ServiceQuotaExceededException':
      return unavailable(`The Bedrock service quota for ${where} is exhausted ${because}.`, false);
    case 'AccessDeniedException':
      return unavailable(
        `Bedrock denied access to ${where} ${because}. Enable access to this model in the Bedrock console (Model access) for ` +
          'this account and region, and allow the IAM identity bedrock:InvokeModel on it.',
        false,
      );
    case 'ResourceNotFoundException':
      return unavailable(`Bedrock has no ${where} ${because}. Check EMBEDDINGS_MODEL and AWS_REGION.`, false);
    case 'CredentialsProviderError':
      return unavailable(
        `No AWS credentials found for Bedrock ${because}. Provide credentials the AWS SDK can find (environment variables, ` +
          'a shared config or SSO profile, or an IAM role).',
        false,
      );
  }
  if (CREDENTIAL_REJECTIONS.has(name)) {
    return unavailable(`Bedrock rejected the AWS credentials ${because}. Check the access key, secret and session token, or the role PAI runs with.`, false);
  }
  if (status !== undefined && status >= 200 && status < 300) {
    const detail = `The answer from Bedrock at ${ctx.endpoint} could not be read (${connectionFailure(error) ?? describeError(error)}).`;
    return failure(SearchErrors.embeddingsBadResponse(detail, options), false);
  }
  if (status !== undefined) {
    const retryable = status === 408 || status === 429 || (status >= 500 && status !== 501);
    if (status >= 400 && status < 500 && !retryable) {
      return failure(SearchErrors.embeddingsInvalidRequest(`Bedrock answered ${status} for ${where} ${because}.`, options), false);
    }
    return unavailable(`Bedrock answered ${status} for ${where} ${because}.`, retryable);
  }
  // No status: the request never got an answer. The SDK's handlers call a connect timeout TimeoutError.
  const connection = connectionFailure(error) ?? (name === 'TimeoutError' ? 'connect timed out' : undefined);
  if (connection) return unavailable(`No Bedrock endpoint reachable at ${ctx.endpoint} (${connection}).`, true);
  return unavailable(`Calling Bedrock at ${ctx.endpoint} failed (${describeError(error)}).`, false);
}

// ---------------------------------------------------------------------------------------------
// The call

function bodyText(output: InvokeModelCommandOutput): string | undefined {
  return output.body ? Buffer.from(output.body.buffer, output.body.byteOffset, output.body.byteLength).toString('utf8') : undefined;
}

async function send(ctx: Context, texts: readonly string[], signal: AbortSignal): Promise<UpstreamResult> {
  const bad = (detail: string): UpstreamResult => failure(SearchErrors.embeddingsBadResponse(detail), false);
  const [text] = texts;
  if (texts.length !== 1 || text === undefined) throw new RangeError('Titan embeds exactly one text per call.');
  const body = JSON.stringify({ inputText: text, dimensions: ctx.dimensions, normalize: true });
  let output: InvokeModelCommandOutput;
  try {
    const command = new InvokeModelCommand({ modelId: ctx.model, body: Buffer.from(body, 'utf8'), contentType: 'application/json', accept: 'application/json' });
    output = await ctx.client.send(command, { abortSignal: signal });
  } catch (error) {
    return classify(ctx, error);
  }
  const raw = bodyText(output);
  if (raw === undefined) return bad(`The answer from Bedrock at ${ctx.endpoint} has no body.`);
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    return bad(`The answer from Bedrock for model '${ctx.model}' is not JSON.`);
  }
  const parsed = answerSchema.safeParse(json);
  if (!parsed.success) {
    return bad(`The answer from Bedrock for model '${ctx.model}' has no list of numbers under "embedding" (is it a Titan Text Embeddings model?).`);
  }
  return { ok: true, value: [parsed.data.embedding] };
}

/** The Bedrock upstream alone, for the pipeline. */
export function bedrockUpstream(options: BedrockEmbeddingsOptions): EmbeddingUpstream {
  requireWhole('EMBEDDINGS_DIMENSIONS', options.dimensions, 1);
  requireWhole('The embedding request timeout (ms)', options.timeoutMs, 1);
  const concurrency = options.concurrency ?? DEFAULT_CONCURRENCY;
  requireWhole('The embedding request concurrency', concurrency, 1);
  if (!options.model) throw new RangeError('EMBEDDINGS_MODEL is required for the bedrock embedding provider (e.g. amazon.titan-embed-text-v2:0).');
  if (!options.region) throw new RangeError('AWS_REGION is required for the bedrock embedding provider.');
  if (isTitanV2(options.model) && !TITAN_V2_DIMENSIONS.includes(options.dimensions)) {
    throw new RangeError(
      `EMBEDDINGS_DIMENSIONS must be 256, 512 or 1024 for ${options.model} (got ${options.dimensions}).`,
    );
  }
  const client =
    options.client ??
    new BedrockRuntimeClient({
      region: options.region,
      endpoint: options.endpoint,
      credentials: options.credentials,
      maxAttempts: 1,
      requestHandler:
        options.requestHandler ??
        new NodeHttpHandler({
          connectionTimeout: Math.min(options.timeoutMs, MAX_CONNECT_MS),
          httpAgent: { maxSockets: MAX_SOCKETS },
          httpsAgent: { maxSockets: MAX_SOCKETS },
        }),
    });
  const endpoint = withoutCredentials(options.endpoint ?? `https://bedrock-runtime.${options.region}.amazonaws.com`);
  const ctx: Context = {
    client,
    ownsClient: options.client === undefined,
    model: options.model,
    dimensions: options.dimensions,
    region: options.region,
    endpoint,
  };
  return {
    name: 'bedrock',
    model: options.model,
    dimensions: options.dimensions,
    endpoint,
    maxBatchSize: 1,
    concurrency,
    send: (texts, signal) => send(ctx, texts, signal),
    close: async () => {
      if (ctx.ownsClient) ctx.client.destroy();
    },
  };
}

/**
 * An embedding provider over Bedrock (Titan Text Embeddings v2). Retries and the cache are off unless
 * `maxRetries` / `cacheEntries` say otherwise (createEmbeddingProvider sets them from the config).
 */
export function createBedrockEmbeddings(options: BedrockEmbeddingsOptions): ClosableEmbeddingProvider {
  return createPipelineProvider(bedrockUpstream(options), options);
}
