import { z } from 'zod';
import { ConversationSchema, MessageSchema, AGENT_ID, MESSAGE_MAX_CHARS } from './conversations.js';

/**
 * Routes between PAI services (/internal/v1/*). They accept only the internal token, with the calling
 * user forwarded in x-pai-user-id, and are documented under the `internal` tag.
 */
export const VerifyKeyBodySchema = z.object({ key: z.string().min(1).max(200) }).strict();

export const VerifiedPrincipalSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('admin') }),
  z.object({ kind: z.literal('user'), user_id: z.string(), key_id: z.string().nullable() }),
]);

export const VerifyKeyResponseSchema = z.object({
  principal: VerifiedPrincipalSchema.nullable().describe('null when the key is unknown or revoked'),
});

export const BeginTurnBodySchema = z
  .object({
    conversation_id: z.string().min(1).max(100).optional().describe('Existing conversation; omitted → create one'),
    agent_id: AGENT_ID,
    message: z.object({ id: z.string().min(1).max(100), content: z.string().min(1).max(MESSAGE_MAX_CHARS) }),
    history_limit: z.number().int().min(0).max(1000).describe('How many earlier messages to return, newest kept'),
  })
  .strict();

export const BeginTurnResponseSchema = z.object({
  conversation: ConversationSchema,
  created: z.boolean(),
  user_message: MessageSchema,
  history: z.array(MessageSchema).describe('Earlier messages not covered by the summary, oldest first, excluding user_message'),
  summary: z.string().nullable().describe('Running summary of the turns before `history`'),
  history_complete: z.boolean().describe('False when older messages exist that are neither in `history` nor in the summary'),
});

export const AppendMessageBodySchema = z
  .object({
    id: z.string().min(1).max(100),
    role: z.enum(['user', 'assistant']),
    content: z.string().max(1_000_000),
    incomplete: z.boolean().default(false),
  })
  .strict();

export type VerifiedPrincipalDto = z.infer<typeof VerifiedPrincipalSchema>;
export type BeginTurnBody = z.infer<typeof BeginTurnBodySchema>;
export type BeginTurnResponse = z.infer<typeof BeginTurnResponseSchema>;
export type AppendMessageBody = z.input<typeof AppendMessageBodySchema>;

export const SearchMemoriesBodySchema = z
  .object({
    query: z.string().min(1).max(MESSAGE_MAX_CHARS),
    limit: z.number().int().min(1).max(50),
  })
  .strict();

export const RetrievedMemoriesSchema = z.object({
  items: z.array(z.object({
    id: z.string(),
    content: z.string(),
    category: z.string(),
    score: z.number().describe('Relevance; comparable within one answer only'),
  })),
});

export type RetrievedMemoriesDto = z.infer<typeof RetrievedMemoriesSchema>;

export const FormationContextBodySchema = z
  .object({
    conversation_id: z.string().min(1).max(100),
    user_message_id: z.string().min(1).max(100),
    assistant_message_id: z.string().min(1).max(100),
  })
  .strict();

export const FormationContextSchema = z.object({
  user_message: z.string(),
  assistant_message: z.string(),
  memories: z.array(z.object({ id: z.string(), content: z.string(), category: z.string() }))
    .describe('Active memories related to the exchange, for supersede decisions'),
});

export const FormedFactSchema = z.object({
  content: z.string().trim().min(3).max(500),
  category: z.string().regex(/^[a-z][a-z0-9_-]{0,31}$/),
  importance: z.number().min(0).max(1),
  supersedes: z.string().max(100).optional(),
});

export const ApplyFormationBodySchema = z
  .object({ source_message_id: z.string().min(1).max(100), facts: z.array(FormedFactSchema).max(20) })
  .strict();

export const FormationResultSchema = z.object({
  created: z.array(z.string()).describe('New memory ids'),
  merged: z.array(z.string()).describe('Existing memories a near-duplicate was merged into'),
  superseded: z.array(z.string()).describe('Memories replaced by a contradicting new one (kept, marked superseded_by)'),
});

export type FormationContextDto = z.infer<typeof FormationContextSchema>;
export type FormedFactDto = z.infer<typeof FormedFactSchema>;
export type FormationResultDto = z.infer<typeof FormationResultSchema>;

export const SummaryContextBodySchema = z
  .object({ conversation_id: z.string().min(1).max(100), keep_from_message_id: z.string().min(1).max(100) })
  .strict();

export const SummaryContextSchema = z.object({
  summary: z.string().nullable(),
  messages: z.array(MessageSchema).describe('Messages after the current summary and before keep_from, oldest first (a bounded batch)'),
});

export const ApplySummaryBodySchema = z
  .object({ conversation_id: z.string().min(1).max(100), summary: z.string().min(1).max(20_000), through_message_id: z.string().min(1).max(100) })
  .strict();

export type SummaryContextDto = z.infer<typeof SummaryContextSchema>;
