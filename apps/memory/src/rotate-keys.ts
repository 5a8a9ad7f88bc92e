// `npm run rotate-keys`: re-wraps every user's data key under the current master key (see README).
import { runMain } from '@pai/config';
import { loadMemoryConfig } from './config.js';
import { openMemoryStores } from './plugins/open-store.js';
import { rotateDataKeys } from './domain/rotate-keys.js';

await runMain(async () => {
  const stores = await openMemoryStores(loadMemoryConfig(process.env));
  try {
    const report = await rotateDataKeys(stores.raw, stores.keyring);
    console.log(JSON.stringify({ rewrapped: report.rewrapped, unchanged: report.unchanged, missing: report.missing, failed: report.failed.length }));
    for (const failure of report.failed) console.error(`user ${failure.userId}: ${String((failure.error as Error).message ?? failure.error)}`);
    process.exitCode = report.failed.length === 0 ? 0 : 1;
  } finally {
    await stores.raw.close();
  }
});
