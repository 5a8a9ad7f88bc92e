import { z } from 'zod';
import { timestamp } from './common.js';
import { MESSAGE_MAX_CHARS } from './conversations.js';
import { MEMORY_MAX_CHARS } from './memories.js';

export const EXPORT_SCHEMA_VERSION = 1;

export const ExportedMessageSchema = z.object({
  id: z.string().min(1).max(100),
  role: z.enum(['user', 'assistant']),
  content: z.string().max(1_000_000),
  created_at: z.iso.datetime({ offset: true }),
  incomplete: z.boolean().optional(),
});

export const ExportedConversationSchema = z.object({
  id: z.string().min(1).max(100),
  title: z.string().max(200).nullable(),
  agent_id: z.string().regex(/^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$/),
  created_at: z.iso.datetime({ offset: true }),
  updated_at: z.iso.datetime({ offset: true }),
  messages: z.array(ExportedMessageSchema).max(100_000),
});

export const ExportedMemorySchema = z.object({
  id: z.string().min(1).max(100),
  content: z.string().min(1).max(MEMORY_MAX_CHARS),
  category: z.string().regex(/^[a-z][a-z0-9_-]{0,31}$/),
  importance: z.number().min(0).max(1),
  source_message_id: z.string().max(100).nullable(),
  superseded_by: z.string().max(100).nullable(),
  expires_at: z.iso.datetime({ offset: true }).nullable(),
  created_at: z.iso.datetime({ offset: true }),
  updated_at: z.iso.datetime({ offset: true }),
});

export const ExportDocumentSchema = z
  .object({
    schema_version: z.literal(EXPORT_SCHEMA_VERSION).describe('Format version of this document'),
    exported_at: timestamp,
    user: z.object({ id: z.string(), name: z.string(), created_at: timestamp }),
    conversations: z.array(ExportedConversationSchema).describe('Every conversation with every message, oldest message first'),
    memories: z.array(ExportedMemorySchema).describe('Every memory, superseded and expired ones included'),
    documents: z.array(z.object({
      id: z.string(), title: z.string(), content_type: z.string(), size_bytes: z.number().int(), status: z.string(),
      created_at: timestamp, updated_at: timestamp,
      chunks: z.array(z.object({ id: z.string(), ordinal: z.number().int(), heading: z.string().nullable(), content: z.string(), token_count: z.number().int() })),
    })).describe('Every document with its chunks (the text as extracted and chunked; the original upload is not kept)'),
    agents: z.array(z.unknown()).describe('Agents the user created (the registry milestone fills this)'),
  })
  .meta({ id: 'ExportDocument' });

/** What POST /v1/import accepts: the export document, each item validated on its own. */
export const ImportBodySchema = z
  .object({
    schema_version: z.literal(EXPORT_SCHEMA_VERSION, { message: `only schema_version ${EXPORT_SCHEMA_VERSION} can be imported` }),
    conversations: z.array(z.unknown()).max(100_000).default([]),
    memories: z.array(z.unknown()).max(1_000_000).default([]),
    documents: z.array(z.unknown()).default([]),
    agents: z.array(z.unknown()).default([]),
  })
  .passthrough()
  .meta({ id: 'ImportDocument' });

export const ImportReceiptSchema = z
  .object({
    imported: z.object({ conversations: z.number().int(), messages: z.number().int(), memories: z.number().int() }),
    rejected: z.array(z.object({
      kind: z.enum(['conversation', 'memory', 'document', 'agent']),
      index: z.number().int().describe('Position in its array in the document'),
      id: z.string().nullable().describe('The id the item had in the document, when it had one'),
      reason: z.string(),
    })).describe('Items not imported, with the reason'),
    id_map: z.record(z.string(), z.string()).describe('Old id → new id of every imported conversation, message and memory'),
  })
  .meta({ id: 'ImportReceipt' });

export type ExportDocumentDto = z.infer<typeof ExportDocumentSchema>;
export type ImportReceiptDto = z.infer<typeof ImportReceiptSchema>;
