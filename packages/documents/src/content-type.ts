/** The document types PAI can extract text from. */
export const SUPPORTED_CONTENT_TYPES = ['text/plain', 'text/markdown', 'text/html', 'application/pdf'] as const;
export type SupportedContentType = (typeof SUPPORTED_CONTENT_TYPES)[number];

export function isSupportedContentType(type: string): type is SupportedContentType {
  return (SUPPORTED_CONTENT_TYPES as readonly string[]).includes(type);
}

/** Other names clients use for the supported types. */
const ALIASES: Readonly<Record<string, SupportedContentType>> = {
  'text/x-markdown': 'text/markdown',
  'text/md': 'text/markdown',
  'application/markdown': 'text/markdown',
  'application/xhtml+xml': 'text/html',
  'application/x-pdf': 'application/pdf',
};

/** Types that say nothing about the content, so a file name (when there is one) decides. */
const GENERIC_TYPES = new Set(['', 'application/octet-stream', 'binary/octet-stream', 'application/unknown']);

const EXTENSIONS: Readonly<Record<string, SupportedContentType>> = {
  txt: 'text/plain',
  text: 'text/plain',
  md: 'text/markdown',
  markdown: 'text/markdown',
  mdown: 'text/markdown',
  mkd: 'text/markdown',
  html: 'text/html',
  htm: 'text/html',
  xhtml: 'text/html',
  pdf: 'application/pdf',
};

export interface ParsedContentType {
  /** Lowercased media type with aliases resolved, parameters removed ('' when the header is empty). */
  type: string;
  /** The `charset` parameter, lowercased, or null. */
  charset: string | null;
}

/** Splits a Content-Type header into its media type and charset. */
export function parseContentType(header: string): ParsedContentType {
  const [rawType = '', ...params] = header.split(';');
  const type = rawType.trim().toLowerCase();
  let charset: string | null = null;
  for (const param of params) {
    const eq = param.indexOf('=');
    if (eq === -1) continue;
    if (param.slice(0, eq).trim().toLowerCase() !== 'charset') continue;
    const value = param.slice(eq + 1).trim().replace(/^"(.*)"$/, '$1').toLowerCase();
    if (value !== '') charset = value;
  }
  return { type: ALIASES[type] ?? type, charset };
}

/**
 * The media type of a Content-Type header: parameters stripped, lowercased, aliases mapped
 * (`text/x-markdown` → `text/markdown`). When the header is empty or generic
 * (`application/octet-stream`) and a file name is given, the name's extension decides.
 * Unsupported types are returned as they are, for the caller to reject.
 */
export function normalizeContentType(header: string, filename?: string): string {
  const { type } = parseContentType(header);
  if (GENERIC_TYPES.has(type) && filename !== undefined) return contentTypeFromFilename(filename) ?? type;
  return type;
}

/** The supported type a file name's extension stands for (`notes.md` → `text/markdown`), or null. */
export function contentTypeFromFilename(name: string): SupportedContentType | null {
  const base = name.split(/[\\/]/).pop() ?? '';
  const dot = base.lastIndexOf('.');
  if (dot <= 0 || dot === base.length - 1) return null;
  return EXTENSIONS[base.slice(dot + 1).toLowerCase()] ?? null;
}
