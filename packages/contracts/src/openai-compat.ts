import { z } from 'zod';

/**
 * The subset of OpenAI's Chat Completions request PAI honours. Unknown fields are accepted and ignored
 * (clients send many), so any OpenAI SDK works unchanged.
 */
const TextPart = z.object({ type: z.literal('text'), text: z.string() }).passthrough();

export const OpenAiMessageSchema = z
  .object({
    role: z.enum(['system', 'developer', 'user', 'assistant', 'tool']),
    content: z.union([z.string(), z.array(z.union([TextPart, z.object({ type: z.string() }).passthrough()]))]).nullable(),
  })
  .passthrough();

export const ChatCompletionRequestSchema = z
  .object({
    model: z.string().min(1).max(100).describe('An agent id, or "pai" for the default agent'),
    messages: z.array(OpenAiMessageSchema).min(1).max(10_000)
      .describe("PAI keeps the conversation itself: the last user message is the new turn; a system/developer message overrides the agent's system prompt; earlier turns come from PAI's history"),
    stream: z.boolean().optional(),
    stream_options: z.object({ include_usage: z.boolean().optional() }).passthrough().nullish(),
    temperature: z.number().min(0).max(2).nullish(),
    max_tokens: z.number().int().min(1).nullish(),
    max_completion_tokens: z.number().int().min(1).nullish(),
  })
  .passthrough()
  .meta({ id: 'ChatCompletionRequest' });

const usage = z.object({ prompt_tokens: z.number().int(), completion_tokens: z.number().int(), total_tokens: z.number().int() });

export const ChatCompletionSchema = z
  .object({
    id: z.string().describe('chatcmpl-<assistant message id>'),
    object: z.literal('chat.completion'),
    created: z.number().int().describe('Unix seconds'),
    model: z.string().describe('The agent that answered'),
    choices: z.array(z.object({
      index: z.number().int(),
      message: z.object({ role: z.literal('assistant'), content: z.string(), refusal: z.null() }),
      finish_reason: z.literal('stop'),
      logprobs: z.null(),
    })),
    usage,
  })
  .meta({ id: 'ChatCompletion' });

export type ChatCompletionRequestDto = z.infer<typeof ChatCompletionRequestSchema>;
export type ChatCompletionDto = z.infer<typeof ChatCompletionSchema>;
