import { openStore as openSelectedStore, type Store } from '@pai/store';
import type { MemoryConfig } from '../config.js';

/** The memory service's store (in the embedded default, shared with the agent). */
export function openStore(config: MemoryConfig): Store {
  return openSelectedStore({ backend: config.store.backend, dataDir: config.dataDir });
}
