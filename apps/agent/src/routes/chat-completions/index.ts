import { ChatCompletionRequestSchema, ChatCompletionSchema, errorResponses, type ChatCompletionRequestDto, type ChatResponseDto } from '@pai/contracts';
import { RequestErrors } from '@pai/errors';
import { userIdOf, type RoutePlugin } from '@pai/service-kit';
import type { ChatDeps, PreparedTurn } from '../../domain/chat-turn.js';
import type { StreamLimiter } from '../../domain/limits.js';
import { runTurn, type StreamFormat } from '../streaming.js';

export const CONVERSATION_HEADER = 'x-pai-conversation-id';

const DESCRIPTION = `
OpenAI-compatible: point any OpenAI client at PAI (\`baseURL: http://host:8080/v1\`, \`apiKey\`: a PAI user key) and it
gets PAI's memory. \`model\` names a PAI agent (\`pai\` = the default agent). PAI keeps the conversation: send the
new user message (earlier messages in \`messages\` are ignored in favour of PAI's stored history) and pass the
conversation id in the \`${CONVERSATION_HEADER}\` request header to continue one; every answer returns it in the same
header. Streaming sends \`chat.completion.chunk\` events ending with \`data: [DONE]\`; a failure after the first
token arrives as \`data: {"error": {...}}\` and the stream ends. Errors otherwise use PAI's error body.
The agent's routing picks the version (sticky per conversation); a version with a judge answers its judged,
best draft (streamed after judging), and \`usage\` counts every draft and judge call.`;

function textOf(content: ChatCompletionRequestDto['messages'][number]['content']): string {
  if (content === null) return '';
  if (typeof content === 'string') return content;
  return content.map((part) => (part.type === 'text' && typeof part.text === 'string' ? part.text : '')).join('');
}

/** The new turn, the system prompt override and the agent, read from an OpenAI request. */
export function turnFromOpenAi(body: ChatCompletionRequestDto) {
  const last = body.messages.at(-1)!;
  if (last.role !== 'user') {
    throw RequestErrors.validation({ details: [{ field: 'body.messages', message: 'the last message must be the user\'s new message' }] });
  }
  const message = textOf(last.content).trim();
  if (message.length === 0 || message.length > 32_768) {
    throw RequestErrors.validation({ details: [{ field: 'body.messages', message: 'the user message must have 1..32768 characters of text' }] });
  }
  const system = body.messages.find((m) => m.role === 'system' || m.role === 'developer');
  return {
    message,
    systemPrompt: system ? textOf(system.content) || undefined : undefined,
    agentId: body.model === 'pai' ? 'default' : body.model,
    temperature: body.temperature ?? undefined,
    maxTokens: body.max_completion_tokens ?? body.max_tokens ?? undefined,
  };
}

const created = () => Math.floor(Date.now() / 1000);

function chunk(turn: PreparedTurn, delta: Record<string, unknown>, finish: 'stop' | null) {
  return {
    id: `chatcmpl-${turn.assistantMessageId}`, object: 'chat.completion.chunk', created: created(), model: turn.agent.agentId,
    choices: [{ index: 0, delta, finish_reason: finish, logprobs: null }],
  };
}

function usageOf(response: ChatResponseDto) {
  return {
    prompt_tokens: response.usage.input_tokens,
    completion_tokens: response.usage.output_tokens,
    total_tokens: response.usage.input_tokens + response.usage.output_tokens,
  };
}

function openAiChunks(includeUsage: boolean): StreamFormat {
  return {
    headers: (turn) => ({ [CONVERSATION_HEADER]: turn.conversationId }),
    start: (sse, turn) => sse.sendData(chunk(turn, { role: 'assistant', content: '' }, null)),
    delta: (sse, turn, text) => sse.sendData(chunk(turn, { content: text }, null)),
    async done(sse, turn, response) {
      await sse.sendData(chunk(turn, {}, 'stop'));
      if (includeUsage) await sse.sendData({ ...chunk(turn, {}, null), choices: [], usage: usageOf(response) });
      await sse.sendData('[DONE]');
    },
    error: (sse, _turn, body) => sse.sendData(body),
  };
}

export interface ChatCompletionsRouteOptions {
  deps: ChatDeps;
  streams: StreamLimiter;
  ssePingMs: number;
}

export const chatCompletionsRoutes: RoutePlugin<ChatCompletionsRouteOptions> = async (app, { deps, streams, ssePingMs }) => {
  app.post('/v1/chat/completions', {
    schema: {
      tags: ['openai-compatible'],
      security: [{ bearer: [] }],
      summary: 'OpenAI Chat Completions, answered by a PAI agent with memory',
      description: DESCRIPTION,
      body: ChatCompletionRequestSchema,
      response: {
        200: ChatCompletionSchema.describe(`The answer; the ${CONVERSATION_HEADER} response header names the conversation`),
        ...errorResponses(400, 401, 403, 404, 413, 429, 502, 503, 504),
      },
    },
  }, async (request, reply) => {
    const turnInput = turnFromOpenAi(request.body);
    const header = request.headers[CONVERSATION_HEADER];
    const conversationId = typeof header === 'string' && header.length > 0 ? header : undefined;
    return runTurn({ app, deps, streams, ssePingMs }, request, reply, {
      userId: userIdOf(request),
      stream: request.body.stream === true,
      conversationId,
      ...turnInput,
    }, openAiChunks(request.body.stream_options?.include_usage === true), (turn, response) => {
      reply.header(CONVERSATION_HEADER, turn.conversationId);
      return {
        id: `chatcmpl-${response.message_id}`,
        object: 'chat.completion' as const,
        created: created(),
        model: turn.agent.agentId,
        choices: [{ index: 0, message: { role: 'assistant' as const, content: response.message, refusal: null }, finish_reason: 'stop' as const, logprobs: null }],
        usage: usageOf(response),
      };
    });
  });
};
