
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ChatRequestSchema, ChatResponseSchema, errorResponses, type ChatRequestDto } from '@pai/contracts';
import { toErrorBody } from '@pai/errors';
import { openSse, userIdOf, type RoutePlugin, type SseStream } from '@pai/service-kit';
import {
  completeTurn, prepareTurn, streamTurn, type AbortCause, type ChatDeps, type TurnContext,
} from '../../domain/chat-turn.js';

export interface ChatRouteOptions {
  deps: ChatDeps;
  ssePingMs: number;
}

const SSE_DESCRIPTION = `
JSON by default. With \`"stream": true\` or \`Accept: text/event-stream\` the answer is Server-Sent Events:

- \`event: start\` — \`{conversation_id, message_id, agent, model}\`
- \`event: delta\` — \`{"text": "..."}\` per model chunk
- \`event: done\` — the full JSON answer (same shape as the JSON response)
- \`event: error\` — \`{error: {code, message}, request_id}\`; the stream ends
- \`: ping\` comments every PAI_SSE_PING_MS (15 s) keep proxies from closing the stream.

The stream opens when the model produces its first token (or after one ping interval, whichever comes
first), so a model that fails fast is answered with a plain HTTP error (502/503/504) instead of a stream.
The user's message is stored either way. When the client disconnects, the model call is cancelled and
the partial answer is stored marked \`incomplete\`.`;

/** Aborts the turn when the client goes away or the server starts draining. */
function turnSignal(request: FastifyRequest, reply: FastifyReply, shutdown: AbortSignal): { signal: AbortSignal; dispose(): void } {
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

function wantsStream(body: ChatRequestDto, accept: string | undefined): boolean {
  if (body.stream !== undefined) return body.stream;
  return (accept ?? '').includes('text/event-stream');
}

export const chatRoutes: RoutePlugin<ChatRouteOptions> = async (app, { deps, ssePingMs }) => {
  app.post('/v1/chat', {
    schema: {
      tags: ['chat'],
      security: [{ bearer: [] }],
      summary: 'Send a message and get the answer (JSON or Server-Sent Events)',
      description: SSE_DESCRIPTION,
      body: ChatRequestSchema,
      response: {
        200: ChatResponseSchema.describe('The answer (JSON), or a text/event-stream when streaming'),
        ...errorResponses(400, 401, 403, 404, 413, 502, 503, 504),
      },
    },
  }, async (request, reply) => {
    const ctx: TurnContext = { userId: userIdOf(request), requestId: request.id };
    const body = request.body;
    const turn = await prepareTurn(deps, ctx, {
      message: body.message, conversationId: body.conversation_id, agentId: body.agent_id, systemPrompt: body.system_prompt,
    });
    const abort = turnSignal(request, reply, app.lifecycle.signal);
    try {
      if (!wantsStream(body, request.headers.accept)) {
        return await app.lifecycle.track(completeTurn(deps, ctx, turn, abort.signal));
      }
      return await app.lifecycle.track(streamChat());
    } finally {
      abort.dispose();
    }

    async function streamChat() {
      let sse: SseStream | null = null;
      // Headers, `start` and the first delta leave in one packet.
      const open = async () => {
        if (sse) return;
        sse = openSse(request, reply, { pingMs: ssePingMs, corked: true });
        await sse.send('start', turn.start);
      };
      // A slow first token opens the stream anyway, so pings keep proxies patient.
      const early = setTimeout(() => void open().then(() => sse?.flush()), ssePingMs);
      const outcome = await streamTurn(deps, ctx, turn, {
        open,
        delta: async (text) => {
          const stream = sse!;
          const sent = stream.send('delta', { text });
          stream.flush();
          await sent;
        },
      }, abort.signal).finally(() => clearTimeout(early));

      const stream = sse as SseStream | null;
      if (stream === null) {
        if (outcome.ok) {
          // The model answered with no text at all: still a valid, empty stream.
          await open();
        } else {
          request.log.info({ code: outcome.error.code, cause: outcome.cause }, 'chat failed before the first token');
          if (outcome.cause === 'client_disconnected') {
            // Nobody is listening: release the socket without writing an answer.
            reply.hijack();
            reply.raw.destroy();
            return reply;
          }
          throw outcome.error;
        }
      }
      const opened = sse as unknown as SseStream;
      if (outcome.ok) {
        await opened.send('done', outcome.response);
      } else {
        request.log.info({ code: outcome.error.code, cause: outcome.cause }, 'chat stream ended early');
        await opened.send('error', toErrorBody(outcome.error, request.id));
      }
      opened.end();
      return reply;
    }
  });
};

