/**
 * Documents (RAG sources): text extraction from the supported types and token-aware chunking
 * along headings, paragraphs and sentences.
 */
export {
  SUPPORTED_CONTENT_TYPES,
  contentTypeFromFilename,
  isSupportedContentType,
  normalizeContentType,
  parseContentType,
  type ParsedContentType,
  type SupportedContentType,
} from './content-type.js';
export { extractText, type ExtractOptions, type ExtractedText } from './extract.js';
export { chunkText, type Chunk, type ChunkOptions } from './chunk.js';
export { HEADING_PATH_SEPARATOR } from './markdown-structure.js';
export { TOKENIZER_ENCODING, countTokens } from './tokens.js';
