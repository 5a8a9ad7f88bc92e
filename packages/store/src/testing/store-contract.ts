import type { Test } from 'tap';
import { newId } from '@pai/ids';
import type { ConversationRecord, MessageRecord, Store, UserRecord } from '../index.js';

/**
 * The behaviour every Store adapter must have. An adapter's test file calls this with a factory that
 * returns a fresh, empty store.
 */
export function runStoreContract(t: Test, makeStore: () => Promise<Store>): void {
  const now = () => new Date().toISOString();
  const user = (name = 'u'): UserRecord => ({ id: newId('usr'), name, createdAt: now() });
  const conversation = (userId: string, title: string | null = null): ConversationRecord => ({
    id: newId('conv'), userId, title, agentId: 'default', createdAt: now(), updatedAt: now(),
  });
  const message = (c: ConversationRecord, content: string, role: 'user' | 'assistant' = 'user'): MessageRecord => ({
    id: newId('msg'), conversationId: c.id, userId: c.userId, role, content, incomplete: false, createdAt: now(),
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
    const receipt = await store.purgeUser(a.id);
    t.same(receipt, { users: 1, apiKeys: 1, conversations: 1, messages: 2, memories: 1, usage: 1, dataKeys: 1 });
    t.equal(await store.users.get(a.id), null);
    t.equal(await store.apiKeys.findActiveByHash(`h-${a.id}`), null);
    t.same((await store.conversations.list(a.id, { limit: 10 })).items, []);
    t.equal(await store.dataKeys.get(a.id), null);
    t.same(await store.usage.summarize(a.id, { fromDay: '2000-01-01', toDay: '2999-01-01', groupBy: 'day' }), []);
    t.same(await store.purgeUser(a.id), { users: 0, apiKeys: 0, conversations: 0, messages: 0, memories: 0, usage: 0, dataKeys: 0 }, 'repeatable');
    t.ok(await store.users.get(b.id), 'the other user is untouched');
    t.ok(await store.apiKeys.findActiveByHash(`h-${b.id}`));
    t.equal((await store.conversations.list(b.id, { limit: 10 })).items.length, 1);
    t.ok(await store.dataKeys.get(b.id));
  });

  withStore('ping answers', async (t, store) => {
    await t.resolves(store.ping());
  });
}
