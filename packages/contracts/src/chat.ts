import { z } from 'zod';
import { AGENT_ID, MESSAGE_MAX_CHARS } from './conversations.js';

export const ChatRequestSchema = z
  .object({
    message: z.string().min(1).max(MESSAGE_MAX_CHARS).describe(`The user's message, 1..${MESSAGE_MAX_CHARS} characters`),
    conversation_id: z.string().min(1).max(100).optional().describe('Continue this conversation; omitted → a new one'),
    agent_id: AGENT_ID.optional().describe('Registry agent; "default" when omitted'),
    system_prompt: z.string().min(1).max(MESSAGE_MAX_CHARS).optional().describe("Overrides the agent's system prompt for this request"),
    stream: z.boolean().optional().describe('Answer as Server-Sent Events (same as Accept: text/event-stream)'),
    memory: z.enum(['auto', 'off']).default('auto').describe('Long-term memory retrieval and formation'),
    documents: z.enum(['auto', 'off']).default('auto').describe('Document retrieval (RAG)'),
  })
  .strict()
  .meta({ id: 'ChatRequest' });

export const UsageSchema = z.object({
  input_tokens: z.number().int().describe('Prompt tokens (as reported by the provider)'),
  output_tokens: z.number().int().describe('Answer tokens'),
  cost_usd: z.number().describe('Cost of the call in US dollars at the configured prices (0 for local models)'),
  estimated: z.boolean().optional().describe('True when the provider did not report usage and PAI estimated it'),
});

export const AgentRefSchema = z.object({
  id: z.string().describe('Agent id'),
  version: z.number().int().describe('The immutable agent version that answered'),
});

export const ChatResponseSchema = z
  .object({
    conversation_id: z.string().describe('The conversation (new or continued)'),
    message_id: z.string().describe("The assistant message's id"),
    message: z.string().describe('The answer'),
    agent: AgentRefSchema,
    model: z.string().describe('The model id that produced the answer'),
    usage: UsageSchema,
    memories_used: z.array(z.object({ id: z.string(), content: z.string(), score: z.number() }))
      .describe('Long-term memories put into the prompt (empty with memory: "off")'),
    citations: z.array(z.object({ document_id: z.string(), chunk_id: z.string(), title: z.string(), score: z.number() }))
      .describe('Document passages put into the prompt (empty with documents: "off")'),
    judge: z.object({
      score: z.number().nullable().describe('0..10 for the returned draft; null when the judge failed'),
      verdict: z.enum(['pass', 'fail', 'unjudged']).describe('pass: score ≥ min_score; fail: no draft reached it (the best is returned); unjudged: the judge failed'),
      attempts: z.number().int().describe('Drafts generated (retries included)'),
    }).optional()
      .describe("The judge's verdict, when the agent version has a judge"),
  })
  .meta({ id: 'ChatResponse' });

export const ChatStartEventSchema = z.object({
  conversation_id: z.string().describe('The conversation (new or continued)'),
  message_id: z.string().describe("The assistant message's id"),
  agent: AgentRefSchema,
  model: z.string().describe('The model id asked for'),
});

export type ChatRequestDto = z.infer<typeof ChatRequestSchema>;
export type ChatResponseDto = z.infer<typeof ChatResponseSchema>;
export type ChatStartEventDto = z.infer<typeof ChatStartEventSchema>;
