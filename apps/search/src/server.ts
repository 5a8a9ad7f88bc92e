import { ConfigError } from '@pai/config';
import { runServer } from '@pai/service-kit';
import { loadSearchConfig } from './config.js';
import { buildApp } from './app.js';

try {
  const config = loadSearchConfig(process.env);
  if (config.memoryServiceUrl === undefined || config.server.internalToken === undefined) {
    throw new ConfigError('Invalid configuration: MEMORY_SERVICE_URL and PAI_INTERNAL_TOKEN are required when the search service runs on its own (use apps/embedded for one process)');
  }
  const app = await buildApp(config);
  await runServer(app, { port: config.server.port, host: config.server.host, graceMs: config.server.shutdownGraceMs });
} catch (err) {
  if (err instanceof ConfigError) {
    console.error(err.message);
    process.exit(1);
  }
  throw err;
}
