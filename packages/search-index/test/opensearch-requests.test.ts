/**
 * The exact requests the OpenSearch adapter sends (mapping, bulk lines, routing, the owner filter in
 * every query), how it maps failures to PAI_SEARCH_UNAVAILABLE, and that the stand-in refuses what it
 * does not understand.
 */
import t from 'tap';
import type { Test } from 'tap';
import { createServer } from 'node:net';
import { Client } from '@opensearch-project/opensearch';
import { createOpenSearchIndex, type IndexItem, type OpenSearchIndexOptions } from '@pai/search-index';
import { direction, startOpenSearchStandIn, type OpenSearchStandIn, type RecordedRequest } from '@pai/search-index/testing';

const KW = { type: 'keyword' };
const TEXT = { type: 'text', analyzer: 'english' };
const BASE_PROPERTIES = {
  user_id: KW, type: KW, item_id: KW, category: KW, document_id: KW, conversation_id: KW,
  text: TEXT, title: TEXT, heading: TEXT,
  created_at: { type: 'date' },
  metadata: { type: 'object', enabled: false },
};
const VECTOR_FIELD = {
  type: 'knn_vector', dimension: 8,
  method: { name: 'hnsw', space_type: 'cosinesimil', engine: 'lucene', parameters: { m: 16, ef_construction: 128 } },
};
const AT = '2025-01-01T00:00:00.000Z';

async function setup(t: Test, options: Partial<OpenSearchIndexOptions> = {}) {
  const standIn = await startOpenSearchStandIn();
  const client = new Client({ node: standIn.url, maxRetries: 0 });
  const index = createOpenSearchIndex({ client, indexPrefix: 'pai-', dimensions: 8, ...options });
  t.teardown(async () => {
    await index.close();
    await client.close();
    await standIn.close();
  });
  return { standIn, client, index };
}

const memory = (userId: string, id: string, text: string, extra: Partial<IndexItem> = {}): IndexItem => ({ userId, type: 'memory', id, text, createdAt: AT, ...extra });
const after = (standIn: OpenSearchStandIn, from: number) => standIn.requests.slice(from);

t.test('init puts the index template and creates the index once', async (t) => {
  const { standIn, index } = await setup(t);
  await index.init();
  const expectedBody = {
    settings: { index: { knn: true } },
    mappings: { dynamic: 'strict', _routing: { required: true }, properties: { ...BASE_PROPERTIES, vector: VECTOR_FIELD } },
  };
  t.same(standIn.requests.map((r) => `${r.method} ${r.path}`), ['POST /_index_template/pai-items', 'HEAD /pai-items', 'PUT /pai-items']);
  t.same(standIn.requests[0]!.body, { index_patterns: ['pai-items*'], priority: 100, template: expectedBody }, 'template: mapping with knn_vector of the configured dimension');
  t.same(standIn.requests[2]!.body, expectedBody, 'the index is created with the same definition');
  t.same(standIn.indexDefinition('pai-items')?.settings, { 'index.knn': true });

  const mark = standIn.requests.length;
  await index.init();
  t.same(after(standIn, mark).map((r) => `${r.method} ${r.path}`), ['POST /_index_template/pai-items', 'HEAD /pai-items'], 'a second init does not create again');
});

t.test('without dimensions there is no vector field and no knn setting', async (t) => {
  const { standIn, index } = await setup(t, { dimensions: null });
  await index.init();
  t.same(standIn.requests[2]!.body, { settings: {}, mappings: { dynamic: 'strict', _routing: { required: true }, properties: BASE_PROPERTIES } });
});

t.test('init treats an index created concurrently by another instance as success', async (t) => {
  const { standIn, index } = await setup(t);
  standIn.failNext({ status: 400, type: 'resource_already_exists_exception', match: (r) => r.method === 'PUT' && r.path === '/pai-items' });
  await t.resolves(index.init());
  standIn.failNext({ status: 400, type: 'mapper_parsing_exception', match: (r) => r.method === 'HEAD' });
  await t.rejects(index.init(), { code: 'PAI_SEARCH_UNAVAILABLE', message: /HTTP 400/ });
});

t.test('upsert sends bulk index lines with the document id and routing of the owner', async (t) => {
  const { standIn, index } = await setup(t);
  await index.init();
  const mark = standIn.requests.length;
  await index.upsert([
    memory('usr_1', 'mem_1', 'Prefers black coffee', { category: 'preference', metadata: { importance: 0.8 }, vector: direction([1, 0.5]) }),
    { userId: 'usr_2', type: 'document', id: 'chk_1', text: 'Roof repairs', title: 'House', heading: 'Roof', documentId: 'doc_1', createdAt: AT },
  ]);
  const [bulk] = after(standIn, mark);
  t.match(bulk, { method: 'POST', path: '/_bulk', query: { refresh: 'wait_for' } });
  const v = Array.from(direction([1, 0.5]), (x) => Number(x.toPrecision(7)));
  t.same(bulk!.body, [
    { index: { _index: 'pai-items', _id: 'usr_1:memory:mem_1', routing: 'usr_1' } },
    {
      user_id: 'usr_1', type: 'memory', item_id: 'mem_1', text: 'Prefers black coffee', title: null, heading: null, category: 'preference',
      document_id: null, conversation_id: null, created_at: AT, metadata: { importance: 0.8 }, vector: v,
    },
    { index: { _index: 'pai-items', _id: 'usr_2:document:chk_1', routing: 'usr_2' } },
    {
      user_id: 'usr_2', type: 'document', item_id: 'chk_1', text: 'Roof repairs', title: 'House', heading: 'Roof', category: null,
      document_id: 'doc_1', conversation_id: null, created_at: AT, metadata: {},
    },
  ]);
  t.same(standIn.documents('pai-items').map((d) => [d.id, d.routing]), [['usr_1:memory:mem_1', 'usr_1'], ['usr_2:document:chk_1', 'usr_2']]);
  t.equal(createOpenSearchIndex({ client: new Client({ node: standIn.url }), indexPrefix: '', dimensions: null }).kind, 'opensearch');
});

t.test('ids are escaped so that no two (user, type, id) share a document id', async (t) => {
  const { standIn, index } = await setup(t);
  await index.init();
  await index.upsert([memory('a:b', 'x%y', 'one'), memory('a', 'b:memory:x', 'two')]);
  t.same(standIn.documents('pai-items').map((d) => d.id).sort(), ['a%3Ab:memory:x%25y', 'a:memory:b%3Amemory%3Ax']);
});

t.test('large upserts are split into bounded bulk requests', async (t) => {
  const { standIn, index } = await setup(t, { maxBulkBytes: 2_000 });
  await index.init();
  const mark = standIn.requests.length;
  const items = Array.from({ length: 40 }, (_, i) => memory('usr_1', `m${i}`, `note number ${i} about coffee`, { vector: direction([1, i]) }));
  await index.upsert(items);
  const bulks = after(standIn, mark).filter((r) => r.path === '/_bulk');
  t.ok(bulks.length > 3, `${bulks.length} requests`);
  for (const b of bulks) {
    const lines = b.body as unknown[];
    t.equal(lines.length % 2, 0, 'an action is never separated from its document');
  }
  t.equal(await index.count('usr_1'), 40);
});

t.test('remove, removeDocument, purgeUser and count carry the owner filter and routing', async (t) => {
  const { standIn, index } = await setup(t);
  await index.init();
  await index.upsert([memory('usr_1', 'm1', 'a'), memory('usr_1', 'm2', 'b'), { ...memory('usr_1', 'c1', 'c'), type: 'document', documentId: 'doc_1' }]);
  const mark = standIn.requests.length;
  await index.remove('usr_1', [{ type: 'memory', id: 'm1' }, { type: 'message', id: 'unknown' }]);
  await index.removeDocument('usr_1', 'doc_1');
  await index.purgeUser('usr_1');
  await index.count('usr_1');
  await index.count('usr_1', 'memory');
  const [remove, removeDocument, purge, count, countMemory] = after(standIn, mark);
  t.same(remove, {
    method: 'POST', path: '/_bulk', query: { refresh: 'wait_for' },
    body: [{ delete: { _index: 'pai-items', _id: 'usr_1:memory:m1', routing: 'usr_1' } }, { delete: { _index: 'pai-items', _id: 'usr_1:message:unknown', routing: 'usr_1' } }],
  });
  t.same(removeDocument, {
    method: 'POST', path: '/pai-items/_delete_by_query', query: { routing: 'usr_1', refresh: 'true', conflicts: 'proceed' },
    body: { query: { bool: { filter: [{ term: { user_id: 'usr_1' } }, { term: { document_id: 'doc_1' } }] } } },
  });
  t.same(purge, {
    method: 'POST', path: '/pai-items/_delete_by_query', query: { routing: 'usr_1', refresh: 'true', conflicts: 'proceed' },
    body: { query: { bool: { filter: [{ term: { user_id: 'usr_1' } }] } } },
  });
  t.same(count, { method: 'POST', path: '/pai-items/_count', query: { routing: 'usr_1' }, body: { query: { bool: { filter: [{ term: { user_id: 'usr_1' } }] } } } });
  t.same(countMemory!.body, { query: { bool: { filter: [{ term: { user_id: 'usr_1' } }, { terms: { type: ['memory'] } }] } } });
});

t.test('search: one _msearch, the owner filter inside both the BM25 and the knn query', async (t) => {
  const { standIn, index } = await setup(t);
  await index.init();
  await index.upsert([memory('usr_1', 'm1', 'Porto trip', { vector: direction([1]), category: 'plan' })]);
  const q = direction([1, 1]);
  const mark = standIn.requests.length;
  const hits = await index.search({
    userId: 'usr_1', text: 'porto', vector: q, k: 5, mode: 'hybrid', types: ['memory', 'document'],
    filters: { category: 'plan', documentId: undefined, since: '2024-12-31T23:00:00-01:00', until: '2026-01-01T00:00:00Z' },
  });
  t.same(hits.map((h) => h.id), ['m1']);
  const requests = after(standIn, mark);
  t.equal(requests.length, 1, 'one round trip');
  const filter = [
    { term: { user_id: 'usr_1' } },
    { terms: { type: ['memory', 'document'] } },
    { term: { category: 'plan' } },
    { range: { created_at: { gte: '2025-01-01T00:00:00.000Z', lt: '2026-01-01T00:00:00.000Z' } } },
  ];
  const header = { index: 'pai-items', routing: 'usr_1' };
  t.same(requests[0], {
    method: 'POST', path: '/_msearch', query: {},
    body: [
      header,
      {
        size: 50, _source: { excludes: ['vector'] },
        query: { bool: { must: [{ multi_match: { query: 'porto', fields: ['text', 'title^2', 'heading^1.5'], type: 'best_fields', tie_breaker: 0.3 } }], filter } },
      },
      header,
      {
        size: 50, _source: { excludes: ['vector'] },
        query: { knn: { vector: { vector: Array.from(q, (x) => Number(x.toPrecision(7))), k: 50, filter: { bool: { filter } } } } },
      },
    ],
  });
  t.ok(Math.abs(hits[0]!.vectorScore! - Math.SQRT1_2) < 1e-4, 'the knn score is turned back into the cosine');

  const keywordMark = standIn.requests.length;
  await index.search({ userId: 'usr_1', text: 'porto', k: 3, mode: 'keyword', types: ['memory'] });
  const keyword = after(standIn, keywordMark)[0]!.body as unknown[];
  t.equal(keyword.length, 2, 'keyword: the BM25 query alone');
  t.match(keyword[1], { size: 3, query: { bool: { filter: [{ term: { user_id: 'usr_1' } }, { terms: { type: ['memory'] } }] } } });

  const semanticMark = standIn.requests.length;
  await index.search({ userId: 'usr_1', text: 'porto', vector: q, k: 3, mode: 'semantic', types: ['memory'] });
  const semantic = after(standIn, semanticMark)[0]!.body as unknown[];
  t.equal(semantic.length, 2, 'semantic: the knn query alone');
  t.match(semantic[1], { size: 3, query: { knn: { vector: { k: 3, filter: { bool: { filter: [{ term: { user_id: 'usr_1' } }] } } } } } });

  const noneMark = standIn.requests.length;
  t.same(await index.search({ userId: 'usr_1', text: 'porto', k: 3, mode: 'keyword', types: [] }), []);
  t.equal(standIn.requests.length, noneMark, 'nothing to ask when no type is asked for');
});

t.test('every request that touches documents is routed to the owner', async (t) => {
  const { standIn, index } = await setup(t);
  await index.init();
  const mark = standIn.requests.length;
  await index.upsert([memory('usr_9', 'm', 'coffee', { vector: direction([1]) })]);
  await index.search({ userId: 'usr_9', text: 'coffee', vector: direction([1]), k: 3, mode: 'hybrid', types: ['memory'] });
  await index.count('usr_9');
  await index.remove('usr_9', [{ type: 'memory', id: 'm' }]);
  await index.removeDocument('usr_9', 'd');
  await index.purgeUser('usr_9');
  const routed = (r: RecordedRequest): string[] => {
    if (r.path.endsWith('/_bulk')) return (r.body as Array<Record<string, { routing?: string }>>).filter((l) => 'index' in l || 'delete' in l).map((l) => Object.values(l)[0]!.routing!);
    if (r.path.endsWith('/_msearch')) return (r.body as Array<{ routing?: string }>).filter((_, i) => i % 2 === 0).map((h) => h.routing!);
    return [r.query.routing!];
  };
  const routings = after(standIn, mark).flatMap(routed);
  t.ok(routings.length >= 7);
  t.same([...new Set(routings)], ['usr_9']);
});

t.test('failures become PAI_SEARCH_UNAVAILABLE with a short reason and no user content', async (t) => {
  const { standIn, index } = await setup(t);
  await index.init();
  await index.upsert([memory('usr_1', 'm1', 'coffee')]);

  standIn.failNext({ status: 500, reason: 'query [my secret diary] failed' });
  const error = await index.search({ userId: 'usr_1', text: 'my secret diary', k: 3, mode: 'keyword', types: ['memory'] }).catch((e: unknown) => e);
  t.match(error, { code: 'PAI_SEARCH_UNAVAILABLE', statusCode: 503, message: 'OpenSearch search failed: HTTP 500 (internal_server_error).' });
  t.notMatch(JSON.stringify(error), /secret/, 'nothing of the query or the server reason is carried');
  t.equal((error as Error).cause, undefined, "the client's error (which holds the request) is not attached");

  for (const [name, run] of Object.entries({
    upsert: () => index.upsert([memory('usr_1', 'm2', 'tea')]),
    remove: () => index.remove('usr_1', [{ type: 'memory', id: 'm1' }]),
    removeDocument: () => index.removeDocument('usr_1', 'd'),
    purgeUser: () => index.purgeUser('usr_1'),
    count: () => index.count('usr_1'),
    ping: () => index.ping(),
    init: () => index.init(),
  })) {
    standIn.failNext({ status: 503, type: 'cluster_block_exception' });
    // A HEAD answer (ping) has no body, so no error type.
    const message = name === 'ping' ? 'OpenSearch ping failed: HTTP 503.' : /HTTP 503 \(cluster_block_exception\)\.$/;
    await t.rejects(async () => { await run(); }, { code: 'PAI_SEARCH_UNAVAILABLE', message }, name);
  }
});

t.test('a refused connection becomes PAI_SEARCH_UNAVAILABLE', async (t) => {
  const port = await new Promise<number>((resolve) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
  const client = new Client({ node: `http://127.0.0.1:${port}`, maxRetries: 0 });
  t.teardown(() => client.close());
  const index = createOpenSearchIndex({ client, indexPrefix: 'pai-', dimensions: 8 });
  await t.rejects(index.init(), { code: 'PAI_SEARCH_UNAVAILABLE', message: /unreachable \(template update: ECONNREFUSED\)/ });
  await t.rejects(index.ping(), { code: 'PAI_SEARCH_UNAVAILABLE', message: /unreachable/ });
  await t.rejects(index.search({ userId: 'u', text: 'x', k: 3, mode: 'keyword', types: ['memory'] }), { code: 'PAI_SEARCH_UNAVAILABLE' });
  await t.rejects(index.upsert([memory('u', 'm', 'x')]), { code: 'PAI_SEARCH_UNAVAILABLE' });
});

t.test('per-item bulk failures and per-search errors are not swallowed', async (t) => {
  const { standIn, client, index } = await setup(t);
  await index.init();
  // An instance configured with other dimensions than the index was created with.
  const misconfigured = createOpenSearchIndex({ client, indexPrefix: 'pai-', dimensions: 4 });
  const v4 = new Float32Array([0.5, 0.5, 0.5, 0.5]);
  await t.rejects(misconfigured.upsert([memory('u', 'ok', 'fine'), memory('u', 'bad', 'x', { vector: v4 })]),
    { code: 'PAI_SEARCH_UNAVAILABLE', message: 'OpenSearch rejected 1 of 2 index operations (mapper_parsing_exception).' });
  await t.rejects(misconfigured.search({ userId: 'u', text: 'x', vector: v4, k: 3, mode: 'semantic', types: ['memory'] }),
    { code: 'PAI_SEARCH_UNAVAILABLE', message: /search failed \(illegal_argument_exception\)/ });

  await t.rejects(index.upsert([memory('u', 'm', 'x', { vector: v4 })]), { code: 'PAI_SEARCH_UNAVAILABLE', message: /4 dimensions/ }, 'checked before sending');
  await t.rejects(index.search({ userId: 'u', text: 'x', vector: v4, k: 3, mode: 'hybrid', types: ['memory'] }), { code: 'PAI_SEARCH_UNAVAILABLE', message: /4 dimensions/ });

  await client.indices.delete({ index: 'pai-items' });
  await t.rejects(index.search({ userId: 'u', text: 'x', k: 3, mode: 'keyword', types: ['memory'] }),
    { code: 'PAI_SEARCH_UNAVAILABLE', message: /index_not_found_exception/ }, 'an error inside the msearch answer');
  await t.rejects(index.ping(), { code: 'PAI_SEARCH_UNAVAILABLE', message: /does not exist/ });
  t.equal(standIn.documents('pai-items').length, 0);
});

t.test('semantic without a vector field is refused without a request; close stops work', async (t) => {
  const { standIn, index } = await setup(t, { dimensions: null });
  await index.init();
  const mark = standIn.requests.length;
  await t.rejects(index.search({ userId: 'u', text: 'x', vector: direction([1]), k: 3, mode: 'semantic', types: ['memory'] }), { code: 'PAI_SEARCH_SEMANTIC_UNAVAILABLE' });
  t.equal(standIn.requests.length, mark);
  await index.close();
  await t.rejects(index.count('u'), { code: 'PAI_SEARCH_UNAVAILABLE', message: /closed/ });
  t.throws(() => createOpenSearchIndex({ client: {} as Client, indexPrefix: 'Bad Prefix', dimensions: null }), /invalid OpenSearch index prefix/);
  t.throws(() => createOpenSearchIndex({ client: {} as Client, indexPrefix: 'p-', dimensions: 0 }), RangeError);
});

t.test('the stand-in refuses what it does not understand', async (t) => {
  const { client, index } = await setup(t);
  await index.init();
  const search = (body: object) => client.msearch({ body: [{ index: 'pai-items', routing: 'u' }, body] }).then((r) => r.body.responses[0] as { status: number; error?: { type: string } });
  t.match(await search({ query: { match: { text: 'x' } } }), { status: 400, error: { type: 'parsing_exception' } }, 'match query');
  t.match(await search({ query: { bool: { filter: [{ term: { unknown_field: 'x' } }] } } }), { status: 400 }, 'unmapped field');
  t.match(await search({ query: { multi_match: { query: 'x', fields: ['text'], type: 'cross_fields' } } }), { status: 400 }, 'multi_match type');
  t.match(await search({ query: { multi_match: { query: 'x', fields: ['t*'] } } }), { status: 400 }, 'field wildcards');
  t.match(await search({ aggs: {} }), { status: 400 }, 'aggregations');
  t.match(await search({ query: { knn: { vector: { vector: [1, 2], k: 3 } } } }), { status: 400 }, 'knn vector of the wrong dimension');
  t.match(await search({ query: { bool: { filter: [{ term: { user_id: 'u' } }] } } }), { status: 200 }, 'a supported query answers');
  await t.rejects(client.count({ index: 'pai-items', body: { query: { match_all: {} } }, q: 'x' } as never), { name: 'ResponseError', statusCode: 400 }, 'unknown parameter');
  await t.rejects(client.deleteByQuery({ index: 'pai-items', refresh: 'wait_for' as never, body: { query: { match_all: {} } } }), { name: 'ResponseError', statusCode: 400 },
    'delete_by_query has no wait_for refresh');
  const bulk = await client.bulk({ body: [{ index: { _index: 'pai-items', _id: 'x' } }, { user_id: 'u', type: 'memory', item_id: 'x', text: 't', created_at: AT }] });
  t.match(bulk.body.items[0], { index: { status: 400, error: { type: 'routing_missing_exception' } } }, 'routing is required by the mapping');
  const strict = await client.bulk({ body: [{ index: { _index: 'pai-items', _id: 'y', routing: 'u' } }, { user_id: 'u', surprise: 1 }] });
  t.match(strict.body.items[0], { index: { status: 400, error: { type: 'strict_dynamic_mapping_exception' } } }, 'dynamic: strict');
  await t.rejects(client.indices.create({ index: 'other', body: { mappings: { properties: { v: { type: 'knn_vector', dimension: 3 } } } } }),
    { name: 'ResponseError', statusCode: 400 }, 'knn_vector without index.knn');
  await t.rejects(client.indices.create({ index: 'other', body: { mappings: { properties: { v: { type: 'text', analyzer: 'klingon' } } } } }),
    { name: 'ResponseError', statusCode: 400 }, 'unknown analyzer');
});
