// `npm run rebuild-index`: rebuilds the whole search index from the stored records (see README).
import { runMain } from '@pai/config';
import { openMemoryStores } from '@pai/memory';
import { loadSearchConfig } from './config.js';
import { createSearchStack } from './service.js';

const log = {
  info: (obj: object, msg: string) => console.error(JSON.stringify({ ...obj, msg })),
  warn: (obj: object, msg: string) => console.error(JSON.stringify({ level: 'warn', ...obj, msg })),
};

await runMain(async () => {
  const config = loadSearchConfig(process.env);
  const stores = await openMemoryStores(config.memory);
  const engine = createSearchStack(config, stores.sealed, log);
  try {
    await engine.index.init();
    const report = await engine.rebuild((userId, items) => log.info({ user: userId, items }, 'user re-indexed'));
    console.log(JSON.stringify({ backend: engine.index.kind, users: report.users, items: report.items, embedded: report.embedded, duration_ms: report.durationMs }));
  } finally {
    await engine.index.close();
    await stores.raw.close();
  }
});
