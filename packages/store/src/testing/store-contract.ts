import type { Test } from 'tap';
import { newId } from '@pai/ids';
import type {
  AgentRecord, AgentRunRecord, AgentVersionRecord, ChunkRecord, ConversationRecord, DocumentRecord, EvaluationRecord, MessageRecord, PurgeReceipt, Store,
  UserRecord,
} from '../index.js';

/**
 * The behaviour every Store adapter must have. An adapter's test file calls this with a factory that
 * returns a fresh, empty store.
 */
/** What purging a user who owns nothing (or was purged already) reports. */
export const EMPTY_RECEIPT: PurgeReceipt = {
  users: 0, apiKeys: 0, conversations: 0, messages: 0, memories: 0, usage: 0, dataKeys: 0, documents: 0, chunks: 0, agents: 0,
};

export function runStoreContract(t: Test, makeStore: () => Promise<Store>): void {
  const now = () => new Date().toISOString();
  const user = (name = 'u'): UserRecord => ({ id: newId('usr'), name, createdAt: now() });
  const conversation = (userId: string, title: string | null = null): ConversationRecord => ({
    id: newId('conv'), userId, title, agentId: 'default', createdAt: now(), updatedAt: now(),
  });
  const message = (c: ConversationRecord, content: string, role: 'user' | 'assistant' = 'user'): MessageRecord => ({
    id: newId('msg'), conversationId: c.id, userId: c.userId, role, content, incomplete: false, createdAt: now(),
  });

  const documentOf = (userId: string, title: string): DocumentRecord => ({
    id: newId('doc'), userId, title, contentType: 'text/markdown', sizeBytes: 1234, status: 'pending', error: null, chunksTotal: 0,
    chunksIndexed: 0, createdAt: now(), updatedAt: now(),
  });
  const chunksOf = (d: DocumentRecord, n: number, text = 'chunk'): ChunkRecord[] => Array.from({ length: n }, (_, ordinal) => ({
    id: newId('chk'), documentId: d.id, userId: d.userId, ordinal, content: `${text} ${ordinal} of ${d.title}`,
    heading: ordinal % 2 ? null : `Section ${ordinal}`, tokenCount: 10 + ordinal,
  }));
  const agentOf = (userId: string, id: string): AgentRecord => ({
    id, userId, name: `agent ${id}`, description: null, routing: {}, latestVersion: 0, createdAt: now(), updatedAt: now(),
  });
  const versionOf = (userId: string, agentId: string, over: Partial<AgentVersionRecord> = {}): Omit<AgentVersionRecord, 'version'> => ({
    agentId, userId, systemPrompt: 'You coach.', model: 'gpt-test', temperature: 0.2, maxTokens: 512, judge: null, createdAt: now(), ...over,
  });
  const runOf = (userId: string, agentId: string, at: string): AgentRunRecord => ({
    id: newId('req'), userId, agentId, version: 1, at, conversationId: newId('conv'), ok: true, errorCode: null, latencyMs: 812.5, ttftMs: 95,
    inputTokens: 100, outputTokens: 50, costUsd: 0.0012, score: 8.5, passed: true, attempts: [],
  });
  const evaluationOf = (userId: string, agentId: string, id: string): EvaluationRecord => ({
    id, userId, agentId, versions: [1, 2], status: 'running', casesTotal: 2, casesDone: 0, body: '{"cases":[{"input":"hi"}]}', error: null,
    createdAt: now(), updatedAt: now(),
  });

  const withStore = (name: string, fn: (t: Test, store: Store) => Promise<void>) =>
    t.test(name, async (t) => {
      const store = await makeStore();
      t.teardown(() => store.close());
      await fn(t, store);
    });

  withStore('users: create, get, list with cursor', async (t, store) => {
    const users = [user('a'), user('b'), user('c')];
    for (const u of users) await store.users.create(u);
    t.same(await store.users.get(users[1]!.id), users[1]);
    t.equal(await store.users.get('usr_unknown'), null);
    const first = await store.users.list({ limit: 2 });
    t.same(first.items.map((u) => u.name), ['a', 'b']);
    t.type(first.nextCursor, 'string');
    const second = await store.users.list({ limit: 2, cursor: first.nextCursor! });
    t.same(second.items.map((u) => u.name), ['c']);
    t.equal(second.nextCursor, null);
  });

  withStore('api keys: found by hash until revoked', async (t, store) => {
    const u = user();
    await store.users.create(u);
    const key = { id: newId('key'), userId: u.id, keyHash: 'hash-1', prefix: 'pai_abc', name: null, createdAt: now(), revokedAt: null };
    await store.apiKeys.create(key);
    t.same(await store.apiKeys.findActiveByHash('hash-1'), key);
    t.equal(await store.apiKeys.findActiveByHash('hash-2'), null);
    t.equal(await store.apiKeys.revoke(key.id, now()), true);
    t.equal(await store.apiKeys.revoke(key.id, now()), false, 'second revoke is a no-op');
    t.equal(await store.apiKeys.findActiveByHash('hash-1'), null);
    t.type((await store.apiKeys.get(key.id))?.revokedAt, 'string');
    const listed = await store.apiKeys.listForUser(u.id, { limit: 10 });
    t.equal(listed.items.length, 1);
    t.same((await store.apiKeys.listForUser('usr_other', { limit: 10 })).items, []);
  });

  withStore('conversations: newest first, paginated, owner-scoped', async (t, store) => {
    const [a, b] = [user('a'), user('b')];
    await store.users.create(a);
    await store.users.create(b);
    const mine = [];
    for (let i = 0; i < 5; i++) {
      const c = conversation(a.id, `t${i}`);
      await store.conversations.create(c);
      mine.push(c);
    }
    const theirs = conversation(b.id, 'secret');
    await store.conversations.create(theirs);

    const p1 = await store.conversations.list(a.id, { limit: 3 });
    t.same(p1.items.map((c) => c.title), ['t4', 't3', 't2']);
    const p2 = await store.conversations.list(a.id, { limit: 3, cursor: p1.nextCursor! });
    t.same(p2.items.map((c) => c.title), ['t1', 't0']);
    t.equal(p2.nextCursor, null);

    t.equal(await store.conversations.get(a.id, theirs.id), null, "another user's id is not found");
    t.equal(await store.conversations.delete(a.id, theirs.id), false, "another user's conversation cannot be deleted");
    t.ok(await store.conversations.get(b.id, theirs.id), 'and it is still there');
    await t.rejects(store.conversations.list(b.id, { limit: 3, cursor: p1.nextCursor! }), { code: 'PAI_REQUEST_INVALID_CURSOR' },
      "a cursor from another user's listing is rejected");
    await t.rejects(store.conversations.list(a.id, { limit: 3, cursor: 'bm9wZQ' }), { code: 'PAI_REQUEST_INVALID_CURSOR' });
  });

  withStore('messages: append in order, bump updated_at, paginate, recent window', async (t, store) => {
    const u = user();
    await store.users.create(u);
    const c = conversation(u.id);
    const first = message(c, 'm0');
    await store.conversations.createWithMessage(c, first);
    for (let i = 1; i < 7; i++) await store.conversations.appendMessage(message(c, `m${i}`, i % 2 ? 'assistant' : 'user'));

    const p1 = await store.conversations.listMessages(u.id, c.id, { limit: 4 });
    t.same(p1.items.map((m) => m.content), ['m0', 'm1', 'm2', 'm3']);
    const p2 = await store.conversations.listMessages(u.id, c.id, { limit: 4, cursor: p1.nextCursor! });
    t.same(p2.items.map((m) => m.content), ['m4', 'm5', 'm6']);
    t.equal(p2.nextCursor, null);

    const recent = await store.conversations.recentMessages(u.id, c.id, 3);
    t.same(recent.map((m) => m.content), ['m4', 'm5', 'm6']);
    const last = recent.at(-1)!;
    const recentExcluding = await store.conversations.recentMessages(u.id, c.id, 3, last.id);
    t.same(recentExcluding.map((m) => m.content), ['m3', 'm4', 'm5']);

    const stored = await store.conversations.getMessage(u.id, first.id);
    t.same(stored, first);
    const after = await store.conversations.get(u.id, c.id);
    t.ok(after!.updatedAt >= c.updatedAt);
  });

  withStore('messages: incomplete flag round-trips; duplicate ids conflict', async (t, store) => {
    const u = user();
    await store.users.create(u);
    const c = conversation(u.id);
    await store.conversations.create(c);
    const partial = { ...message(c, 'half an ans', 'assistant'), incomplete: true };
    await store.conversations.appendMessage(partial);
    t.equal((await store.conversations.getMessage(u.id, partial.id))!.incomplete, true);
    await t.rejects(store.conversations.appendMessage(partial), { code: 'PAI_MESSAGE_CONFLICT' });
  });

  withStore("messages cannot be appended to another user's conversation", async (t, store) => {
    const [a, b] = [user('a'), user('b')];
    await store.users.create(a);
    await store.users.create(b);
    const c = conversation(a.id);
    await store.conversations.create(c);
    await t.rejects(store.conversations.appendMessage({ ...message(c, 'x'), userId: b.id }), { code: 'PAI_CONVERSATION_NOT_FOUND' });
    t.same((await store.conversations.listMessages(a.id, c.id, { limit: 10 })).items, []);
    t.same((await store.conversations.listMessages(b.id, c.id, { limit: 10 })).items, []);
    t.equal(await store.conversations.getMessage(b.id, 'msg_x'), null);
  });

  withStore('a running summary is kept per conversation, owner-scoped', async (t, store) => {
    const [a, b] = [user('a'), user('b')];
    await store.users.create(a);
    await store.users.create(b);
    const c = conversation(a.id, 'long one');
    await store.conversations.create(c);
    t.equal((await store.conversations.get(a.id, c.id))!.summary, undefined, 'none at first');
    t.equal(await store.conversations.setSummary(a.id, c.id, 'they talked about tea', 'msg_1'), true);
    t.match(await store.conversations.get(a.id, c.id), { summary: 'they talked about tea', summaryThrough: 'msg_1', title: 'long one' });
    t.equal(await store.conversations.setSummary(a.id, c.id, 'and then coffee', 'msg_9'), true);
    t.match(await store.conversations.get(a.id, c.id), { summary: 'and then coffee', summaryThrough: 'msg_9' });
    t.equal(await store.conversations.setSummary(b.id, c.id, 'hijack', 'msg_x'), false, "not on another user's conversation");
    t.equal(await store.conversations.setSummary(a.id, 'conv_missing', 's', 'm'), false);
    t.equal((await store.conversations.list(a.id, { limit: 5 })).items[0]!.summary, 'and then coffee');
  });

  withStore('delete removes the conversation and its messages', async (t, store) => {
    const u = user();
    await store.users.create(u);
    const c = conversation(u.id);
    const m = message(c, 'bye');
    await store.conversations.createWithMessage(c, m);
    t.equal(await store.conversations.delete(u.id, c.id), true);
    t.equal(await store.conversations.get(u.id, c.id), null);
    t.equal(await store.conversations.getMessage(u.id, m.id), null);
    t.equal(await store.conversations.delete(u.id, c.id), false);
  });

  withStore('createWithMessage is atomic: a conflicting message leaves no conversation', async (t, store) => {
    const u = user();
    await store.users.create(u);
    const c1 = conversation(u.id);
    const m = message(c1, 'hello');
    await store.conversations.createWithMessage(c1, m);
    const c2 = conversation(u.id);
    await t.rejects(store.conversations.createWithMessage(c2, { ...m, conversationId: c2.id }), { code: 'PAI_MESSAGE_CONFLICT' });
    t.equal(await store.conversations.get(u.id, c2.id), null, 'nothing half-written');
  });

  withStore('usage: recorded per call, summarized per model / agent / day, owner-scoped', async (t, store) => {
    const entry = (userId: string, day: string, model: string, agentId: string, input: number, output: number, cost: number, estimated = false) => ({
      id: newId('req'), userId, at: `${day}T12:00:00.000Z`, day, conversationId: null, agentId, agentVersion: 1,
      provider: 'openai', model, inputTokens: input, outputTokens: output, costUsd: cost, estimated,
    });
    await store.usage.record(entry('usr_a', '2026-11-01', 'm1', 'default', 10, 5, 0.001));
    await store.usage.record(entry('usr_a', '2026-11-01', 'm2', 'default', 20, 10, 0.002, true));
    await store.usage.record(entry('usr_a', '2026-11-02', 'm1', 'coach', 30, 15, 0.003));
    await store.usage.record(entry('usr_a', '2026-11-05', 'm1', 'coach', 1000, 1000, 1));
    await store.usage.record(entry('usr_b', '2026-11-01', 'm1', 'default', 99, 99, 9));

    const byModel = await store.usage.summarize('usr_a', { fromDay: '2026-11-01', toDay: '2026-11-02', groupBy: 'model' });
    t.same(byModel, [
      { key: 'm1', requests: 2, inputTokens: 40, outputTokens: 20, costUsd: 0.004, estimatedRequests: 0 },
      { key: 'm2', requests: 1, inputTokens: 20, outputTokens: 10, costUsd: 0.002, estimatedRequests: 1 },
    ]);
    const byAgent = await store.usage.summarize('usr_a', { fromDay: '2026-11-01', toDay: '2026-11-30', groupBy: 'agent' });
    t.same(byAgent.map((g) => [g.key, g.requests]), [['coach', 2], ['default', 2]]);
    const byDay = await store.usage.summarize('usr_a', { fromDay: '2026-11-01', toDay: '2026-11-30', groupBy: 'day' });
    t.same(byDay.map((g) => g.key), ['2026-11-01', '2026-11-02', '2026-11-05']);
    t.equal(await store.usage.tokensOnDay('usr_a', '2026-11-01'), 45);
    t.equal(await store.usage.tokensOnDay('usr_a', '2026-11-03'), 0);
    t.same(await store.usage.summarize('usr_c', { fromDay: '2026-11-01', toDay: '2026-11-30', groupBy: 'model' }), []);
  });

  const memory = (userId: string, content: string, over: Partial<import('../index.js').MemoryRecord> = {}) => ({
    id: newId('mem'), userId, content, category: 'fact', importance: 0.5, sourceMessageId: null, supersededBy: null,
    expiresAt: null, createdAt: now(), updatedAt: now(), ...over,
  });

  withStore('memories: newest first, category filter, superseded and expired hidden, owner-scoped', async (t, store) => {
    const a = user('a');
    const b = user('b');
    await store.users.create(a);
    await store.users.create(b);
    const old = memory(a.id, 'likes tea', { category: 'preference' });
    await store.memories.create(old);
    const replacement = memory(a.id, 'likes coffee', { category: 'preference' });
    await store.memories.create(replacement);
    await store.memories.create(memory(a.id, 'sister Eva', { category: 'person' }));
    await store.memories.create(memory(a.id, 'trip in May', { category: 'plan', expiresAt: '2000-01-01T00:00:00.000Z' }));
    await store.memories.create(memory(b.id, 'not yours'));
    const superseded = await store.memories.update(a.id, old.id, { supersededBy: replacement.id, updatedAt: now() });
    t.equal(superseded?.supersededBy, replacement.id);
    t.equal(superseded?.content, 'likes tea', 'a partial patch keeps the other fields');

    const at = now();
    const visible = await store.memories.list(a.id, { limit: 10, now: at });
    t.same(visible.items.map((m) => m.content), ['sister Eva', 'likes coffee'], 'newest first; superseded and expired hidden');
    const all = await store.memories.list(a.id, { limit: 10, now: at, includeSuperseded: true });
    t.same(all.items.map((m) => m.content), ['sister Eva', 'likes coffee', 'likes tea']);
    const prefs = await store.memories.list(a.id, { limit: 10, now: at, category: 'preference' });
    t.same(prefs.items.map((m) => m.content), ['likes coffee']);
    const expiredLater = await store.memories.list(a.id, { limit: 10, now: '1999-01-01T00:00:00.000Z' });
    t.ok(expiredLater.items.some((m) => m.content === 'trip in May'), 'not yet expired then');

    const p1 = await store.memories.list(a.id, { limit: 1, now: at, includeSuperseded: true });
    const p2 = await store.memories.list(a.id, { limit: 5, now: at, includeSuperseded: true, cursor: p1.nextCursor! });
    t.same([...p1.items, ...p2.items].map((m) => m.content), ['sister Eva', 'likes coffee', 'likes tea']);
    await t.rejects(store.memories.list(b.id, { limit: 1, now: at, cursor: p1.nextCursor! }), { code: 'PAI_REQUEST_INVALID_CURSOR' });

    t.equal(await store.memories.get(b.id, old.id), null, "another user's memory is not found");
    t.equal(await store.memories.update(b.id, old.id, { content: 'hijack', updatedAt: now() }), null);
    t.equal(await store.memories.delete(b.id, old.id), false);
    const cleared = await store.memories.update(a.id, old.id, { expiresAt: null, supersededBy: null, importance: 0.9, updatedAt: now() });
    t.match(cleared, { supersededBy: null, expiresAt: null, importance: 0.9 });
    t.equal(await store.memories.delete(a.id, old.id), true);
    t.equal(await store.memories.get(a.id, old.id), null);
  });

  withStore('data keys: put if absent, conditional replace, delete', async (t, store) => {
    const first = { userId: 'usr_k', wrapped: 'w1', keyId: 'k1', createdAt: now() };
    t.same(await store.dataKeys.putIfAbsent(first), first);
    t.same(await store.dataKeys.putIfAbsent({ ...first, wrapped: 'w2' }), first, 'the first writer wins');
    t.equal(await store.dataKeys.replace('usr_k', 'stale', { ...first, wrapped: 'w3' }), false);
    t.equal(await store.dataKeys.replace('usr_k', 'w1', { ...first, wrapped: 'w3', keyId: 'k2' }), true);
    t.match(await store.dataKeys.get('usr_k'), { wrapped: 'w3', keyId: 'k2' });
    t.equal(await store.dataKeys.delete('usr_k'), true);
    t.equal(await store.dataKeys.get('usr_k'), null);
    t.equal(await store.dataKeys.delete('usr_k'), false);
  });

  withStore('purgeUser removes everything the user owns, counts it, and leaves others alone', async (t, store) => {
    const [a, b] = [user('a'), user('b')];
    await store.users.create(a);
    await store.users.create(b);
    for (const u of [a, b]) {
      await store.apiKeys.create({ id: newId('key'), userId: u.id, keyHash: `h-${u.id}`, prefix: 'p', name: null, createdAt: now(), revokedAt: null });
      const c = conversation(u.id);
      await store.conversations.createWithMessage(c, message(c, 'hello'));
      await store.conversations.appendMessage(message(c, 'hi', 'assistant'));
      await store.memories.create(memory(u.id, 'm'));
      await store.dataKeys.putIfAbsent({ userId: u.id, wrapped: 'w', keyId: 'k', createdAt: now() });
      await store.usage.record({ id: newId('req'), userId: u.id, at: now(), day: now().slice(0, 10), conversationId: c.id, agentId: 'default',
        agentVersion: 1, provider: 'openai', model: 'm', inputTokens: 1, outputTokens: 1, costUsd: 0, estimated: false });
    }
    for (const u of [a, b]) {
      const d = documentOf(u.id, 'doc');
      await store.documents.createWithChunks(d, chunksOf(d, 3));
      await store.agents.create(agentOf(u.id, 'helper'));
      await store.agents.addVersion(versionOf(u.id, 'helper'));
      await store.agents.addVersion(versionOf(u.id, 'helper'));
      await store.agents.recordRun(runOf(u.id, 'helper', '2026-11-01T10:00:00.000Z'));
      await store.agents.putEvaluation(evaluationOf(u.id, 'helper', 'eval_1'));
    }
    const [bDocument] = (await store.documents.list(b.id, { limit: 1 })).items;
    const receipt = await store.purgeUser(a.id);
    t.same(receipt, {
      users: 1, apiKeys: 1, conversations: 1, messages: 2, memories: 1, usage: 1, dataKeys: 1, documents: 1, chunks: 3, agents: 1,
    });
    t.equal(await store.users.get(a.id), null);
    t.equal(await store.apiKeys.findActiveByHash(`h-${a.id}`), null);
    t.same((await store.conversations.list(a.id, { limit: 10 })).items, []);
    t.equal(await store.dataKeys.get(a.id), null);
    t.same(await store.usage.summarize(a.id, { fromDay: '2000-01-01', toDay: '2999-01-01', groupBy: 'day' }), []);
    t.same((await store.documents.list(a.id, { limit: 10 })).items, []);
    t.same((await store.agents.list(a.id, { limit: 10 })).items, []);
    t.equal(await store.agents.getVersion(a.id, 'helper', 1), null);
    t.same(await store.agents.listRuns(a.id, 'helper', { from: '2000-01-01', to: '2999-01-01' }), []);
    t.equal(await store.agents.getEvaluation(a.id, 'helper', 'eval_1'), null);
    t.same(await store.purgeUser(a.id), EMPTY_RECEIPT, 'repeatable');
    t.ok(await store.users.get(b.id), 'the other user is untouched');
    t.ok(await store.apiKeys.findActiveByHash(`h-${b.id}`));
    t.equal((await store.conversations.list(b.id, { limit: 10 })).items.length, 1);
    t.ok(await store.dataKeys.get(b.id));
    t.equal((await store.documents.listChunks(b.id, bDocument!.id, { limit: 10 })).items.length, 3);
    t.same((await store.agents.listVersions(b.id, 'helper')).map((v) => v.version), [1, 2]);
    t.equal((await store.agents.listRuns(b.id, 'helper', { from: '2000-01-01', to: '2999-01-01' })).length, 1);
    t.ok(await store.agents.getEvaluation(b.id, 'helper', 'eval_1'));
  });

  // ---- documents -----------------------------------------------------------------------------

  withStore('documents: stored with their chunks, listed newest first across pages, owner-scoped', async (t, store) => {
    const [a, b] = [user('a'), user('b')];
    const mine: DocumentRecord[] = [];
    for (let i = 0; i < 5; i++) {
      const d = documentOf(a.id, `doc ${i}`);
      await store.documents.createWithChunks(d, chunksOf(d, i + 1));
      mine.push(d);
    }
    const theirs = documentOf(b.id, 'secret');
    const theirChunks = chunksOf(theirs, 2);
    await store.documents.createWithChunks(theirs, theirChunks);

    t.same(await store.documents.get(a.id, mine[2]!.id), mine[2], 'round-trips every field');
    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await store.documents.list(a.id, { limit: 2, cursor });
      t.ok(page.items.length === 2 || page.nextCursor === null, 'every page but the last is full');
      seen.push(...page.items.map((d) => d.title));
      cursor = page.nextCursor ?? undefined;
      pages++;
    } while (cursor);
    t.same(seen, ['doc 4', 'doc 3', 'doc 2', 'doc 1', 'doc 0'], 'newest first, each once');
    t.equal(pages, 3);
    const first = await store.documents.list(a.id, { limit: 2 });
    await t.rejects(store.documents.list(b.id, { limit: 2, cursor: first.nextCursor! }), { code: 'PAI_REQUEST_INVALID_CURSOR' },
      "a cursor from another user's listing is rejected");
    await t.rejects(store.documents.list(a.id, { limit: 2, cursor: 'bm9wZQ' }), { code: 'PAI_REQUEST_INVALID_CURSOR' });

    // Chunks come back by ordinal even when given out of order.
    const big = documentOf(a.id, 'seven chunks');
    const bigChunks = chunksOf(big, 7);
    await store.documents.createWithChunks(big, [...bigChunks].reverse());
    const c1 = await store.documents.listChunks(a.id, big.id, { limit: 3 });
    const c2 = await store.documents.listChunks(a.id, big.id, { limit: 3, cursor: c1.nextCursor! });
    const c3 = await store.documents.listChunks(a.id, big.id, { limit: 3, cursor: c2.nextCursor! });
    t.same([...c1.items, ...c2.items, ...c3.items], bigChunks);
    t.equal(c3.nextCursor, null);
    await t.rejects(store.documents.listChunks(a.id, mine[0]!.id, { limit: 3, cursor: c1.nextCursor! }), { code: 'PAI_REQUEST_INVALID_CURSOR' },
      "a cursor from another document's chunks is rejected");
    t.same(await store.documents.listChunks(a.id, 'doc_unknown', { limit: 3 }), { items: [], nextCursor: null });

    const wanted = [bigChunks[5]!.id, 'chk_unknown', '', theirChunks[0]!.id, bigChunks[0]!.id, mine[1]!.id];
    t.same(await store.documents.getChunks(a.id, wanted), [bigChunks[5], bigChunks[0]],
      "in the order asked; unknown ids, another user's chunks and document ids left out");
    t.same(await store.documents.getChunks(a.id, []), []);

    // Another user's document is never returned, changed or deleted.
    t.equal(await store.documents.get(a.id, theirs.id), null);
    t.same((await store.documents.listChunks(a.id, theirs.id, { limit: 10 })).items, []);
    t.same(await store.documents.getChunks(a.id, theirChunks.map((c) => c.id)), []);
    t.equal(await store.documents.update(a.id, theirs.id, { status: 'failed', error: 'hijack', updatedAt: now() }), null);
    t.equal(await store.documents.delete(a.id, theirs.id), false);
    t.same(await store.documents.get(b.id, theirs.id), theirs, 'it is still there, unchanged');
    t.same(await store.documents.getChunks(b.id, theirChunks.map((c) => c.id)), theirChunks, 'with its chunks');
  });

  withStore('documents: createWithChunks writes all or nothing; an existing id conflicts', async (t, store) => {
    const u = user();
    const d = documentOf(u.id, 'original');
    const chunks = chunksOf(d, 4);
    await store.documents.createWithChunks(d, chunks);
    const again = { ...d, title: 'impostor' };
    await t.rejects(store.documents.createWithChunks(again, chunksOf(again, 2, 'other text')), { code: 'PAI_DOCUMENT_CONFLICT', statusCode: 409 });
    t.same(await store.documents.get(u.id, d.id), d, 'the stored document is unchanged');
    t.same((await store.documents.listChunks(u.id, d.id, { limit: 10 })).items, chunks, 'and so are its chunks');

    const bad = documentOf(u.id, 'two chunks at one ordinal');
    const [c0, c1] = chunksOf(bad, 2);
    await t.rejects(store.documents.createWithChunks(bad, [c0!, { ...c1!, ordinal: 0 }]));
    const stray = documentOf(u.id, 'a chunk of another document');
    await t.rejects(store.documents.createWithChunks(stray, [...chunksOf(stray, 1), ...chunksOf(d, 1)]));
    const nameless = documentOf(u.id, 'a chunk without an id');
    await t.rejects(store.documents.createWithChunks(nameless, chunksOf(nameless, 2).map((c, i) => (i === 1 ? { ...c, id: '' } : c))));
    for (const refused of [bad, stray, nameless]) {
      t.equal(await store.documents.get(u.id, refused.id), null, 'a refused create leaves no document');
      t.same((await store.documents.listChunks(u.id, refused.id, { limit: 10 })).items, []);
    }

    const empty = documentOf(u.id, 'no chunks yet');
    await store.documents.createWithChunks(empty, []);
    t.same(await store.documents.get(u.id, empty.id), empty, 'a document may have no chunks');
    t.same(await store.documents.listChunks(u.id, empty.id, { limit: 10 }), { items: [], nextCursor: null });
  });

  withStore('documents: update patches only the given fields', async (t, store) => {
    const u = user();
    const d = documentOf(u.id, 'progress');
    await store.documents.createWithChunks(d, chunksOf(d, 2));
    const indexing = await store.documents.update(u.id, d.id, { status: 'indexing', chunksIndexed: 1, updatedAt: '2030-01-01T00:00:00.000Z' });
    t.same(indexing, { ...d, status: 'indexing', chunksIndexed: 1, updatedAt: '2030-01-01T00:00:00.000Z' });
    const failed = await store.documents.update(u.id, d.id, { status: 'failed', error: 'embedding provider down', updatedAt: now() });
    t.match(failed, { status: 'failed', error: 'embedding provider down', chunksIndexed: 1, chunksTotal: 0, title: d.title });
    const retried = await store.documents.update(u.id, d.id, { status: 'indexed', error: null, chunksIndexed: 2, chunksTotal: 2, updatedAt: now() });
    t.match(retried, { status: 'indexed', error: null, chunksIndexed: 2 });
    t.same(await store.documents.get(u.id, d.id), retried);
    t.equal(await store.documents.update(u.id, 'doc_unknown', { status: 'indexed', updatedAt: now() }), null);
  });

  withStore('documents: delete removes the document and every chunk (more than one batch of them)', async (t, store) => {
    const u = user();
    const d = documentOf(u.id, 'long read');
    const chunks = chunksOf(d, 130);
    await store.documents.createWithChunks(d, chunks);
    const kept = documentOf(u.id, 'kept');
    const keptChunks = chunksOf(kept, 2);
    await store.documents.createWithChunks(kept, keptChunks);
    t.equal((await store.documents.listChunks(u.id, d.id, { limit: 200 })).items.length, 130);
    const ids = chunks.map((c) => c.id).reverse();
    t.same((await store.documents.getChunks(u.id, ids)).map((c) => c.id), ids, 'all 130 by id');

    t.equal(await store.documents.delete(u.id, d.id), true);
    t.equal(await store.documents.get(u.id, d.id), null);
    t.same((await store.documents.listChunks(u.id, d.id, { limit: 200 })).items, []);
    t.same(await store.documents.getChunks(u.id, ids), []);
    t.same((await store.documents.list(u.id, { limit: 10 })).items, [kept]);
    t.equal(await store.documents.delete(u.id, d.id), false, 'a second delete finds nothing');
    t.same((await store.documents.listChunks(u.id, kept.id, { limit: 10 })).items, keptChunks, 'the other document keeps its chunks');
  });

  // ---- agents --------------------------------------------------------------------------------

  withStore('agents: slugs unique per user, listed by id across pages, owner-scoped', async (t, store) => {
    const [a, b] = [user('a'), user('b')];
    for (const id of ['writer', 'coach', 'analyst', 'coach-2']) await store.agents.create(agentOf(a.id, id));
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await store.agents.list(a.id, { limit: 3, cursor });
      seen.push(...page.items.map((x) => x.id));
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    t.same(seen, ['analyst', 'coach', 'coach-2', 'writer']);
    const first = await store.agents.list(a.id, { limit: 1 });
    await t.rejects(store.agents.list(b.id, { limit: 1, cursor: first.nextCursor! }), { code: 'PAI_REQUEST_INVALID_CURSOR' });

    await t.rejects(store.agents.create({ ...agentOf(a.id, 'coach'), name: 'again' }), { code: 'PAI_AGENT_CONFLICT', statusCode: 409 });
    const theirs = { ...agentOf(b.id, 'coach'), name: "b's coach" };
    await store.agents.create(theirs);
    t.same(await store.agents.get(b.id, 'coach'), theirs, 'another user may use the same slug');
    t.match(await store.agents.get(a.id, 'coach'), { userId: a.id, name: 'agent coach' }, 'and each sees their own');
    t.same((await store.agents.list(b.id, { limit: 10 })).items, [theirs]);
    t.equal(await store.agents.get(a.id, 'unknown'), null);
  });

  withStore('agents: versions are numbered by the store, immutable, and routed', async (t, store) => {
    const [a, b] = [user('a'), user('b')];
    const agent = agentOf(a.id, 'coach');
    await store.agents.create(agent);
    await t.rejects(store.agents.addVersion(versionOf(a.id, 'missing')), { code: 'PAI_AGENT_NOT_FOUND', statusCode: 404 });
    await t.rejects(store.agents.addVersion(versionOf(b.id, 'coach')), { code: 'PAI_AGENT_NOT_FOUND' }, "not on another user's agent");
    t.same(await store.agents.get(a.id, 'coach'), agent, 'refused versions change nothing');

    const v1 = await store.agents.addVersion(versionOf(a.id, 'coach', { createdAt: '2030-01-01T00:00:00.000Z' }));
    t.equal(v1.version, 1);
    t.match(await store.agents.get(a.id, 'coach'), { latestVersion: 1, routing: { 1: 100 }, updatedAt: '2030-01-01T00:00:00.000Z' },
      'the first version takes all the traffic');
    const judge = { model: null, rubric: 'be kind', minScore: 7, maxAttempts: 3 };
    const v2 = await store.agents.addVersion(versionOf(a.id, 'coach', { judge, temperature: null, maxTokens: null }));
    t.equal(v2.version, 2);
    t.same((await store.agents.get(a.id, 'coach'))!.routing, { 1: 100 }, 'a later version gets no traffic until routed');
    const v3 = await store.agents.addVersion(versionOf(a.id, 'coach'), { 1: 50, 3: 50 });
    t.equal(v3.version, 3);
    t.match(await store.agents.get(a.id, 'coach'), { latestVersion: 3, routing: { 1: 50, 3: 50 } }, 'given weights replace the old ones');

    t.same(await store.agents.getVersion(a.id, 'coach', 2), v2, 'round-trips the judge and the nulls');
    t.same(await store.agents.listVersions(a.id, 'coach'), [v1, v2, v3], 'oldest first');
    t.equal(await store.agents.getVersion(a.id, 'coach', 4), null);
    t.equal(await store.agents.getVersion(b.id, 'coach', 1), null, "another user's version is not found");
    t.same(await store.agents.listVersions(b.id, 'coach'), []);

    const routed = await store.agents.setRouting(a.id, 'coach', { 2: 10, 3: 90 }, '2031-01-01T00:00:00.000Z');
    t.same(routed, { ...agent, latestVersion: 3, routing: { 2: 10, 3: 90 }, updatedAt: '2031-01-01T00:00:00.000Z' });
    t.same(await store.agents.get(a.id, 'coach'), routed);
    t.equal(await store.agents.setRouting(b.id, 'coach', { 1: 100 }, now()), null, "another user's agent cannot be routed");
    t.equal(await store.agents.setRouting(a.id, 'missing', { 1: 100 }, now()), null);
    t.same((await store.agents.get(a.id, 'coach'))!.routing, { 2: 10, 3: 90 });
  });

  withStore('agents: concurrent addVersion calls get 1..n, each number once', async (t, store) => {
    const u = user();
    await store.agents.create(agentOf(u.id, 'busy'));
    const made = await Promise.all(Array.from({ length: 10 }, (_, i) => store.agents.addVersion(versionOf(u.id, 'busy', { systemPrompt: `p${i}` }))));
    t.same(made.map((v) => v.version).sort((x, y) => x - y), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    const listed = await store.agents.listVersions(u.id, 'busy');
    t.same(listed.map((v) => v.version), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    for (const v of made) t.same(listed[v.version - 1], v, `version ${v.version} is the record its caller got`);
    const agent = await store.agents.get(u.id, 'busy');
    t.equal(agent!.latestVersion, 10);
    const weights = Object.entries(agent!.routing);
    t.equal(weights.length, 1, 'exactly one first version took the traffic');
    t.equal(weights[0]![1], 100);
    t.ok(Number(weights[0]![0]) >= 1 && Number(weights[0]![0]) <= 10, 'and it is one of the versions');
  });

  withStore('agents: runs by time range (from inclusive, to exclusive), oldest first, agent- and owner-scoped', async (t, store) => {
    const [a, b] = [user('a'), user('b')];
    const at = (minute: number) => `2026-11-01T10:${String(minute).padStart(2, '0')}:00.000Z`;
    const runs: AgentRunRecord[] = [];
    for (const minute of [4, 0, 2, 1, 3]) {
      const run = runOf(a.id, 'coach', at(minute));
      await store.agents.recordRun(run);
      runs.push(run);
    }
    const judged: AgentRunRecord = {
      ...runOf(a.id, 'coach', at(2)), ok: false, errorCode: 'PAI_LLM_TIMEOUT', ttftMs: null, score: null, passed: null, conversationId: null,
      attempts: [
        { attempt: 1, score: 4, passed: false, inputTokens: 10, outputTokens: 20, judgeInputTokens: 30, judgeOutputTokens: 5, latencyMs: 120.5, judgeLatencyMs: 40, judgeError: null },
        { attempt: 2, score: null, passed: null, inputTokens: 11, outputTokens: 21, judgeInputTokens: 0, judgeOutputTokens: 0, latencyMs: 99, judgeLatencyMs: 3, judgeError: 'judge timed out' },
      ],
    };
    await store.agents.recordRun(judged);
    await store.agents.recordRun(runOf(a.id, 'coach-2', at(2)));
    await store.agents.recordRun(runOf(a.id, 'coac', at(2)));
    await store.agents.recordRun(runOf(b.id, 'coach', at(2)));

    const byAt = (x: AgentRunRecord, y: AgentRunRecord) => (x.at < y.at ? -1 : x.at > y.at ? 1 : x.id < y.id ? -1 : x.id > y.id ? 1 : 0);
    const inRange = [...runs.filter((r) => r.at >= at(1) && r.at < at(3)), judged].sort(byAt);
    t.same(await store.agents.listRuns(a.id, 'coach', { from: at(1), to: at(3) }), inRange, 'at(1) in, at(3) out; same instant by id');
    t.same((await store.agents.listRuns(a.id, 'coach', { from: '2026-11-01', to: '2026-11-02' })).length, 6, 'day bounds');
    t.same(await store.agents.listRuns(a.id, 'coach', { from: at(3), to: at(3) }), [], 'an empty range');
    t.same(await store.agents.listRuns(a.id, 'coach', { from: at(4), to: at(1) }), [], 'a reversed range');
    t.same((await store.agents.listRuns(a.id, 'coach', { from: at(4), to: at(5) })).map((r) => r.at), [at(4)]);
    t.same((await store.agents.listRuns(a.id, 'coach-2', { from: at(0), to: at(9) })).map((r) => r.agentId), ['coach-2']);
    t.same((await store.agents.listRuns(b.id, 'coach', { from: at(0), to: at(9) })).map((r) => r.userId), [b.id], "only the owner's runs");
  });

  withStore('agents: evaluations are created, replaced and owner-scoped', async (t, store) => {
    const [a, b] = [user('a'), user('b')];
    const evaluation = evaluationOf(a.id, 'coach', 'eval_1');
    await store.agents.putEvaluation(evaluation);
    t.same(await store.agents.getEvaluation(a.id, 'coach', 'eval_1'), evaluation);
    const done: EvaluationRecord = { ...evaluation, status: 'completed', casesDone: 2, body: '{"results":[1,2]}', updatedAt: now() };
    await store.agents.putEvaluation(done);
    t.same(await store.agents.getEvaluation(a.id, 'coach', 'eval_1'), done, 'replaced');
    const failed: EvaluationRecord = { ...evaluationOf(b.id, 'coach', 'eval_1'), status: 'failed', error: 'boom' };
    await store.agents.putEvaluation(failed);
    t.same(await store.agents.getEvaluation(a.id, 'coach', 'eval_1'), done, "another user's evaluation with the same ids leaves it alone");
    t.same(await store.agents.getEvaluation(b.id, 'coach', 'eval_1'), failed);
    t.equal(await store.agents.getEvaluation(a.id, 'other', 'eval_1'), null, 'scoped to its agent');
    t.equal(await store.agents.getEvaluation(a.id, 'coach', 'eval_2'), null);
  });

  withStore('ping answers', async (t, store) => {
    await t.resolves(store.ping());
  });
}
