import { randomBytes, createHash } from 'node:crypto';

/**
 * Time-ordered opaque ids: `<prefix>_<10 chars time><16 chars random>` in Crockford base32 (a ULID body).
 * Ids made in one process are strictly increasing, so sorting by id sorts by creation.
 */
const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

let lastTime = -1;
let lastRandom: Uint8Array = new Uint8Array(10);

function encodeTime(ms: number): string {
  let out = '';
  let t = ms;
  for (let i = 0; i < 10; i++) {
    out = ALPHABET[t % 32] + out;
    t = Math.floor(t / 32);
  }
  return out;
}

function encodeRandom(bytes: Uint8Array): string {
  // 80 bits → 16 base32 chars
  let out = '';
  let bits = 0;
  let value = 0;
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += ALPHABET[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
    value &= (1 << bits) - 1;
  }
  return out;
}

function increment(bytes: Uint8Array): Uint8Array {
  const next = new Uint8Array(bytes);
  for (let i = next.length - 1; i >= 0; i--) {
    if (next[i] === 255) {
      next[i] = 0;
    } else {
      next[i] = next[i]! + 1;
      return next;
    }
  }
  return new Uint8Array(randomBytes(10));
}

export function ulid(now: number = Date.now()): string {
  if (now <= lastTime) {
    lastRandom = increment(lastRandom);
    now = lastTime;
  } else {
    lastTime = now;
    lastRandom = new Uint8Array(randomBytes(10));
  }
  return encodeTime(now) + encodeRandom(lastRandom);
}

export type IdPrefix = 'usr' | 'key' | 'conv' | 'msg' | 'mem' | 'doc' | 'chk' | 'req' | 'job' | 'run' | 'evl';

export function newId(prefix: IdPrefix): string {
  return `${prefix}_${ulid()}`;
}

const ID_PATTERN = /^[a-z]{2,5}_[0-9A-HJKMNP-TV-Z]{26}$/;

/** True for strings shaped like an id of the given prefix. */
export function isId(value: string, prefix?: IdPrefix): boolean {
  return ID_PATTERN.test(value) && (prefix === undefined || value.startsWith(`${prefix}_`));
}

/** A secret API key: `pai_` + 32 random bytes in base64url (256 bits). */
export function newApiKeySecret(): string {
  return `pai_${randomBytes(32).toString('base64url')}`;
}

/**
 * API keys carry 256 random bits, so a fast hash is enough to make the stored value useless to a
 * reader of the database (no dictionary to try); SHA-256 keeps lookups O(1) by hash.
 */
export function hashApiKey(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('base64url');
}
