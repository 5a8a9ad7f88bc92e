import { z } from 'zod';
import { timestamp } from './common.js';

export const MESSAGE_MAX_CHARS = 32_768;

export const RoleSchema = z.enum(['user', 'assistant']);

export const MessageSchema = z
  .object({
    id: z.string().describe('Message id (msg_…)'),
    role: RoleSchema.describe('Who wrote it: the user or the assistant'),
    content: z.string().describe('The text'),
    created_at: timestamp.describe('When it was stored'),
    incomplete: z.literal(true).optional().describe('Present when the answer was cut short (client gone, model failed mid-stream, shutdown)'),
  })
  .meta({ id: 'Message' });

export const ConversationSchema = z
  .object({
    id: z.string().describe('Conversation id (conv_…)'),
    title: z.string().nullable().describe('Given at creation, or the start of the first message'),
    agent_id: z.string().describe('The agent that answers in this conversation'),
    created_at: timestamp.describe('When the conversation started'),
    updated_at: timestamp.describe('When its last message was stored'),
  })
  .meta({ id: 'Conversation' });

export const ConversationWithMessagesSchema = ConversationSchema.extend({
  messages: z.array(MessageSchema).describe('Oldest first, one page'),
  next_cursor: z.string().nullable().describe('Cursor for the next page of messages; null on the last page'),
}).meta({ id: 'ConversationWithMessages' });

export const AGENT_ID = z
  .string()
  .regex(/^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$/, 'a slug: lowercase letters, digits and dashes, 1..64 characters');

export const CreateConversationBodySchema = z
  .object({
    title: z.string().trim().min(1).max(200).optional().describe('1..200 characters; omitted → set from the first chat message'),
    agent_id: AGENT_ID.optional().describe('Registry agent; "default" when omitted'),
  })
  .strict();

export type MessageDto = z.infer<typeof MessageSchema>;
export type ConversationDto = z.infer<typeof ConversationSchema>;
export type ConversationWithMessagesDto = z.infer<typeof ConversationWithMessagesSchema>;
