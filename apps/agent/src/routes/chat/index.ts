import { ChatRequestSchema, ChatResponseSchema, errorResponses, type ChatRequestDto } from '@pai/contracts';
import { userIdOf, type RoutePlugin } from '@pai/service-kit';
import type { ChatDeps } from '../../domain/chat-turn.js';
import type { StreamLimiter } from '../../domain/limits.js';
import { runTurn, type StreamFormat } from '../streaming.js';

export interface ChatRouteOptions {
  deps: ChatDeps;
  streams: StreamLimiter;
  ssePingMs: number;
}

const SSE_DESCRIPTION = `
JSON by default. With \`"stream": true\` or \`Accept: text/event-stream\` the answer is Server-Sent Events:

- \`event: start\` — \`{conversation_id, message_id, agent, model}\`
- \`event: context\` — \`{memories_used, citations}\` when memories or document passages were put into the prompt
- \`event: delta\` — \`{"text": "..."}\` per model chunk
- \`event: done\` — the full JSON answer (same shape as the JSON response)
- \`event: error\` — \`{error: {code, message}, request_id}\`; the stream ends
- \`: ping\` comments every PAI_SSE_PING_MS (15 s) keep proxies from closing the stream.

The stream opens when the model produces its first token (or after one ping interval, whichever comes
first), so a model that fails fast is answered with a plain HTTP error (502/503/504) instead of a stream.
The user's message is stored either way. When the client disconnects, the model call is cancelled and
the partial answer is stored marked \`incomplete\`. Limits: PAI_DAILY_TOKEN_BUDGET tokens per user per UTC
day and PAI_MAX_CONCURRENT_STREAMS streams per user answer 429 with Retry-After.

The agent version that answers is picked by the agent's routing weights, sticky per conversation (\`agent\`
in \`start\` and the answer names it). When that version has a judge, the drafts are generated and judged
before anything is streamed (only pings meanwhile), then the chosen draft is streamed as \`delta\` events
and \`done\` carries \`judge: {score, verdict, attempts}\`; its \`usage\` counts every draft and judge call.`;

/** PAI's own event stream: start, delta…, done | error. */
const PAI_EVENTS: StreamFormat = {
  async start(sse, turn) {
    await sse.send('start', turn.start);
    if (turn.memoriesUsed.length > 0 || turn.citations.length > 0) {
      await sse.send('context', { memories_used: turn.memoriesUsed, citations: turn.citations });
    }
  },
  delta: (sse, _turn, text) => sse.send('delta', { text }),
  done: (sse, _turn, response) => sse.send('done', response),
  error: (sse, _turn, body) => sse.send('error', body),
};

function wantsStream(body: ChatRequestDto, accept: string | undefined): boolean {
  if (body.stream !== undefined) return body.stream;
  return (accept ?? '').includes('text/event-stream');
}

export const chatRoutes: RoutePlugin<ChatRouteOptions> = async (app, { deps, streams, ssePingMs }) => {
  app.post('/v1/chat', {
    schema: {
      tags: ['chat'],
      security: [{ bearer: [] }],
      summary: 'Send a message and get the answer (JSON or Server-Sent Events)',
      description: SSE_DESCRIPTION,
      body: ChatRequestSchema,
      response: {
        200: ChatResponseSchema.describe('The answer (JSON), or a text/event-stream when streaming'),
        ...errorResponses(400, 401, 403, 404, 413, 429, 502, 503, 504),
      },
    },
  }, async (request, reply) => {
    const body = request.body;
    return runTurn({ app, deps, streams, ssePingMs }, request, reply, {
      userId: userIdOf(request),
      stream: wantsStream(body, request.headers.accept),
      message: body.message,
      conversationId: body.conversation_id,
      agentId: body.agent_id,
      systemPrompt: body.system_prompt,
      memory: body.memory,
      documents: body.documents,
    }, PAI_EVENTS, (_turn, response) => response);
  });
};
