import { createHash } from 'node:crypto';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, DynamoDBDocumentClient, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { AgentErrors, ConflictErrors, DocumentErrors, NotFoundErrors, RequestErrors, StoreErrors, isPaiError } from '@pai/errors';
import { decodeCursor, encodeCursor } from '../cursor.js';
import type { AgentRecord, AgentRunRecord, AgentVersionRecord, AttemptRecord, EvaluationRecord, JudgeSettings } from '../agents.js';
import type { ChunkRecord, DocumentPatch, DocumentRecord } from '../documents.js';
import { routingAfterVersion } from './agent-routing.js';
import { MAX_CHUNK_ORDINAL, assertChunksOf } from './document-chunks.js';
import type {
  ApiKeyRecord, ConversationRecord, DataKeyRecord, MemoryListQuery, MemoryPatch, MemoryRecord, MessageRecord, Page, PurgeReceipt, Store,
  UsageGroupBy, UsageRecord, UsageTotals, UserRecord,
} from '../index.js';
import { GSI1, TABLE_NAMES, keyPart, keys, type ItemKey, type TableName } from './dynamodb/table-layout.js';
import { deleteAll, getAll, isConditionFailure, keyOf, mapInParallel, putAll, queryAll, queryUpTo, type Item } from './dynamodb/table-io.js';

export { createDynamoDbTables } from './dynamodb/table-io.js';

export interface DynamoDbStoreOptions {
  /** The SDK client (endpoint, region, credentials and retries are the caller's). close() leaves it open. */
  client: DynamoDBClient | DynamoDBDocumentClient;
  /** Prepended to every table name, e.g. "pai-prod-" (DYNAMODB_TABLE_PREFIX). */
  tablePrefix: string;
  /**
   * Most items one Query request reads (DynamoDB's `Limit`). By default each request asks for what the
   * listing still needs; tests set it small to cross DynamoDB's page boundaries.
   */
  queryPageSize?: number;
}

const toUser = (i: Item): UserRecord => ({ id: i.id as string, name: i.name as string, createdAt: i.createdAt as string });
const toApiKey = (i: Item): ApiKeyRecord => ({
  id: i.id as string, userId: i.userId as string, keyHash: i.keyHash as string, prefix: i.prefix as string,
  name: (i.name as string | null | undefined) ?? null, createdAt: i.createdAt as string, revokedAt: (i.revokedAt as string | null | undefined) ?? null,
});
const toConversation = (i: Item): ConversationRecord => ({
  id: i.id as string, userId: i.userId as string, title: (i.title as string | null | undefined) ?? null, agentId: i.agentId as string,
  createdAt: i.createdAt as string, updatedAt: i.updatedAt as string,
  ...(typeof i.summary === 'string' && typeof i.summaryThrough === 'string' ? { summary: i.summary, summaryThrough: i.summaryThrough } : {}),
});
const toMessage = (i: Item): MessageRecord => ({
  id: i.id as string, conversationId: i.conversationId as string, userId: i.userId as string, role: i.role as MessageRecord['role'],
  content: i.content as string, incomplete: i.incomplete === true, createdAt: i.createdAt as string,
});
const toMemory = (i: Item): MemoryRecord => ({
  id: i.id as string, userId: i.userId as string, content: i.content as string, category: i.category as string, importance: i.importance as number,
  sourceMessageId: (i.sourceMessageId as string | null | undefined) ?? null, supersededBy: (i.supersededBy as string | null | undefined) ?? null,
  expiresAt: (i.expiresAt as string | null | undefined) ?? null, createdAt: i.createdAt as string, updatedAt: i.updatedAt as string,
});
const toDataKey = (i: Item): DataKeyRecord => ({
  userId: i.userId as string, wrapped: i.wrapped as string, keyId: i.keyId as string, createdAt: i.createdAt as string,
});

const userFields = (u: UserRecord) => ({ id: u.id, name: u.name, createdAt: u.createdAt });
const apiKeyFields = (k: ApiKeyRecord) => ({
  id: k.id, userId: k.userId, keyHash: k.keyHash, prefix: k.prefix, name: k.name, createdAt: k.createdAt, revokedAt: k.revokedAt,
});
const conversationFields = (c: ConversationRecord) => ({
  id: c.id, userId: c.userId, title: c.title, agentId: c.agentId, createdAt: c.createdAt, updatedAt: c.updatedAt,
});
const messageFields = (m: MessageRecord) => ({
  id: m.id, conversationId: m.conversationId, userId: m.userId, role: m.role, content: m.content, incomplete: m.incomplete, createdAt: m.createdAt,
});
const memoryFields = (m: MemoryRecord) => ({
  id: m.id, userId: m.userId, content: m.content, category: m.category, importance: m.importance, sourceMessageId: m.sourceMessageId,
  supersededBy: m.supersededBy, expiresAt: m.expiresAt, createdAt: m.createdAt, updatedAt: m.updatedAt,
});
const usageFields = (e: UsageRecord) => ({
  id: e.id, userId: e.userId, at: e.at, day: e.day, conversationId: e.conversationId, agentId: e.agentId, agentVersion: e.agentVersion,
  provider: e.provider, model: e.model, inputTokens: e.inputTokens, outputTokens: e.outputTokens, costUsd: e.costUsd, estimated: e.estimated,
});

const nullable = <T>(value: unknown): T | null => (value as T | null | undefined) ?? null;

const toDocument = (i: Item): DocumentRecord => ({
  id: i.id as string, userId: i.userId as string, title: i.title as string, contentType: i.contentType as string, sizeBytes: i.sizeBytes as number,
  status: i.status as DocumentRecord['status'], error: nullable<string>(i.error), chunksTotal: i.chunksTotal as number,
  chunksIndexed: i.chunksIndexed as number, createdAt: i.createdAt as string, updatedAt: i.updatedAt as string,
});
const documentFields = (d: DocumentRecord) => ({
  id: d.id, userId: d.userId, title: d.title, contentType: d.contentType, sizeBytes: d.sizeBytes, status: d.status, error: d.error,
  chunksTotal: d.chunksTotal, chunksIndexed: d.chunksIndexed, createdAt: d.createdAt, updatedAt: d.updatedAt,
});
const toChunk = (i: Item): ChunkRecord => ({
  id: i.id as string, documentId: i.documentId as string, userId: i.userId as string, ordinal: i.ordinal as number, content: i.content as string,
  heading: nullable<string>(i.heading), tokenCount: i.tokenCount as number,
});
const chunkFields = (c: ChunkRecord) => ({
  id: c.id, documentId: c.documentId, userId: c.userId, ordinal: c.ordinal, content: c.content, heading: c.heading, tokenCount: c.tokenCount,
});

const toAgent = (i: Item): AgentRecord => ({
  id: i.id as string, userId: i.userId as string, name: i.name as string, description: nullable<string>(i.description),
  routing: (i.routing as Record<string, number> | undefined) ?? {}, latestVersion: i.latestVersion as number,
  createdAt: i.createdAt as string, updatedAt: i.updatedAt as string,
});
const agentFields = (a: AgentRecord) => ({
  id: a.id, userId: a.userId, name: a.name, description: a.description, routing: a.routing, latestVersion: a.latestVersion,
  createdAt: a.createdAt, updatedAt: a.updatedAt,
});
const toVersion = (i: Item): AgentVersionRecord => ({
  agentId: i.agentId as string, userId: i.userId as string, version: i.version as number, systemPrompt: i.systemPrompt as string,
  model: i.model as string, temperature: nullable<number>(i.temperature), maxTokens: nullable<number>(i.maxTokens),
  judge: nullable<JudgeSettings>(i.judge), createdAt: i.createdAt as string,
});
const versionFields = (v: AgentVersionRecord) => ({
  agentId: v.agentId, userId: v.userId, version: v.version, systemPrompt: v.systemPrompt, model: v.model, temperature: v.temperature,
  maxTokens: v.maxTokens, judge: v.judge, createdAt: v.createdAt,
});
const toRun = (i: Item): AgentRunRecord => ({
  id: i.id as string, userId: i.userId as string, agentId: i.agentId as string, version: i.version as number, at: i.at as string,
  conversationId: nullable<string>(i.conversationId), ok: i.ok === true, errorCode: nullable<string>(i.errorCode), latencyMs: i.latencyMs as number,
  ttftMs: nullable<number>(i.ttftMs), inputTokens: i.inputTokens as number, outputTokens: i.outputTokens as number, costUsd: i.costUsd as number,
  score: nullable<number>(i.score), passed: nullable<boolean>(i.passed), attempts: (i.attempts as AttemptRecord[] | undefined) ?? [],
});
const runFields = (r: AgentRunRecord) => ({
  id: r.id, userId: r.userId, agentId: r.agentId, version: r.version, at: r.at, conversationId: r.conversationId, ok: r.ok, errorCode: r.errorCode,
  latencyMs: r.latencyMs, ttftMs: r.ttftMs, inputTokens: r.inputTokens, outputTokens: r.outputTokens, costUsd: r.costUsd, score: r.score,
  passed: r.passed, attempts: r.attempts,
});
const toEvaluation = (i: Item): EvaluationRecord => ({
  id: i.id as string, userId: i.userId as string, agentId: i.agentId as string, versions: (i.versions as number[] | undefined) ?? [],
  status: i.status as EvaluationRecord['status'], casesTotal: i.casesTotal as number, casesDone: i.casesDone as number, body: i.body as string,
  error: nullable<string>(i.error), createdAt: i.createdAt as string, updatedAt: i.updatedAt as string,
});
const evaluationFields = (e: EvaluationRecord) => ({
  id: e.id, userId: e.userId, agentId: e.agentId, versions: e.versions, status: e.status, casesTotal: e.casesTotal, casesDone: e.casesDone,
  body: e.body, error: e.error, createdAt: e.createdAt, updatedAt: e.updatedAt,
});

/** Concurrent gsi1 lookups of one getChunks call. */
const CHUNK_LOOKUPS_IN_FLIGHT = 16;

/** Identifies one message record exactly: a retried write of the same record may finish what a crash interrupted. */
const fingerprintOf = (m: MessageRecord) =>
  createHash('sha256').update(JSON.stringify([m.id, m.conversationId, m.userId, m.role, m.content, m.incomplete, m.createdAt])).digest('base64url');

const USAGE_KEY: Record<UsageGroupBy, (i: Item) => string> = {
  model: (i) => i.model as string,
  agent: (i) => i.agentId as string,
  day: (i) => i.day as string,
};

function pageOf<T>(items: Item[], limit: number, map: (i: Item) => T, keyOf: (i: Item) => string | number, scope: string): Page<T> {
  const more = items.length > limit;
  const kept = more ? items.slice(0, limit) : items;
  const last = kept.at(-1);
  return { items: kept.map(map), nextCursor: more && last !== undefined ? encodeCursor(scope, keyOf(last)) : null };
}

/**
 * The AWS adapter: records in the DynamoDB tables the infra deploys (layout and write orders in
 * packages/store/README.md). DynamoDB Local and dynalite lack transactions, so no operation relies on
 * TransactWriteItems: multi-item writes are ordered so that the item that makes a record visible is
 * written last (and removed first), every step is conditional or idempotent, and repeating an
 * interrupted operation finishes it.
 */
export function createDynamoDbStore(options: DynamoDbStoreOptions): Store {
  const doc = options.client instanceof DynamoDBDocumentClient
    ? options.client
    : DynamoDBDocumentClient.from(options.client, { marshallOptions: { removeUndefinedValues: true } });
  const pageSize = options.queryPageSize;
  const tableOf = (name: TableName) => `${options.tablePrefix}${TABLE_NAMES[name]}`;
  let closed = false;

  /** Runs one store operation, turning driver and network failures into PAI_STORE_UNAVAILABLE. */
  async function guard<T>(fn: () => Promise<T>): Promise<T> {
    try {
      if (closed) throw new Error('store is closed');
      return await fn();
    } catch (error) {
      if (isPaiError(error)) throw error;
      throw StoreErrors.unavailable({ cause: error });
    }
  }

  const get = async (table: TableName, key: ItemKey): Promise<Item | null> =>
    (await doc.send(new GetCommand({ TableName: tableOf(table), Key: key, ConsistentRead: true }))).Item ?? null;

  /** Writes an item that must not exist yet. */
  const putNew = (table: TableName, item: Item) =>
    doc.send(new PutCommand({ TableName: tableOf(table), Item: item, ConditionExpression: 'attribute_not_exists(pk)' }));

  /** Deletes the item; true when there was one. */
  const remove = async (table: TableName, key: ItemKey): Promise<boolean> =>
    (await doc.send(new DeleteCommand({ TableName: tableOf(table), Key: key, ReturnValues: 'ALL_OLD' }))).Attributes !== undefined;

  /** Swallows only a failed write condition, answering `otherwise`. */
  async function unless<T>(write: () => Promise<T>, otherwise: () => T | Promise<T>): Promise<T> {
    try {
      return await write();
    } catch (error) {
      if (isConditionFailure(error)) return otherwise();
      throw error;
    }
  }

  // ---- messages ------------------------------------------------------------------------------

  /**
   * Reserves the next message slot of a conversation and bumps its updated_at (only forward), in one
   * conditional update: it fails when the conversation is not this user's (its key includes the owner).
   */
  async function nextMessageSlot(userId: string, conversationId: string, at: string): Promise<number> {
    const request = (bump: boolean) => new UpdateCommand({
      TableName: tableOf('conversations'),
      Key: keys.conversation(userId, conversationId),
      UpdateExpression: bump ? 'SET #updatedAt = :at ADD #msgSeq :one' : 'ADD #msgSeq :one',
      ConditionExpression: bump ? 'attribute_exists(pk) AND #updatedAt < :at' : 'attribute_exists(pk)',
      ExpressionAttributeNames: bump ? { '#updatedAt': 'updatedAt', '#msgSeq': 'msgSeq' } : { '#msgSeq': 'msgSeq' },
      ExpressionAttributeValues: bump ? { ':at': at, ':one': 1 } : { ':one': 1 },
      ReturnValues: 'UPDATED_NEW',
    });
    const bumped = await unless(async () => (await doc.send(request(true))).Attributes, () => undefined);
    if (bumped) return bumped.msgSeq as number;
    // Either the conversation is missing or its updated_at is already later than this message.
    const out = await unless(() => doc.send(request(false)), () => {
      throw NotFoundErrors.conversation(conversationId);
    });
    return out.Attributes!.msgSeq as number;
  }

  /**
   * Claims the message id (ids are unique across all conversations) for the slot `seq`. When the id is
   * already claimed by this very record and the operation that claimed it was interrupted, the earlier
   * claim (and its slot) is resumed; anything else is a conflict. An append was interrupted when its
   * message item is missing; a createWithMessage (whose conversation does not exist, the caller checked)
   * also when the message item is there.
   */
  async function claimMessageId(m: MessageRecord, userId: string, conversationId: string, seq: number, creating: boolean): Promise<number> {
    const claim = {
      ...keys.messageId(m.id), gsi1pk: keys.messageIdsIndex(userId), gsi1sk: m.id,
      userId, conversationId, seq, fingerprint: fingerprintOf(m),
    };
    const fresh = await unless(async () => (await putNew('conversations', claim), true), () => false);
    if (fresh) return seq;
    const earlier = await get('conversations', keys.messageId(m.id));
    if (earlier && earlier.fingerprint === claim.fingerprint && earlier.userId === userId && earlier.conversationId === conversationId) {
      const placed = await get('conversations', keys.message(userId, conversationId, earlier.seq as number));
      if (!placed || (creating && placed.id === m.id)) return earlier.seq as number;
    }
    throw ConflictErrors.messageExists(m.id);
  }

  /**
   * The message item itself: from this write on the message is visible (if its conversation is). Only
   * createWithMessage may find its own record already in place (see claimMessageId).
   */
  const putMessage = (m: MessageRecord, userId: string, conversationId: string, seq: number, creating: boolean) =>
    unless(() => doc.send(new PutCommand({
      TableName: tableOf('conversations'),
      Item: { ...keys.message(userId, conversationId, seq), ...messageFields(m), seq },
      ConditionExpression: creating ? 'attribute_not_exists(pk) OR #id = :id' : 'attribute_not_exists(pk)',
      ...(creating ? { ExpressionAttributeNames: { '#id': 'id' }, ExpressionAttributeValues: { ':id': m.id } } : {}),
    })), () => {
      throw ConflictErrors.messageExists(m.id);
    });

  /** Deletes a conversation's message items and their id claims; safe to repeat. */
  async function sweepMessages(userId: string, conversationId: string): Promise<void> {
    const rows = await queryAll(doc, {
      TableName: tableOf('conversations'),
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
      ExpressionAttributeValues: { ':pk': keys.userPartition(userId), ':prefix': keys.messagePrefix(conversationId) },
      ProjectionExpression: 'pk, sk, #id',
      ExpressionAttributeNames: { '#id': 'id' },
      ConsistentRead: true,
    }, pageSize);
    // Claims before messages: a message without its claim is invisible, while a claim whose message was
    // swept first would no longer be found by a repeat.
    await deleteAll(doc, tableOf('conversations'), rows.map((r) => keys.messageId(r.id as string)));
    await deleteAll(doc, tableOf('conversations'), rows.map(keyOf));
  }

  // ---- purge ---------------------------------------------------------------------------------

  const partitionRows = (table: TableName, userId: string) => queryAll(doc, {
    TableName: tableOf(table),
    KeyConditionExpression: 'pk = :pk',
    ExpressionAttributeValues: { ':pk': keys.userPartition(userId) },
    ProjectionExpression: 'pk, sk, #id',
    ExpressionAttributeNames: { '#id': 'id' },
    ConsistentRead: true,
  }, pageSize);

  /** Deletes a user's whole partition of a table; the number of items it held. */
  async function sweepPartition(table: TableName, userId: string): Promise<number> {
    const items = await partitionRows(table, userId);
    await deleteAll(doc, tableOf(table), items.map(keyOf));
    return items.length;
  }

  const indexRows = (table: TableName, gsi1pk: string) => queryAll(doc, {
    TableName: tableOf(table),
    IndexName: GSI1,
    KeyConditionExpression: 'gsi1pk = :g',
    ExpressionAttributeValues: { ':g': gsi1pk },
  }, pageSize);

  async function purgeUser(userId: string): Promise<PurgeReceipt> {
    const receipt: PurgeReceipt = {
      users: 0, apiKeys: 0, conversations: 0, messages: 0, memories: 0, usage: 0, dataKeys: 0, documents: 0, chunks: 0, agents: 0,
    };
    // 1. The user disappears: from this write on every one of their API keys is refused
    //    (findActiveByHash requires the user), before any record is removed.
    receipt.users = (await remove('users', keys.user(userId))) ? 1 : 0;
    // 2. The wrapped data key: whatever a crash leaves behind from here on is unreadable ciphertext.
    receipt.dataKeys = (await remove('dataKeys', keys.dataKey(userId))) ? 1 : 0;
    // 3. API keys: hash pointers (also those a crashed create left without a key), then the keys.
    const [apiKeys, pointers] = await Promise.all([
      indexRows('users', keys.apiKeysIndex(userId)), indexRows('users', keys.keyHashesIndex(userId)),
    ]);
    await deleteAll(doc, tableOf('users'), [...pointers.map(keyOf), ...apiKeys.map((k) => keys.keyHash(k.keyHash as string))]);
    // One by one, so the count is what this call removed even if the index still lists a deleted key.
    const removedKeys = await Promise.all(apiKeys.map((k) => remove('users', keyOf(k))));
    receipt.apiKeys = removedKeys.filter(Boolean).length;
    // 4. Conversations first (each hides its messages), then the message-id claims, then the messages.
    const [rows, claims] = await Promise.all([
      partitionRows('conversations', userId), indexRows('conversations', keys.messageIdsIndex(userId)),
    ]);
    const conversations = rows.filter((r) => (r.sk as string).startsWith(keys.conversationPrefix));
    const messages = rows.filter((r) => !(r.sk as string).startsWith(keys.conversationPrefix));
    await deleteAll(doc, tableOf('conversations'), conversations.map(keyOf));
    await deleteAll(doc, tableOf('conversations'), [...messages.map((m) => keys.messageId(m.id as string)), ...claims.map(keyOf)]);
    await deleteAll(doc, tableOf('conversations'), messages.map(keyOf));
    receipt.conversations = conversations.length;
    receipt.messages = messages.length;
    // 5. Memories and usage: one partition each.
    receipt.memories = await sweepPartition('memories', userId);
    receipt.usage = await sweepPartition('usage', userId);
    // 7. Documents first (each hides its chunks), then the chunks.
    const documentRows = await partitionRows('documents', userId);
    const documents = documentRows.filter((r) => (r.sk as string).startsWith(keys.documentPrefix));
    const chunks = documentRows.filter((r) => !(r.sk as string).startsWith(keys.documentPrefix));
    await deleteAll(doc, tableOf('documents'), documents.map(keyOf));
    await deleteAll(doc, tableOf('documents'), chunks.map(keyOf));
    receipt.documents = documents.length;
    receipt.chunks = chunks.length;
    // 8. Agents first (each hides its versions), then versions, runs and evaluations.
    const agentRows = await partitionRows('agents', userId);
    const agents = agentRows.filter((r) => (r.sk as string).startsWith(keys.agentPrefix));
    await deleteAll(doc, tableOf('agents'), agents.map(keyOf));
    await deleteAll(doc, tableOf('agents'), agentRows.filter((r) => !(r.sk as string).startsWith(keys.agentPrefix)).map(keyOf));
    receipt.agents = agents.length;
    return receipt;
  }

  // ---- documents -----------------------------------------------------------------------------

  /** The chunk items under a document's prefix (all of them: leftovers of interrupted writes included). */
  const chunkKeysOf = async (userId: string, documentId: string) => (await queryAll(doc, {
    TableName: tableOf('documents'),
    KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
    ExpressionAttributeValues: { ':pk': keys.userPartition(userId), ':prefix': keys.chunkPrefix(documentId) },
    ProjectionExpression: 'pk, sk',
    ConsistentRead: true,
  }, pageSize)).map(keyOf);

  /**
   * Chunks by id. gsi1 (`CHUNKIDS#<userId>` / chunk id) says where each chunk lives; the chunk items and
   * their documents are then read from the table, strongly consistent: a chunk whose document is gone (or
   * not yet written) is left out, and a lagging index cannot bring back a deleted chunk.
   */
  async function getChunks(userId: string, ids: string[]): Promise<ChunkRecord[]> {
    // An empty string cannot be a key value (DynamoDB refuses the query), nor is it anyone's chunk id.
    const wanted = [...new Set(ids)].filter((id) => id !== '');
    const located = (await mapInParallel(wanted, CHUNK_LOOKUPS_IN_FLIGHT, (id) => queryAll(doc, {
      TableName: tableOf('documents'),
      IndexName: GSI1,
      KeyConditionExpression: 'gsi1pk = :g AND gsi1sk = :id',
      ExpressionAttributeValues: { ':g': keys.chunkIdsIndex(userId), ':id': id },
      ProjectionExpression: 'pk, sk, documentId',
    }, pageSize))).flat();
    const documentIds = [...new Set(located.map((r) => r.documentId as string))];
    const [items, documents] = await Promise.all([
      getAll(doc, tableOf('documents'), located.map(keyOf)),
      getAll(doc, tableOf('documents'), documentIds.map((id) => keys.document(userId, id))),
    ]);
    const present = new Set(documents.map((d) => d.id as string));
    const found = new Map(items.filter((i) => i.userId === userId && present.has(i.documentId as string)).map((i) => [i.id as string, toChunk(i)]));
    return ids.flatMap((id) => found.get(id) ?? []);
  }

  // ---- agents --------------------------------------------------------------------------------

  /**
   * Adds the next version: (1) `ADD latestVersion 1` on the agent item (which must exist: its key holds
   * the owner) reserves the number, atomically, so concurrent writers never share one; (2) the version
   * item, conditional on not existing; (3) the weights, once the version they may name exists.
   */
  async function addVersion(v: Omit<AgentVersionRecord, 'version'>, routing: Record<string, number> | undefined): Promise<AgentVersionRecord> {
    const agentKey = keys.agent(v.userId, keyPart(v.agentId));
    const reserved = await unless(async () => (await doc.send(new UpdateCommand({
      TableName: tableOf('agents'),
      Key: agentKey,
      UpdateExpression: 'SET #updatedAt = :at ADD #latest :one',
      ConditionExpression: 'attribute_exists(pk)',
      ExpressionAttributeNames: { '#updatedAt': 'updatedAt', '#latest': 'latestVersion' },
      ExpressionAttributeValues: { ':at': v.createdAt, ':one': 1 },
      ReturnValues: 'ALL_NEW',
    }))).Attributes!, () => {
      throw AgentErrors.notFound(v.agentId);
    });
    const record: AgentVersionRecord = {
      agentId: v.agentId, userId: v.userId, version: reserved.latestVersion as number, systemPrompt: v.systemPrompt, model: v.model,
      temperature: v.temperature, maxTokens: v.maxTokens, judge: v.judge, createdAt: v.createdAt,
    };
    await putNew('agents', { ...keys.version(v.userId, v.agentId, record.version), ...versionFields(record) });
    const current = toAgent(reserved).routing;
    const first = routing === undefined && Object.keys(current).length === 0;
    if (routing !== undefined || first) {
      // A first version's automatic 100 % only lands while the agent still has no weights: a concurrent
      // first version or a setRouting may have given it some since.
      await unless(() => doc.send(new UpdateCommand({
        TableName: tableOf('agents'),
        Key: agentKey,
        UpdateExpression: 'SET #routing = :routing',
        ConditionExpression: first ? 'attribute_exists(pk) AND size(#routing) = :zero' : 'attribute_exists(pk)',
        ExpressionAttributeNames: { '#routing': 'routing' },
        ExpressionAttributeValues: { ':routing': routingAfterVersion(current, record.version, routing), ...(first ? { ':zero': 0 } : {}) },
      })), () => undefined);
    }
    return record;
  }

  // ---- the port ------------------------------------------------------------------------------

  return {
    kind: 'dynamodb',
    users: {
      create: (user) => guard(async () => {
        await putNew('users', { ...keys.user(user.id), gsi1pk: keys.usersIndex, gsi1sk: user.id, ...userFields(user) });
      }),
      get: (id) => guard(async () => {
        const item = await get('users', keys.user(id));
        return item ? toUser(item) : null;
      }),
      list: (page) => guard(async () => {
        const after = page.cursor ? decodeCursor<string>('users', page.cursor, 'string') : undefined;
        const items = await queryUpTo(doc, {
          TableName: tableOf('users'),
          IndexName: GSI1,
          KeyConditionExpression: after === undefined ? 'gsi1pk = :g' : 'gsi1pk = :g AND gsi1sk > :after',
          ExpressionAttributeValues: { ':g': keys.usersIndex, ...(after === undefined ? {} : { ':after': after }) },
        }, page.limit + 1, pageSize);
        return pageOf(items, page.limit, toUser, (i) => i.id as string, 'users');
      }),
    },

    apiKeys: {
      create: (key) => guard(async () => {
        // The hash pointer first: until the key item exists it leads nowhere, so a crash in between leaves
        // nothing usable or listed, and writing the same record again completes it.
        await doc.send(new PutCommand({
          TableName: tableOf('users'),
          Item: { ...keys.keyHash(key.keyHash), gsi1pk: keys.keyHashesIndex(key.userId), gsi1sk: key.id, keyId: key.id, userId: key.userId },
          ConditionExpression: 'attribute_not_exists(pk) OR #keyId = :keyId',
          ExpressionAttributeNames: { '#keyId': 'keyId' },
          ExpressionAttributeValues: { ':keyId': key.id },
        }));
        await putNew('users', { ...keys.apiKey(key.id), gsi1pk: keys.apiKeysIndex(key.userId), gsi1sk: key.id, ...apiKeyFields(key) });
      }),
      findActiveByHash: (keyHash) => guard(async () => {
        const pointer = await get('users', keys.keyHash(keyHash));
        if (!pointer) return null;
        const [key, user] = await Promise.all([
          get('users', keys.apiKey(pointer.keyId as string)), get('users', keys.user(pointer.userId as string)),
        ]);
        // A key works only while its user exists: purging the user disables every key in one write.
        if (!key || !user || key.keyHash !== keyHash || key.userId !== pointer.userId) return null;
        const record = toApiKey(key);
        return record.revokedAt === null ? record : null;
      }),
      get: (id) => guard(async () => {
        const item = await get('users', keys.apiKey(id));
        return item ? toApiKey(item) : null;
      }),
      listForUser: (userId, page) => guard(async () => {
        const scope = `keys:${userId}`;
        const after = page.cursor ? decodeCursor<string>(scope, page.cursor, 'string') : undefined;
        const items = await queryUpTo(doc, {
          TableName: tableOf('users'),
          IndexName: GSI1,
          KeyConditionExpression: after === undefined ? 'gsi1pk = :g' : 'gsi1pk = :g AND gsi1sk > :after',
          ExpressionAttributeValues: { ':g': keys.apiKeysIndex(userId), ...(after === undefined ? {} : { ':after': after }) },
        }, page.limit + 1, pageSize);
        return pageOf(items, page.limit, toApiKey, (i) => i.id as string, scope);
      }),
      revoke: (id, at) => guard(() => unless(async () => {
        await doc.send(new UpdateCommand({
          TableName: tableOf('users'),
          Key: keys.apiKey(id),
          UpdateExpression: 'SET #revokedAt = :at',
          ConditionExpression: 'attribute_exists(pk) AND (attribute_not_exists(#revokedAt) OR attribute_type(#revokedAt, :null))',
          ExpressionAttributeNames: { '#revokedAt': 'revokedAt' },
          ExpressionAttributeValues: { ':at': at, ':null': 'NULL' },
        }));
        return true;
      }, () => false)),
    },

    conversations: {
      create: (c) => guard(async () => {
        await putNew('conversations', { ...keys.conversation(c.userId, keyPart(c.id)), ...conversationFields(c), msgSeq: 0 });
      }),
      createWithMessage: (c, m) => guard(async () => {
        keyPart(c.id);
        // Conversation ids are fresh; an existing one would make the first message land in it.
        if (await get('conversations', keys.conversation(c.userId, c.id))) throw new Error(`conversation ${c.id} already exists`);
        // Claim, message, conversation: the conversation item is written last and is what makes both
        // visible (message reads require it), so a failure before it leaves nothing to see.
        const seq = await claimMessageId(m, c.userId, c.id, 1, true);
        await putMessage(m, c.userId, c.id, seq, true);
        await putNew('conversations', { ...keys.conversation(c.userId, c.id), ...conversationFields(c), msgSeq: seq });
      }),
      get: (userId, id) => guard(async () => {
        const item = await get('conversations', keys.conversation(userId, id));
        return item ? toConversation(item) : null;
      }),
      list: (userId, page) => guard(async () => {
        const scope = `conversations:${userId}`;
        const before = page.cursor ? decodeCursor<string>(scope, page.cursor, 'string') : undefined;
        const items = await queryUpTo(doc, {
          TableName: tableOf('conversations'),
          KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
          ExpressionAttributeValues: { ':pk': keys.userPartition(userId), ':prefix': keys.conversationPrefix },
          ExclusiveStartKey: before === undefined ? undefined : keys.conversation(userId, before),
          ScanIndexForward: false,
          ConsistentRead: true,
        }, page.limit + 1, pageSize);
        return pageOf(items, page.limit, toConversation, (i) => i.id as string, scope);
      }),
      delete: (userId, id) => guard(async () => {
        // The conversation item goes first: from then on its messages are invisible, and the sweep can be
        // interrupted and finished by a later delete or purge.
        const existed = await remove('conversations', keys.conversation(userId, id));
        await sweepMessages(userId, id);
        return existed;
      }),
      appendMessage: (m) => guard(async () => {
        // Slot (conversation must be the user's), id claim, message item: a failure before the last write
        // leaves no message; the same record appended again resumes its claim.
        const seq = await nextMessageSlot(m.userId, m.conversationId, m.createdAt);
        const slot = await claimMessageId(m, m.userId, m.conversationId, seq, false);
        await putMessage(m, m.userId, m.conversationId, slot, false);
      }),
      getMessage: (userId, id) => guard(async () => {
        const claim = await get('conversations', keys.messageId(id));
        if (!claim || claim.userId !== userId) return null;
        const conversationId = claim.conversationId as string;
        const [item, conversation] = await Promise.all([
          get('conversations', keys.message(userId, conversationId, claim.seq as number)),
          get('conversations', keys.conversation(userId, conversationId)),
        ]);
        return item && conversation && item.id === id ? toMessage(item) : null;
      }),
      listMessages: (userId, conversationId, page) => guard(async () => {
        const scope = `messages:${conversationId}`;
        const after = page.cursor ? decodeCursor<number>(scope, page.cursor, 'number') : 0;
        if (!Number.isSafeInteger(after) || after < 0) throw RequestErrors.invalidCursor();
        const [lo, hi] = keys.messagesAfter(conversationId, after);
        const [conversation, items] = await Promise.all([
          get('conversations', keys.conversation(userId, conversationId)),
          queryUpTo(doc, {
            TableName: tableOf('conversations'),
            KeyConditionExpression: 'pk = :pk AND sk BETWEEN :lo AND :hi',
            ExpressionAttributeValues: { ':pk': keys.userPartition(userId), ':lo': lo, ':hi': hi },
            ConsistentRead: true,
          }, page.limit + 1, pageSize),
        ]);
        if (!conversation) return { items: [], nextCursor: null };
        return pageOf(items, page.limit, toMessage, (i) => i.seq as number, scope);
      }),
      recentMessages: (userId, conversationId, limit, excludeId) => guard(async () => {
        const [conversation, items] = await Promise.all([
          get('conversations', keys.conversation(userId, conversationId)),
          queryUpTo(doc, {
            TableName: tableOf('conversations'),
            KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
            ExpressionAttributeValues: { ':pk': keys.userPartition(userId), ':prefix': keys.messagePrefix(conversationId) },
            ScanIndexForward: false,
            ConsistentRead: true,
          }, limit + (excludeId ? 1 : 0), pageSize),
        ]);
        if (!conversation) return [];
        return items.filter((i) => i.id !== excludeId).slice(0, Math.max(limit, 0)).reverse().map(toMessage);
      }),
      setSummary: (userId, conversationId, summary, through) => guard(() => unless(async () => {
        // Only an existing conversation of this user (its key includes the owner) takes a summary.
        await doc.send(new UpdateCommand({
          TableName: tableOf('conversations'),
          Key: keys.conversation(userId, conversationId),
          UpdateExpression: 'SET #summary = :summary, #through = :through',
          ConditionExpression: 'attribute_exists(pk)',
          ExpressionAttributeNames: { '#summary': 'summary', '#through': 'summaryThrough' },
          ExpressionAttributeValues: { ':summary': summary, ':through': through },
        }));
        return true;
      }, () => false)),
    },

    usage: {
      record: (entry) => guard(async () => {
        await putNew('usage', { ...keys.usage(entry.userId, keyPart(entry.day), entry.id), ...usageFields(entry) });
      }),
      summarize: (userId, query) => guard(async () => {
        const [lo, hi] = keys.usageDays(query.fromDay, query.toDay);
        if (query.fromDay > query.toDay || lo > hi) return [];
        const rows = await queryAll(doc, {
          TableName: tableOf('usage'),
          KeyConditionExpression: 'pk = :pk AND sk BETWEEN :lo AND :hi',
          ExpressionAttributeValues: { ':pk': keys.userPartition(userId), ':lo': lo, ':hi': hi },
          ConsistentRead: true,
        }, pageSize);
        const groups = new Map<string, UsageTotals>();
        for (const row of rows) {
          if ((row.day as string) < query.fromDay || (row.day as string) > query.toDay) continue;
          const key = USAGE_KEY[query.groupBy](row);
          const totals = groups.get(key) ?? { key, requests: 0, inputTokens: 0, outputTokens: 0, costUsd: 0, estimatedRequests: 0 };
          totals.requests += 1;
          totals.inputTokens += row.inputTokens as number;
          totals.outputTokens += row.outputTokens as number;
          totals.costUsd += row.costUsd as number;
          totals.estimatedRequests += row.estimated === true ? 1 : 0;
          groups.set(key, totals);
        }
        return [...groups.values()]
          .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
          .map((g) => ({ ...g, costUsd: Math.round(g.costUsd * 1e9) / 1e9 }));
      }),
      tokensOnDay: (userId, day) => guard(async () => {
        const rows = await queryAll(doc, {
          TableName: tableOf('usage'),
          KeyConditionExpression: 'pk = :pk AND begins_with(sk, :day)',
          ExpressionAttributeValues: { ':pk': keys.userPartition(userId), ':day': keys.usageDay(day) },
          ProjectionExpression: '#in, #out',
          ExpressionAttributeNames: { '#in': 'inputTokens', '#out': 'outputTokens' },
          ConsistentRead: true,
        }, pageSize);
        return rows.reduce((sum, r) => sum + (r.inputTokens as number) + (r.outputTokens as number), 0);
      }),
    },

    memories: {
      create: (m) => guard(async () => {
        await putNew('memories', { ...keys.memory(m.userId, m.id), ...memoryFields(m) });
      }),
      get: (userId, id) => guard(async () => {
        const item = await get('memories', keys.memory(userId, id));
        return item ? toMemory(item) : null;
      }),
      list: (userId, query: MemoryListQuery) => guard(async () => {
        const scope = `memories:${userId}:${query.category ?? ''}:${query.includeSuperseded ? 1 : 0}`;
        const before = query.cursor ? decodeCursor<string>(scope, query.cursor, 'string') : undefined;
        // Expiry and supersession are decided at read time (no TTL): a PATCH may clear either.
        const filters = ['(attribute_not_exists(#expiresAt) OR attribute_type(#expiresAt, :null) OR #expiresAt > :now)'];
        const names: Record<string, string> = { '#expiresAt': 'expiresAt' };
        const values: Record<string, unknown> = { ':pk': keys.userPartition(userId), ':prefix': keys.memoryPrefix, ':null': 'NULL', ':now': query.now };
        if (query.category !== undefined && query.category !== null) {
          filters.push('#category = :category');
          names['#category'] = 'category';
          values[':category'] = query.category;
        }
        if (!query.includeSuperseded) {
          filters.push('(attribute_not_exists(#supersededBy) OR attribute_type(#supersededBy, :null))');
          names['#supersededBy'] = 'supersededBy';
        }
        const items = await queryUpTo(doc, {
          TableName: tableOf('memories'),
          KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
          FilterExpression: filters.join(' AND '),
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
          ExclusiveStartKey: before === undefined ? undefined : keys.memory(userId, before),
          ScanIndexForward: false,
          ConsistentRead: true,
        }, query.limit + 1, pageSize);
        return pageOf(items, query.limit, toMemory, (i) => i.id as string, scope);
      }),
      update: (userId, id, patch: MemoryPatch) => guard(() => {
        const fields: Record<string, unknown> = { updatedAt: patch.updatedAt };
        if (patch.content !== undefined) fields.content = patch.content;
        if (patch.category !== undefined) fields.category = patch.category;
        if (patch.importance !== undefined) fields.importance = patch.importance;
        if ('expiresAt' in patch) fields.expiresAt = patch.expiresAt ?? null;
        if ('supersededBy' in patch) fields.supersededBy = patch.supersededBy ?? null;
        const names = Object.keys(fields);
        return unless(async () => {
          const out = await doc.send(new UpdateCommand({
            TableName: tableOf('memories'),
            Key: keys.memory(userId, id),
            UpdateExpression: `SET ${names.map((n) => `#${n} = :${n}`).join(', ')}`,
            ConditionExpression: 'attribute_exists(pk)',
            ExpressionAttributeNames: Object.fromEntries(names.map((n) => [`#${n}`, n])),
            ExpressionAttributeValues: Object.fromEntries(names.map((n) => [`:${n}`, fields[n]])),
            ReturnValues: 'ALL_NEW',
          }));
          return toMemory(out.Attributes!);
        }, () => null);
      }),
      delete: (userId, id) => guard(() => remove('memories', keys.memory(userId, id))),
    },

    dataKeys: {
      get: (userId) => guard(async () => {
        const item = await get('dataKeys', keys.dataKey(userId));
        return item ? toDataKey(item) : null;
      }),
      putIfAbsent: (record) => guard(async () => {
        const stored: DataKeyRecord = { userId: record.userId, wrapped: record.wrapped, keyId: record.keyId, createdAt: record.createdAt };
        // Lost the race to another writer: answer theirs (re-read, in case it was deleted meanwhile).
        for (let attempt = 0; attempt < 3; attempt++) {
          const written = await unless(async () => (await putNew('dataKeys', { ...keys.dataKey(record.userId), ...stored }), true), () => false);
          if (written) return stored;
          const existing = await get('dataKeys', keys.dataKey(record.userId));
          if (existing) return toDataKey(existing);
        }
        throw new Error(`the data key of ${record.userId} keeps changing`);
      }),
      replace: (userId, expectedWrapped, record) => guard(() => unless(async () => {
        await doc.send(new PutCommand({
          TableName: tableOf('dataKeys'),
          Item: { ...keys.dataKey(userId), userId, wrapped: record.wrapped, keyId: record.keyId, createdAt: record.createdAt },
          ConditionExpression: '#wrapped = :expected',
          ExpressionAttributeNames: { '#wrapped': 'wrapped' },
          ExpressionAttributeValues: { ':expected': expectedWrapped },
        }));
        return true;
      }, () => false)),
      delete: (userId) => guard(() => remove('dataKeys', keys.dataKey(userId))),
    },

    documents: {
      createWithChunks: (document, chunks) => guard(async () => {
        assertChunksOf(document, chunks);
        const { userId, id } = document;
        const documentKey = keys.document(userId, keyPart(id));
        // (0) An existing document is a conflict; its chunks must not be overwritten.
        if (await get('documents', documentKey)) throw DocumentErrors.conflict(id);
        // (1) Without the document, any chunk item under its prefix is left from an interrupted create or
        //     delete: remove those this create does not overwrite, or they would show up under it.
        const written = new Set(chunks.map((c) => keys.chunk(userId, id, c.ordinal).sk));
        await deleteAll(doc, tableOf('documents'), (await chunkKeysOf(userId, id)).filter((k) => !written.has(k.sk)));
        // (2) The chunks, in batches; (3) the document, which makes them visible (every reader requires it).
        await putAll(doc, tableOf('documents'), chunks.map((c) => ({
          ...keys.chunk(userId, id, c.ordinal), gsi1pk: keys.chunkIdsIndex(userId), gsi1sk: c.id, ...chunkFields(c),
        })));
        await unless(() => putNew('documents', { ...documentKey, ...documentFields(document) }), () => {
          throw DocumentErrors.conflict(id);
        });
      }),
      get: (userId, id) => guard(async () => {
        const item = await get('documents', keys.document(userId, id));
        return item ? toDocument(item) : null;
      }),
      list: (userId, page) => guard(async () => {
        const scope = `documents:${userId}`;
        const before = page.cursor ? decodeCursor<string>(scope, page.cursor, 'string') : undefined;
        const items = await queryUpTo(doc, {
          TableName: tableOf('documents'),
          KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
          ExpressionAttributeValues: { ':pk': keys.userPartition(userId), ':prefix': keys.documentPrefix },
          ExclusiveStartKey: before === undefined ? undefined : keys.document(userId, before),
          ScanIndexForward: false,
          ConsistentRead: true,
        }, page.limit + 1, pageSize);
        return pageOf(items, page.limit, toDocument, (i) => i.id as string, scope);
      }),
      update: (userId, id, patch: DocumentPatch) => guard(() => {
        const fields: Record<string, unknown> = { updatedAt: patch.updatedAt };
        if (patch.status !== undefined) fields.status = patch.status;
        if ('error' in patch) fields.error = patch.error ?? null;
        if (patch.chunksTotal !== undefined) fields.chunksTotal = patch.chunksTotal;
        if (patch.chunksIndexed !== undefined) fields.chunksIndexed = patch.chunksIndexed;
        const names = Object.keys(fields);
        return unless(async () => {
          const out = await doc.send(new UpdateCommand({
            TableName: tableOf('documents'),
            Key: keys.document(userId, id),
            UpdateExpression: `SET ${names.map((n) => `#${n} = :${n}`).join(', ')}`,
            ConditionExpression: 'attribute_exists(pk)',
            ExpressionAttributeNames: Object.fromEntries(names.map((n) => [`#${n}`, n])),
            ExpressionAttributeValues: Object.fromEntries(names.map((n) => [`:${n}`, fields[n]])),
            ReturnValues: 'ALL_NEW',
          }));
          return toDocument(out.Attributes!);
        }, () => null);
      }),
      listChunks: (userId, documentId, page) => guard(async () => {
        const scope = `chunks:${userId}:${documentId}`;
        const after = page.cursor ? decodeCursor<number>(scope, page.cursor, 'number') : -1;
        // A cursor holds the ordinal of a chunk that has a successor (so never the highest one).
        if (page.cursor && (!Number.isSafeInteger(after) || after < 0 || after >= MAX_CHUNK_ORDINAL)) throw RequestErrors.invalidCursor();
        const [lo, hi] = keys.chunksAfter(documentId, after);
        const [document, items] = await Promise.all([
          get('documents', keys.document(userId, documentId)),
          queryUpTo(doc, {
            TableName: tableOf('documents'),
            KeyConditionExpression: 'pk = :pk AND sk BETWEEN :lo AND :hi',
            ExpressionAttributeValues: { ':pk': keys.userPartition(userId), ':lo': lo, ':hi': hi },
            ConsistentRead: true,
          }, page.limit + 1, pageSize),
        ]);
        if (!document) return { items: [], nextCursor: null };
        return pageOf(items, page.limit, toChunk, (i) => i.ordinal as number, scope);
      }),
      getChunks: (userId, ids) => guard(() => getChunks(userId, ids)),
      delete: (userId, id) => guard(async () => {
        // The document item first: from then on its chunks are invisible, and the sweep can be interrupted
        // and finished by a later delete or purge.
        const existed = await remove('documents', keys.document(userId, id));
        await deleteAll(doc, tableOf('documents'), await chunkKeysOf(userId, id));
        return existed;
      }),
    },

    agents: {
      create: (agent) => guard(async () => {
        await unless(() => putNew('agents', { ...keys.agent(agent.userId, keyPart(agent.id)), ...agentFields(agent) }), () => {
          throw AgentErrors.conflict(agent.id);
        });
      }),
      get: (userId, id) => guard(async () => {
        const item = await get('agents', keys.agent(userId, id));
        return item ? toAgent(item) : null;
      }),
      list: (userId, page) => guard(async () => {
        const scope = `agents:${userId}`;
        const after = page.cursor ? decodeCursor<string>(scope, page.cursor, 'string') : undefined;
        const items = await queryUpTo(doc, {
          TableName: tableOf('agents'),
          KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
          ExpressionAttributeValues: { ':pk': keys.userPartition(userId), ':prefix': keys.agentPrefix },
          ExclusiveStartKey: after === undefined ? undefined : keys.agent(userId, after),
          ConsistentRead: true,
        }, page.limit + 1, pageSize);
        return pageOf(items, page.limit, toAgent, (i) => i.id as string, scope);
      }),
      addVersion: (version, routing) => guard(() => addVersion(version, routing)),
      getVersion: (userId, agentId, version) => guard(async () => {
        if (!Number.isSafeInteger(version) || version < 1) return null;
        // Versions are visible only while their agent exists (a purge removes the agent first).
        const [agent, item] = await Promise.all([
          get('agents', keys.agent(userId, agentId)), get('agents', keys.version(userId, agentId, version)),
        ]);
        return agent && item ? toVersion(item) : null;
      }),
      listVersions: (userId, agentId) => guard(async () => {
        const [agent, items] = await Promise.all([
          get('agents', keys.agent(userId, agentId)),
          queryAll(doc, {
            TableName: tableOf('agents'),
            KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
            ExpressionAttributeValues: { ':pk': keys.userPartition(userId), ':prefix': keys.versionPrefix(agentId) },
            ConsistentRead: true,
          }, pageSize),
        ]);
        return agent ? items.map(toVersion) : [];
      }),
      setRouting: (userId, agentId, routing, updatedAt) => guard(() => unless(async () => {
        const out = await doc.send(new UpdateCommand({
          TableName: tableOf('agents'),
          Key: keys.agent(userId, agentId),
          UpdateExpression: 'SET #routing = :routing, #updatedAt = :at',
          ConditionExpression: 'attribute_exists(pk)',
          ExpressionAttributeNames: { '#routing': 'routing', '#updatedAt': 'updatedAt' },
          ExpressionAttributeValues: { ':routing': routing, ':at': updatedAt },
          ReturnValues: 'ALL_NEW',
        }));
        return toAgent(out.Attributes!);
      }, () => null)),
      recordRun: (run) => guard(async () => {
        await putNew('agents', { ...keys.run(run.userId, keyPart(run.agentId), keyPart(run.at), keyPart(run.id)), ...runFields(run) });
      }),
      listRuns: (userId, agentId, range) => guard(async () => {
        // BETWEEN refuses a lower bound above the upper one; such a range holds no run anyway.
        if (range.from >= range.to) return [];
        const [lo, hi] = keys.runsBetween(agentId, range.from, range.to);
        const items = await queryAll(doc, {
          TableName: tableOf('agents'),
          KeyConditionExpression: 'pk = :pk AND sk BETWEEN :lo AND :hi',
          ExpressionAttributeValues: { ':pk': keys.userPartition(userId), ':lo': lo, ':hi': hi },
          ConsistentRead: true,
        }, pageSize);
        return items.filter((i) => i.agentId === agentId && (i.at as string) >= range.from && (i.at as string) < range.to).map(toRun);
      }),
      putEvaluation: (e) => guard(async () => {
        await doc.send(new PutCommand({
          TableName: tableOf('agents'),
          Item: { ...keys.evaluation(e.userId, keyPart(e.agentId), keyPart(e.id)), ...evaluationFields(e) },
        }));
      }),
      getEvaluation: (userId, agentId, id) => guard(async () => {
        const item = await get('agents', keys.evaluation(userId, agentId, id));
        return item ? toEvaluation(item) : null;
      }),
    },

    purgeUser: (userId) => guard(() => purgeUser(userId)),
    ping: () => guard(async () => {
      await doc.send(new GetCommand({ TableName: tableOf('users'), Key: { pk: 'PING', sk: 'PING' } }));
    }),
    async close() {
      closed = true;
    },
  };
}
