// The floor for streaming-overhead: the smallest possible extra hop (a Fastify route that forwards to
// the model and relays the first chunk as an SSE delta, no auth, storage or validation).
import Fastify from 'fastify';
import { Agent, request } from 'undici';

const upstream = process.env.UPSTREAM!;
const dispatcher = new Agent({});
const app = Fastify({ logger: false });
app.get('/healthz', async () => ({ status: 'ok' }));
app.post('/v1/chat', async (req, reply) => {
  const res = await request(`${upstream}/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'stand-in', stream: true, messages: [{ role: 'user', content: (req.body as { message: string }).message }] }),
    dispatcher,
  });
  reply.hijack();
  reply.raw.writeHead(200, { 'content-type': 'text/event-stream' });
  for await (const chunk of res.body) {
    if (chunk.toString().includes('"content":"')) reply.raw.write('event: delta\ndata: {}\n\n');
  }
  reply.raw.end();
});
await app.listen({ port: Number(process.env.PORT ?? 0), host: '127.0.0.1' });
