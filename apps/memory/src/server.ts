import { ConfigError } from '@pai/config';
import { runServer } from '@pai/service-kit';
import { loadMemoryConfig } from './config.js';
import { buildApp } from './app.js';

try {
  const config = loadMemoryConfig(process.env);
  const app = await buildApp(config);
  await runServer(app, { port: config.server.port, host: config.server.host, graceMs: config.server.shutdownGraceMs });
} catch (err) {
  if (err instanceof ConfigError) {
    console.error(err.message);
    process.exit(1);
  }
  throw err;
}
