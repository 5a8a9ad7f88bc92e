import { requireVariables, runMain } from '@pai/config';
import { runServer } from '@pai/service-kit';
import { loadAgentConfig } from './config.js';
import { buildApp } from './app.js';

await runMain(async () => {
  const config = loadAgentConfig(process.env);
  requireVariables('when the agent service runs on its own (use apps/embedded for one process)', {
    MEMORY_SERVICE_URL: config.memoryServiceUrl, PAI_INTERNAL_TOKEN: config.server.internalToken,
  });
  const app = await buildApp(config);
  await runServer(app, { port: config.server.port, host: config.server.host, graceMs: config.server.shutdownGraceMs });
});
