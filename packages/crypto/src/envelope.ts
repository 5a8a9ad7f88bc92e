/**
 * The sealed-record format: AES-256-GCM under a user's data key, a fresh random 96-bit IV per seal, and
 * AAD binding the record's owner, kind and id, so a ciphertext copied to another user or record fails
 * to open instead of decrypting there.
 *
 *   string form: `pe1.` + base64url( iv[12] ‖ ciphertext ‖ tag[16] )          (no padding)
 *   bytes form:  0x01 ‖ iv[12] ‖ ciphertext ‖ tag[16]
 *   AAD:         canonicalAad('pai/pe1', [userId, kind, recordId])
 *
 * Text is UTF-8; a lone surrogate in it comes back as U+FFFD, as with any UTF-8 store.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { CryptoErrors } from '@pai/errors';
import { canonicalAad, decodeBase64Url } from './canonical-aad.js';

export interface SealContext {
  userId: string;
  /** Record kind, e.g. `message`, `memory`, `conversation.title`, `chunk`. */
  kind: string;
  recordId: string;
}

export const SEALED_PREFIX = 'pe1.';
const BYTES_VERSION = 0x01;
const AAD_DOMAIN = 'pai/pe1';
const IV_BYTES = 12;
const TAG_BYTES = 16;
/** Data keys are AES-256 keys. */
export const DATA_KEY_BYTES = 32;
// A sealed empty string is 28 bytes → 38 base64url characters.
const MIN_SEALED_CHARS = SEALED_PREFIX.length + Math.ceil(((IV_BYTES + TAG_BYTES) * 4) / 3);

function aadOf(context: SealContext): Buffer {
  return canonicalAad(AAD_DOMAIN, [context.userId, context.kind, context.recordId]);
}

function checkKey(key: Buffer): void {
  if (!Buffer.isBuffer(key) || key.length !== DATA_KEY_BYTES) throw new TypeError(`a data key is ${DATA_KEY_BYTES} bytes`);
}

/** iv ‖ ciphertext ‖ tag */
function seal(key: Buffer, plaintext: Uint8Array, context: SealContext): Buffer {
  checkKey(key);
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(aadOf(context));
  return Buffer.concat([iv, cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
}

function open(key: Buffer, body: Buffer, context: SealContext): Buffer {
  checkKey(key);
  const aad = aadOf(context);
  if (body.length < IV_BYTES + TAG_BYTES) throw CryptoErrors.decryptFailed();
  const iv = body.subarray(0, IV_BYTES);
  const tag = body.subarray(body.length - TAG_BYTES);
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
    decipher.setAAD(aad);
    decipher.setAuthTag(tag);
    return Buffer.concat([decipher.update(body.subarray(IV_BYTES, body.length - TAG_BYTES)), decipher.final()]);
  } catch (error) {
    throw CryptoErrors.decryptFailed({ cause: error });
  }
}

/** Seals `plaintext` for the record named by `context`; a new IV every call. */
export function sealString(key: Buffer, plaintext: string, context: SealContext): string {
  return SEALED_PREFIX + seal(key, Buffer.from(plaintext, 'utf8'), context).toString('base64url');
}

/**
 * Opens what `sealString` produced for the same key and record. Throws `PAI_CRYPTO_DECRYPT_FAILED` for a
 * wrong key, another record's or user's ciphertext, or any change to the string.
 */
export function openString(key: Buffer, sealed: string, context: SealContext): string {
  if (typeof sealed !== 'string' || !sealed.startsWith(SEALED_PREFIX)) throw CryptoErrors.decryptFailed();
  const body = decodeBase64Url(sealed.slice(SEALED_PREFIX.length));
  if (body === undefined) throw CryptoErrors.decryptFailed();
  return open(key, body, context).toString('utf8');
}

/** The binary form, for blobs (e.g. an encrypted index file). */
export function sealBytes(key: Buffer, plaintext: Uint8Array, context: SealContext): Buffer {
  return Buffer.concat([Buffer.of(BYTES_VERSION), seal(key, plaintext, context)]);
}

export function openBytes(key: Buffer, sealed: Uint8Array, context: SealContext): Buffer {
  const bytes = Buffer.from(sealed.buffer, sealed.byteOffset, sealed.byteLength);
  if (bytes.length < 1 || bytes[0] !== BYTES_VERSION) throw CryptoErrors.decryptFailed();
  return open(key, bytes.subarray(1), context);
}

/**
 * True when `value` has the shape of a sealed string (prefix, alphabet, minimum length). A shape test
 * only, for telling sealed values from legacy plaintext; `openString` is what authenticates.
 */
export function isSealed(value: unknown): value is string {
  return (
    typeof value === 'string' &&
    value.length >= MIN_SEALED_CHARS &&
    value.startsWith(SEALED_PREFIX) &&
    /^[A-Za-z0-9_-]+$/.test(value.slice(SEALED_PREFIX.length))
  );
}
