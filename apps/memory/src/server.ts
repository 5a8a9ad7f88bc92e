import { runMain } from '@pai/config';
import { runServer } from '@pai/service-kit';
import { loadMemoryConfig } from './config.js';
import { buildApp } from './app.js';

await runMain(async () => {
  const config = loadMemoryConfig(process.env);
  const app = await buildApp(config);
  await runServer(app, { port: config.server.port, host: config.server.host, graceMs: config.server.shutdownGraceMs });
});
