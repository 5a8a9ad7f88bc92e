import { runMain } from '@pai/config';
import { runServer } from '@pai/service-kit';
import { loadEmbeddedConfig } from './config.js';
import { buildEmbeddedApp } from './app.js';

await runMain(async () => {
  const config = loadEmbeddedConfig(process.env);
  const { app, adminKeyPath } = await buildEmbeddedApp(config);
  const server = config.memory.server;
  const llm = config.agent.llm;
  const address = await runServer(app, { port: server.port, host: server.host, graceMs: server.shutdownGraceMs });
  const ready = await app.readiness.run();
  app.log.info({
    address,
    docs: `${address}/docs`,
    data_dir: config.memory.dataDir,
    admin_key: adminKeyPath ?? 'PAI_ADMIN_API_KEY',
    model: `${llm.provider} ${llm.model} at ${llm.provider === 'openai' ? llm.baseUrl : llm.endpoint ?? `Bedrock ${llm.region}`}`,
    checks: ready.checks,
  }, ready.ready ? 'PAI is ready' : 'PAI is up, but not every dependency is ready (see checks)');
});
