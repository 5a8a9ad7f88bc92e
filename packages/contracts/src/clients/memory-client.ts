import { z } from 'zod';
import { PaiError, ServiceErrors, isPaiError } from '@pai/errors';
import { ErrorBodySchema } from '../common.js';
import { MessageSchema, type MessageDto } from '../conversations.js';
import {
  BeginTurnResponseSchema,
  VerifyKeyResponseSchema,
  RetrievedMemoriesSchema,
  FormationContextSchema,
  FormationResultSchema,
  SummaryContextSchema,
  type SummaryContextDto,
  type FormationContextDto,
  type FormationResultDto,
  type FormedFactDto,
  type RetrievedMemoriesDto,
  type AppendMessageBody,
  type BeginTurnBody,
  type BeginTurnResponse,
  type VerifiedPrincipalDto,
} from '../internal.js';
import type { Transport, TransportRequest } from './transport.js';

/** Who a call is made for, forwarded to the memory service. */
export interface CallContext {
  requestId: string;
  userId?: string;
  signal?: AbortSignal;
}

/** The memory service, as the agent and search services see it. */
export interface MemoryClient {
  /** Resolves an API key; null when unknown or revoked. */
  verifyKey(key: string, ctx: CallContext): Promise<VerifiedPrincipalDto | null>;
  /** Finds or creates the conversation, stores the user's message, returns recent history. */
  beginTurn(body: BeginTurnBody, ctx: CallContext & { userId: string }): Promise<BeginTurnResponse>;
  appendMessage(conversationId: string, body: AppendMessageBody, ctx: CallContext & { userId: string }): Promise<MessageDto>;
  /** The exchange a formation job works on, with the user's related memories. */
  formationContext(
    ids: { conversationId: string; userMessageId: string; assistantMessageId: string }, ctx: CallContext & { userId: string },
  ): Promise<FormationContextDto>;
  /** Stores formed facts (supersede / merge / create). */
  applyFormation(sourceMessageId: string, facts: FormedFactDto[], ctx: CallContext & { userId: string }): Promise<FormationResultDto>;
  /** Messages a summary step should fold into the running summary. */
  summaryContext(conversationId: string, keepFromMessageId: string, ctx: CallContext & { userId: string }): Promise<SummaryContextDto>;
  applySummary(conversationId: string, summary: string, throughMessageId: string, ctx: CallContext & { userId: string }): Promise<void>;
  /** The user's memories most relevant to `query`, best first. */
  searchMemories(query: string, limit: number, ctx: CallContext & { userId: string }): Promise<RetrievedMemoriesDto['items']>;
  ready(): Promise<void>;
  close(): Promise<void>;
}

export interface ServiceClientOptions {
  transport: Transport;
  internalToken: string;
  /** Service name for error messages. */
  service: string;
}

/**
 * Sends one call and validates the answer. A SPEC error body from the service is rethrown as the same
 * PaiError (so a 404 stays a 404 for the end user); an unreachable service becomes PAI_SERVICE_UNAVAILABLE.
 */
export async function callService<S extends z.ZodType>(
  options: ServiceClientOptions,
  request: Omit<TransportRequest, 'headers'>,
  ctx: CallContext,
  schema: S,
): Promise<z.output<S>> {
  const headers: Record<string, string> = { 'x-pai-internal-token': options.internalToken, 'x-request-id': ctx.requestId };
  if (ctx.userId !== undefined) headers['x-pai-user-id'] = ctx.userId;
  let response;
  try {
    response = await options.transport.send({ ...request, headers, signal: ctx.signal });
  } catch (err) {
    if (isPaiError(err)) throw err;
    throw ServiceErrors.dependencyUnavailable(options.service, { cause: err });
  }
  if (response.status >= 400) {
    const parsed = ErrorBodySchema.safeParse(response.body);
    if (parsed.success) throw new PaiError(parsed.data.error.code, response.status, parsed.data.error.message, { details: parsed.data.error.details });
    throw ServiceErrors.dependencyUnavailable(options.service, { details: { status: response.status } });
  }
  const parsed = schema.safeParse(response.body);
  if (!parsed.success) throw ServiceErrors.dependencyUnavailable(options.service, { cause: parsed.error });
  return parsed.data;
}

export function createMemoryClient(options: Omit<ServiceClientOptions, 'service'>): MemoryClient {
  const o = { ...options, service: 'memory' };
  return {
    async verifyKey(key, ctx) {
      const result = await callService(o, { method: 'POST', path: '/internal/v1/auth/verify', body: { key } }, ctx, VerifyKeyResponseSchema);
      return result.principal;
    },
    beginTurn(body, ctx) {
      return callService(o, { method: 'POST', path: '/internal/v1/turns', body }, ctx, BeginTurnResponseSchema);
    },
    appendMessage(conversationId, body, ctx) {
      return callService(
        o,
        { method: 'POST', path: `/internal/v1/conversations/${encodeURIComponent(conversationId)}/messages`, body },
        ctx,
        MessageSchema,
      );
    },
    formationContext(ids, ctx) {
      return callService(o, {
        method: 'POST', path: '/internal/v1/formation/context',
        body: { conversation_id: ids.conversationId, user_message_id: ids.userMessageId, assistant_message_id: ids.assistantMessageId },
      }, ctx, FormationContextSchema);
    },
    applyFormation(sourceMessageId, facts, ctx) {
      return callService(o, { method: 'POST', path: '/internal/v1/formation/apply', body: { source_message_id: sourceMessageId, facts } }, ctx, FormationResultSchema);
    },
    summaryContext(conversationId, keepFromMessageId, ctx) {
      return callService(o, {
        method: 'POST', path: '/internal/v1/summary/context', body: { conversation_id: conversationId, keep_from_message_id: keepFromMessageId },
      }, ctx, SummaryContextSchema);
    },
    async applySummary(conversationId, summary, throughMessageId, ctx) {
      await callService(o, {
        method: 'POST', path: '/internal/v1/summary/apply', body: { conversation_id: conversationId, summary, through_message_id: throughMessageId },
      }, ctx, z.object({ ok: z.literal(true) }));
    },
    async searchMemories(query, limit, ctx) {
      const result = await callService(o, { method: 'POST', path: '/internal/v1/memories/search', body: { query, limit } }, ctx, RetrievedMemoriesSchema);
      return result.items;
    },
    async ready() {
      const response = await options.transport.send({ method: 'GET', path: '/healthz', headers: {} });
      if (response.status !== 200) throw new Error(`memory service at ${options.transport.target} answered ${response.status}`);
    },
    close() {
      return options.transport.close();
    },
  };
}
