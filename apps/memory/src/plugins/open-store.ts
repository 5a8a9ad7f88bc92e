import type { Keyring, KeyProvider } from '@pai/crypto';
import { openStore as openSelectedStore, type Store } from '@pai/store';
import type { MemoryConfig } from '../config.js';
import { keyringFor, openKeyProvider } from './key-provider.js';
import { createSealedStore } from './sealed-store.js';

export interface MemoryStores {
  /** The adapter itself (ciphertext in, ciphertext out). */
  raw: Store;
  /** What the memory service uses: user content sealed with each user's data key. */
  sealed: Store;
  keyring: Keyring;
  keyProvider: KeyProvider;
  /** A line worth logging at start (e.g. a master key was generated), never a key. */
  notice: string | null;
}

/** The memory service's store (in the embedded default, shared with the agent) behind its encryption layer. */
export async function openMemoryStores(config: MemoryConfig, raw?: Store): Promise<MemoryStores> {
  const store = raw ?? openSelectedStore(config.store.backend === 'dynamodb' ? config.store : { backend: 'embedded', dataDir: config.dataDir });
  const { provider, notice } = await openKeyProvider(config);
  const keyring = keyringFor(provider, store.dataKeys);
  return { raw: store, sealed: createSealedStore(store, keyring), keyring, keyProvider: provider, notice };
}
