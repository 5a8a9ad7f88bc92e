import { join } from 'node:path';
import type { Store } from './index.js';
import { createEmbeddedStore } from './adapters/embedded.js';

export interface StoreSelection {
  backend: 'embedded';
  /** Directory of the embedded database. */
  dataDir: string;
  /** File name under dataDir; services that run apart each keep their own. */
  file?: string;
}

/** The store a service's configuration selects. */
export function openStore(selection: StoreSelection): Store {
  switch (selection.backend) {
    case 'embedded':
      return createEmbeddedStore({ path: join(selection.dataDir, selection.file ?? 'pai.db') });
  }
}
