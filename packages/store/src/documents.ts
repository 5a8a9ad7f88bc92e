/**
 * Documents (RAG sources) and their chunks. Chunks are the source of truth the search index is built
 * from: they are written with their document when it is uploaded, and the index is (re)built from them.
 * `title` and chunk `content`/`heading` are whatever the caller stores (sealed ciphertext when
 * encryption is on).
 */
import type { Page, PageRequest } from './index.js';

export type DocumentStatus = 'pending' | 'indexing' | 'indexed' | 'failed';

export interface DocumentRecord {
  id: string;
  userId: string;
  title: string;
  /** text/plain | text/markdown | text/html | application/pdf */
  contentType: string;
  /** Size of what was uploaded, in bytes. */
  sizeBytes: number;
  status: DocumentStatus;
  /** Why indexing failed (status "failed"); null otherwise. */
  error: string | null;
  chunksTotal: number;
  chunksIndexed: number;
  createdAt: string;
  updatedAt: string;
}

export interface ChunkRecord {
  id: string;
  documentId: string;
  userId: string;
  /** 0-based position in the document. */
  ordinal: number;
  content: string;
  /** The heading the chunk sits under, if any. */
  heading: string | null;
  tokenCount: number;
}

export type DocumentPatch = Partial<Pick<DocumentRecord, 'status' | 'error' | 'chunksTotal' | 'chunksIndexed'>> & { updatedAt: string };

export interface DocumentStore {
  /**
   * Stores the document and all its chunks as one write: readers see either nothing or the document
   * with every chunk. Throws PAI_DOCUMENT_CONFLICT when the id exists.
   */
  createWithChunks(document: DocumentRecord, chunks: ChunkRecord[]): Promise<void>;
  get(userId: string, id: string): Promise<DocumentRecord | null>;
  /** Newest first. */
  list(userId: string, page: PageRequest): Promise<Page<DocumentRecord>>;
  /** The updated record, or null when not found for this user. */
  update(userId: string, id: string, patch: DocumentPatch): Promise<DocumentRecord | null>;
  /** The document's chunks by ordinal; an unknown (or another user's) document gives an empty page. */
  listChunks(userId: string, documentId: string, page: PageRequest): Promise<Page<ChunkRecord>>;
  /** Chunks by id (unknown ids and other users' chunks are left out), in the order asked. */
  getChunks(userId: string, ids: string[]): Promise<ChunkRecord[]>;
  /** Deletes the document and every chunk; false when not found for this user. */
  delete(userId: string, id: string): Promise<boolean>;
}
