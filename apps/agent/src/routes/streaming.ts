import { performance } from 'node:perf_hooks';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ChatResponseDto } from '@pai/contracts';
import { toErrorBody, type ErrorBody } from '@pai/errors';
import { openSse, type SseStream } from '@pai/service-kit';
import { completeTurn, prepareTurn, streamTurn, type AbortCause, type ChatDeps, type ChatInput, type PreparedTurn, type TurnContext } from '../domain/chat-turn.js';
import type { StreamLimiter } from '../domain/limits.js';

/** How one wire protocol writes a streamed turn (PAI's own events, or OpenAI chunks). */
export interface StreamFormat {
  headers?(turn: PreparedTurn): Record<string, string>;
  start(sse: SseStream, turn: PreparedTurn): Promise<void>;
  delta(sse: SseStream, turn: PreparedTurn, text: string): Promise<void>;
  done(sse: SseStream, turn: PreparedTurn, response: ChatResponseDto): Promise<void>;
  error(sse: SseStream, turn: PreparedTurn, body: ErrorBody): Promise<void>;
}

export interface TurnRouteContext {
  app: FastifyInstance;
  deps: ChatDeps;
  streams: StreamLimiter;
  ssePingMs: number;
}

/** Aborts the turn when the client goes away or the server starts draining. */
function turnSignal(reply: FastifyReply, shutdown: AbortSignal): { signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  const abort = (cause: AbortCause) => {
    if (!controller.signal.aborted) controller.abort(cause);
  };
  const onClose = () => {
    if (!reply.raw.writableFinished) abort('client_disconnected');
  };
  const onShutdown = () => abort('shutdown');
  reply.raw.on('close', onClose);
  if (shutdown.aborted) onShutdown();
  else shutdown.addEventListener('abort', onShutdown, { once: true });
  return {
    signal: controller.signal,
    dispose() {
      reply.raw.off('close', onClose);
      shutdown.removeEventListener('abort', onShutdown);
    },
  };
}

/**
 * One chat turn behind any route: limits, the stored user message, then the model, answered as JSON
 * (`onJson`) or streamed in `format`. A stream opens at the first token (or after one ping interval),
 * so a model that fails fast is still answered with a plain HTTP error.
 */
export async function runTurn<T>(
  route: TurnRouteContext,
  request: FastifyRequest,
  reply: FastifyReply,
  input: ChatInput & { userId: string; stream: boolean },
  format: StreamFormat,
  onJson: (turn: PreparedTurn, response: ChatResponseDto) => T,
): Promise<T | FastifyReply> {
  const { app, deps, streams } = route;
  // Run latency and TTFT count from the request's arrival (reply.elapsedTime), auth and body parsing included.
  const ctx: TurnContext = { userId: input.userId, requestId: request.id, startedAt: performance.now() - reply.elapsedTime };
  const release = input.stream ? streams.acquire(ctx.userId) : () => {};
  try {
    const turn = await prepareTurn(deps, ctx, input);
    const abort = turnSignal(reply, app.lifecycle.signal);
    try {
      if (!input.stream) return onJson(turn, await app.lifecycle.track(completeTurn(deps, ctx, turn, abort.signal)));
      return await app.lifecycle.track(streamTurnOver(route, request, reply, ctx, turn, format, abort.signal));
    } finally {
      abort.dispose();
    }
  } finally {
    release();
  }
}

async function streamTurnOver(
  route: TurnRouteContext, request: FastifyRequest, reply: FastifyReply, ctx: TurnContext,
  turn: PreparedTurn, format: StreamFormat, signal: AbortSignal,
): Promise<FastifyReply> {
  let sse: SseStream | null = null;
  // Headers, the opening event and the first delta leave in one packet.
  const open = async (): Promise<SseStream> => {
    if (sse) return sse;
    sse = openSse(request, reply, { pingMs: route.ssePingMs, corked: true, headers: format.headers?.(turn) });
    await format.start(sse, turn);
    return sse;
  };
  // A slow first token opens the stream anyway, so pings keep proxies patient.
  const early = setTimeout(() => void open().then((s) => s.flush()), route.ssePingMs);
  const outcome = await streamTurn(route.deps, ctx, turn, {
    open: async () => void (await open()),
    delta: async (text) => {
      const stream = await open();
      const sent = format.delta(stream, turn, text);
      stream.flush();
      await sent;
    },
  }, signal).finally(() => clearTimeout(early));

  if (sse === null && !outcome.ok) {
    request.log.info({ code: outcome.error.code, cause: outcome.cause }, 'chat failed before the first token');
    if (outcome.cause !== 'client_disconnected') throw outcome.error;
    // Nobody is listening: release the socket without writing an answer.
    reply.hijack();
    reply.raw.destroy();
    return reply;
  }
  // A model that answered with no text at all still gets a valid, empty stream.
  const stream = await open();
  if (outcome.ok) {
    await format.done(stream, turn, outcome.response);
  } else {
    request.log.info({ code: outcome.error.code, cause: outcome.cause }, 'chat stream ended early');
    route.app.metrics.errors.inc({ code: outcome.error.code });
    await format.error(stream, turn, toErrorBody(outcome.error, request.id));
  }
  stream.end();
  return reply;
}
