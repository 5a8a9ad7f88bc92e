import { createHash } from 'node:crypto';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, DynamoDBDocumentClient, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { ConflictErrors, NotFoundErrors, RequestErrors, StoreErrors, isPaiError } from '@pai/errors';
import { decodeCursor, encodeCursor } from '../cursor.js';
import type {
  ApiKeyRecord, ConversationRecord, DataKeyRecord, MemoryListQuery, MemoryPatch, MemoryRecord, MessageRecord, Page, PurgeReceipt, Store,
  UsageGroupBy, UsageRecord, UsageTotals, UserRecord,
} from '../index.js';
import { GSI1, TABLE_NAMES, keyPart, keys, type ItemKey, type TableName } from './dynamodb/table-layout.js';
import { deleteAll, isConditionFailure, keyOf, queryAll, queryUpTo, type Item } from './dynamodb/table-io.js';

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
    const receipt: PurgeReceipt = { users: 0, apiKeys: 0, conversations: 0, messages: 0, memories: 0, usage: 0, dataKeys: 0 };
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
    return receipt;
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

    purgeUser: (userId) => guard(() => purgeUser(userId)),
    ping: () => guard(async () => {
      await doc.send(new GetCommand({ TableName: tableOf('users'), Key: { pk: 'PING', sk: 'PING' } }));
    }),
    async close() {
      closed = true;
    },
  };
}
