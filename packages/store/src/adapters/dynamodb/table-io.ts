import { setTimeout as sleep } from 'node:timers/promises';
import { CreateTableCommand, DescribeTableCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { BatchGetCommand, BatchWriteCommand, QueryCommand, type BatchWriteWriteRequest, type DynamoDBDocumentClient, type QueryCommandInput } from '@aws-sdk/lib-dynamodb';
import { StoreErrors } from '@pai/errors';
import { GSI1, TABLE_NAMES, type ItemKey } from './table-layout.js';

export type Item = Record<string, unknown>;

/** The condition of a conditional write did not hold (the only SDK error the adapter expects). */
export function isConditionFailure(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { name?: unknown }).name === 'ConditionalCheckFailedException';
}

type QueryInput = Omit<QueryCommandInput, 'Limit'>;

/**
 * Up to `want` items of a query, following DynamoDB's pages. `Limit` counts the items DynamoDB reads
 * before it applies a FilterExpression, so one request may return fewer matches than asked (even none)
 * while more exist: keep asking until there are enough or the key range is exhausted.
 */
export async function queryUpTo(doc: DynamoDBDocumentClient, input: QueryInput, want: number, pageSize: number | undefined): Promise<Item[]> {
  const items: Item[] = [];
  if (want <= 0) return items;
  let start = input.ExclusiveStartKey;
  do {
    const remaining = want - items.length;
    // With a filter, read ahead: many rows may be filtered out.
    const wanted = input.FilterExpression === undefined ? remaining : Math.max(remaining * 2, 50);
    const out = await doc.send(new QueryCommand({ ...input, ExclusiveStartKey: start, Limit: Math.min(wanted, pageSize ?? wanted) }));
    items.push(...(out.Items ?? []));
    start = out.LastEvaluatedKey;
  } while (start !== undefined && items.length < want);
  return items.slice(0, want);
}

/** Every item of a query (purges and sweeps), page by page. */
export async function queryAll(doc: DynamoDBDocumentClient, input: QueryInput, pageSize: number | undefined): Promise<Item[]> {
  const items: Item[] = [];
  let start = input.ExclusiveStartKey;
  do {
    const out = await doc.send(new QueryCommand({ ...input, ExclusiveStartKey: start, Limit: pageSize }));
    items.push(...(out.Items ?? []));
    start = out.LastEvaluatedKey;
  } while (start !== undefined);
  return items;
}

const BATCH_SIZE = 25;
const BATCH_GET_SIZE = 100;
const BATCH_ATTEMPTS = 8;

/** Backoff before the n-th retry of what a batch left unprocessed (throttling). */
const batchBackoff = (attempt: number) => sleep(Math.min(25 * 2 ** attempt, 1_000));

/**
 * Sends the write requests in batches of 25 (BatchWriteItem's maximum), retrying what DynamoDB leaves
 * unprocessed (throttling) with exponential backoff.
 */
async function writeAll(doc: DynamoDBDocumentClient, table: string, all: BatchWriteWriteRequest[], what: string): Promise<void> {
  for (let i = 0; i < all.length; i += BATCH_SIZE) {
    let requests = all.slice(i, i + BATCH_SIZE);
    for (let attempt = 0; requests.length > 0; attempt++) {
      if (attempt === BATCH_ATTEMPTS) {
        throw StoreErrors.unavailable({ cause: new Error(`BatchWriteItem left ${requests.length} ${what} unprocessed on ${table}`) });
      }
      if (attempt > 0) await batchBackoff(attempt);
      const out = await doc.send(new BatchWriteCommand({ RequestItems: { [table]: requests } }));
      requests = out.UnprocessedItems?.[table] ?? [];
    }
  }
}

const keyText = (k: ItemKey) => `${k.pk}\u0000${k.sk}`;

/**
 * Deletes the items in batches. Deleting a missing item is a no-op, so a sweep interrupted part-way is
 * finished by running it again.
 */
export async function deleteAll(doc: DynamoDBDocumentClient, table: string, itemKeys: ItemKey[]): Promise<void> {
  // BatchWriteItem refuses two requests for one key in the same call.
  const unique = [...new Map(itemKeys.map((k) => [keyText(k), { pk: k.pk, sk: k.sk }])).values()];
  await writeAll(doc, table, unique.map((Key) => ({ DeleteRequest: { Key } })), 'deletes');
}

/**
 * Puts the items in batches, unconditionally (BatchWriteItem takes no conditions): writing the same
 * items again is a no-op, so the caller orders them before the item that makes them visible. Two items
 * with one key are refused, because which one would win depends on the batching.
 */
export async function putAll(doc: DynamoDBDocumentClient, table: string, items: (Item & ItemKey)[]): Promise<void> {
  const seen = new Set<string>();
  for (const item of items) {
    const key = keyText(item);
    if (seen.has(key)) throw new Error(`two items for one key in a batch put: ${item.pk} ${item.sk}`);
    seen.add(key);
  }
  await writeAll(doc, table, items.map((Item) => ({ PutRequest: { Item } })), 'puts');
}

/**
 * The items with these keys that exist (strongly consistent), in batches of 100 (BatchGetItem's
 * maximum), retrying what DynamoDB leaves unprocessed. Order is not kept.
 */
export async function getAll(doc: DynamoDBDocumentClient, table: string, itemKeys: ItemKey[]): Promise<Item[]> {
  const unique = [...new Map(itemKeys.map((k) => [keyText(k), { pk: k.pk, sk: k.sk }])).values()];
  const found: Item[] = [];
  for (let i = 0; i < unique.length; i += BATCH_GET_SIZE) {
    let requested: Record<string, unknown>[] = unique.slice(i, i + BATCH_GET_SIZE);
    for (let attempt = 0; requested.length > 0; attempt++) {
      if (attempt === BATCH_ATTEMPTS) {
        throw StoreErrors.unavailable({ cause: new Error(`BatchGetItem left ${requested.length} keys unprocessed on ${table}`) });
      }
      if (attempt > 0) await batchBackoff(attempt);
      const out = await doc.send(new BatchGetCommand({ RequestItems: { [table]: { Keys: requested, ConsistentRead: true } } }));
      found.push(...(out.Responses?.[table] ?? []));
      requested = out.UnprocessedKeys?.[table]?.Keys ?? [];
    }
  }
  return found;
}

/** `fn` over the items with at most `limit` calls in flight; the results in the items' order. */
export async function mapInParallel<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/** The key of an item read back from a table. */
export const keyOf = (item: Item): ItemKey => ({ pk: item.pk as string, sk: item.sk as string });

const TABLE_WAIT_MS = 120_000;

/**
 * Creates the store's tables under `tablePrefix` (the same shape infra/lib/constructs/pai-tables.ts
 * deploys) and waits until they are ACTIVE. Tables that exist are left as they are, so it is safe to run
 * on every start of a local setup. TTL is not enabled here (dynalite lacks UpdateTimeToLive and the store
 * writes no `ttl`); the infra enables it on the deployed tables.
 */
export async function createDynamoDbTables(client: DynamoDBClient, tablePrefix: string): Promise<void> {
  await Promise.all(Object.values(TABLE_NAMES).map(async (name) => {
    const TableName = `${tablePrefix}${name}`;
    try {
      await client.send(new CreateTableCommand({
        TableName,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: ['pk', 'sk', 'gsi1pk', 'gsi1sk'].map((AttributeName) => ({ AttributeName, AttributeType: 'S' as const })),
        KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }, { AttributeName: 'sk', KeyType: 'RANGE' }],
        GlobalSecondaryIndexes: [{
          IndexName: GSI1,
          KeySchema: [{ AttributeName: 'gsi1pk', KeyType: 'HASH' }, { AttributeName: 'gsi1sk', KeyType: 'RANGE' }],
          Projection: { ProjectionType: 'ALL' },
        }],
      }));
    } catch (error) {
      // Another process (or an earlier run) created it: wait for it like for our own.
      if ((error as { name?: unknown }).name !== 'ResourceInUseException') throw error;
    }
    const deadline = Date.now() + TABLE_WAIT_MS;
    for (let delay = 20; ; delay = Math.min(delay * 2, 2_000)) {
      const { Table } = await client.send(new DescribeTableCommand({ TableName }));
      const indexesActive = (Table?.GlobalSecondaryIndexes ?? []).every((index) => index.IndexStatus === 'ACTIVE');
      if (Table?.TableStatus === 'ACTIVE' && indexesActive) break;
      if (Date.now() > deadline) throw new Error(`table ${TableName} is not ACTIVE after ${TABLE_WAIT_MS / 1000} s`);
      await sleep(delay);
    }
  }));
}
