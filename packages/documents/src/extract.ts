import { DocumentErrors } from '@pai/errors';
import { parseContentType, SUPPORTED_CONTENT_TYPES } from './content-type.js';
import { htmlToText } from './html.js';
import { firstLevelOneHeading } from './markdown-structure.js';
import { pdfToText } from './pdf.js';
import { decodeText, normalizeText, sniffHtmlCharset } from './text-decoding.js';

export interface ExtractOptions {
  /** Refuse PDFs with more pages than this (PAI_DOCUMENT_UNREADABLE), before reading any page. */
  maxPages?: number;
}

export interface ExtractedText {
  /** Newline-normalized text; markdown for text/markdown, and for text/html with `#` headings. */
  text: string;
  title: string | null;
  /** Page count for PDFs; null for other types. */
  pages: number | null;
}

/**
 * The text of a document, ready for chunking. `contentType` is a Content-Type header or media type
 * (a `charset` parameter is honoured for text types; UTF-8 otherwise). Throws PAI_DOCUMENT_*
 * errors: unsupported type (415), unreadable (422: invalid encoding, encrypted or damaged PDF) and
 * empty (422: no text, e.g. a scanned PDF).
 */
export async function extractText(input: Uint8Array | string, contentType: string, options: ExtractOptions = {}): Promise<ExtractedText> {
  const { type, charset } = parseContentType(contentType);
  let result: ExtractedText;
  switch (type) {
    case 'text/plain': {
      result = { text: normalizeText(decodeText(input, charset)), title: null, pages: null };
      break;
    }
    case 'text/markdown': {
      const text = normalizeText(decodeText(input, charset));
      result = { text, title: firstLevelOneHeading(text), pages: null };
      break;
    }
    case 'text/html': {
      const html = decodeText(input, charset ?? (typeof input === 'string' ? null : sniffHtmlCharset(input)));
      const { text, title } = htmlToText(normalizeText(html));
      result = { text, title, pages: null };
      break;
    }
    case 'application/pdf': {
      if (typeof input === 'string') throw DocumentErrors.unreadable('a PDF must be uploaded as a file, not as text');
      result = await pdfToText(input, options.maxPages);
      break;
    }
    default:
      throw DocumentErrors.unsupportedType(type === '' ? 'unknown' : type, SUPPORTED_CONTENT_TYPES);
  }
  if (result.text.trim() === '') throw DocumentErrors.empty();
  return result;
}
