import { KMSClient } from '@aws-sdk/client-kms';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { createKeyring, createKmsKeyProvider, createLocalKeyProvider, loadOrCreateMasterKeyFile, parseMasterKey, type Keyring, type KeyProvider } from '@pai/crypto';
import type { DataKeyStore } from '@pai/store';
import type { MemoryConfig } from '../config.js';

export interface OpenedKeyProvider {
  provider: KeyProvider;
  /** A line worth logging at start (never a key). */
  notice: string | null;
}

/** The key provider the configuration selects: the local master key (file or PAI_MASTER_KEY) or AWS KMS. */
export async function openKeyProvider(config: MemoryConfig): Promise<OpenedKeyProvider> {
  const keys = config.keys;
  switch (keys.provider) {
    case 'local': {
      // Old master keys still unwrap what they wrapped, until `rotate-keys` has re-wrapped everything.
      const previousMasterKeys = keys.previousMasterKeys.map((k, i) => parseMasterKey(k, `PAI_PREVIOUS_MASTER_KEYS[${i}]`));
      if (keys.masterKey !== undefined) {
        return { provider: createLocalKeyProvider({ masterKey: parseMasterKey(keys.masterKey), previousMasterKeys }), notice: null };
      }
      const file = await loadOrCreateMasterKeyFile(config.dataDir);
      return {
        provider: createLocalKeyProvider({ masterKey: file.key, previousMasterKeys }),
        notice: file.warning ?? (file.created ? `generated the master key at ${file.path}; back it up: without it the data cannot be read` : null),
      };
    }
    case 'kms': {
      const client = new KMSClient({
        ...(keys.region ? { region: keys.region } : {}),
        ...(keys.endpoint ? { endpoint: keys.endpoint } : {}),
        maxAttempts: 3,
        requestHandler: new NodeHttpHandler({ connectionTimeout: 3_000 }),
      });
      return { provider: createKmsKeyProvider({ client, keyId: keys.keyId }), notice: null };
    }
  }
}

export function keyringFor(provider: KeyProvider, dataKeys: DataKeyStore): Keyring {
  return createKeyring({ provider, store: dataKeys, cache: { maxEntries: 10_000, maxAgeMs: 300_000 } });
}
