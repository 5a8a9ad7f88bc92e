import { newId } from '@pai/ids';
import { DocumentErrors } from '@pai/errors';
import { chunkText, extractText, normalizeContentType, SUPPORTED_CONTENT_TYPES } from '@pai/documents';
import type { Job, JobHandler, JobQueue, DocumentRecord, Store } from '@pai/store';
import type { DocumentDto } from '@pai/contracts';
import { chunkItem, type EngineLog, type SearchEngine } from './search-engine.js';

export const DOCUMENT_INDEX_JOB = 'document.index';
/** Chunks embedded and indexed per step; progress is written after each step. */
const INDEX_BATCH = 32;

export interface DocumentDeps {
  store: Store;
  jobs: JobQueue;
  engine: SearchEngine;
  settings: { maxBytes: number; chunkTokens: number; overlapTokens: number };
  /** Called after a job is queued, so the worker picks it up at once. */
  kick(): void;
}

export interface Upload {
  /** Given by the caller; else the document's own title, else the file name. */
  title: string | undefined;
  filename?: string | undefined;
  contentType: string;
  data: Uint8Array | string;
  sizeBytes: number;
}

export function documentDto(d: DocumentRecord): DocumentDto {
  return {
    id: d.id, title: d.title, content_type: d.contentType, size_bytes: d.sizeBytes, status: d.status, error: d.error,
    chunks_indexed: d.chunksIndexed, chunks_total: d.chunksTotal, created_at: d.createdAt, updated_at: d.updatedAt,
  };
}

/**
 * Stores an upload: extracts its text, splits it into token-bounded chunks along headings and
 * paragraphs, writes the document with every chunk in one write (status pending) and queues the
 * indexing. Nothing is stored when the upload is refused.
 */
export async function createDocument(deps: DocumentDeps, userId: string, upload: Upload): Promise<DocumentRecord> {
  const contentType = normalizeContentType(upload.contentType);
  if (!(SUPPORTED_CONTENT_TYPES as readonly string[]).includes(contentType)) {
    throw DocumentErrors.unsupportedType(contentType || 'unknown', SUPPORTED_CONTENT_TYPES);
  }
  if (upload.sizeBytes > deps.settings.maxBytes) throw DocumentErrors.tooLarge(deps.settings.maxBytes);
  // The raw header: extractText reads a declared charset from it.
  const extracted = await extractText(upload.data, upload.contentType);
  const pieces = chunkText(extracted.text, { maxTokens: deps.settings.chunkTokens, overlapTokens: deps.settings.overlapTokens, contentType });
  if (pieces.length === 0) throw DocumentErrors.empty();
  const now = new Date().toISOString();
  const document: DocumentRecord = {
    id: newId('doc'), userId, title: (upload.title ?? extracted.title ?? upload.filename ?? 'Untitled').slice(0, 500), contentType, sizeBytes: upload.sizeBytes,
    status: 'pending', error: null, chunksTotal: pieces.length, chunksIndexed: 0, createdAt: now, updatedAt: now,
  };
  const chunks = pieces.map((p) => ({
    id: `${document.id}_${p.ordinal}`, documentId: document.id, userId, ordinal: p.ordinal, content: p.text, heading: p.heading, tokenCount: p.tokenCount,
  }));
  await deps.store.documents.createWithChunks(document, chunks);
  await deps.jobs.enqueue({ id: newId('job'), kind: DOCUMENT_INDEX_JOB, userId, payload: { document_id: document.id } });
  deps.kick();
  return document;
}

export async function getDocument(store: Store, userId: string, id: string): Promise<DocumentRecord> {
  const document = await store.documents.get(userId, id);
  if (document === null) throw DocumentErrors.notFound(id);
  return document;
}

/** Deletes the document and its chunks, then takes the chunks out of the index. */
export async function deleteDocument(deps: Pick<DocumentDeps, 'store' | 'engine'>, userId: string, id: string): Promise<void> {
  if (!(await deps.store.documents.delete(userId, id))) throw DocumentErrors.notFound(id);
  await deps.engine.index.removeDocument(userId, id);
}

/**
 * The background step: embeds and indexes the document's chunks in batches, recording progress after
 * each. A document deleted meanwhile stops the job (and its chunks are taken out again, in case a batch
 * landed after the delete's own removal). After the last attempt the document is marked failed.
 */
export function documentIndexHandler(deps: Pick<DocumentDeps, 'store' | 'engine'>, log: EngineLog): JobHandler {
  const { store, engine } = deps;
  return {
    kind: DOCUMENT_INDEX_JOB,
    async run(job: Job, signal: AbortSignal) {
      const id = String(job.payload.document_id);
      let document = await store.documents.get(job.userId, id);
      if (document === null) return;
      document = await store.documents.update(job.userId, id, { status: 'indexing', chunksIndexed: 0, updatedAt: new Date().toISOString() });
      let indexed = 0;
      let cursor: string | undefined;
      do {
        if (signal.aborted) throw new Error('stopped');
        if (document === null) break;
        const page = await store.documents.listChunks(job.userId, id, { limit: INDEX_BATCH, cursor });
        await engine.write(page.items.map((c) => chunkItem(document!, c)));
        indexed += page.items.length;
        document = await store.documents.update(job.userId, id, { chunksIndexed: indexed, updatedAt: new Date().toISOString() });
        cursor = page.nextCursor ?? undefined;
      } while (cursor !== undefined);
      if (document === null) {
        await engine.index.removeDocument(job.userId, id);
        return;
      }
      await store.documents.update(job.userId, id, { status: 'indexed', error: null, updatedAt: new Date().toISOString() });
      log.info({ document: id, chunks: indexed }, 'document indexed');
    },
    async giveUp(job: Job, error: unknown) {
      const id = String(job.payload.document_id);
      const code = (error as { code?: string }).code ?? 'unknown';
      await store.documents.update(job.userId, id, {
        status: 'failed', error: `Indexing failed (${code}); upload the document again or ask an operator to check the search service.`,
        updatedAt: new Date().toISOString(),
      });
      log.warn({ document: id, code }, 'document indexing failed for good');
    },
  };
}
