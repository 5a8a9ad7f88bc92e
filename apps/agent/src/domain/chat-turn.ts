import { newId } from '@pai/ids';
import { LlmErrors, ServiceErrors, PaiError, isPaiError } from '@pai/errors';
import type { ChatResponseDto, ChatStartEventDto, MemoryClient } from '@pai/contracts';
import { estimateTokens, type ModelProvider, type ModelRequest, type TokenUsage } from '@pai/model-provider';
import type { UsageStore } from '@pai/store';
import type { AgentCatalog, AgentVersion } from './agents.js';
import { checkDailyBudget } from './limits.js';
import { buildPrompt, CONTEXT_SHARE, memoriesWithin, memoryBlock } from './prompt.js';
import type { UsageRecorder } from './usage.js';

/** Schedules a running-summary step for a conversation whose older turns no longer fit verbatim. */
export interface SummaryScheduler {
  schedule(userId: string, conversationId: string, keepFromMessageId: string): Promise<void>;
}

/** Schedules memory formation for a finished turn (durably, off the critical path). */
export interface FormationScheduler {
  schedule(userId: string, turn: { conversationId: string; userMessageId: string; assistantMessageId: string }): Promise<void>;
}

export interface ChatDeps {
  memory: MemoryClient;
  formation: FormationScheduler;
  summaries: SummaryScheduler;
  model: ModelProvider;
  agents: AgentCatalog;
  usage: { recorder: UsageRecorder; store: UsageStore };
  settings: { historyMessages: number; contextTokens: number; maxOutputTokens: number; dailyTokenBudget: number };
}

export interface TurnContext {
  userId: string;
  requestId: string;
}

export interface ChatInput {
  message: string;
  conversationId?: string | undefined;
  agentId?: string | undefined;
  systemPrompt?: string | undefined;
  /** Per-request overrides of the agent version's settings. */
  temperature?: number | undefined;
  maxTokens?: number | undefined;
  /** Long-term memory retrieval (and formation) for this turn; default auto. */
  memory?: 'auto' | 'off' | undefined;
}

/** How many memories a turn may put into the prompt. */
export const MEMORY_LIMIT = 6;

/** A turn whose user message is stored and whose prompt is ready for the model. */
export interface PreparedTurn {
  conversationId: string;
  userMessageId: string;
  assistantMessageId: string;
  agent: AgentVersion;
  request: ModelRequest;
  start: ChatStartEventDto;
  memoriesUsed: ChatResponseDto['memories_used'];
  /** memory: "off" turns form no memories either. */
  formMemories: boolean;
  /** Set when older turns are neither sent verbatim nor in the summary: the summary should catch up to here. */
  summarizeBefore: string | null;
}

/** Why a turn was cut short; carried as the AbortSignal's reason. */
export type AbortCause = 'client_disconnected' | 'shutdown';

export function abortCauseOf(signal: AbortSignal | undefined): AbortCause | null {
  if (!signal?.aborted) return null;
  return signal.reason === 'shutdown' ? 'shutdown' : 'client_disconnected';
}

const CONFIGURE_HINTS: Record<string, string> = {
  openai: 'Configure a model: start Ollama (`ollama serve`, then `ollama pull llama3.2`) or set OPENAI_BASE_URL ' +
    '(and OPENAI_API_KEY, LLM_MODEL) to any OpenAI-compatible server, then retry.',
  bedrock: 'Check the AWS credentials, AWS_REGION (and BEDROCK_ENDPOINT), that LLM_MODEL is a model or inference ' +
    'profile id of that region, and that model access is granted in the Bedrock console.',
};

/** Model errors as the client sees them: unavailability says how to fix it, aborts say why. */
export function clientErrorFor(error: unknown, signal?: AbortSignal, provider = 'openai'): PaiError {
  if (abortCauseOf(signal) === 'shutdown') return ServiceErrors.shuttingDown();
  if (LlmErrors.unavailable.is(error)) {
    const hint = CONFIGURE_HINTS[provider] ?? '';
    return LlmErrors.unavailable(`${error.message} ${hint}`.trim(), { headers: error.headers, details: error.details, cause: error });
  }
  if (isPaiError(error)) return error;
  return ServiceErrors.internal({ cause: error });
}

/** Stores the user's message and builds the prompt. Nothing has been sent to the model yet. */
export async function prepareTurn(deps: ChatDeps, ctx: TurnContext, input: ChatInput): Promise<PreparedTurn> {
  await checkDailyBudget(deps.usage.store, ctx.userId, deps.settings.dailyTokenBudget);
  // An unknown agent is refused before anything is stored.
  const requested = input.agentId === undefined ? null : await deps.agents.resolve(input.agentId, input.conversationId ?? '');
  const userMessageId = newId('msg');
  const [turn, retrieved] = await Promise.all([
    deps.memory.beginTurn(
      {
        conversation_id: input.conversationId,
        agent_id: input.agentId ?? 'default',
        message: { id: userMessageId, content: input.message },
        history_limit: deps.settings.historyMessages,
      },
      ctx,
    ),
    input.memory === 'off' ? Promise.resolve([]) : deps.memory.searchMemories(input.message, MEMORY_LIMIT, ctx),
  ]);
  // A conversation keeps its agent unless the request names another one.
  const agent = requested ?? await deps.agents.resolve(turn.conversation.agent_id, turn.conversation.id);
  const maxOutputTokens = Math.min(input.maxTokens ?? agent.maxTokens ?? deps.settings.maxOutputTokens, deps.settings.maxOutputTokens);
  const memories = memoriesWithin(retrieved, Math.floor((deps.settings.contextTokens - maxOutputTokens) * CONTEXT_SHARE));
  const prompt = buildPrompt({
    systemPrompt: input.systemPrompt ?? agent.systemPrompt,
    summary: turn.summary,
    context: memoryBlock(memories),
    history: turn.history.map((m) => ({ role: m.role, content: m.content })),
    userMessage: input.message,
    contextTokens: deps.settings.contextTokens,
    maxOutputTokens,
  });
  const assistantMessageId = newId('msg');
  const request: ModelRequest = { model: agent.model, messages: prompt.messages, maxTokens: maxOutputTokens };
  const temperature = input.temperature ?? agent.temperature;
  if (temperature !== undefined) request.temperature = temperature;
  return {
    conversationId: turn.conversation.id,
    userMessageId,
    assistantMessageId,
    agent,
    request,
    start: {
      conversation_id: turn.conversation.id,
      message_id: assistantMessageId,
      agent: { id: agent.agentId, version: agent.version },
      model: agent.model,
    },
    memoriesUsed: memories.map((m) => ({ id: m.id, content: m.content, score: m.score })),
    formMemories: input.memory !== 'off',
    // The oldest message still sent verbatim (or the new one): everything before it belongs in the summary.
    summarizeBefore: prompt.droppedMessages > 0 || !turn.history_complete
      ? turn.history[prompt.droppedMessages]?.id ?? userMessageId
      : null,
  };
}

/** Prices and records a call's usage; the model's own count when it gave one, else an estimate. */
function recordUsage(deps: ChatDeps, ctx: TurnContext, turn: PreparedTurn, model: string, usage: TokenUsage): Promise<number> {
  return deps.usage.recorder.record({
    userId: ctx.userId, conversationId: turn.conversationId, agentId: turn.agent.agentId, agentVersion: turn.agent.version,
    provider: deps.model.name, model, usage,
  });
}

/** Usage of a call that ended early: the prompt and the partial answer, estimated. */
function estimatedUsage(turn: PreparedTurn, partial: string): TokenUsage {
  const prompt = turn.request.messages.reduce((n, m) => n + estimateTokens(m.content), 0);
  return { inputTokens: prompt, outputTokens: estimateTokens(partial), estimated: true };
}

function responseOf(turn: PreparedTurn, text: string, model: string, usage: TokenUsage, costUsd: number): ChatResponseDto {
  return {
    conversation_id: turn.conversationId,
    message_id: turn.assistantMessageId,
    message: text,
    agent: turn.start.agent,
    model,
    usage: {
      input_tokens: usage.inputTokens,
      output_tokens: usage.outputTokens,
      cost_usd: costUsd,
      ...(usage.estimated ? { estimated: true } : {}),
    },
    memories_used: turn.memoriesUsed,
    citations: [],
  };
}

async function storeAnswer(deps: ChatDeps, ctx: TurnContext, turn: PreparedTurn, text: string, incomplete: boolean): Promise<void> {
  await deps.memory.appendMessage(
    turn.conversationId,
    { id: turn.assistantMessageId, role: 'assistant', content: text, incomplete },
    ctx,
  );
}

/** Background work a finished turn leaves: memory formation and, for long conversations, a summary step. */
async function scheduleFormation(deps: ChatDeps, ctx: TurnContext, turn: PreparedTurn): Promise<void> {
  if (turn.summarizeBefore) await deps.summaries.schedule(ctx.userId, turn.conversationId, turn.summarizeBefore);
  if (!turn.formMemories) return;
  await deps.formation.schedule(ctx.userId, {
    conversationId: turn.conversationId, userMessageId: turn.userMessageId, assistantMessageId: turn.assistantMessageId,
  });
}

/** Non-streaming: the whole answer, stored, then returned. */
export async function completeTurn(deps: ChatDeps, ctx: TurnContext, turn: PreparedTurn, signal: AbortSignal): Promise<ChatResponseDto> {
  let result;
  try {
    result = await deps.model.complete(turn.request, { signal });
  } catch (err) {
    throw clientErrorFor(err, signal, deps.model.name);
  }
  await storeAnswer(deps, ctx, turn, result.text, false);
  const cost = await recordUsage(deps, ctx, turn, result.model, result.usage);
  await scheduleFormation(deps, ctx, turn);
  return responseOf(turn, result.text, result.model, result.usage, cost);
}

export interface StreamSink {
  /** Called once, before the first delta. */
  open(): Promise<void>;
  delta(text: string): Promise<void>;
}

export type StreamOutcome =
  | { ok: true; response: ChatResponseDto }
  | { ok: false; error: PaiError; cause: AbortCause | null };

/**
 * Streaming: deltas go to the sink as the model produces them. When the model fails, the client goes
 * away or the server shuts down, whatever was generated is stored marked incomplete and the outcome
 * carries the error for the caller to report (as an HTTP error if nothing was sent yet, else an SSE event).
 */
export async function streamTurn(
  deps: ChatDeps, ctx: TurnContext, turn: PreparedTurn, sink: StreamSink, signal: AbortSignal,
): Promise<StreamOutcome> {
  let text = '';
  let final: { model: string; usage: TokenUsage } | null = null;
  try {
    for await (const event of deps.model.stream(turn.request, { signal })) {
      if (event.type === 'delta') {
        if (text.length === 0) await sink.open();
        text += event.text;
        await sink.delta(event.text);
      } else {
        final = { model: event.model, usage: event.usage };
      }
    }
    if (final === null) throw LlmErrors.badResponse('The model stream ended without a final event.');
  } catch (err) {
    const cause = abortCauseOf(signal);
    const error = clientErrorFor(err, signal, deps.model.name);
    if (text.length === 0) return { ok: false, error, cause };
    try {
      // The partial answer is kept, marked incomplete; the tokens it cost are recorded, estimated.
      await storeAnswer(deps, ctx, turn, text, true);
      await recordUsage(deps, ctx, turn, turn.request.model ?? deps.model.defaultModel, estimatedUsage(turn, text));
    } catch (storeError) {
      return { ok: false, error: clientErrorFor(storeError), cause };
    }
    return { ok: false, error, cause };
  }
  await storeAnswer(deps, ctx, turn, text, false);
  const cost = await recordUsage(deps, ctx, turn, final.model, final.usage);
  await scheduleFormation(deps, ctx, turn);
  return { ok: true, response: responseOf(turn, text, final.model, final.usage, cost) };
}
