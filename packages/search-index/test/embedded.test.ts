import t from 'tap';
import { StoreErrors } from '@pai/errors';
import { createEmbeddedSearchIndex, type IndexItem, type SearchIndex } from '@pai/search-index';
import { direction, runSearchIndexContract } from '@pai/search-index/testing';

t.test('contract: embedded, no hydration', async (t) => {
  runSearchIndexContract(t, async () => createEmbeddedSearchIndex());
});

/**
 * The embedded index as the search service runs it: a source of truth (here a map) that every write
 * goes to first, and an index that rebuilds users from it. maxUsers 1 evicts on every user switch, so
 * the whole contract also exercises eviction and re-hydration.
 */
function storeBackedIndex(maxUsers: number): SearchIndex {
  const truth = new Map<string, Map<string, IndexItem>>();
  const of = (userId: string) => {
    let items = truth.get(userId);
    if (items === undefined) truth.set(userId, (items = new Map()));
    return items;
  };
  const index = createEmbeddedSearchIndex({
    maxUsers,
    hydrate: async (userId) => {
      await new Promise((resolve) => setImmediate(resolve));
      return [...of(userId).values()];
    },
  });
  return {
    ...index,
    async upsert(items) {
      for (const item of items) of(item.userId).set(`${item.type}:${item.id}`, item);
      await index.upsert(items);
    },
    async remove(userId, refs) {
      for (const ref of refs) of(userId).delete(`${ref.type}:${ref.id}`);
      await index.remove(userId, refs);
    },
    async removeDocument(userId, documentId) {
      for (const [key, item] of of(userId)) if (item.documentId === documentId) of(userId).delete(key);
      await index.removeDocument(userId, documentId);
    },
    async purgeUser(userId) {
      truth.delete(userId);
      await index.purgeUser(userId);
    },
  };
}

t.test('contract: embedded, hydrated from a store, one user cached at a time', async (t) => {
  runSearchIndexContract(t, async () => storeBackedIndex(1));
});

const at = '2025-01-01T00:00:00.000Z';
const memory = (userId: string, id: string, text: string, extra: Partial<IndexItem> = {}): IndexItem => ({ userId, type: 'memory', id, text, createdAt: at, ...extra });
const keyword = (userId: string, text: string) => ({ userId, text, k: 10, mode: 'keyword' as const, types: ['memory', 'document', 'message'] as const });

function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** A hydrate whose calls the test answers one by one. */
function controlledHydrate() {
  const calls: Array<{ userId: string; answer: ReturnType<typeof deferred<IndexItem[]>> }> = [];
  return {
    calls,
    hydrate: (userId: string) => {
      const answer = deferred<IndexItem[]>();
      calls.push({ userId, answer });
      return answer.promise;
    },
  };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

t.test('hydration is single-flight: concurrent operations share one call', async (t) => {
  const control = controlledHydrate();
  const index = createEmbeddedSearchIndex({ hydrate: control.hydrate });
  const pending = [index.search(keyword('u1', 'coffee')), index.count('u1'), index.search(keyword('u1', 'tea'))];
  await tick();
  t.equal(control.calls.length, 1, 'one hydrate call for three operations');
  control.calls[0]!.answer.resolve([memory('u1', 'm1', 'black coffee'), memory('u1', 'm2', 'green tea')]);
  const [coffee, count, tea] = await Promise.all(pending);
  t.same((coffee as { id: string }[]).map((h) => h.id), ['m1']);
  t.equal(count, 2);
  t.same((tea as { id: string }[]).map((h) => h.id), ['m2']);
  await index.count('u1');
  t.equal(control.calls.length, 1, 'a hydrated user is not loaded again');
  const other = index.count('u2');
  await tick();
  t.same(control.calls.map((c) => c.userId), ['u1', 'u2'], 'each user is loaded once, on first use');
  control.calls[1]!.answer.resolve([]);
  t.equal(await other, 0);
});

t.test('a failed hydration fails the waiting operations and is retried by the next one', async (t) => {
  let attempts = 0;
  const index = createEmbeddedSearchIndex({
    hydrate: async (userId) => {
      attempts++;
      if (attempts === 1) throw new Error('connection reset');
      if (attempts === 2) throw StoreErrors.unavailable();
      return [memory(userId, 'm1', 'coffee')];
    },
  });
  const first = await Promise.allSettled([index.count('u1'), index.search(keyword('u1', 'coffee'))]);
  t.equal(attempts, 1, 'both waited on the same attempt');
  for (const r of first) t.match(r, { status: 'rejected', reason: { code: 'PAI_SEARCH_UNAVAILABLE', statusCode: 503 } });
  await t.rejects(index.count('u1'), { code: 'PAI_STORE_UNAVAILABLE' }, "the store's own error passes through");
  t.equal(await index.count('u1'), 1, 'the third attempt succeeds');
  t.equal(attempts, 3);
});

t.test('writes that arrive during hydration are kept, in order, over the older hydrated copy', async (t) => {
  const control = controlledHydrate();
  const index = createEmbeddedSearchIndex({ hydrate: control.hydrate });
  const search = index.search(keyword('u1', 'coffee'));
  await tick();
  const writes = [
    index.upsert([memory('u1', 'edited', 'oat milk coffee v2')]),
    index.upsert([memory('u1', 'edited', 'oat milk coffee v3')]),
    index.remove('u1', [{ type: 'memory', id: 'deleted' }]),
    index.removeDocument('u1', 'doc-gone'),
    index.upsert([memory('u1', 'new', 'cold brew coffee')]),
  ];
  control.calls[0]!.answer.resolve([
    memory('u1', 'edited', 'oat milk coffee v1'),
    memory('u1', 'deleted', 'espresso coffee'),
    { userId: 'u1', type: 'document', id: 'c1', text: 'coffee chunk', documentId: 'doc-gone', createdAt: at },
    memory('u1', 'kept', 'filter coffee'),
  ]);
  await Promise.all(writes);
  t.equal(control.calls.length, 1);
  const hits = await index.search(keyword('u1', 'coffee'));
  t.same(hits.map((h) => `${h.id}=${h.text}`).sort(), ['edited=oat milk coffee v3', 'kept=filter coffee', 'new=cold brew coffee']);
  t.same((await search).map((h) => h.id).sort(), ['c1', 'deleted', 'edited', 'kept'], 'the search queued first saw the hydrated state only');
});

t.test('an operation arriving just as hydration completes still runs after the queued ones', async (t) => {
  // Whatever the number of microtask turns between the hydration settling and the new write, the write
  // that was issued last wins.
  for (let turns = 0; turns < 8; turns++) {
    const control = controlledHydrate();
    const index = createEmbeddedSearchIndex({ hydrate: control.hydrate });
    const first = index.upsert([memory('u1', 'x', 'first version')]);
    await tick();
    control.calls[0]!.answer.resolve([memory('u1', 'x', 'hydrated version')]);
    for (let i = 0; i < turns; i++) await Promise.resolve();
    const second = index.upsert([memory('u1', 'x', 'second version')]);
    await Promise.all([first, second]);
    const [hit] = await index.search(keyword('u1', 'version'));
    t.equal(hit?.text, 'second version', `after ${turns} turns`);
  }
});

t.test('LRU eviction: cold users are dropped and re-hydrated; busy users are kept', async (t) => {
  const loads: string[] = [];
  const index = createEmbeddedSearchIndex({
    maxUsers: 2,
    hydrate: async (userId) => {
      loads.push(userId);
      return [memory(userId, 'm1', `coffee of ${userId}`)];
    },
  });
  await index.count('a');
  await index.count('b');
  await index.count('a'); // a is now the most recent
  await index.count('c'); // evicts b, the least recently used
  t.same(loads, ['a', 'b', 'c']);
  await index.count('a');
  t.same(loads, ['a', 'b', 'c'], 'a was kept');
  await index.count('b');
  t.same(loads, ['a', 'b', 'c', 'b'], 'b was evicted and is loaded again');
  t.same((await index.search(keyword('b', 'coffee'))).map((h) => h.text), ['coffee of b'], 're-hydrated content is searchable');

  // A user whose hydration is in flight is never evicted, even past maxUsers.
  const control = controlledHydrate();
  const busy = createEmbeddedSearchIndex({ maxUsers: 1, hydrate: control.hydrate });
  const slow = busy.count('slow');
  await tick();
  const fast = busy.count('fast');
  await tick();
  control.calls[1]!.answer.resolve([memory('fast', 'm', 'x')]);
  t.equal(await fast, 1);
  control.calls[0]!.answer.resolve([memory('slow', 'm', 'x'), memory('slow', 'n', 'y')]);
  t.equal(await slow, 2, 'the slow user completed although the cache was full');
  t.equal(control.calls.length, 2);
});

t.test('purging a user that is not loaded does not load them', async (t) => {
  const loads: string[] = [];
  const index = createEmbeddedSearchIndex({ hydrate: async (u) => (loads.push(u), [memory(u, 'm', 'coffee')]) });
  await index.purgeUser('gone');
  t.equal(await index.count('gone'), 0);
  t.same(loads, [], 'no hydration for a purge');
  await index.count('kept');
  await index.purgeUser('kept');
  t.equal(await index.count('kept'), 0, 'a loaded user is emptied');
});

t.test('hydration that returns another user\'s items is refused', async (t) => {
  const index = createEmbeddedSearchIndex({ hydrate: async () => [memory('someone-else', 'm', 'secret')] });
  await t.rejects(index.search(keyword('u1', 'secret')), { code: 'PAI_SEARCH_UNAVAILABLE' });
});

t.test('vector dimensions are checked before anything changes', async (t) => {
  const index = createEmbeddedSearchIndex();
  await index.upsert([memory('u1', 'a', 'alpha', { vector: direction([1]) })]);
  const wrong = new Float32Array(4).fill(0.5);
  await t.rejects(index.upsert([memory('u1', 'b', 'beta'), memory('u1', 'c', 'gamma', { vector: wrong })]), { code: 'PAI_SEARCH_UNAVAILABLE' });
  t.equal(await index.count('u1'), 1, 'the batch was refused as a whole');
  await t.rejects(index.upsert([memory('u2', 'a', 'x', { vector: direction([1]) }), memory('u2', 'b', 'y', { vector: wrong })]), { code: 'PAI_SEARCH_UNAVAILABLE' },
    'mixed dimensions in one batch');
  await t.rejects(index.search({ ...keyword('u1', 'alpha'), mode: 'semantic', vector: wrong }), { code: 'PAI_SEARCH_UNAVAILABLE' });
  await index.purgeUser('u1');
  await index.upsert([memory('u1', 'b', 'beta', { vector: wrong })]);
  t.equal(await index.count('u1'), 1, 'after a purge the user may start over with other dimensions');
});

t.test('options are validated; a closed index refuses work', async (t) => {
  t.throws(() => createEmbeddedSearchIndex({ maxUsers: 3 }), /needs hydrate/);
  t.throws(() => createEmbeddedSearchIndex({ maxUsers: 0, hydrate: async () => [] }), RangeError);
  const index = createEmbeddedSearchIndex();
  await index.upsert([memory('u1', 'm', 'coffee')]);
  await index.close();
  await t.rejects(index.search(keyword('u1', 'coffee')), { code: 'PAI_SEARCH_UNAVAILABLE' });
  await t.rejects(index.ping(), { code: 'PAI_SEARCH_UNAVAILABLE' });
  await t.rejects(index.purgeUser('u1'), { code: 'PAI_SEARCH_UNAVAILABLE' });
});

t.test('weighted fusion can be the configured default', async (t) => {
  const rrf = createEmbeddedSearchIndex();
  const weighted = createEmbeddedSearchIndex({ fusion: { method: 'weighted', alpha: 0.5 } });
  const items = [memory('u', 'a', 'porto porto porto', { vector: direction([1]) }), memory('u', 'b', 'porto river city', { vector: direction([0, 1]) })];
  await rrf.upsert(items);
  await weighted.upsert(items);
  const q = { ...keyword('u', 'porto'), mode: 'hybrid' as const, vector: direction([1]) };
  const [w] = await weighted.search(q);
  t.equal(w?.score, 1, 'weighted: best on both sides normalizes to 1');
  const [r] = await rrf.search(q);
  t.equal(r?.score, 2 / 61, 'rrf: rank 1 on both sides');
  t.equal((await rrf.search({ ...q, fusion: 'weighted' }))[0]?.score, 1, 'a query can ask for the other method');
});
