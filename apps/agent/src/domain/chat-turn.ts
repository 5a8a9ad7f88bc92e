import { performance } from 'node:perf_hooks';
import { newId } from '@pai/ids';
import { LlmErrors, ServiceErrors, PaiError, isPaiError } from '@pai/errors';
import type { ChatResponseDto, ChatStartEventDto, MemoryClient, SearchClient } from '@pai/contracts';
import { estimateTokens, type ModelProvider, type ModelRequest, type TokenUsage } from '@pai/model-provider';
import type { UsageStore } from '@pai/store';
import type { AgentCatalog, AgentVersion } from './agents.js';
import { checkDailyBudget } from './limits.js';
import { buildPrompt, CONTEXT_SHARE, documentBlock, memoriesWithin, memoryBlock, passagesWithin } from './prompt.js';
import { retrieveContext, type ContextLog } from './context.js';
import type { UsageRecorder } from './usage.js';
import type { RunRecorder } from './agent-metrics.js';
import { attemptRecords, generateJudged, piecesOf, type JudgedAnswer } from './judge.js';

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
  /** Memories and document passages for each turn; without it, memories come from the memory service. */
  search?: SearchClient | undefined;
  log: ContextLog;
  formation: FormationScheduler;
  summaries: SummaryScheduler;
  model: ModelProvider;
  agents: AgentCatalog;
  usage: { recorder: UsageRecorder; store: UsageStore };
  settings: { historyMessages: number; contextTokens: number; maxOutputTokens: number; dailyTokenBudget: number };
  /** One record per turn for the per-version metrics; without it no runs are recorded. */
  runs?: RunRecorder | undefined;
  /** How long a judge call may take before the draft goes out unjudged (default DEFAULT_JUDGE_TIMEOUT_MS). */
  judgeTimeoutMs?: number | undefined;
}

export interface TurnContext {
  userId: string;
  requestId: string;
  /** performance.now() when the request arrived: run latency and TTFT count from here (else from the model call). */
  startedAt?: number | undefined;
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
  /** Document retrieval (RAG) for this turn; default auto. */
  documents?: 'auto' | 'off' | undefined;
}


/** A turn whose user message is stored and whose prompt is ready for the model. */
export interface PreparedTurn {
  conversationId: string;
  userMessageId: string;
  assistantMessageId: string;
  agent: AgentVersion;
  request: ModelRequest;
  start: ChatStartEventDto;
  memoriesUsed: ChatResponseDto['memories_used'];
  /** Document passages put into the prompt. */
  citations: ChatResponseDto['citations'];
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
  // An unknown agent is refused before anything is stored; its version is picked once the conversation id is known.
  const requested = input.agentId === undefined ? null : await deps.agents.route(ctx.userId, input.agentId);
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
    retrieveContext(deps, input.message, { memories: input.memory !== 'off', documents: input.documents !== 'off' }, ctx),
  ]);
  // A conversation keeps its agent unless the request names another one; the version is sticky per conversation.
  const agent = await (requested ?? await deps.agents.route(ctx.userId, turn.conversation.agent_id)).pick(turn.conversation.id);
  const maxOutputTokens = Math.min(input.maxTokens ?? agent.maxTokens ?? deps.settings.maxOutputTokens, deps.settings.maxOutputTokens);
  const contextBudget = Math.floor((deps.settings.contextTokens - maxOutputTokens) * CONTEXT_SHARE);
  const memories = memoriesWithin(retrieved.memories, contextBudget);
  const passages = passagesWithin(retrieved.passages, contextBudget);
  const prompt = buildPrompt({
    systemPrompt: input.systemPrompt ?? agent.systemPrompt,
    summary: turn.summary,
    context: [memoryBlock(memories), documentBlock(passages)].filter(Boolean).join('\n\n'),
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
    citations: passages.map((p) => ({ document_id: p.documentId, chunk_id: p.chunkId, title: p.title, score: p.score })),
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
    citations: turn.citations,
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

/**
 * Bookkeeping of one turn for the per-version metrics: what its calls cost, when the first token went
 * out, and the run record at the end (ok or not).
 */
function trackRun(deps: ChatDeps, ctx: TurnContext, turn: PreparedTurn) {
  const began = ctx.startedAt ?? performance.now();
  const spent = { inputTokens: 0, outputTokens: 0, costUsd: 0 };
  let ttftMs: number | null = null;
  return {
    /** Records a model call's usage (priced); returns its cost. */
    async usage(model: string, usage: TokenUsage): Promise<number> {
      const cost = await recordUsage(deps, ctx, turn, model, usage);
      spent.inputTokens += usage.inputTokens;
      spent.outputTokens += usage.outputTokens;
      spent.costUsd += cost;
      return cost;
    },
    firstToken(): void {
      ttftMs ??= Math.round(performance.now() - began);
    },
    async finish(error: unknown, judged: JudgedAnswer | null): Promise<void> {
      if (!deps.runs) return;
      await deps.runs.record({
        userId: ctx.userId, agentId: turn.agent.agentId, version: turn.agent.version, conversationId: turn.conversationId,
        ok: error === null, errorCode: error === null ? null : isPaiError(error) ? error.code : ServiceErrors.internal.code,
        latencyMs: Math.round(performance.now() - began), ttftMs: error === null ? ttftMs : null,
        inputTokens: spent.inputTokens, outputTokens: spent.outputTokens, costUsd: Math.round(spent.costUsd * 1e9) / 1e9,
        score: judged?.score ?? null,
        passed: judged === null || judged.verdict === 'unjudged' ? null : judged.verdict === 'pass',
        attempts: judged === null ? [] : attemptRecords(judged.attempts),
      });
    },
  };
}

type RunTracker = ReturnType<typeof trackRun>;

/** The judge loop of a version with a judge: every call's usage recorded, the best draft returned. */
function judgedAnswer(deps: ChatDeps, turn: PreparedTurn, signal: AbortSignal, run: RunTracker): Promise<JudgedAnswer> {
  return generateJudged({
    model: deps.model,
    request: turn.request,
    judge: turn.agent.judge!,
    // The prompt always ends with the user's new message.
    userMessage: turn.request.messages.at(-1)?.content ?? '',
    signal,
    ...(deps.judgeTimeoutMs !== undefined ? { timeoutMs: deps.judgeTimeoutMs } : {}),
    onCall: (call) => run.usage(call.model, call.usage),
  });
}

/** The response of a judged turn: usage counts every draft and judge call the turn made. */
function judgedResponse(turn: PreparedTurn, answer: JudgedAnswer): ChatResponseDto {
  return {
    ...responseOf(turn, answer.text, answer.model, answer.usage, answer.costUsd),
    judge: { score: answer.score, verdict: answer.verdict, attempts: answer.attempts.length },
  };
}

/** Non-streaming: the whole answer (judged when the version has a judge), stored, then returned. */
export async function completeTurn(deps: ChatDeps, ctx: TurnContext, turn: PreparedTurn, signal: AbortSignal): Promise<ChatResponseDto> {
  const run = trackRun(deps, ctx, turn);
  let judged: JudgedAnswer | null = null;
  try {
    let response: ChatResponseDto;
    let text: string;
    try {
      if (turn.agent.judge) {
        judged = await judgedAnswer(deps, turn, signal, run);
        text = judged.text;
        response = judgedResponse(turn, judged);
      } else {
        const result = await deps.model.complete(turn.request, { signal });
        const cost = await run.usage(result.model, result.usage);
        text = result.text;
        response = responseOf(turn, result.text, result.model, result.usage, cost);
      }
    } catch (err) {
      throw clientErrorFor(err, signal, deps.model.name);
    }
    run.firstToken();
    await storeAnswer(deps, ctx, turn, text, false);
    await scheduleFormation(deps, ctx, turn);
    await run.finish(null, judged);
    return response;
  } catch (err) {
    await run.finish(err, judged);
    throw err;
  }
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
 * A version with a judge is judged first and its chosen draft streamed afterwards (see streamJudged).
 */
export async function streamTurn(
  deps: ChatDeps, ctx: TurnContext, turn: PreparedTurn, sink: StreamSink, signal: AbortSignal,
): Promise<StreamOutcome> {
  const run = trackRun(deps, ctx, turn);
  if (turn.agent.judge) return streamJudged(deps, ctx, turn, sink, signal, run);
  const outcome = await streamDraft(deps, ctx, turn, sink, signal, run);
  await run.finish(outcome.ok ? null : outcome.error, null);
  return outcome;
}

async function streamDraft(
  deps: ChatDeps, ctx: TurnContext, turn: PreparedTurn, sink: StreamSink, signal: AbortSignal, run: RunTracker,
): Promise<StreamOutcome> {
  let text = '';
  let final: { model: string; usage: TokenUsage } | null = null;
  try {
    for await (const event of deps.model.stream(turn.request, { signal })) {
      if (event.type === 'delta') {
        if (text.length === 0) {
          await sink.open();
          run.firstToken();
        }
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
      await run.usage(turn.request.model ?? deps.model.defaultModel, estimatedUsage(turn, text));
    } catch (storeError) {
      return { ok: false, error: clientErrorFor(storeError), cause };
    }
    return { ok: false, error, cause };
  }
  try {
    await storeAnswer(deps, ctx, turn, text, false);
    const cost = await run.usage(final.model, final.usage);
    await scheduleFormation(deps, ctx, turn);
    return { ok: true, response: responseOf(turn, text, final.model, final.usage, cost) };
  } catch (err) {
    return { ok: false, error: clientErrorFor(err), cause: abortCauseOf(signal) };
  }
}

/**
 * Streaming with a judge: the drafts are generated and judged first (nothing is streamed while the judge
 * loop runs; pings keep the connection open), then the chosen draft is stored and streamed in pieces.
 * A failure before that is reported like a model failure before the first token.
 */
async function streamJudged(
  deps: ChatDeps, ctx: TurnContext, turn: PreparedTurn, sink: StreamSink, signal: AbortSignal, run: RunTracker,
): Promise<StreamOutcome> {
  let answer: JudgedAnswer | null = null;
  try {
    answer = await judgedAnswer(deps, turn, signal, run).catch((err: unknown) => {
      throw clientErrorFor(err, signal, deps.model.name);
    });
    // Stored before it is sent: the answer is final, so a client leaving mid-way loses nothing.
    await storeAnswer(deps, ctx, turn, answer.text, false);
    await scheduleFormation(deps, ctx, turn);
  } catch (err) {
    const error = clientErrorFor(err, signal, deps.model.name);
    await run.finish(error, answer);
    return { ok: false, error, cause: abortCauseOf(signal) };
  }
  for (const [i, piece] of piecesOf(answer.text).entries()) {
    if (i === 0) {
      await sink.open();
      run.firstToken();
    }
    await sink.delta(piece);
  }
  await run.finish(null, answer);
  return { ok: true, response: judgedResponse(turn, answer) };
}
