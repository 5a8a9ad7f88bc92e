import { join } from 'node:path';
import { createEmbeddedStore, type Store } from '@pai/store';
import type { MemoryConfig } from '../config.js';

/** The store the configuration names. */
export function openStore(config: MemoryConfig): Store {
  switch (config.store.backend) {
    case 'embedded':
      return createEmbeddedStore({ path: join(config.dataDir, 'pai.db') });
  }
}
