import type { ChunkRecord, DocumentRecord } from '../documents.js';

/** The highest chunk ordinal: the DynamoDB adapter writes ordinals into sort keys as 8 digits. */
export const MAX_CHUNK_ORDINAL = 99_999_999;

/**
 * Refuses chunks that are not the document's, that share an ordinal or that have no id, before anything
 * is written: each is a caller's bug, and the adapters would otherwise treat it differently (SQLite's
 * unique index rejects a repeated ordinal, a DynamoDB batch put would keep one of them).
 */
export function assertChunksOf(document: DocumentRecord, chunks: ChunkRecord[]): void {
  const ordinals = new Set<number>();
  for (const chunk of chunks) {
    // DynamoDB refuses an empty string as an index key (the chunk id is gsi1sk there).
    if (chunk.id === '') throw new Error(`a chunk of document ${document.id} has an empty id`);
    if (chunk.documentId !== document.id || chunk.userId !== document.userId) {
      throw new Error(`chunk ${chunk.id} does not belong to document ${document.id} of ${document.userId}`);
    }
    if (!Number.isSafeInteger(chunk.ordinal) || chunk.ordinal < 0 || chunk.ordinal > MAX_CHUNK_ORDINAL) {
      throw new Error(`chunk ${chunk.id} has an invalid ordinal ${chunk.ordinal} (0..${MAX_CHUNK_ORDINAL})`);
    }
    if (ordinals.has(chunk.ordinal)) throw new Error(`document ${document.id} has two chunks at ordinal ${chunk.ordinal}`);
    ordinals.add(chunk.ordinal);
  }
}
