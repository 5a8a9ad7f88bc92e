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

  withStore('ping answers', async (t, store) => {
    await t.resolves(store.ping());
  });
}
