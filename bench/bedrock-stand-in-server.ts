// The Bedrock-protocol stand-in in a process of its own, for benchmarks.
import { startBedrockStandIn } from '@pai/model-provider/testing';

const standIn = await startBedrockStandIn({ port: Number(process.env.PORT ?? 0) });
console.log(`LISTENING ${standIn.url}`);
process.on('SIGTERM', () => void standIn.close().then(() => process.exit(0)));
