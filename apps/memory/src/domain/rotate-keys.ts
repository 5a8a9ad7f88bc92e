import type { Keyring } from '@pai/crypto';
import type { Store } from '@pai/store';

async function* allUserIds(store: Store): AsyncIterable<string> {
  let cursor: string | undefined;
  do {
    const page = await store.users.list({ limit: 100, cursor });
    for (const user of page.items) yield user.id;
    cursor = page.nextCursor ?? undefined;
  } while (cursor);
}

/**
 * Master-key rotation: re-wraps every user's data key under the key provider's current master key
 * (local: PAI_MASTER_KEY with the old key in PAI_PREVIOUS_MASTER_KEYS; KMS: the current KMS_KEY_ID).
 * Records are not touched — their data keys do not change. Safe to repeat; afterwards the old master
 * key can be dropped from the configuration.
 */
export function rotateDataKeys(store: Store, keyring: Keyring) {
  return keyring.rewrapAll(allUserIds(store), { concurrency: 4 });
}
