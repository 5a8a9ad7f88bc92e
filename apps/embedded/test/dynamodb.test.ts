import t from 'tap';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { createRequire } from 'node:module';
import { DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';
import { createDynamoDbTables } from '@pai/store';
import { startPai } from './helper.js';

// dynalite ships no type declarations.
const dynalite = createRequire(import.meta.url)('dynalite') as (options: Record<string, number>) => Server;

process.env.AWS_ACCESS_KEY_ID = 'AKIDDYNALITE';
process.env.AWS_SECRET_ACCESS_KEY = 'dynalite-secret';

t.test('the whole system on STORE_BACKEND=dynamodb (dynalite): users, chat, memories, encryption, deletion', async (t) => {
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const client = new DynamoDBClient({ region: 'us-east-1', endpoint });
  t.teardown(() => client.destroy());
  await createDynamoDbTables(client, 'pai-test-');

  const { app, newUser } = await startPai(t, {
    env: { STORE_BACKEND: 'dynamodb', DYNAMODB_ENDPOINT: endpoint, DYNAMODB_TABLE_PREFIX: 'pai-test-', AWS_REGION: 'us-east-1' },
  });
  const ready = (await app.inject({ method: 'GET', url: '/readyz' })).json();
  t.same(ready.checks.store, { ok: true });
  const u = await newUser();
  const chat = await app.inject({ method: 'POST', url: '/v1/chat', headers: u.headers, payload: { message: 'secret-dynamo-canary says hi' } });
  t.equal(chat.statusCode, 200);
  await app.inject({ method: 'POST', url: '/v1/memories', headers: u.headers, payload: { content: 'secret-dynamo-canary memory' } });
  const again = await app.inject({ method: 'POST', url: '/v1/chat', headers: u.headers, payload: { message: 'and again', conversation_id: chat.json().conversation_id } });
  t.equal(again.statusCode, 200);
  const conv = (await app.inject({ method: 'GET', url: `/v1/conversations/${chat.json().conversation_id}`, headers: u.headers })).json();
  t.same(conv.messages.map((m: { content: string }) => m.content).slice(0, 2), ['secret-dynamo-canary says hi', 'Echo: secret-dynamo-canary says hi']);

  // Memory formation ran from the DynamoDB job queue (the stand-in's echo is not JSON: an episodic memory).
  let formed: Array<{ category: string }> = [];
  for (let i = 0; i < 100 && !formed.some((m) => m.category === 'episodic'); i++) {
    await new Promise((r) => setTimeout(r, 30));
    formed = (await app.inject({ method: 'GET', url: '/v1/memories', headers: u.headers })).json().items;
  }
  t.ok(formed.some((m) => m.category === 'episodic'), 'a memory was formed through the DynamoDB job queue');

  const items = JSON.stringify(await Promise.all(['conversations', 'memories', 'users', 'data-keys'].map(
    (table) => client.send(new ScanCommand({ TableName: `pai-test-${table}` })),
  )));
  t.notOk(items.includes('secret-dynamo-canary'), 'DynamoDB holds only ciphertext');
  t.match(items, /pe1\./, 'sealed values are there');

  const usage = (await app.inject({ method: 'GET', url: '/v1/usage', headers: u.headers })).json();
  t.ok(usage.total.requests >= 2, 'usage recorded in DynamoDB');
  const receipt = (await app.inject({ method: 'DELETE', url: '/v1/users/me', headers: u.headers })).json();
  t.match(receipt, { crypto_shredded: true, deleted: { users: 1, data_keys: 1 } });
  t.ok(receipt.deleted.messages >= 4);
});

t.test('STORE_BACKEND=dynamodb needs AWS_REGION', async (t) => {
  await t.rejects(startPai(t, { env: { STORE_BACKEND: 'dynamodb' } }), /AWS_REGION: is required with STORE_BACKEND=dynamodb/);
});
