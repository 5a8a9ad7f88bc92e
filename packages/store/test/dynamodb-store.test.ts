import t from 'tap';
import type { Test } from 'tap';
import { createRequire } from 'node:module';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DescribeTableCommand, DynamoDBClient, ListTablesCommand, QueryCommand, ScanCommand } from '@aws-sdk/client-dynamodb';
import { newId } from '@pai/ids';
import { createDynamoDbJobQueue, createDynamoDbStore, createDynamoDbTables } from '@pai/store';
import type {
  AgentRecord, AgentVersionRecord, ApiKeyRecord, ChunkRecord, ConversationRecord, DocumentRecord, MemoryRecord, MessageRecord, Store, UserRecord,
} from '@pai/store';
import { EMPTY_RECEIPT, runJobQueueContract, runStoreContract } from '@pai/store/testing';

interface DynaliteOptions { path?: string; createTableMs?: number; deleteTableMs?: number; updateTableMs?: number }
// dynalite ships no type declarations.
const dynalite = createRequire(import.meta.url)('dynalite') as (options: DynaliteOptions) => Server;

/** An in-memory dynalite on a free port. */
async function startDynalite(): Promise<{ endpoint: string; stop: () => Promise<void> }> {
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  let stopped = false;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    stop: () => {
      if (stopped) return Promise.resolve();
      stopped = true;
      return new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}

const clientFor = (endpoint: string) => new DynamoDBClient({
  endpoint, region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' }, maxAttempts: 1,
});

const WRITES = new Set(['PutItemCommand', 'UpdateItemCommand', 'DeleteItemCommand', 'BatchWriteItemCommand']);

/**
 * Fault injection at the SDK's middleware stack (shared by the document client the store wraps it
 * in): the n-th write from now fails as a dropped connection would, after the writes before it landed.
 */
function injectFaults(client: DynamoDBClient) {
  let failAt = 0;
  let writes = 0;
  let unprocessedRounds = 0;
  const calls = new Map<string, number>();
  client.middlewareStack.add((next, context) => async (args) => {
    const command = String(context.commandName);
    calls.set(command, (calls.get(command) ?? 0) + 1);
    if (WRITES.has(command) && failAt > 0 && ++writes === failAt) {
      failAt = 0;
      throw Object.assign(new Error('injected fault: socket hang up'), { name: 'TimeoutError', code: 'ECONNRESET' });
    }
    // Throttling: DynamoDB processes only the first request of a batch and hands the rest back.
    const input = args.input as { RequestItems?: Record<string, unknown[]> };
    if (command === 'BatchWriteItemCommand' && unprocessedRounds > 0 && input.RequestItems) {
      const [table, requests] = Object.entries(input.RequestItems)[0]!;
      if (requests.length > 1) {
        unprocessedRounds--;
        const result = await next({ ...args, input: { ...input, RequestItems: { [table]: requests.slice(0, 1) } } });
        (result.output as { UnprocessedItems?: unknown }).UnprocessedItems = { [table]: requests.slice(1) };
        return result;
      }
    }
    return next(args);
  }, { step: 'initialize', name: 'testFaultInjection' });
  return {
    failNthWrite(n: number) {
      failAt = n;
      writes = 0;
    },
    /** True when the planned failure did not happen: the operation needed fewer writes. */
    get pending() {
      return failAt > 0;
    },
    clear() {
      failAt = 0;
    },
    leaveUnprocessed(rounds: number) {
      unprocessedRounds = rounds;
    },
    count: (command: string) => calls.get(command) ?? 0,
  };
}

const db = await startDynalite();
const client = clientFor(db.endpoint);
const faults = injectFaults(client);
t.teardown(async () => {
  client.destroy();
  await db.stop();
});

let prefixes = 0;
async function freshStore(options: { queryPageSize?: number } = {}): Promise<{ store: Store; tablePrefix: string }> {
  const tablePrefix = `pai-test-${prefixes++}-`;
  await createDynamoDbTables(client, tablePrefix);
  return { store: createDynamoDbStore({ client, tablePrefix, ...options }), tablePrefix };
}

t.test('contract', async (t) => {
  runStoreContract(t, async () => (await freshStore()).store);
});

t.test('contract, with every Query read one item at a time (DynamoDB page boundaries everywhere)', async (t) => {
  runStoreContract(t, async () => (await freshStore({ queryPageSize: 1 })).store);
});

t.test('job queue contract', async (t) => {
  runJobQueueContract(t, async () => {
    const { tablePrefix } = await freshStore();
    return { open: (now) => createDynamoDbJobQueue({ client, tablePrefix, now }) };
  });
});

t.test('job queue contract, with every Query read one item at a time', async (t) => {
  runJobQueueContract(t, async () => {
    const { tablePrefix } = await freshStore();
    return { open: (now) => createDynamoDbJobQueue({ client, tablePrefix, now, queryPageSize: 1 }) };
  });
});

const now = () => new Date().toISOString();
const user = (name = 'u'): UserRecord => ({ id: newId('usr'), name, createdAt: now() });
const conversation = (userId: string): ConversationRecord => ({
  id: newId('conv'), userId, title: null, agentId: 'default', createdAt: now(), updatedAt: now(),
});
const message = (c: ConversationRecord, content: string): MessageRecord => ({
  id: newId('msg'), conversationId: c.id, userId: c.userId, role: 'user', content, incomplete: false, createdAt: now(),
});
const apiKey = (userId: string): ApiKeyRecord => ({
  id: newId('key'), userId, keyHash: `hash-${newId('key')}`, prefix: 'pai_x', name: null, createdAt: now(), revokedAt: null,
});
const memory = (userId: string, content: string, over: Partial<MemoryRecord> = {}): MemoryRecord => ({
  id: newId('mem'), userId, content, category: 'fact', importance: 0.5, sourceMessageId: null, supersededBy: null,
  expiresAt: null, createdAt: now(), updatedAt: now(), ...over,
});

const documentOf = (userId: string, title = 'doc'): DocumentRecord => ({
  id: newId('doc'), userId, title, contentType: 'text/plain', sizeBytes: 10, status: 'pending', error: null, chunksTotal: 0, chunksIndexed: 0,
  createdAt: now(), updatedAt: now(),
});
const chunksOf = (d: DocumentRecord, n: number, text = 'text'): ChunkRecord[] => Array.from({ length: n }, (_, ordinal) => ({
  id: newId('chk'), documentId: d.id, userId: d.userId, ordinal, content: `${text} ${ordinal}`, heading: null, tokenCount: 3,
}));
const agentOf = (userId: string, id: string): AgentRecord => ({
  id, userId, name: id, description: null, routing: {}, latestVersion: 0, createdAt: now(), updatedAt: now(),
});
const versionOf = (userId: string, agentId: string): Omit<AgentVersionRecord, 'version'> => ({
  agentId, userId, systemPrompt: 'p', model: 'm', temperature: null, maxTokens: null, judge: null, createdAt: now(),
});

interface FailureDrill {
  /** Prepares one attempt (no faults injected). */
  setup?: (n: number) => Promise<void>;
  /** The operation under test; its n-th write fails. */
  run: (n: number) => Promise<unknown>;
  /** What readers see after the failure, and that repeating the operation completes it. */
  check: (n: number) => Promise<void>;
}

/**
 * Runs the operation with its 1st, 2nd, … write failing, until it needs fewer writes than that.
 * Returns how many failure points there were.
 */
async function everyFailurePoint(t: Test, name: string, drill: FailureDrill): Promise<number> {
  for (let n = 1; n < 100; n++) {
    await drill.setup?.(n);
    faults.failNthWrite(n);
    const outcome = await drill.run(n).then(() => null, (error: unknown) => error);
    if (faults.pending) {
      faults.clear();
      t.equal(outcome, null, `${name}: succeeds when no write fails`);
      return n - 1;
    }
    t.match(outcome, { code: 'PAI_STORE_UNAVAILABLE', statusCode: 503 }, `${name}: write ${n} fails as PAI_STORE_UNAVAILABLE`);
    await drill.check(n);
  }
  throw new Error('the operation never completed');
}

t.test('crash safety (no transactions): a failure between writes leaves nothing half-visible', async (t) => {
  const { store, tablePrefix } = await freshStore({ queryPageSize: 2 });
  t.teardown(() => store.close());
  const rawItems = async (table: string) =>
    (await client.send(new ScanCommand({ TableName: `${tablePrefix}${table}`, ConsistentRead: true }))).Items ?? [];

  t.test('createWithMessage: no conversation and no message until the last write; the retry completes', async (t) => {
    const u = user();
    await store.users.create(u);
    const pending = new Map<number, [ConversationRecord, MessageRecord]>();
    const points = await everyFailurePoint(t, 'createWithMessage', {
      run: (n) => {
        const c = conversation(u.id);
        const m = message(c, `first ${n}`);
        pending.set(n, [c, m]);
        return store.conversations.createWithMessage(c, m);
      },
      check: async (n) => {
        const [c, m] = pending.get(n)!;
        t.equal(await store.conversations.get(u.id, c.id), null, `write ${n}: no conversation`);
        t.notOk((await store.conversations.list(u.id, { limit: 100 })).items.some((x) => x.id === c.id), 'nor in the listing');
        t.equal(await store.conversations.getMessage(u.id, m.id), null, 'no message by id');
        t.same((await store.conversations.listMessages(u.id, c.id, { limit: 10 })).items, [], 'no message in the conversation');
        t.same(await store.conversations.recentMessages(u.id, c.id, 10), []);
        await store.conversations.createWithMessage(c, m);
        t.same(await store.conversations.get(u.id, c.id), c, 'the same call again completes it');
        t.same((await store.conversations.listMessages(u.id, c.id, { limit: 10 })).items, [m]);
        t.same(await store.conversations.getMessage(u.id, m.id), m);
      },
    });
    t.equal(points, 3, 'id claim, message, conversation');
  });

  t.test('appendMessage: the message appears whole or not at all; the retry completes, order kept', async (t) => {
    const u = user();
    await store.users.create(u);
    const c = conversation(u.id);
    const first = message(c, 'm0');
    await store.conversations.createWithMessage(c, first);
    const appended: MessageRecord[] = [first];
    const pending = new Map<number, MessageRecord>();
    const points = await everyFailurePoint(t, 'appendMessage', {
      run: async (n) => {
        const m = message(c, `m${n}`);
        pending.set(n, m);
        await store.conversations.appendMessage(m);
        appended.push(m);
      },
      check: async (n) => {
        const m = pending.get(n)!;
        t.same((await store.conversations.listMessages(u.id, c.id, { limit: 100 })).items, appended, `write ${n}: only the earlier messages`);
        t.equal(await store.conversations.getMessage(u.id, m.id), null);
        if (n === 3) {
          await t.rejects(store.conversations.appendMessage({ ...m, content: 'another record, same id' }), { code: 'PAI_MESSAGE_CONFLICT' },
            'the claimed id is not given to a different record');
        }
        await store.conversations.appendMessage(m);
        appended.push(m);
        t.same(await store.conversations.getMessage(u.id, m.id), m, 'the same call again completes it');
      },
    });
    t.equal(points, 3, 'slot, id claim, message');
    const last = message(c, 'last');
    await store.conversations.appendMessage(last);
    appended.push(last);
    t.same((await store.conversations.listMessages(u.id, c.id, { limit: 100 })).items, appended, 'insertion order, each message once');
    await t.rejects(store.conversations.appendMessage(last), { code: 'PAI_MESSAGE_CONFLICT' }, 'a completed message is a conflict');
  });

  t.test('apiKeys.create: the key is unusable and unlisted until both items exist', async (t) => {
    const u = user();
    await store.users.create(u);
    const pending = new Map<number, ApiKeyRecord>();
    const points = await everyFailurePoint(t, 'apiKeys.create', {
      run: (n) => {
        const key = apiKey(u.id);
        pending.set(n, key);
        return store.apiKeys.create(key);
      },
      check: async (n) => {
        const key = pending.get(n)!;
        t.equal(await store.apiKeys.findActiveByHash(key.keyHash), null, `write ${n}: the key does not authenticate`);
        t.equal(await store.apiKeys.get(key.id), null);
        t.notOk((await store.apiKeys.listForUser(u.id, { limit: 100 })).items.some((k) => k.id === key.id), 'nor is it listed');
        await store.apiKeys.create(key);
        t.same(await store.apiKeys.findActiveByHash(key.keyHash), key, 'the same call again completes it');
      },
    });
    t.equal(points, 2, 'hash pointer, key');
  });

  t.test('conversations.delete: everything disappears with the first write; a repeat finishes the sweep', async (t) => {
    const u = user();
    await store.users.create(u);
    const made = new Map<number, [ConversationRecord, MessageRecord[]]>();
    const make = async (n: number) => {
      const c = conversation(u.id);
      const messages = [message(c, 'm0')];
      await store.conversations.createWithMessage(c, messages[0]!);
      // 14 messages and their 14 id claims: more than one BatchWriteItem (25 requests each).
      for (let i = 1; i < 14; i++) {
        const m = message(c, `m${i}`);
        await store.conversations.appendMessage(m);
        messages.push(m);
      }
      made.set(n, [c, messages]);
    };
    const traces = async (c: ConversationRecord) => {
      const items = await rawItems('conversations');
      return items.filter((item) => JSON.stringify(item).includes(c.id)).length;
    };
    const points = await everyFailurePoint(t, 'conversations.delete', {
      setup: (n) => make(n),
      run: (n) => store.conversations.delete(u.id, made.get(n)![0].id),
      check: async (n) => {
        const [c, messages] = made.get(n)!;
        if (n === 1) {
          t.equal((await store.conversations.get(u.id, c.id))?.id, c.id, 'write 1 failed: nothing changed');
          t.equal((await store.conversations.listMessages(u.id, c.id, { limit: 100 })).items.length, messages.length);
          t.equal(await store.conversations.delete(u.id, c.id), true);
        } else {
          t.equal(await store.conversations.get(u.id, c.id), null, `write ${n} failed: the conversation is gone`);
          t.same((await store.conversations.listMessages(u.id, c.id, { limit: 100 })).items, [], 'its remaining messages are invisible');
          for (const m of messages) t.equal(await store.conversations.getMessage(u.id, m.id), null);
          t.ok((await traces(c)) > 0, 'some items were left for the repeat');
          t.equal(await store.conversations.delete(u.id, c.id), false, 'a repeat answers not found');
        }
        t.equal(await traces(c), 0, 'and leaves no item behind');
      },
    });
    t.equal(points, 3, 'the conversation item, the claims, the messages');
  });

  t.test('purgeUser: keys stop working at the first write; a repeat removes the rest', async (t) => {
    const bystander = user('bystander');
    await store.users.create(bystander);
    const bystanderKey = apiKey(bystander.id);
    await store.apiKeys.create(bystanderKey);
    const tables = ['users', 'data-keys', 'conversations', 'memories', 'usage', 'documents', 'agents'];
    const populate = async () => {
      const u = user('doomed');
      await store.users.create(u);
      const userKeys = [apiKey(u.id), apiKey(u.id)];
      for (const key of userKeys) await store.apiKeys.create(key);
      for (let i = 0; i < 2; i++) {
        const c = conversation(u.id);
        await store.conversations.createWithMessage(c, message(c, 'hello'));
        await store.conversations.appendMessage(message(c, 'more'));
      }
      for (let i = 0; i < 3; i++) await store.memories.create(memory(u.id, `fact ${i}`));
      for (let i = 0; i < 2; i++) {
        await store.usage.record({ id: newId('req'), userId: u.id, at: now(), day: now().slice(0, 10), conversationId: null, agentId: 'default',
          agentVersion: 1, provider: 'openai', model: 'm', inputTokens: 1, outputTokens: 1, costUsd: 0, estimated: false });
      }
      await store.dataKeys.putIfAbsent({ userId: u.id, wrapped: 'w', keyId: 'k', createdAt: now() });
      for (let i = 0; i < 2; i++) {
        const d = documentOf(u.id);
        await store.documents.createWithChunks(d, chunksOf(d, 3));
      }
      await store.agents.create(agentOf(u.id, 'helper'));
      await store.agents.addVersion(versionOf(u.id, 'helper'));
      await store.agents.recordRun({ id: newId('req'), userId: u.id, agentId: 'helper', version: 1, at: now(), conversationId: null, ok: true,
        errorCode: null, latencyMs: 1, ttftMs: 1, inputTokens: 1, outputTokens: 1, costUsd: 0, score: null, passed: null, attempts: [] });
      return { u, userKeys };
    };
    const full = { users: 1, apiKeys: 2, conversations: 2, messages: 4, memories: 3, usage: 2, dataKeys: 1, documents: 2, chunks: 6, agents: 1 };
    const traces = async (userId: string) => {
      let found = 0;
      for (const table of tables) found += (await rawItems(table)).filter((item) => JSON.stringify(item).includes(userId)).length;
      return found;
    };
    let current: Awaited<ReturnType<typeof populate>> | undefined;
    const points = await everyFailurePoint(t, 'purgeUser', {
      setup: async () => {
        current = await populate();
      },
      run: () => store.purgeUser(current!.u.id),
      check: async (n) => {
        const { u, userKeys } = current!;
        if (n > 1) {
          t.equal(await store.users.get(u.id), null, `write ${n} failed: the user is already gone`);
          for (const key of userKeys) t.equal(await store.apiKeys.findActiveByHash(key.keyHash), null, 'and their keys refused');
        }
        const receipt = await store.purgeUser(u.id);
        if (n === 1) t.same(receipt, full, 'nothing had been removed, so the repeat removes and counts it all');
        for (const kind of Object.keys(full) as (keyof typeof full)[]) t.ok(receipt[kind] <= full[kind]);
        t.equal(await traces(u.id), 0, 'the repeat leaves no item of the user in any table');
        t.same(await store.purgeUser(u.id), EMPTY_RECEIPT);
      },
    });
    t.equal(points, 14, 'user, data key, key pointers, two keys, conversations, claims, messages, memories, usage, documents, chunks, agents, '
      + 'the rest of the agents partition');
    t.equal(await traces(current!.u.id), 0);
    t.same(await store.apiKeys.findActiveByHash(bystanderKey.keyHash), bystanderKey, 'another user is untouched');
  });

  t.test('documents.createWithChunks: nothing visible until the document item; the retry completes, leftovers go', async (t) => {
    const u = user();
    const pending = new Map<number, [DocumentRecord, ChunkRecord[]]>();
    const points = await everyFailurePoint(t, 'createWithChunks', {
      run: (n) => {
        const d = documentOf(u.id, `doc ${n}`);
        // 30 chunks: two BatchWriteItem calls.
        const chunks = chunksOf(d, 30);
        pending.set(n, [d, chunks]);
        return store.documents.createWithChunks(d, chunks);
      },
      check: async (n) => {
        const [d, chunks] = pending.get(n)!;
        t.equal(await store.documents.get(u.id, d.id), null, `write ${n}: no document`);
        t.notOk((await store.documents.list(u.id, { limit: 100 })).items.some((x) => x.id === d.id), 'nor in the listing');
        t.same((await store.documents.listChunks(u.id, d.id, { limit: 100 })).items, [], 'no chunk listed');
        t.same(await store.documents.getChunks(u.id, chunks.map((c) => c.id)), [], 'no chunk by id');
        if (n === 2) {
          // Re-chunked differently: the 25 chunks the failed attempt wrote must not show under the new document.
          const fewer = chunksOf(d, 10, 'rechunked');
          await store.documents.createWithChunks(d, fewer);
          t.same((await store.documents.listChunks(u.id, d.id, { limit: 100 })).items, fewer, 'only the chunks of the call that completed');
          t.same(await store.documents.getChunks(u.id, chunks.map((c) => c.id)), [], "the failed attempt's chunk ids are gone");
          const items = (await rawItems('documents')).filter((item) => JSON.stringify(item).includes(d.id));
          t.equal(items.length, 11, 'the document and its 10 chunks, nothing else');
          return;
        }
        await store.documents.createWithChunks(d, chunks);
        t.same(await store.documents.get(u.id, d.id), d, 'the same call again completes it');
        t.same((await store.documents.listChunks(u.id, d.id, { limit: 100 })).items, chunks);
      },
    });
    t.equal(points, 3, 'two batches of chunks, the document');
  });

  t.test('documents.delete: the document and its chunks disappear with the first write; a repeat finishes the sweep', async (t) => {
    const u = user();
    const made = new Map<number, [DocumentRecord, ChunkRecord[]]>();
    const traces = async (d: DocumentRecord) => (await rawItems('documents')).filter((item) => JSON.stringify(item).includes(d.id)).length;
    const points = await everyFailurePoint(t, 'documents.delete', {
      setup: async (n) => {
        const d = documentOf(u.id);
        const chunks = chunksOf(d, 30);
        await store.documents.createWithChunks(d, chunks);
        made.set(n, [d, chunks]);
      },
      run: (n) => store.documents.delete(u.id, made.get(n)![0].id),
      check: async (n) => {
        const [d, chunks] = made.get(n)!;
        if (n === 1) {
          t.same(await store.documents.get(u.id, d.id), d, 'write 1 failed: nothing changed');
          t.equal(await store.documents.delete(u.id, d.id), true);
        } else {
          t.equal(await store.documents.get(u.id, d.id), null, `write ${n} failed: the document is gone`);
          t.same((await store.documents.listChunks(u.id, d.id, { limit: 100 })).items, [], 'its remaining chunks are not listed');
          t.same(await store.documents.getChunks(u.id, chunks.map((c) => c.id)), [], 'nor found by id');
          t.ok((await traces(d)) > 0, 'some items were left for the repeat');
          t.equal(await store.documents.delete(u.id, d.id), false, 'a repeat answers not found');
        }
        t.equal(await traces(d), 0, 'and leaves no item behind');
      },
    });
    t.equal(points, 3, 'the document, two batches of chunks');
  });

  t.test('agents.addVersion: a failure leaves a gap or an unrouted version, never weights naming a missing version', async (t) => {
    const u = user();
    const agentId = 'drilled';
    await store.agents.create(agentOf(u.id, agentId));
    const routingIsSound = async (label: string) => {
      const agent = (await store.agents.get(u.id, agentId))!;
      for (const version of Object.keys(agent.routing)) {
        t.ok(await store.agents.getVersion(u.id, agentId, Number(version)), `${label}: routed version ${version} exists`);
      }
      return agent;
    };
    const points = await everyFailurePoint(t, 'addVersion', {
      // Each attempt routes its own version: every one of them has three writes.
      run: async () => {
        const before = (await store.agents.get(u.id, agentId))!.latestVersion;
        await store.agents.addVersion(versionOf(u.id, agentId), { [String(before + 1)]: 100 });
      },
      check: async (n) => {
        const agent = await routingIsSound(`write ${n} failed`);
        const versions = (await store.agents.listVersions(u.id, agentId)).map((v) => v.version);
        t.same(versions, [...new Set(versions)].sort((x, y) => x - y), 'each number once, in order');
        if (n === 1) t.notOk(versions.includes(agent.latestVersion + 1), 'write 1 failed: no number taken');
        if (n === 2) {
          t.notOk(versions.includes(agent.latestVersion), 'write 2 failed: the reserved number is a gap');
          t.equal(await store.agents.getVersion(u.id, agentId, agent.latestVersion), null);
        }
        if (n === 3) t.ok(versions.includes(agent.latestVersion), 'write 3 failed: the version exists, unrouted');
        const next = await store.agents.addVersion(versionOf(u.id, agentId), { [String(agent.latestVersion + 1)]: 100 });
        t.equal(next.version, agent.latestVersion + 1, 'the next call takes the next number');
        t.same((await routingIsSound('after the retry')).routing, { [String(next.version)]: 100 });
      },
    });
    t.equal(points, 3, 'the number, the version, the weights');
  });

  t.test('batch deletes retry what DynamoDB leaves unprocessed', async (t) => {
    const u = user();
    await store.users.create(u);
    for (let i = 0; i < 6; i++) await store.memories.create(memory(u.id, `m${i}`));
    const before = faults.count('BatchWriteItemCommand');
    faults.leaveUnprocessed(3);
    const receipt = await store.purgeUser(u.id);
    faults.leaveUnprocessed(0);
    t.equal(receipt.memories, 6);
    t.ok(faults.count('BatchWriteItemCommand') - before >= 4, 'the unprocessed deletes were sent again');
    t.same((await store.memories.list(u.id, { limit: 10, now: now() })).items, []);
    t.equal((await rawItems('memories')).filter((item) => JSON.stringify(item).includes(u.id)).length, 0);
  });
});

t.test('job queue: items, failed writes, and an enqueue racing a purge of the same user', async (t) => {
  const { tablePrefix } = await freshStore();
  const table = `${tablePrefix}memories`;
  const rawItems = async () => (await client.send(new ScanCommand({ TableName: table, ConsistentRead: true }))).Items ?? [];
  const traces = async (text: string) => (await rawItems()).filter((item) => JSON.stringify(item).includes(text)).length;
  const queue = createDynamoDbJobQueue({ client, tablePrefix });
  t.teardown(() => queue.close());

  t.test('a job is two items: the job (gsi1 per kind) and a pointer in its user\'s partition, none under USER#', async (t) => {
    const u = newId('usr');
    await queue.enqueue({ id: 'job_layout', kind: 'formation', userId: u, payload: { message_id: 'msg_1' } });
    const items = (await rawItems()).filter((item) => JSON.stringify(item).includes(u));
    t.equal(items.length, 2);
    const job = items.find((i) => i.pk!.S === 'JOB#job_layout')!;
    t.match(job, { sk: { S: 'JOB' }, gsi1pk: { S: 'JOBS#formation' }, gsi1sk: { S: /^\d{4}-.*Z#job_layout$/ }, attempts: { N: '0' }, userId: { S: u } });
    t.ok(items.some((i) => i.pk!.S === `JOBUSER#${u}` && i.sk!.S === 'JOB#job_layout'), 'the pointer');
    const store = createDynamoDbStore({ client, tablePrefix });
    t.same(await store.purgeUser(u), EMPTY_RECEIPT, "the store's purge does not count jobs as memories");
    t.equal(await queue.purgeUser(u), 1);
    t.equal(await traces(u), 0);
  });

  t.test('a failed write leaves no job without its pointer; purge removes what is left', async (t) => {
    for (const n of [1, 2]) {
      const u = newId('usr');
      faults.failNthWrite(n);
      await t.rejects(queue.enqueue({ id: newId('req'), kind: 'failing', userId: u, payload: {} }), { code: 'PAI_STORE_UNAVAILABLE' });
      t.same(await queue.claim('failing', 1000, 5), [], `enqueue failing at write ${n}: nothing to claim`);
      t.equal(await queue.purgeUser(u), 0);
      t.equal(await traces(u), 0, 'and no item is left');
    }
    const u = newId('usr');
    const id = newId('req');
    await queue.enqueue({ id, kind: 'failing', userId: u, payload: {} });
    await queue.claim('failing', 1000, 1);
    faults.failNthWrite(2);
    await t.rejects(queue.complete(id), { code: 'PAI_STORE_UNAVAILABLE' });
    t.equal(await queue.size('failing'), 0, 'complete failing at its second write: the job is gone');
    t.equal(await traces(u), 1, 'its pointer is left');
    t.equal(await queue.purgeUser(u), 0);
    t.equal(await traces(u), 0);
    faults.clear();
  });

  /**
   * Two clients on the same dynalite, so that the enqueue can be held before the request that matches
   * `holdEnqueueAt` while the purge runs (or runs partly: `holdPurgeAt`).
   */
  async function race(t: Test, holdEnqueueAt: string, holdPurgeAt?: string) {
    const enqueueClient = clientFor(db.endpoint);
    const purgeClient = clientFor(db.endpoint);
    t.teardown(() => {
      enqueueClient.destroy();
      purgeClient.destroy();
    });
    const hold = (c: DynamoDBClient, at: string, whileHeld: () => Promise<unknown>) => {
      let done = false;
      c.middlewareStack.add((next, context) => async (args) => {
        if (!done && `${String(context.commandName)} ${JSON.stringify(args.input)}`.includes(at)) {
          done = true;
          await whileHeld();
        }
        return next(args);
      }, { step: 'initialize', name: 'holdForRace' });
    };
    const u = newId('usr');
    const id = newId('req');
    const enqueuer = createDynamoDbJobQueue({ client: enqueueClient, tablePrefix });
    const purger = createDynamoDbJobQueue({ client: purgeClient, tablePrefix });
    let enqueued: Promise<void> | undefined;
    let purged: Promise<number> | undefined;
    if (holdPurgeAt === undefined) {
      hold(enqueueClient, holdEnqueueAt, () => (purged = purger.purgeUser(u)));
      await enqueuer.enqueue({ id, kind: 'racing', userId: u, payload: {} });
    } else {
      // The purge starts once the pointer is written and pauses at `holdPurgeAt` until the enqueue is done.
      let letEnqueueGo: () => void = () => {};
      const enqueueMayGo = new Promise<void>((resolve) => (letEnqueueGo = resolve));
      hold(enqueueClient, holdEnqueueAt, () => {
        purged = purger.purgeUser(u);
        return enqueueMayGo;
      });
      hold(purgeClient, holdPurgeAt, () => {
        letEnqueueGo();
        return enqueued!;
      });
      enqueued = enqueuer.enqueue({ id, kind: 'racing', userId: u, payload: {} });
      await enqueued;
    }
    const removed = await purged!;
    t.same(await queue.claim('racing', 1000, 5), [], 'nothing to claim');
    t.equal(await traces(u), 0, 'no item of the user is left');
    t.equal(await queue.purgeUser(u), 0);
    return removed;
  }

  t.test('the whole purge between the pointer and the job: the enqueue removes its job', async (t) => {
    t.equal(await race(t, 'PutItemCommand {"TableName":"' + table + '","Item":{"pk":"JOB#'), 0);
  });
  t.test('the whole purge between the job and the pointer check: the purge removes the job', async (t) => {
    t.equal(await race(t, 'GetItemCommand'), 1);
  });
  t.test("the purge's first pass before the job is written, its pointer delete after the check: the second pass removes it", async (t) => {
    t.equal(await race(t, 'PutItemCommand {"TableName":"' + table + '","Item":{"pk":"JOB#', 'BatchWriteItemCommand'), 1);
  });
});

t.test('a document of 2,000 chunks is written in batches, retrying unprocessed puts', async (t) => {
  const { store, tablePrefix } = await freshStore();
  t.teardown(() => store.close());
  const u = user();
  const d = documentOf(u.id, 'big');
  const chunks = chunksOf(d, 2000);
  const before = faults.count('BatchWriteItemCommand');
  faults.leaveUnprocessed(3);
  await store.documents.createWithChunks(d, chunks);
  faults.leaveUnprocessed(0);
  t.ok(faults.count('BatchWriteItemCommand') - before >= 80 + 3, '80 batches of 25, and the unprocessed ones again');
  const listed: ChunkRecord[] = [];
  let cursor: string | undefined;
  do {
    const page = await store.documents.listChunks(u.id, d.id, { limit: 500, cursor });
    listed.push(...page.items);
    cursor = page.nextCursor ?? undefined;
  } while (cursor);
  t.same(listed, chunks, 'every chunk, by ordinal');
  t.same(await store.purgeUser(u.id), { ...EMPTY_RECEIPT, documents: 1, chunks: 2000 });
  const left = (await client.send(new ScanCommand({ TableName: `${tablePrefix}documents`, ConsistentRead: true }))).Items ?? [];
  t.equal(left.length, 0, 'the purge left no item');
});

t.test('listings fill whole pages when DynamoDB pages hold only filtered-out items', async (t) => {
  const { store } = await freshStore({ queryPageSize: 2 });
  t.teardown(() => store.close());
  const u = user();
  await store.users.create(u);
  const visible: MemoryRecord[] = [];
  for (let i = 0; i < 5; i++) {
    const m = memory(u.id, `visible ${i}`);
    await store.memories.create(m);
    visible.unshift(m);
  }
  // The newest rows (the first DynamoDB reads) are all hidden: superseded or expired.
  for (let i = 0; i < 6; i++) {
    await store.memories.create(memory(u.id, `hidden ${i}`, i % 2 ? { supersededBy: 'mem_newer' } : { expiresAt: '2001-01-01T00:00:00.000Z' }));
  }
  const queriesBefore = faults.count('QueryCommand');
  const at = now();
  const p1 = await store.memories.list(u.id, { limit: 2, now: at });
  t.same(p1.items.map((m) => m.content), ['visible 4', 'visible 3'], 'a full first page despite three empty DynamoDB pages');
  t.ok(faults.count('QueryCommand') - queriesBefore >= 4, 'it took several Query requests');
  const p2 = await store.memories.list(u.id, { limit: 2, now: at, cursor: p1.nextCursor! });
  const p3 = await store.memories.list(u.id, { limit: 2, now: at, cursor: p2.nextCursor! });
  t.same([...p2.items, ...p3.items].map((m) => m.content), ['visible 2', 'visible 1', 'visible 0']);
  t.equal(p3.nextCursor, null);
  const all = await store.memories.list(u.id, { limit: 100, now: at, includeSuperseded: true });
  t.equal(all.items.length, 8, 'superseded ones are listed on request; expired ones never');

  const c = conversation(u.id);
  await store.conversations.createWithMessage(c, message(c, 'm0'));
  for (let i = 1; i < 7; i++) await store.conversations.appendMessage(message(c, `m${i}`));
  const seen: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await store.conversations.listMessages(u.id, c.id, { limit: 3, cursor });
    t.ok(page.items.length === 3 || page.nextCursor === null, 'every page but the last is full');
    seen.push(...page.items.map((m) => m.content));
    cursor = page.nextCursor ?? undefined;
  } while (cursor);
  t.same(seen, ['m0', 'm1', 'm2', 'm3', 'm4', 'm5', 'm6']);
  await t.rejects(store.conversations.listMessages(u.id, c.id, { limit: 3, cursor: Buffer.from(JSON.stringify({ s: `messages:${c.id}`, k: -5 })).toString('base64url') }),
    { code: 'PAI_REQUEST_INVALID_CURSOR' }, 'a forged cursor is refused');
});

t.test('documents and agents: their items and keys', async (t) => {
  const { store, tablePrefix } = await freshStore();
  t.teardown(() => store.close());
  const scan = async (table: string) =>
    (await client.send(new ScanCommand({ TableName: `${tablePrefix}${table}`, ConsistentRead: true }))).Items ?? [];
  const u = user();
  const d = documentOf(u.id);
  const chunks = chunksOf(d, 12);
  await store.documents.createWithChunks(d, chunks);
  const items = await scan('documents');
  t.equal(items.length, 13);
  t.match(items.find((i) => i.sk!.S === `DOC#${d.id}`), { pk: { S: `USER#${u.id}` }, status: { S: 'pending' } });
  t.notOk(items.find((i) => i.sk!.S === `DOC#${d.id}`)!.gsi1pk, 'documents are not in gsi1');
  t.match(items.find((i) => i.sk!.S === `CHUNK#${d.id}#00000011`), {
    pk: { S: `USER#${u.id}` }, gsi1pk: { S: `CHUNKIDS#${u.id}` }, gsi1sk: { S: chunks[11]!.id }, ordinal: { N: '11' },
  });
  await t.rejects(store.documents.listChunks(u.id, d.id, { limit: 3, cursor: Buffer.from(JSON.stringify({ s: `chunks:${u.id}:${d.id}`, k: -2 })).toString('base64url') }),
    { code: 'PAI_REQUEST_INVALID_CURSOR' }, 'a forged chunk cursor is refused');
  await t.rejects(store.documents.createWithChunks({ ...documentOf(u.id), id: 'doc#1' }, []), { code: 'PAI_STORE_UNAVAILABLE' }, "'#' is refused in ids");

  await store.agents.create({ ...agentOf(u.id, 'coach'), description: 'helps' });
  await store.agents.addVersion(versionOf(u.id, 'coach'));
  await store.agents.putEvaluation({ id: 'eval_1', userId: u.id, agentId: 'coach', versions: [1], status: 'running', casesTotal: 1, casesDone: 0,
    body: '{}', error: null, createdAt: now(), updatedAt: now() });
  await store.agents.recordRun({ id: 'req_1', userId: u.id, agentId: 'coach', version: 1, at: '2026-11-01T10:00:00.000Z', conversationId: null,
    ok: true, errorCode: null, latencyMs: 5, ttftMs: 2, inputTokens: 1, outputTokens: 1, costUsd: 0, score: 9, passed: true,
    attempts: [{ attempt: 1, score: 9, passed: true, inputTokens: 1, outputTokens: 1, judgeInputTokens: 1, judgeOutputTokens: 1, latencyMs: 5,
      judgeLatencyMs: 1, judgeError: null }] });
  const agentItems = await scan('agents');
  t.same(agentItems.map((i) => i.sk!.S).sort(), ['AGENT#coach', 'EVAL#coach#eval_1', 'RUN#coach#2026-11-01T10:00:00.000Z#req_1', 'VERSION#coach#0000000001']);
  t.ok(agentItems.every((i) => i.pk!.S === `USER#${u.id}`), "all in the user's partition");
  t.match(agentItems.find((i) => i.sk!.S === 'AGENT#coach'), { latestVersion: { N: '1' }, routing: { M: { 1: { N: '100' } } } });
  t.match(agentItems.find((i) => i.sk!.S!.startsWith('RUN#')), { attempts: { L: [{ M: { score: { N: '9' } } }] } });
  await t.rejects(store.agents.create(agentOf(u.id, 'a#b')), { code: 'PAI_STORE_UNAVAILABLE' });
});

t.test('createDynamoDbTables: the infra layout, idempotent', async (t) => {
  const tablePrefix = `pai-layout-${prefixes++}-`;
  await createDynamoDbTables(client, tablePrefix);
  await createDynamoDbTables(client, tablePrefix);
  const names = (await client.send(new ListTablesCommand({}))).TableNames!.filter((n) => n.startsWith(tablePrefix));
  t.same(names.sort(), ['agents', 'conversations', 'data-keys', 'documents', 'memories', 'usage', 'users'].map((n) => `${tablePrefix}${n}`));
  const { Table } = await client.send(new DescribeTableCommand({ TableName: `${tablePrefix}users` }));
  t.same(Table!.KeySchema, [{ AttributeName: 'pk', KeyType: 'HASH' }, { AttributeName: 'sk', KeyType: 'RANGE' }]);
  t.match(Table!.GlobalSecondaryIndexes, [{
    IndexName: 'gsi1',
    KeySchema: [{ AttributeName: 'gsi1pk', KeyType: 'HASH' }, { AttributeName: 'gsi1sk', KeyType: 'RANGE' }],
    Projection: { ProjectionType: 'ALL' },
  }]);
  // The store reads through the generic keys only: a user lands in the users table at USER#<id>.
  const store = createDynamoDbStore({ client, tablePrefix });
  const u = user();
  await store.users.create(u);
  const raw = await client.send(new QueryCommand({
    TableName: `${tablePrefix}users`, KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': { S: `USER#${u.id}` } },
  }));
  t.equal(raw.Count, 1);
  await store.close();
});

t.test('driver and network failures answer PAI_STORE_UNAVAILABLE', async (t) => {
  const other = await startDynalite();
  const otherClient = clientFor(other.endpoint);
  t.teardown(async () => {
    otherClient.destroy();
    await other.stop();
  });
  await createDynamoDbTables(otherClient, 'pai-down-');
  const store = createDynamoDbStore({ client: otherClient, tablePrefix: 'pai-down-' });
  const u = user();
  await store.users.create(u);
  await t.resolves(store.ping());

  const missing = createDynamoDbStore({ client: otherClient, tablePrefix: 'pai-no-such-tables-' });
  await t.rejects(missing.ping(), { code: 'PAI_STORE_UNAVAILABLE', statusCode: 503 }, 'tables that do not exist');

  await other.stop();
  await t.rejects(store.ping(), { code: 'PAI_STORE_UNAVAILABLE', statusCode: 503 }, 'dynalite stopped: ping');
  await t.rejects(store.users.get(u.id), { code: 'PAI_STORE_UNAVAILABLE' }, 'reads');
  const c = conversation(u.id);
  await t.rejects(store.conversations.createWithMessage(c, message(c, 'x')), { code: 'PAI_STORE_UNAVAILABLE' }, 'writes');
  await t.rejects(store.purgeUser(u.id), { code: 'PAI_STORE_UNAVAILABLE' }, 'purges');

  await store.close();
  await t.rejects(store.ping(), { code: 'PAI_STORE_UNAVAILABLE' }, 'a closed store');
});
