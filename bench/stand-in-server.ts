// The OpenAI-compatible stand-in in a process of its own, for benchmarks.
import { startOpenAiStandIn } from '@pai/model-provider/testing';

const standIn = await startOpenAiStandIn({ port: Number(process.env.PORT ?? 0) });
console.log(`LISTENING ${standIn.url}`);
process.on('SIGTERM', () => void standIn.close().then(() => process.exit(0)));
