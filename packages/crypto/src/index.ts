/**
 * Encryption at rest with per-user data keys (envelope encryption).
 *
 * Key hierarchy: a master key (a local 256-bit key, or a KMS key) wraps one random 256-bit data key per
 * user; the data key seals that user's records with AES-256-GCM, binding (user id, record kind, record
 * id) as AAD. Stores hold only wrapped data keys and sealed strings. Destroying a user's wrapped data key
 * (crypto-shred) makes everything sealed under it unreadable, backups included once the key is gone from
 * them too.
 *
 * The port is `KeyProvider` (wraps/unwraps data keys); `createKeyring` caches unwrapped keys and seals
 * and opens records; `sealString`/`openString` are the record format.
 */

/** Who a data key belongs to; bound into every wrap (AAD locally, EncryptionContext in KMS). */
export interface KeyContext {
  userId: string;
}

export interface GeneratedDataKey {
  /** The 32-byte data key. Keep it in memory only. */
  plaintext: Buffer;
  /** The data key wrapped by the master key; self-describing (`lk1:…`, `kms1:…`), safe to store. */
  wrapped: string;
  /** The master key (version) that wrapped it, e.g. `local:3f9a…` or a KMS key ARN. */
  keyId: string;
}

export interface RewrappedDataKey {
  wrapped: string;
  keyId: string;
}

export type KeyProviderHealth = { ok: true } | { ok: false; reason: string };

/**
 * Wraps and unwraps per-user data keys under a master key. Errors are `CryptoErrors` from @pai/errors:
 * `keyUnavailable` (503) when the master key cannot be used (KMS down, throttled, key disabled or missing,
 * a local key version not configured), `decryptFailed` (500) when a wrapped key fails to unwrap (tampered,
 * or presented for another user).
 */
export interface KeyProvider {
  /** A fresh random 256-bit data key for the user, with its wrapped form. */
  generateDataKey(context: KeyContext): Promise<GeneratedDataKey>;
  /** The 32-byte data key inside `wrapped`; fails unless it was wrapped for `context.userId`. */
  decrypt(wrapped: string, context: KeyContext): Promise<Buffer>;
  /**
   * Re-wraps under the current master key (rotation), without the records changing. A wrapped key
   * that is already under the current master key may come back unchanged.
   */
  rewrap(wrapped: string, context: KeyContext): Promise<RewrappedDataKey>;
  /** `kind` is `local` or `kms`; `keyId` is the current master key (version). */
  describe(): { kind: string; keyId: string };
  /** For /readyz; never throws. */
  check(): Promise<KeyProviderHealth>;
}

export { canonicalAad } from './canonical-aad.js';
export {
  sealString,
  openString,
  sealBytes,
  openBytes,
  isSealed,
  SEALED_PREFIX,
  DATA_KEY_BYTES,
  type SealContext,
} from './envelope.js';
export {
  createKeyring,
  type Keyring,
  type KeyringOptions,
  type KeyringStats,
  type DataKeyRecord,
  type DataKeyStorage,
  type RewrapReport,
} from './keyring.js';
export {
  createLocalKeyProvider,
  loadOrCreateMasterKeyFile,
  parseMasterKey,
  masterKeyVersion,
  MASTER_KEY_FILE,
  type LocalKeyProviderOptions,
  type MasterKeyFile,
} from './adapters/local.js';
export { createKmsKeyProvider, KMS_CONTEXT_USER, type KmsKeyProviderOptions } from './adapters/kms.js';
