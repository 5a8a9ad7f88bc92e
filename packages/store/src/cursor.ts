import { RequestErrors } from '@pai/errors';

/**
 * Cursors are opaque to clients: base64url JSON naming the listing they belong to (`scope`) and the
 * last key seen. A cursor from another listing, or a forged one, is rejected as PAI_REQUEST_INVALID_CURSOR.
 */
export function encodeCursor(scope: string, key: string | number): string {
  return Buffer.from(JSON.stringify({ s: scope, k: key }), 'utf8').toString('base64url');
}

export function decodeCursor<K extends string | number>(scope: string, cursor: string, kind: 'string' | 'number'): K {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw RequestErrors.invalidCursor();
  }
  if (
    typeof parsed !== 'object' || parsed === null ||
    (parsed as { s?: unknown }).s !== scope ||
    typeof (parsed as { k?: unknown }).k !== kind
  ) {
    throw RequestErrors.invalidCursor();
  }
  return (parsed as { k: K }).k;
}
