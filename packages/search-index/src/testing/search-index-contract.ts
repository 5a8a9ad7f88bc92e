import type { Test } from 'tap';
import fc from 'fast-check';
import { normalize } from '@pai/retrieval';
import { ITEM_TYPES, type IndexHit, type IndexItem, type IndexQuery, type ItemType, type SearchIndex } from '../index.js';

/** The vector size the contract's items and queries use; an adapter with fixed dimensions must be made with it. */
export const CONTRACT_VECTOR_DIMENSIONS = 8;

export interface SearchIndexContractOptions {
  /** False for an adapter made without vectors (no embedding provider): semantic must be refused. Default true. */
  vectors?: boolean;
  /** fast-check runs of the tenant-isolation property (default 25). */
  isolationRuns?: number;
}

const T1 = '2025-01-01T00:00:00.000Z';
const T2 = '2025-02-01T00:00:00.000Z';
const T3 = '2025-03-01T00:00:00.000Z';

/** A unit vector from sparse components, e.g. direction([1, 1]) = (e0 + e1) / √2. */
export function direction(components: readonly number[]): Float32Array {
  const v = new Float32Array(CONTRACT_VECTOR_DIMENSIONS);
  components.forEach((c, i) => (v[i] = c));
  return normalize(v);
}

let sequence = 0;
/** A user id no other test (or earlier run against a shared cluster) has used. */
const freshUser = (name: string) => `usr_${name}_${Date.now().toString(36)}_${(sequence++).toString(36)}`;

function item(userId: string, type: ItemType, id: string, text: string, extra: Partial<IndexItem> = {}): IndexItem {
  return { userId, type, id, text, createdAt: T1, ...extra };
}

function query(userId: string, text: string, extra: Partial<IndexQuery> = {}): IndexQuery {
  return { userId, text, k: 10, mode: 'keyword', types: ITEM_TYPES, ...extra };
}

const ids = (hits: readonly IndexHit[]) => hits.map((h) => h.id);
const sortedIds = (hits: readonly IndexHit[]) => ids(hits).sort();

/**
 * The behaviour every SearchIndex adapter must have. An adapter's test file calls this with a factory
 * that returns a fresh, empty index (init() is called here).
 */
export function runSearchIndexContract(t: Test, makeIndex: () => Promise<SearchIndex>, options: SearchIndexContractOptions = {}): void {
  const vectors = options.vectors ?? true;

  const withIndex = (name: string, fn: (t: Test, index: SearchIndex) => Promise<void>) =>
    t.test(name, async (t) => {
      const index = await makeIndex();
      t.teardown(() => index.close());
      await index.init();
      await fn(t, index);
    });

  withIndex('init is idempotent and ping answers', async (t, index) => {
    await index.init();
    await t.resolves(index.ping());
    t.type(index.kind, 'string');
  });

  withIndex('upsert adds and replaces by (user, type, id); count per type', async (t, index) => {
    const u = freshUser('a');
    await index.upsert([
      item(u, 'memory', 'm1', 'Prefers black coffee in the morning'),
      item(u, 'memory', 'm2', 'Has a cat called Miso'),
      item(u, 'message', 'm1', 'I am flying to Porto next week'),
      item(u, 'document', 'c1', 'Quarterly budget numbers', { documentId: 'd1', title: 'Budget' }),
    ]);
    t.equal(await index.count(u), 4);
    t.equal(await index.count(u, 'memory'), 2);
    t.equal(await index.count(u, 'message'), 1, 'the same id under another type is another item');
    t.equal(await index.count(u, 'document'), 1);

    await index.upsert([item(u, 'memory', 'm1', 'Switched to green tea')]);
    t.equal(await index.count(u), 4, 'a replace does not add');
    t.same(await index.search(query(u, 'coffee')), [], 'the replaced text is gone');
    const tea = await index.search(query(u, 'tea'));
    t.same(tea.map((h) => [h.type, h.id, h.text]), [['memory', 'm1', 'Switched to green tea']]);
    t.same(ids(await index.search(query(u, 'porto'))), ['m1'], 'the message m1 is untouched');
    await index.upsert([]);
    t.equal(await index.count(u), 4, 'an empty upsert is a no-op');
    t.equal(await index.count(freshUser('nobody')), 0, 'an unknown user has nothing');
  });

  withIndex('hits carry every field of the item', async (t, index) => {
    const u = freshUser('fields');
    await index.upsert([
      item(u, 'document', 'c1', 'The roof needs new tiles before winter', {
        title: 'House notes', heading: 'Repairs', documentId: 'doc_1', createdAt: T2, metadata: { ordinal: 3, final: true, note: null, kind: 'pdf' },
      }),
      item(u, 'message', 'msg1', 'Ask the roofer about tiles', { conversationId: 'conv_1', metadata: { role: 'user' } }),
      item(u, 'memory', 'mem1', 'Roof was repaired in 2019', { category: 'fact' }),
    ]);
    const hits = await index.search(query(u, 'roof tiles', { k: 10 }));
    t.equal(hits.length, 3);
    const chunk = hits.find((h) => h.id === 'c1')!;
    t.match(chunk, {
      type: 'document', id: 'c1', text: 'The roof needs new tiles before winter', title: 'House notes', heading: 'Repairs', category: null,
      documentId: 'doc_1', conversationId: null, createdAt: T2,
    });
    t.same(chunk.metadata, { ordinal: 3, final: true, note: null, kind: 'pdf' });
    t.ok(chunk.score > 0 && chunk.keywordScore === chunk.score, 'keyword mode: score is the BM25 score');
    t.notOk('vectorScore' in chunk);
    t.match(hits.find((h) => h.id === 'msg1'), { type: 'message', conversationId: 'conv_1', title: null, heading: null, documentId: null, metadata: { role: 'user' } });
    t.match(hits.find((h) => h.id === 'mem1'), { type: 'memory', category: 'fact', metadata: {} });
    for (let i = 1; i < hits.length; i++) t.ok(hits[i - 1]!.score >= hits[i]!.score, 'best first');
  });

  withIndex('remove deletes by ref and ignores unknown refs', async (t, index) => {
    const u = freshUser('remove');
    await index.upsert([
      item(u, 'memory', 'a', 'coffee one'), item(u, 'memory', 'b', 'coffee two'), item(u, 'message', 'a', 'coffee three'),
    ]);
    await index.remove(u, [{ type: 'memory', id: 'a' }, { type: 'memory', id: 'missing' }, { type: 'document', id: 'a' }]);
    t.equal(await index.count(u), 2);
    t.same(await index.search(query(u, 'coffee')).then((h) => h.map((x) => `${x.type}:${x.id}`).sort()), ['memory:b', 'message:a']);
    await index.remove(u, []);
    t.equal(await index.count(u), 2);
  });

  withIndex('removeDocument removes every chunk of that document only', async (t, index) => {
    const u = freshUser('doc');
    await index.upsert([
      item(u, 'document', 'a1', 'garden plan tomatoes', { documentId: 'A' }),
      item(u, 'document', 'a2', 'garden plan basil', { documentId: 'A' }),
      item(u, 'document', 'a3', 'garden plan water', { documentId: 'A' }),
      item(u, 'document', 'b1', 'garden shed paint', { documentId: 'B' }),
      item(u, 'memory', 'm1', 'likes garden work'),
    ]);
    await index.removeDocument(u, 'A');
    t.equal(await index.count(u), 2);
    t.same(sortedIds(await index.search(query(u, 'garden'))), ['b1', 'm1']);
    await index.removeDocument(u, 'unknown');
    t.equal(await index.count(u), 2, 'an unknown document is a no-op');
  });

  withIndex('purgeUser removes everything of the user, and the user can start again', async (t, index) => {
    const u = freshUser('purge');
    await index.upsert([item(u, 'memory', 'm1', 'coffee'), item(u, 'document', 'c1', 'coffee notes', { documentId: 'd' }), item(u, 'message', 'x', 'coffee?')]);
    await index.purgeUser(u);
    t.equal(await index.count(u), 0);
    t.same(await index.search(query(u, 'coffee')), []);
    await index.upsert([item(u, 'memory', 'm2', 'tea now')]);
    t.same(ids(await index.search(query(u, 'tea'))), ['m2']);
  });

  withIndex('keyword ranking: matches first, stemming, stop words, title boost', async (t, index) => {
    const u = freshUser('rank');
    await index.upsert([
      item(u, 'memory', 'both', 'Planning a trip to Porto with Eva'),
      item(u, 'memory', 'trip', 'Trip notes for the summer'),
      item(u, 'memory', 'none', 'Lisbon weekend away'),
      item(u, 'memory', 'cats', 'Has two cats at home'),
      item(u, 'document', 'titled', 'numbers for the year ahead', { title: 'Budget', documentId: 'd1' }),
      item(u, 'document', 'body', 'the budget is tight this year, with long lists of numbers, receipts, invoices and plans', { title: 'Notes', documentId: 'd2' }),
    ]);
    const porto = await index.search(query(u, 'porto trip'));
    t.equal(porto[0]?.id, 'both', 'the item with both terms ranks first');
    t.same(sortedIds(porto), ['both', 'trip'], 'items sharing no term are left out');
    t.same(ids(await index.search(query(u, 'cat'))), ['cats'], 'stemming: cat matches cats');
    t.same(await index.search(query(u, 'the and of with')), [], 'a query of stop words matches nothing');
    t.same(await index.search(query(u, '')), [], 'an empty query matches nothing');
    t.same(ids(await index.search(query(u, 'budget', { types: ['document'] }))), ['titled', 'body'], 'a title match outranks a body match');
  });

  withIndex('k limits the hits and types restrict them', async (t, index) => {
    const u = freshUser('k');
    const items: IndexItem[] = [];
    for (let i = 0; i < 15; i++) items.push(item(u, 'memory', `m${i}`, `coffee note ${'extra words '.repeat(i % 4)}${i}`));
    items.push(item(u, 'message', 'msg', 'coffee again'), item(u, 'document', 'doc', 'coffee doc', { documentId: 'd' }));
    await index.upsert(items);
    const five = await index.search(query(u, 'coffee', { k: 5 }));
    t.equal(five.length, 5);
    for (let i = 1; i < five.length; i++) t.ok(five[i - 1]!.score >= five[i]!.score, 'best first');
    t.equal((await index.search(query(u, 'coffee', { k: 100 }))).length, 17);
    t.same(ids(await index.search(query(u, 'coffee', { types: ['message'] }))), ['msg']);
    t.same((await index.search(query(u, 'coffee', { types: ['message', 'document'] }))).map((h) => h.type).sort(), ['document', 'message']);
    t.same(await index.search(query(u, 'coffee', { types: [] })), [], 'no types, no hits');
    t.same(await index.search(query(u, 'coffee', { k: 0 })), [], 'k 0, no hits');
  });

  withIndex('filters: category, documentId, since (inclusive), until (exclusive)', async (t, index) => {
    const u = freshUser('filters');
    await index.upsert([
      item(u, 'memory', 'm1', 'coffee early', { category: 'preference', createdAt: T1 }),
      item(u, 'memory', 'm2', 'coffee middle', { category: 'fact', createdAt: T2 }),
      item(u, 'memory', 'm3', 'coffee late', { category: 'preference', createdAt: T3 }),
      item(u, 'document', 'c1', 'coffee chunk', { documentId: 'd1', createdAt: T2 }),
      item(u, 'document', 'c2', 'coffee chunk two', { documentId: 'd2', createdAt: T2 }),
      item(u, 'message', 'x1', 'coffee talk', { conversationId: 'conv', createdAt: T3 }),
    ]);
    const search = (filters: IndexQuery['filters'], extra: Partial<IndexQuery> = {}) => index.search(query(u, 'coffee', { filters, k: 20, ...extra })).then(sortedIds);
    t.same(await search({ category: 'preference' }), ['m1', 'm3']);
    t.same(await search({ documentId: 'd1' }), ['c1']);
    t.same(await search({ since: T2 }), ['c1', 'c2', 'm2', 'm3', 'x1'], 'since includes its instant');
    t.same(await search({ until: T2 }), ['m1'], 'until excludes its instant');
    t.same(await search({ since: T2, until: T3 }), ['c1', 'c2', 'm2']);
    t.same(await search({ category: 'preference', since: T2 }), ['m3'], 'filters combine');
    t.same(await search({ category: 'nothing' }), []);
    t.same(await search({ category: undefined, documentId: undefined }), ['c1', 'c2', 'm1', 'm2', 'm3', 'x1'], 'undefined filters are no filters');
    t.same(await search({ since: '2025-02-01T01:00:00+01:00' }), ['c1', 'c2', 'm2', 'm3', 'x1'], 'instants with an offset are compared as instants');
    await t.rejects(search({ since: 'last tuesday' }), { code: 'PAI_REQUEST_INVALID' }, 'an unparseable instant is refused');
  });

  withIndex('ids that would collide when joined stay apart', async (t, index) => {
    const base = freshUser('join');
    const a = base;
    const b = `${base}:memory`;
    await index.upsert([item(a, 'memory', 'memory:x', 'alpha text', { metadata: { owner: 'a' } }), item(b, 'memory', 'x', 'alpha text', { metadata: { owner: 'b' } })]);
    t.equal(await index.count(a), 1);
    t.equal(await index.count(b), 1);
    t.same((await index.search(query(a, 'alpha'))).map((h) => h.metadata.owner), ['a']);
    t.same((await index.search(query(b, 'alpha'))).map((h) => h.metadata.owner), ['b']);
    await index.remove(b, [{ type: 'memory', id: 'x' }]);
    t.equal(await index.count(a), 1, "removing b's item leaves a's");
  });

  if (vectors) {
    withIndex('semantic: nearest vectors first, with filters; no query vector is refused', async (t, index) => {
      const u = freshUser('sem');
      await index.upsert([
        item(u, 'memory', 'near', 'alpha', { vector: direction([0.9, 0.1]), category: 'a' }),
        item(u, 'memory', 'mid', 'beta', { vector: direction([1, 1]), category: 'b' }),
        item(u, 'memory', 'far', 'gamma', { vector: direction([0, 1]), category: 'a' }),
        item(u, 'memory', 'opposite', 'delta', { vector: direction([-1, 0]), category: 'a' }),
        item(u, 'memory', 'novector', 'alpha beta gamma'),
        item(u, 'message', 'msg', 'epsilon', { vector: direction([1, 0.05]) }),
      ]);
      const q = direction([1]);
      const hits = await index.search(query(u, 'unrelated words', { mode: 'semantic', vector: q, types: ['memory'] }));
      t.same(ids(hits), ['near', 'mid', 'far', 'opposite'], 'ranked by cosine; text plays no part; items without vectors are no candidates');
      const expected = [0.9 / Math.hypot(0.9, 0.1), Math.SQRT1_2, 0, -1];
      hits.forEach((h, i) => {
        t.ok(Math.abs(h.vectorScore! - expected[i]!) < 1e-3, `${h.id}: vectorScore is the cosine (${h.vectorScore})`);
        t.equal(h.score, h.vectorScore);
        t.notOk('keywordScore' in h);
      });
      t.same(ids(await index.search(query(u, '', { mode: 'semantic', vector: q, types: ['memory'], k: 2 }))), ['near', 'mid'], 'k applies');
      t.same(ids(await index.search(query(u, '', { mode: 'semantic', vector: q, types: ['memory'], filters: { category: 'a' } }))), ['near', 'far', 'opposite'],
        'filters apply inside the vector search');
      t.same(ids(await index.search(query(u, '', { mode: 'semantic', vector: q, k: 2 }))), ['msg', 'near'], 'all types by default');
      await t.rejects(index.search(query(u, 'alpha', { mode: 'semantic' })), { code: 'PAI_SEARCH_SEMANTIC_UNAVAILABLE' });
    });

    withIndex('hybrid fuses the keyword and vector lists', async (t, index) => {
      const u = freshUser('hybrid');
      await index.upsert([
        item(u, 'memory', 'keyword-only', 'Porto is lovely in spring'),
        item(u, 'memory', 'vector-only', 'A city by the river', { vector: direction([1, 0.2]) }),
        item(u, 'memory', 'both', 'Porto, Porto: flying to Porto', { vector: direction([1, 0.1]) }),
        item(u, 'memory', 'neither', 'Tax forms are due', { vector: direction([0, 0, 1]) }),
      ]);
      const q = direction([1]);
      for (const fusion of ['rrf', 'weighted'] as const) {
        const hits = await index.search(query(u, 'porto', { mode: 'hybrid', vector: q, fusion }));
        t.equal(hits[0]?.id, 'both', `${fusion}: the item found by both sides ranks first`);
        t.ok(hits[0]!.keywordScore! > 0 && hits[0]!.vectorScore! > 0.9, `${fusion}: it carries both component scores`);
        const keywordOnly = hits.find((h) => h.id === 'keyword-only')!;
        t.ok(keywordOnly.keywordScore! > 0 && !('vectorScore' in keywordOnly), `${fusion}: a keyword-only hit has no vector score`);
        const vectorOnly = hits.find((h) => h.id === 'vector-only')!;
        t.ok(vectorOnly.vectorScore! > 0.9 && !('keywordScore' in vectorOnly), `${fusion}: a vector-only hit has no keyword score`);
        t.ok(ids(hits).indexOf('neither') > ids(hits).indexOf('vector-only'), `${fusion}: the unrelated item ranks below`);
      }
      const noVector = await index.search(query(u, 'porto', { mode: 'hybrid' }));
      const keyword = await index.search(query(u, 'porto', { mode: 'keyword' }));
      t.same(noVector, keyword, 'hybrid without a query vector is keyword search');
      t.equal((await index.search(query(u, 'porto', { mode: 'hybrid', vector: q, k: 2 }))).length, 2, 'k applies after fusion');
    });
  } else {
    withIndex('without vectors: semantic is refused, hybrid is keyword search', async (t, index) => {
      const u = freshUser('novec');
      await index.upsert([item(u, 'memory', 'm1', 'Porto in spring', { vector: direction([1]) }), item(u, 'memory', 'm2', 'river city')]);
      await t.rejects(index.search(query(u, 'porto', { mode: 'semantic', vector: direction([1]) })), { code: 'PAI_SEARCH_SEMANTIC_UNAVAILABLE' });
      const hybrid = await index.search(query(u, 'porto', { mode: 'hybrid', vector: direction([1]) }));
      t.same(hybrid, await index.search(query(u, 'porto', { mode: 'keyword' })));
      t.same(ids(hybrid), ['m1']);
    });
  }

  withIndex('tenant isolation: identical content of two users never crosses (property)', async (t, index) => {
    const WORDS = ['coffee', 'porto', 'budget', 'garden', 'music', 'train'];
    // User ids with the separator and escape characters an id scheme could trip over.
    const userName = fc.string({ unit: fc.constantFrom('a', 'b', ':', '%', '3', 'A'), minLength: 1, maxLength: 6 });
    const itemSpec = fc.record({
      type: fc.constantFrom(...ITEM_TYPES),
      id: fc.constantFrom('i1', 'i2', 'i3', 'i:4', 'i%5'),
      words: fc.array(fc.constantFrom(...WORDS), { minLength: 1, maxLength: 4 }),
      documentId: fc.constantFrom('d1', 'd2'),
      axis: fc.integer({ min: 0, max: CONTRACT_VECTOR_DIMENSIONS - 1 }),
    });
    const destructive = fc.oneof(
      fc.record({ kind: fc.constant('remove' as const), refs: fc.array(fc.record({ type: fc.constantFrom(...ITEM_TYPES), id: fc.constantFrom('i1', 'i2', 'i:4') }), { maxLength: 3 }) }),
      fc.record({ kind: fc.constant('removeDocument' as const), documentId: fc.constantFrom('d1', 'd2') }),
      fc.record({ kind: fc.constant('purgeUser' as const) }),
    );
    let run = 0;
    await fc.assert(fc.asyncProperty(
      fc.uniqueArray(userName, { minLength: 2, maxLength: 2 }), fc.array(itemSpec, { minLength: 1, maxLength: 8 }), fc.constantFrom(...WORDS), destructive,
      async (names, specs, word, op) => {
        const nonce = `${Date.now().toString(36)}${run++}`;
        const [a, b] = names.map((n) => `${n}#${nonce}`) as [string, string];
        // Last write wins per (type, id), as in the index.
        const model = new Map<string, (typeof specs)[number]>();
        for (const s of specs) model.set(`${s.type}:${s.id}`, s);
        const itemsOf = (user: string) => specs.map((s) => item(user, s.type, s.id, s.words.join(' '), {
          documentId: s.type === 'document' ? s.documentId : null, metadata: { owner: user }, vector: vectors ? direction([...Array(s.axis).fill(0), 1]) : null,
        }));
        await index.upsert([...itemsOf(a), ...itemsOf(b)]);

        const searchAs = async (user: string) => {
          const keyword = await index.search(query(user, word, { k: 100 }));
          const semantic = vectors ? await index.search(query(user, word, { k: 100, mode: 'hybrid', vector: direction([1, 1, 1]) })) : [];
          return { keyword, semantic };
        };
        const owned = (user: string, hits: IndexHit[]) => hits.every((h) => h.metadata.owner === user);
        const key = (hits: IndexHit[]) => hits.map((h) => `${h.type}:${h.id}`).sort().join(',');

        const [ra, rb] = [await searchAs(a), await searchAs(b)];
        if (!owned(a, ra.keyword) || !owned(a, ra.semantic) || !owned(b, rb.keyword) || !owned(b, rb.semantic)) return false;
        if (key(ra.keyword) !== key(rb.keyword) || key(ra.semantic) !== key(rb.semantic)) return false;
        if ((await index.count(a)) !== model.size || (await index.count(b)) !== model.size) return false;

        // A destructive operation on a: b is untouched, a loses exactly what the model says.
        let expectedA: number;
        if (op.kind === 'remove') {
          await index.remove(a, op.refs);
          expectedA = [...model.keys()].filter((k) => !op.refs.some((r) => `${r.type}:${r.id}` === k)).length;
        } else if (op.kind === 'removeDocument') {
          await index.removeDocument(a, op.documentId);
          expectedA = [...model.values()].filter((s) => !(s.type === 'document' && s.documentId === op.documentId)).length;
        } else {
          await index.purgeUser(a);
          expectedA = 0;
        }
        if ((await index.count(a)) !== expectedA || (await index.count(b)) !== model.size) return false;
        const after = await searchAs(b);
        if (key(after.keyword) !== key(rb.keyword) || !owned(b, after.keyword) || !owned(b, after.semantic)) return false;
        for (const type of ITEM_TYPES) {
          const expected = [...model.values()].filter((s) => s.type === type).length;
          if ((await index.count(b, type)) !== expected) return false;
        }
        await index.purgeUser(a);
        await index.purgeUser(b);
        return true;
      }), { numRuns: options.isolationRuns ?? 25 });
    t.pass('no operation of one user reached the other');
  });
}
