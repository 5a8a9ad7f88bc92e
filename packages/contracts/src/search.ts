import { z } from 'zod';
import { timestamp } from './common.js';

export const SEARCH_ITEM_TYPES = ['memory', 'document', 'message'] as const;
export const SEARCH_MODES = ['hybrid', 'semantic', 'keyword'] as const;
export const SEARCH_MAX_K = 100;
export const SEARCH_QUERY_MAX_CHARS = 4_000;

const isoInstant = z.iso.datetime({ offset: true });

export const SearchBodySchema = z
  .object({
    query: z.string().trim().min(1).max(SEARCH_QUERY_MAX_CHARS).describe(`What to look for, 1..${SEARCH_QUERY_MAX_CHARS} characters`),
    k: z.number().int().min(1).max(SEARCH_MAX_K).default(10).describe(`How many results, 1..${SEARCH_MAX_K} (default 10)`),
    mode: z.enum(SEARCH_MODES).default('hybrid').describe(
      'hybrid fuses keyword (BM25) and vector scores; semantic is vectors only; keyword is BM25 only. ' +
      'Without an embedding provider every mode runs as keyword (see mode_used).',
    ),
    types: z.array(z.enum(SEARCH_ITEM_TYPES)).min(1).max(3).default([...SEARCH_ITEM_TYPES])
      .describe('Kinds of items to search: memory (long-term memories), document (document chunks), message (conversation messages)'),
    filters: z
      .object({
        category: z.string().min(1).max(32).optional().describe('Memories of this category only'),
        document_id: z.string().min(1).max(100).optional().describe('Chunks of this document only'),
        since: isoInstant.optional().describe('Items created at or after this instant'),
        until: isoInstant.optional().describe('Items created before this instant'),
      })
      .strict()
      .refine((f) => f.since === undefined || f.until === undefined || Date.parse(f.since) < Date.parse(f.until), {
        message: 'since must be before until', path: ['until'],
      })
      .optional(),
  })
  .strict();

export type SearchBody = z.input<typeof SearchBodySchema>;
export type SearchBodyParsed = z.output<typeof SearchBodySchema>;

export const SearchResultSchema = z
  .object({
    type: z.enum(SEARCH_ITEM_TYPES),
    id: z.string().describe('Memory id, chunk id or message id'),
    score: z.number().describe('Relevance, higher is better; comparable within one response only'),
    content: z.string().describe('The memory, chunk or message text'),
    metadata: z.record(z.string(), z.unknown()).describe(
      'memory: category, importance, created_at; document: document_id, title, heading, ordinal, created_at; ' +
      'message: conversation_id, role, created_at. keyword_score and vector_score show what the fused score came from.',
    ),
  })
  .meta({ id: 'SearchResult' });

export const SearchResponseSchema = z
  .object({
    results: z.array(SearchResultSchema),
    mode_used: z.enum(SEARCH_MODES).describe('The mode that actually ran: keyword when no embedding provider is configured (or it failed during a hybrid query)'),
  })
  .meta({ id: 'SearchResponse' });

export type SearchResultDto = z.infer<typeof SearchResultSchema>;
export type SearchResponseDto = z.infer<typeof SearchResponseSchema>;

// ---- documents ------------------------------------------------------------------------------

export const DOCUMENT_CONTENT_TYPES = ['text/plain', 'text/markdown', 'text/html', 'application/pdf'] as const;
export const DOCUMENT_STATUSES = ['pending', 'indexing', 'indexed', 'failed'] as const;
export const DOCUMENT_TITLE_MAX_CHARS = 500;

export const DocumentSchema = z
  .object({
    id: z.string().describe('Document id (doc_…)'),
    title: z.string(),
    content_type: z.string().describe(DOCUMENT_CONTENT_TYPES.join(' | ')),
    size_bytes: z.number().int().describe('Size of what was uploaded'),
    status: z.enum(DOCUMENT_STATUSES).describe('pending → indexing → indexed, or failed (see error)'),
    error: z.string().nullable().describe('Why indexing failed; null otherwise'),
    chunks_indexed: z.number().int().describe('Chunks searchable so far'),
    chunks_total: z.number().int().describe('Chunks the document was split into'),
    created_at: timestamp,
    updated_at: timestamp,
  })
  .meta({ id: 'Document' });

export type DocumentDto = z.infer<typeof DocumentSchema>;

export const CreateDocumentBodySchema = z
  .object({
    title: z.string().trim().min(1).max(DOCUMENT_TITLE_MAX_CHARS).describe(`1..${DOCUMENT_TITLE_MAX_CHARS} characters`),
    content: z.string().min(1).describe('The document text (text/plain, text/markdown or text/html; PDFs go as a multipart upload)'),
    content_type: z.enum(['text/plain', 'text/markdown', 'text/html']).default('text/plain'),
  })
  .strict();

export const DocumentChunkSchema = z
  .object({
    id: z.string(),
    ordinal: z.number().int().describe('0-based position in the document'),
    heading: z.string().nullable().describe('The heading path the chunk sits under'),
    content: z.string(),
    token_count: z.number().int(),
  })
  .meta({ id: 'DocumentChunk' });

// ---- internal: the memory service keeps the index in step with its records --------------------

export const IndexRecordSchema = z.object({
  type: z.enum(['memory', 'message']),
  id: z.string().min(1).max(100),
  text: z.string(),
  created_at: timestamp,
  category: z.string().nullable().optional(),
  conversation_id: z.string().nullable().optional(),
  metadata: z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()])).optional(),
});

export const IndexSyncBodySchema = z
  .object({
    upsert: z.array(IndexRecordSchema).max(1000).default([]),
    remove: z.array(z.object({ type: z.enum(SEARCH_ITEM_TYPES), id: z.string().min(1).max(100) })).max(10_000).default([]),
  })
  .strict();

export type IndexRecordDto = z.infer<typeof IndexRecordSchema>;
export type IndexSyncBody = z.input<typeof IndexSyncBodySchema>;

export const RebuildResponseSchema = z
  .object({
    users: z.number().int().describe('Users whose items were re-indexed'),
    items: z.number().int().describe('Items written to the index'),
    embedded: z.number().int().describe('Items embedded (0 without an embedding provider)'),
    duration_ms: z.number().int(),
  })
  .meta({ id: 'RebuildReport' });
export type RebuildResponseDto = z.infer<typeof RebuildResponseSchema>;
