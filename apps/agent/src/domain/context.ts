import type { CallContext, MemoryClient, SearchClient, SearchResultDto } from '@pai/contracts';

export interface RetrievedMemory {
  id: string;
  content: string;
  category: string;
  score: number;
}

export interface RetrievedPassage {
  documentId: string;
  chunkId: string;
  title: string;
  heading: string | null;
  content: string;
  score: number;
}

export interface RetrievedContext {
  memories: RetrievedMemory[];
  passages: RetrievedPassage[];
}

export interface ContextLog {
  warn(obj: object, msg: string): void;
}

/** How many memories and document passages a turn may put into the prompt (before the token budget). */
export const MEMORY_LIMIT = 6;
export const PASSAGE_LIMIT = 4;

const text = (value: unknown): string | null => (typeof value === 'string' ? value : null);

function memoryOf(r: SearchResultDto): RetrievedMemory {
  return { id: r.id, content: r.content, category: text(r.metadata.category) ?? 'fact', score: r.score };
}

function passageOf(r: SearchResultDto): RetrievedPassage {
  return {
    documentId: text(r.metadata.document_id) ?? '', chunkId: r.id, title: text(r.metadata.title) ?? 'Untitled',
    heading: text(r.metadata.heading), content: r.content, score: r.score,
  };
}

/**
 * The memories and document passages relevant to a message, from the search service (hybrid search
 * when it has an embedding provider). Retrieval helps an answer but is not needed for one: when the
 * search service fails, the turn goes on without that context and the failure is logged. Without a search
 * service (an agent running apart with no SEARCH_SERVICE_URL) memories come from the memory service's
 * keyword search and there are no passages.
 */
export async function retrieveContext(
  sources: { search?: SearchClient | undefined; memory: MemoryClient; log: ContextLog },
  message: string,
  wanted: { memories: boolean; documents: boolean },
  ctx: CallContext & { userId: string },
): Promise<RetrievedContext> {
  const query = message.slice(0, 4_000);
  const guarded = async <T>(what: string, fn: () => Promise<T[]>): Promise<T[]> => {
    try {
      return await fn();
    } catch (err) {
      sources.log.warn({ code: (err as { code?: string }).code ?? 'unknown', what }, 'retrieval failed; answering without it');
      return [];
    }
  };
  const { search } = sources;
  const [memories, passages] = await Promise.all([
    !wanted.memories ? [] : guarded('memories', async () => search
      ? (await search.search({ query, k: MEMORY_LIMIT, types: ['memory'] }, ctx)).results.map(memoryOf)
      : (await sources.memory.searchMemories(query, MEMORY_LIMIT, ctx)).map((m) => ({ id: m.id, content: m.content, category: m.category, score: m.score }))),
    !wanted.documents || !search ? [] : guarded('documents', async () =>
      (await search.search({ query, k: PASSAGE_LIMIT, types: ['document'] }, ctx)).results.map(passageOf)),
  ]);
  return { memories, passages };
}
