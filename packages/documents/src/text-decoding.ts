import { DocumentErrors } from '@pai/errors';

const UTF8_BOM = [0xef, 0xbb, 0xbf];

/**
 * Bytes → string. A byte order mark wins, then the declared charset, then UTF-8; decoding is strict
 * (malformed input is refused, never patched with U+FFFD), and text with NUL bytes is refused as
 * binary. A string input is taken as already decoded.
 */
export function decodeText(input: Uint8Array | string, declaredCharset: string | null): string {
  if (typeof input === 'string') return input.charCodeAt(0) === 0xfeff ? input.slice(1) : input;
  let charset = declaredCharset ?? 'utf-8';
  let bytes = input;
  if (UTF8_BOM.every((b, i) => input[i] === b)) {
    charset = 'utf-8';
    bytes = input.subarray(3);
  } else if (input[0] === 0xff && input[1] === 0xfe) {
    charset = 'utf-16le';
    bytes = input.subarray(2);
  } else if (input[0] === 0xfe && input[1] === 0xff) {
    charset = 'utf-16be';
    bytes = input.subarray(2);
  }
  let decoder: InstanceType<typeof TextDecoder>;
  try {
    // ignoreBOM: a BOM was handled above; one left over is content, not a second marker.
    decoder = new TextDecoder(charset, { fatal: true, ignoreBOM: true });
  } catch {
    throw DocumentErrors.unreadable(`unknown character set '${charset}'`);
  }
  let text: string;
  try {
    text = decoder.decode(bytes);
  } catch {
    throw DocumentErrors.unreadable(`the text is not valid ${decoder.encoding === 'utf-8' ? 'UTF-8' : decoder.encoding}`);
  }
  if (text.includes('\u0000')) throw DocumentErrors.unreadable('it contains binary data, not text');
  return text;
}

/** `<meta charset>` / `http-equiv` declaration in the first KiB of an HTML file, or null. */
export function sniffHtmlCharset(input: Uint8Array): string | null {
  const head = new TextDecoder('latin1').decode(input.subarray(0, 1024));
  const match = /<meta[^>]+charset\s*=\s*["']?\s*([\w.:-]+)/i.exec(head);
  return match === null ? null : match[1]!.toLowerCase();
}

/**
 * One newline convention (\n), no control characters but tab and newline; form feeds (page
 * breaks in text exports) become paragraph breaks.
 */
export function normalizeText(text: string): string {
  return text
    .replace(/\r\n?|[\u2028\u2029\u0085]/g, '\n')
    .replace(/\f/g, '\n\n')
    .replace(/[\u0000-\u0008\u000B\u000E-\u001F\u007F]/g, '');
}
