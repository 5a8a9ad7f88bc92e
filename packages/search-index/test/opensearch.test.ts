/**
 * The search-index contract against the OpenSearch adapter, pointed at the local OpenSearch stand-in
 * (with and without a vector field).
 *
 * Against a real OpenSearch: set OPENSEARCH_TEST_URL (e.g. `OPENSEARCH_TEST_URL=http://localhost:9200`
 * with the docker compose stack, security plugin disabled) and the same contract also runs there. Each
 * test gets its own index prefix; its index and template are deleted afterwards.
 */
import t from 'tap';
import { randomUUID } from 'node:crypto';
import { Client } from '@opensearch-project/opensearch';
import { createOpenSearchIndex, type SearchIndex } from '@pai/search-index';
import { CONTRACT_VECTOR_DIMENSIONS, runSearchIndexContract, startOpenSearchStandIn } from '@pai/search-index/testing';

let prefixes = 0;

t.test('contract: OpenSearch adapter against the stand-in', async (t) => {
  const standIn = await startOpenSearchStandIn();
  const client = new Client({ node: standIn.url, maxRetries: 0 });
  t.teardown(async () => {
    await client.close();
    await standIn.close();
  });
  runSearchIndexContract(t, async () =>
    createOpenSearchIndex({ client, indexPrefix: `t${prefixes++}-`, dimensions: CONTRACT_VECTOR_DIMENSIONS }));
});

t.test('contract: OpenSearch adapter without vectors against the stand-in', async (t) => {
  const standIn = await startOpenSearchStandIn();
  const client = new Client({ node: standIn.url, maxRetries: 0 });
  t.teardown(async () => {
    await client.close();
    await standIn.close();
  });
  runSearchIndexContract(t, async () => createOpenSearchIndex({ client, indexPrefix: `n${prefixes++}-`, dimensions: null }), { vectors: false });
});

const realUrl = process.env.OPENSEARCH_TEST_URL;
t.test('contract: OpenSearch adapter against OPENSEARCH_TEST_URL', { skip: realUrl ? false : 'OPENSEARCH_TEST_URL is not set' }, async (t) => {
  const client = new Client({ node: realUrl!, maxRetries: 0, requestTimeout: 30_000 });
  t.teardown(() => client.close());
  const makeIndex = async (): Promise<SearchIndex> => {
    const indexPrefix = `pai-contract-${randomUUID().slice(0, 8)}-`;
    const index = createOpenSearchIndex({ client, indexPrefix, dimensions: CONTRACT_VECTOR_DIMENSIONS });
    return {
      ...index,
      async close() {
        await index.close();
        await client.indices.delete({ index: `${indexPrefix}items` }).catch(() => undefined);
        await client.indices.deleteIndexTemplate({ name: `${indexPrefix}items` }).catch(() => undefined);
      },
    };
  };
  runSearchIndexContract(t, makeIndex, { isolationRuns: 10 });
});
