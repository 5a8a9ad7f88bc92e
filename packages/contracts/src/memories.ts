import { z } from 'zod';
import { timestamp } from './common.js';

export const MEMORY_MAX_CHARS = 4_000;

export const MEMORY_CATEGORIES = ['preference', 'person', 'plan', 'fact', 'episodic'] as const;

const category = z
  .string()
  .regex(/^[a-z][a-z0-9_-]{0,31}$/, 'a lowercase word, 1..32 characters')
  .describe(`One of ${MEMORY_CATEGORIES.join(', ')}, or your own lowercase word`);

const expiresAt = z.iso.datetime({ offset: true }).describe('ISO 8601 instant after which the memory is forgotten');

export const MemorySchema = z
  .object({
    id: z.string().describe('Memory id (mem_…)'),
    content: z.string().describe('The remembered fact, in one sentence'),
    category: z.string().describe('preference, person, plan, fact, episodic or a custom category'),
    importance: z.number().describe('0..1; higher is retrieved first among equals'),
    source_message_id: z.string().nullable().describe('The message it was formed from; null when created through the API'),
    superseded_by: z.string().nullable().describe('The newer memory that contradicts this one (old memories are kept)'),
    expires_at: timestamp.nullable().describe('When the memory is forgotten; null = never'),
    created_at: timestamp,
    updated_at: timestamp,
  })
  .meta({ id: 'Memory' });

export const CreateMemoryBodySchema = z
  .object({
    content: z.string().trim().min(1).max(MEMORY_MAX_CHARS).describe(`1..${MEMORY_MAX_CHARS} characters`),
    category: category.default('fact'),
    importance: z.number().min(0).max(1).default(0.5).describe('0..1, default 0.5'),
    expires_at: expiresAt.optional(),
  })
  .strict();

export const PatchMemoryBodySchema = z
  .object({
    content: z.string().trim().min(1).max(MEMORY_MAX_CHARS).optional(),
    category: category.optional(),
    importance: z.number().min(0).max(1).optional(),
    expires_at: expiresAt.nullable().optional().describe('null removes the expiry'),
  })
  .strict()
  .refine((body) => Object.keys(body).length > 0, 'name at least one field to change');

export const MemoryListQuerySchema = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(20).describe('Page size, 1..100 (default 20)'),
  cursor: z.string().min(1).max(500).optional().describe('next_cursor from the previous page'),
  category: category.optional().describe('Only this category'),
  include_superseded: z.enum(['true', 'false']).default('false').describe('Also list memories a newer one superseded'),
});

export const DeleteUserReceiptSchema = z
  .object({
    user_id: z.string(),
    crypto_shredded: z.boolean().describe("True when the user's data key was destroyed: copies of their ciphertext that do not also hold the wrapped key can no longer be read (see the README on backups)"),
    deleted: z.object({
      users: z.number().int(),
      api_keys: z.number().int(),
      conversations: z.number().int(),
      messages: z.number().int(),
      memories: z.number().int(),
      usage: z.number().int(),
      data_keys: z.number().int(),
    }).describe('Records removed, per kind'),
  })
  .meta({ id: 'DeleteUserReceipt' });

export type MemoryDto = z.infer<typeof MemorySchema>;
export type DeleteUserReceiptDto = z.infer<typeof DeleteUserReceiptSchema>;
