/**
 * Additional authenticated data as an unambiguous byte string: a domain label, then each field as a
 * 4-byte big-endian byte length followed by its UTF-8 bytes. Length prefixes make ("ab","c") and
 * ("a","bc") different; the domain label keeps AAD of one use (envelopes, wrapped keys) from ever
 * matching another's.
 */

// A lone surrogate encodes to the same UTF-8 bytes as U+FFFD, so two different ids would share an AAD.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

export function canonicalAad(domain: string, fields: readonly string[]): Buffer {
  const parts: Buffer[] = [];
  for (const field of [domain, ...fields]) {
    if (typeof field !== 'string') throw new TypeError('AAD fields must be strings');
    if (LONE_SURROGATE.test(field)) throw new TypeError('AAD fields must be well-formed Unicode (no lone surrogates)');
    const bytes = Buffer.from(field, 'utf8');
    const length = Buffer.allocUnsafe(4);
    length.writeUInt32BE(bytes.length);
    parts.push(length, bytes);
  }
  return Buffer.concat(parts);
}

/** Strict base64url decoding: undefined unless `text` is exactly the canonical encoding of some bytes. */
export function decodeBase64Url(text: string): Buffer | undefined {
  if (!/^[A-Za-z0-9_-]*$/.test(text)) return undefined;
  const bytes = Buffer.from(text, 'base64url');
  // Node ignores unused trailing bits; re-encoding rejects strings that differ only there.
  return bytes.toString('base64url') === text ? bytes : undefined;
}

/** Strict standard base64 (padding optional): undefined unless canonical. */
export function decodeBase64(text: string): Buffer | undefined {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text)) return undefined;
  const bytes = Buffer.from(text, 'base64');
  return bytes.toString('base64').replace(/=+$/, '') === text.replace(/=+$/, '') ? bytes : undefined;
}
