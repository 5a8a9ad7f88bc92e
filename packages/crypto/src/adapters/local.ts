/**
 * Local key provider: data keys wrapped with AES-256-GCM under a 256-bit master key held by this process
 * (the master key file in the data dir, or PAI_MASTER_KEY).
 *
 *   wrapped: `lk1:<version>:<base64url( iv[12] ‖ tag[16] ‖ ciphertext[32] )>`
 *   AAD:     canonicalAad('pai/lk1', [version, userId])
 *   version: the master key's fingerprint (12 hex characters of HMAC-SHA256(key, label)), so a wrapped
 *            key names the master key it needs without any version bookkeeping.
 *
 * Rotation: configure the new key as `masterKey` and the old ones as `previousMasterKeys`; everything
 * still unwraps, `rewrap` moves a data key to the new master key, and once every stored data key has been
 * rewrapped the old master keys can be dropped.
 */
import { createCipheriv, createDecipheriv, createHmac, randomBytes } from 'node:crypto';
import { chmod, link, mkdir, readFile, stat, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CryptoErrors } from '@pai/errors';
import { canonicalAad, decodeBase64, decodeBase64Url } from '../canonical-aad.js';
import { DATA_KEY_BYTES } from '../envelope.js';
import type { GeneratedDataKey, KeyContext, KeyProvider, KeyProviderHealth, RewrappedDataKey } from '../index.js';

export interface LocalKeyProviderOptions {
  /** The current master key (32 bytes): new data keys and rewraps use it. */
  masterKey: Buffer;
  /** Older master keys that still unwrap data keys wrapped under them (rotation). */
  previousMasterKeys?: readonly Buffer[];
}

const PREFIX = 'lk1';
const AAD_DOMAIN = 'pai/lk1';
const IV_BYTES = 12;
const TAG_BYTES = 16;
const MASTER_KEY_BYTES = 32;
const WRAPPED = /^lk1:([0-9a-f]{12}):([A-Za-z0-9_-]+)$/;

/** The version a master key's wrapped keys carry: a fingerprint that reveals nothing about the key. */
export function masterKeyVersion(masterKey: Buffer): string {
  return createHmac('sha256', masterKey).update('pai local master key version').digest('hex').slice(0, 12);
}

function checkMasterKey(key: Buffer, what: string): void {
  if (!Buffer.isBuffer(key) || key.length !== MASTER_KEY_BYTES) {
    throw CryptoErrors.invalidMasterKey(`${what} must be ${MASTER_KEY_BYTES} bytes.`);
  }
}

export function createLocalKeyProvider(options: LocalKeyProviderOptions): KeyProvider {
  checkMasterKey(options.masterKey, 'The master key');
  const current = masterKeyVersion(options.masterKey);
  const keys = new Map<string, Buffer>();
  for (const previous of options.previousMasterKeys ?? []) {
    checkMasterKey(previous, 'A previous master key');
    keys.set(masterKeyVersion(previous), Buffer.from(previous));
  }
  keys.set(current, Buffer.from(options.masterKey));
  const keyId = `local:${current}`;

  const wrap = (dataKey: Buffer, userId: string): string => {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', keys.get(current)!, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(canonicalAad(AAD_DOMAIN, [current, userId]));
    const ciphertext = Buffer.concat([cipher.update(dataKey), cipher.final()]);
    return `${PREFIX}:${current}:${Buffer.concat([iv, cipher.getAuthTag(), ciphertext]).toString('base64url')}`;
  };

  const parse = (wrapped: string): { version: string; body: Buffer } => {
    const match = typeof wrapped === 'string' ? WRAPPED.exec(wrapped) : null;
    if (match === null) {
      if (typeof wrapped === 'string' && wrapped.startsWith('kms1:')) {
        throw CryptoErrors.keyUnavailable(
          'This data key was wrapped by KMS, but the local key provider is configured: set KEY_PROVIDER=kms with the KMS key that wrapped it.',
        );
      }
      throw CryptoErrors.decryptFailed();
    }
    const body = decodeBase64Url(match[2]!);
    if (body === undefined || body.length !== IV_BYTES + TAG_BYTES + DATA_KEY_BYTES) throw CryptoErrors.decryptFailed();
    return { version: match[1]!, body };
  };

  const unwrap = (wrapped: string, userId: string): { version: string; dataKey: Buffer } => {
    const { version, body } = parse(wrapped);
    const masterKey = keys.get(version);
    if (masterKey === undefined) {
      throw CryptoErrors.keyUnavailable(
        `This data key was wrapped under local master key version ${version}, which is not configured ` +
          `(current: ${current}). Configure that key as a previous master key until its data keys are rewrapped.`,
      );
    }
    try {
      const decipher = createDecipheriv('aes-256-gcm', masterKey, body.subarray(0, IV_BYTES), { authTagLength: TAG_BYTES });
      decipher.setAAD(canonicalAad(AAD_DOMAIN, [version, userId]));
      decipher.setAuthTag(body.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
      const dataKey = Buffer.concat([decipher.update(body.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]);
      return { version, dataKey };
    } catch (error) {
      throw CryptoErrors.decryptFailed({ cause: error });
    }
  };

  return {
    async generateDataKey(context: KeyContext): Promise<GeneratedDataKey> {
      const plaintext = randomBytes(DATA_KEY_BYTES);
      return { plaintext, wrapped: wrap(plaintext, context.userId), keyId };
    },
    async decrypt(wrapped: string, context: KeyContext): Promise<Buffer> {
      return unwrap(wrapped, context.userId).dataKey;
    },
    async rewrap(wrapped: string, context: KeyContext): Promise<RewrappedDataKey> {
      const { version, dataKey } = unwrap(wrapped, context.userId);
      if (version === current) return { wrapped, keyId };
      const rewrapped = wrap(dataKey, context.userId);
      dataKey.fill(0);
      return { wrapped: rewrapped, keyId };
    },
    describe: () => ({ kind: 'local', keyId }),
    async check(): Promise<KeyProviderHealth> {
      return { ok: true };
    },
  };
}

/**
 * The master key from a base64 string (PAI_MASTER_KEY). Throws `PAI_CRYPTO_INVALID_MASTER_KEY` with a
 * message naming `name` (never echoing the value) unless it is the base64 of exactly 32 bytes.
 */
export function parseMasterKey(value: string, name = 'PAI_MASTER_KEY'): Buffer {
  const hint = 'generate one with `openssl rand -base64 32`';
  const text = typeof value === 'string' ? value.trim() : '';
  if (text === '') throw CryptoErrors.invalidMasterKey(`${name} is empty; ${hint}.`);
  const bytes = decodeBase64(text) ?? decodeBase64Url(text);
  if (bytes === undefined) throw CryptoErrors.invalidMasterKey(`${name} is not valid base64; ${hint}.`);
  if (bytes.length !== MASTER_KEY_BYTES) {
    throw CryptoErrors.invalidMasterKey(
      `${name} decodes to ${bytes.length} bytes; it must be the base64 of exactly ${MASTER_KEY_BYTES} bytes (256 bits); ${hint}.`,
    );
  }
  return bytes;
}

export const MASTER_KEY_FILE = 'master-key';

export interface MasterKeyFile {
  key: Buffer;
  path: string;
  /** True when this call generated the key. */
  created: boolean;
  /** Set when the existing file is readable by group or others (log it; the key is still used). */
  warning?: string;
}

/**
 * `<dataDir>/master-key`: read when it exists, otherwise created with 32 random bytes (base64) and mode
 * 0600. Creation is atomic (written aside, then hard-linked into place), so two processes starting at
 * once end up with the same key and nobody reads a half-written file.
 */
export async function loadOrCreateMasterKeyFile(dataDir: string): Promise<MasterKeyFile> {
  const path = join(dataDir, MASTER_KEY_FILE);
  const existing = await readMasterKeyFile(path);
  if (existing !== undefined) return existing;

  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const key = randomBytes(MASTER_KEY_BYTES);
  const aside = `${path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    await writeFile(aside, `${key.toString('base64')}\n`, { mode: 0o600, flag: 'wx' });
    await chmod(aside, 0o600);
    try {
      await link(aside, path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      // Another process created it first: use theirs.
      const theirs = await readMasterKeyFile(path);
      if (theirs === undefined) throw error;
      return theirs;
    }
  } finally {
    await unlink(aside).catch(() => undefined);
  }
  return { key, path, created: true };
}

async function readMasterKeyFile(path: string): Promise<MasterKeyFile | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  const key = parseMasterKey(text, `The master key file ${path}`);
  const { mode } = await stat(path);
  const file: MasterKeyFile = { key, path, created: false };
  if ((mode & 0o077) !== 0) {
    file.warning = `The master key file ${path} is readable by others (mode ${(mode & 0o777).toString(8)}); run chmod 600 on it.`;
  }
  return file;
}
