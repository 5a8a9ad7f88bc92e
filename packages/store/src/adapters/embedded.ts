import { chmodSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { ConflictErrors, NotFoundErrors, StoreErrors, isPaiError } from '@pai/errors';
import { decodeCursor, encodeCursor } from '../cursor.js';
import type {
  ApiKeyRecord, ConversationRecord, DataKeyRecord, MemoryListQuery, MemoryPatch, MemoryRecord, MessageRecord, Page, PageRequest,
  PurgeReceipt, Store, UsageGroupBy, UsageTotals, UserRecord,
} from '../index.js';
import type { Job, JobQueue } from '../job-queue.js';

export interface EmbeddedStoreOptions {
  /** SQLite file path (created with its folder), or ':memory:' for throwaway tests. */
  path: string;
}

/**
 * Schema migrations, applied in order; PRAGMA user_version records how many ran. Never edit a
 * released step: add a new one.
 */
const MIGRATIONS: string[] = [
  `
  CREATE TABLE users (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    created_at TEXT NOT NULL
  ) STRICT;

  CREATE TABLE api_keys (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    key_hash TEXT NOT NULL UNIQUE,
    prefix TEXT NOT NULL,
    name TEXT,
    created_at TEXT NOT NULL,
    revoked_at TEXT
  ) STRICT;
  CREATE INDEX api_keys_by_user ON api_keys(user_id, id);

  CREATE TABLE conversations (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    title TEXT,
    agent_id TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
  ) STRICT;
  CREATE INDEX conversations_by_user ON conversations(user_id, id);

  CREATE TABLE messages (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    user_id TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('user', 'assistant')),
    content TEXT NOT NULL,
    incomplete INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL
  ) STRICT;
  CREATE INDEX messages_by_conversation ON messages(conversation_id, seq);
  `,
  `
  CREATE TABLE usage (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    at TEXT NOT NULL,
    day TEXT NOT NULL,
    conversation_id TEXT,
    agent_id TEXT NOT NULL,
    agent_version INTEGER NOT NULL,
    provider TEXT NOT NULL,
    model TEXT NOT NULL,
    input_tokens INTEGER NOT NULL,
    output_tokens INTEGER NOT NULL,
    cost_usd REAL NOT NULL,
    estimated INTEGER NOT NULL
  ) STRICT;
  CREATE INDEX usage_by_user_day ON usage(user_id, day);
  `,
  `
  CREATE TABLE memories (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    content TEXT NOT NULL,
    category TEXT NOT NULL,
    importance REAL NOT NULL,
    source_message_id TEXT,
    superseded_by TEXT,
    expires_at TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
  ) STRICT;
  CREATE INDEX memories_by_user ON memories(user_id, id);

  CREATE TABLE data_keys (
    user_id TEXT PRIMARY KEY,
    wrapped TEXT NOT NULL,
    key_id TEXT NOT NULL,
    created_at TEXT NOT NULL
  ) STRICT;
  `,
  `
  CREATE TABLE jobs (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    user_id TEXT NOT NULL,
    payload TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    available_at INTEGER NOT NULL,
    created_at TEXT NOT NULL
  ) STRICT;
  CREATE INDEX jobs_available ON jobs(kind, available_at);
  `,
  `
  ALTER TABLE conversations ADD COLUMN summary TEXT;
  ALTER TABLE conversations ADD COLUMN summary_through TEXT;
  `,
];

interface UsageRow { key: string; requests: number; input_tokens: number; output_tokens: number; cost_usd: number; estimated_requests: number }
const USAGE_KEY: Record<UsageGroupBy, string> = { model: 'model', agent: 'agent_id', day: 'day' };
const toUsageTotals = (r: UsageRow): UsageTotals => ({
  key: r.key, requests: r.requests, inputTokens: r.input_tokens, outputTokens: r.output_tokens,
  costUsd: Math.round(r.cost_usd * 1e9) / 1e9, estimatedRequests: r.estimated_requests,
});

interface MemoryRow {
  id: string; user_id: string; content: string; category: string; importance: number; source_message_id: string | null;
  superseded_by: string | null; expires_at: string | null; created_at: string; updated_at: string;
}
const toMemory = (r: MemoryRow): MemoryRecord => ({
  id: r.id, userId: r.user_id, content: r.content, category: r.category, importance: r.importance,
  sourceMessageId: r.source_message_id, supersededBy: r.superseded_by, expiresAt: r.expires_at, createdAt: r.created_at, updatedAt: r.updated_at,
});
interface DataKeyRow { user_id: string; wrapped: string; key_id: string; created_at: string }
const toDataKey = (r: DataKeyRow): DataKeyRecord => ({ userId: r.user_id, wrapped: r.wrapped, keyId: r.key_id, createdAt: r.created_at });

interface UserRow { id: string; name: string; created_at: string }
interface ApiKeyRow { id: string; user_id: string; key_hash: string; prefix: string; name: string | null; created_at: string; revoked_at: string | null }
interface ConversationRow {
  id: string; user_id: string; title: string | null; agent_id: string; created_at: string; updated_at: string;
  summary: string | null; summary_through: string | null;
}
interface MessageRow { seq: number; id: string; conversation_id: string; user_id: string; role: 'user' | 'assistant'; content: string; incomplete: number; created_at: string }

const toUser = (r: UserRow): UserRecord => ({ id: r.id, name: r.name, createdAt: r.created_at });
const toApiKey = (r: ApiKeyRow): ApiKeyRecord => ({
  id: r.id, userId: r.user_id, keyHash: r.key_hash, prefix: r.prefix, name: r.name, createdAt: r.created_at, revokedAt: r.revoked_at,
});
const toConversation = (r: ConversationRow): ConversationRecord => ({
  id: r.id, userId: r.user_id, title: r.title, agentId: r.agent_id, createdAt: r.created_at, updatedAt: r.updated_at,
  ...(r.summary !== null && r.summary_through !== null ? { summary: r.summary, summaryThrough: r.summary_through } : {}),
});
const toMessage = (r: MessageRow): MessageRecord => ({
  id: r.id, conversationId: r.conversation_id, userId: r.user_id, role: r.role, content: r.content, incomplete: r.incomplete === 1, createdAt: r.created_at,
});

const conversationParams = (c: ConversationRecord) => ({
  id: c.id, userId: c.userId, title: c.title, agentId: c.agentId, createdAt: c.createdAt, updatedAt: c.updatedAt,
});

/** Runs a driver call, turning SQLite failures (I/O, full disk, locked file) into PAI_STORE_UNAVAILABLE. */
function guard<T>(fn: () => T): Promise<T> {
  try {
    return Promise.resolve(fn());
  } catch (err) {
    if (isPaiError(err)) return Promise.reject(err);
    return Promise.reject(StoreErrors.unavailable({ cause: err }));
  }
}

function pageFrom<R, T>(rows: R[], limit: number, map: (r: R) => T, keyOf: (r: R) => string | number, scope: string): Page<T> {
  const more = rows.length > limit;
  const kept = more ? rows.slice(0, limit) : rows;
  const last = kept.at(-1);
  return { items: kept.map(map), nextCursor: more && last !== undefined ? encodeCursor(scope, keyOf(last)) : null };
}

/**
 * The embedded default: one SQLite file (WAL mode) under PAI_DATA_DIR. Synchronous driver calls are
 * wrapped in promises to satisfy the async port; they complete in microseconds.
 */
export function createEmbeddedStore(options: EmbeddedStoreOptions): Store {
  if (options.path !== ':memory:') mkdirSync(dirname(options.path), { recursive: true, mode: 0o700 });
  const db = new Database(options.path);
  // Only the owner may read the database (SQLite gives its -wal and -shm files the same mode).
  if (options.path !== ':memory:') chmodSync(options.path, 0o600);
  db.pragma('journal_mode = WAL');
  // NORMAL in WAL mode: a power cut may lose the last commits, never corrupt the file.
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  migrate(db);

  const q = {
    insertUser: db.prepare('INSERT INTO users (id, name, created_at) VALUES (@id, @name, @createdAt)'),
    getUser: db.prepare<[string], UserRow>('SELECT * FROM users WHERE id = ?'),
    listUsers: db.prepare<[string, number], UserRow>('SELECT * FROM users WHERE id > ? ORDER BY id LIMIT ?'),

    insertKey: db.prepare(`INSERT INTO api_keys (id, user_id, key_hash, prefix, name, created_at, revoked_at)
      VALUES (@id, @userId, @keyHash, @prefix, @name, @createdAt, @revokedAt)`),
    keyByHash: db.prepare<[string], ApiKeyRow>('SELECT * FROM api_keys WHERE key_hash = ? AND revoked_at IS NULL'),
    getKey: db.prepare<[string], ApiKeyRow>('SELECT * FROM api_keys WHERE id = ?'),
    listKeys: db.prepare<[string, string, number], ApiKeyRow>('SELECT * FROM api_keys WHERE user_id = ? AND id > ? ORDER BY id LIMIT ?'),
    revokeKey: db.prepare<[string, string]>('UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL'),

    insertConversation: db.prepare(`INSERT INTO conversations (id, user_id, title, agent_id, created_at, updated_at)
      VALUES (@id, @userId, @title, @agentId, @createdAt, @updatedAt)`),
    setSummary: db.prepare<[string, string, string, string]>('UPDATE conversations SET summary = ?, summary_through = ? WHERE user_id = ? AND id = ?'),
    getConversation: db.prepare<[string, string], ConversationRow>('SELECT * FROM conversations WHERE user_id = ? AND id = ?'),
    listConversationsFirst: db.prepare<[string, number], ConversationRow>('SELECT * FROM conversations WHERE user_id = ? ORDER BY id DESC LIMIT ?'),
    listConversationsAfter: db.prepare<[string, string, number], ConversationRow>('SELECT * FROM conversations WHERE user_id = ? AND id < ? ORDER BY id DESC LIMIT ?'),
    deleteConversation: db.prepare<[string, string]>('DELETE FROM conversations WHERE user_id = ? AND id = ?'),
    deleteMessagesOf: db.prepare<[string, string]>('DELETE FROM messages WHERE user_id = ? AND conversation_id = ?'),
    touchConversation: db.prepare<[string, string, string]>('UPDATE conversations SET updated_at = max(updated_at, ?) WHERE user_id = ? AND id = ?'),

    insertMessage: db.prepare(`INSERT INTO messages (id, conversation_id, user_id, role, content, incomplete, created_at)
      VALUES (@id, @conversationId, @userId, @role, @content, @incomplete, @createdAt)`),
    messageExists: db.prepare<[string], { one: number }>('SELECT 1 AS one FROM messages WHERE id = ?'),
    getMessage: db.prepare<[string, string], MessageRow>('SELECT * FROM messages WHERE user_id = ? AND id = ?'),
    listMessages: db.prepare<[string, string, number, number], MessageRow>(
      'SELECT * FROM messages WHERE user_id = ? AND conversation_id = ? AND seq > ? ORDER BY seq LIMIT ?'),
    recentMessages: db.prepare<[string, string, string, number], MessageRow>(
      'SELECT * FROM messages WHERE user_id = ? AND conversation_id = ? AND id != ? ORDER BY seq DESC LIMIT ?'),
    insertUsage: db.prepare(`INSERT INTO usage (id, user_id, at, day, conversation_id, agent_id, agent_version, provider, model,
      input_tokens, output_tokens, cost_usd, estimated)
      VALUES (@id, @userId, @at, @day, @conversationId, @agentId, @agentVersion, @provider, @model,
      @inputTokens, @outputTokens, @costUsd, @estimated)`),
    tokensOnDay: db.prepare<[string, string], { tokens: number | null }>(
      'SELECT sum(input_tokens + output_tokens) AS tokens FROM usage WHERE user_id = ? AND day = ?'),
    summarize: Object.fromEntries((['model', 'agent', 'day'] as const).map((groupBy) => [groupBy, db.prepare<[string, string, string], UsageRow>(
      `SELECT ${USAGE_KEY[groupBy]} AS key, count(*) AS requests, sum(input_tokens) AS input_tokens,
        sum(output_tokens) AS output_tokens, sum(cost_usd) AS cost_usd, sum(estimated) AS estimated_requests
       FROM usage WHERE user_id = ? AND day >= ? AND day <= ? GROUP BY key ORDER BY key`)])) as Record<UsageGroupBy, Database.Statement<[string, string, string], UsageRow>>,
    insertMemory: db.prepare(`INSERT INTO memories (id, user_id, content, category, importance, source_message_id, superseded_by,
      expires_at, created_at, updated_at) VALUES (@id, @userId, @content, @category, @importance, @sourceMessageId, @supersededBy,
      @expiresAt, @createdAt, @updatedAt)`),
    getMemory: db.prepare<[string, string], MemoryRow>('SELECT * FROM memories WHERE user_id = ? AND id = ?'),
    listMemories: db.prepare<{ userId: string; before: string; category: string | null; all: number; now: string; limit: number }, MemoryRow>(
      `SELECT * FROM memories WHERE user_id = @userId AND id < @before
         AND (@category IS NULL OR category = @category)
         AND (@all = 1 OR superseded_by IS NULL)
         AND (expires_at IS NULL OR expires_at > @now)
       ORDER BY id DESC LIMIT @limit`),
    updateMemory: db.prepare(`UPDATE memories SET content = coalesce(@content, content), category = coalesce(@category, category),
      importance = coalesce(@importance, importance),
      expires_at = CASE WHEN @setExpires = 1 THEN @expiresAt ELSE expires_at END,
      superseded_by = CASE WHEN @setSuperseded = 1 THEN @supersededBy ELSE superseded_by END,
      updated_at = @updatedAt WHERE user_id = @userId AND id = @id`),
    deleteMemory: db.prepare<[string, string]>('DELETE FROM memories WHERE user_id = ? AND id = ?'),
    getDataKey: db.prepare<[string], DataKeyRow>('SELECT * FROM data_keys WHERE user_id = ?'),
    insertDataKeyIfAbsent: db.prepare('INSERT OR IGNORE INTO data_keys (user_id, wrapped, key_id, created_at) VALUES (@userId, @wrapped, @keyId, @createdAt)'),
    replaceDataKey: db.prepare(`UPDATE data_keys SET wrapped = @wrapped, key_id = @keyId, created_at = @createdAt
      WHERE user_id = @userId AND wrapped = @expected`),
    deleteDataKey: db.prepare<[string]>('DELETE FROM data_keys WHERE user_id = ?'),
    purge: {
      messages: db.prepare<[string]>('DELETE FROM messages WHERE user_id = ?'),
      conversations: db.prepare<[string]>('DELETE FROM conversations WHERE user_id = ?'),
      memories: db.prepare<[string]>('DELETE FROM memories WHERE user_id = ?'),
      apiKeys: db.prepare<[string]>('DELETE FROM api_keys WHERE user_id = ?'),
      usage: db.prepare<[string]>('DELETE FROM usage WHERE user_id = ?'),
      dataKeys: db.prepare<[string]>('DELETE FROM data_keys WHERE user_id = ?'),
      users: db.prepare<[string]>('DELETE FROM users WHERE id = ?'),
    },
    ping: db.prepare('SELECT 1'),
  };

  const purgeUser = db.transaction((userId: string): PurgeReceipt => ({
    // Children first: the foreign keys would cascade, but the receipt needs each count.
    messages: q.purge.messages.run(userId).changes,
    conversations: q.purge.conversations.run(userId).changes,
    memories: q.purge.memories.run(userId).changes,
    apiKeys: q.purge.apiKeys.run(userId).changes,
    usage: q.purge.usage.run(userId).changes,
    dataKeys: q.purge.dataKeys.run(userId).changes,
    users: q.purge.users.run(userId).changes,
  }));

  const updateMemory = db.transaction((userId: string, id: string, patch: MemoryPatch) => {
    const changed = q.updateMemory.run({
      userId, id, updatedAt: patch.updatedAt,
      content: patch.content ?? null, category: patch.category ?? null, importance: patch.importance ?? null,
      setExpires: 'expiresAt' in patch ? 1 : 0, expiresAt: patch.expiresAt ?? null,
      setSuperseded: 'supersededBy' in patch ? 1 : 0, supersededBy: patch.supersededBy ?? null,
    }).changes;
    const row = changed > 0 ? q.getMemory.get(userId, id) : undefined;
    return row ? toMemory(row) : null;
  });

  const insertMessage = (m: MessageRecord) => {
    if (q.messageExists.get(m.id)) throw ConflictErrors.messageExists(m.id);
    q.insertMessage.run({ ...m, incomplete: m.incomplete ? 1 : 0 });
  };

  const appendMessage = db.transaction((m: MessageRecord) => {
    const touched = q.touchConversation.run(m.createdAt, m.userId, m.conversationId);
    if (touched.changes === 0) throw NotFoundErrors.conversation(m.conversationId);
    insertMessage(m);
  });

  const createWithMessage = db.transaction((c: ConversationRecord, m: MessageRecord) => {
    q.insertConversation.run(conversationParams(c));
    insertMessage(m);
  });

  const deleteConversation = db.transaction((userId: string, id: string) => {
    q.deleteMessagesOf.run(userId, id);
    return q.deleteConversation.run(userId, id).changes > 0;
  });

  let closed = false;

  return {
    kind: 'embedded',
    users: {
      create: (user) => guard(() => void q.insertUser.run(user)),
      get: (id) => guard(() => {
        const row = q.getUser.get(id);
        return row ? toUser(row) : null;
      }),
      list: (page) => guard(() => {
        const after = page.cursor ? decodeCursor<string>('users', page.cursor, 'string') : '';
        return pageFrom(q.listUsers.all(after, page.limit + 1), page.limit, toUser, (r) => r.id, 'users');
      }),
    },
    apiKeys: {
      create: (key) => guard(() => void q.insertKey.run(key)),
      findActiveByHash: (hash) => guard(() => {
        const row = q.keyByHash.get(hash);
        return row ? toApiKey(row) : null;
      }),
      get: (id) => guard(() => {
        const row = q.getKey.get(id);
        return row ? toApiKey(row) : null;
      }),
      listForUser: (userId, page) => guard(() => {
        const scope = `keys:${userId}`;
        const after = page.cursor ? decodeCursor<string>(scope, page.cursor, 'string') : '';
        return pageFrom(q.listKeys.all(userId, after, page.limit + 1), page.limit, toApiKey, (r) => r.id, scope);
      }),
      revoke: (id, at) => guard(() => q.revokeKey.run(at, id).changes > 0),
    },
    conversations: {
      create: (c) => guard(() => void q.insertConversation.run(conversationParams(c))),
      createWithMessage: (c, m) => guard(() => createWithMessage(c, m)),
      get: (userId, id) => guard(() => {
        const row = q.getConversation.get(userId, id);
        return row ? toConversation(row) : null;
      }),
      list: (userId, page) => guard(() => {
        const scope = `conversations:${userId}`;
        const rows = page.cursor
          ? q.listConversationsAfter.all(userId, decodeCursor<string>(scope, page.cursor, 'string'), page.limit + 1)
          : q.listConversationsFirst.all(userId, page.limit + 1);
        return pageFrom(rows, page.limit, toConversation, (r) => r.id, scope);
      }),
      delete: (userId, id) => guard(() => deleteConversation(userId, id)),
      appendMessage: (m) => guard(() => appendMessage(m)),
      getMessage: (userId, id) => guard(() => {
        const row = q.getMessage.get(userId, id);
        return row ? toMessage(row) : null;
      }),
      listMessages: (userId, conversationId, page) => guard(() => {
        const scope = `messages:${conversationId}`;
        const after = page.cursor ? decodeCursor<number>(scope, page.cursor, 'number') : 0;
        return pageFrom(q.listMessages.all(userId, conversationId, after, page.limit + 1), page.limit, toMessage, (r) => r.seq, scope);
      }),
      recentMessages: (userId, conversationId, limit, excludeId) => guard(() =>
        q.recentMessages.all(userId, conversationId, excludeId ?? '', limit).reverse().map(toMessage)),
      setSummary: (userId, conversationId, summary, through) => guard(() => q.setSummary.run(summary, through, userId, conversationId).changes > 0),
    },
    usage: {
      record: (entry) => guard(() => void q.insertUsage.run({ ...entry, estimated: entry.estimated ? 1 : 0 })),
      summarize: (userId, query) => guard(() => q.summarize[query.groupBy].all(userId, query.fromDay, query.toDay).map(toUsageTotals)),
      tokensOnDay: (userId, day) => guard(() => q.tokensOnDay.get(userId, day)?.tokens ?? 0),
    },
    memories: {
      create: (m) => guard(() => void q.insertMemory.run(m)),
      get: (userId, id) => guard(() => {
        const row = q.getMemory.get(userId, id);
        return row ? toMemory(row) : null;
      }),
      list: (userId, query: MemoryListQuery) => guard(() => {
        const scope = `memories:${userId}:${query.category ?? ''}:${query.includeSuperseded ? 1 : 0}`;
        const before = query.cursor ? decodeCursor<string>(scope, query.cursor, 'string') : '\uffff';
        const rows = q.listMemories.all({
          userId, before, category: query.category ?? null, all: query.includeSuperseded ? 1 : 0, now: query.now, limit: query.limit + 1,
        });
        return pageFrom(rows, query.limit, toMemory, (r) => r.id, scope);
      }),
      update: (userId, id, patch) => guard(() => updateMemory(userId, id, patch)),
      delete: (userId, id) => guard(() => q.deleteMemory.run(userId, id).changes > 0),
    },
    dataKeys: {
      get: (userId) => guard(() => {
        const row = q.getDataKey.get(userId);
        return row ? toDataKey(row) : null;
      }),
      putIfAbsent: (record) => guard(() => {
        q.insertDataKeyIfAbsent.run(record);
        return toDataKey(q.getDataKey.get(record.userId)!);
      }),
      replace: (userId, expected, record) => guard(() => q.replaceDataKey.run({ ...record, userId, expected }).changes > 0),
      delete: (userId) => guard(() => q.deleteDataKey.run(userId).changes > 0),
    },
    purgeUser: (userId) => guard(() => purgeUser(userId)),
    ping: () => guard(() => {
      if (closed) throw new Error('store is closed');
      q.ping.get();
    }),
    async close() {
      if (closed) return;
      closed = true;
      db.close();
    },
  };
}

interface JobRow { id: string; kind: string; user_id: string; payload: string; attempts: number; created_at: string }

/** The job queue in the embedded database file (its own connection; SQLite serializes the writers). */
export function createEmbeddedJobQueue(options: EmbeddedStoreOptions & { now?: () => number }): JobQueue {
  if (options.path !== ':memory:') mkdirSync(dirname(options.path), { recursive: true, mode: 0o700 });
  const db = new Database(options.path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('busy_timeout = 5000');
  migrate(db);
  const now = options.now ?? Date.now;
  const q = {
    insert: db.prepare(`INSERT INTO jobs (id, kind, user_id, payload, attempts, available_at, created_at)
      VALUES (@id, @kind, @userId, @payload, 0, @availableAt, @createdAt)`),
    available: db.prepare<[string, number, number], JobRow>('SELECT * FROM jobs WHERE kind = ? AND available_at <= ? ORDER BY created_at, id LIMIT ?'),
    lease: db.prepare<[number, string]>('UPDATE jobs SET attempts = attempts + 1, available_at = ? WHERE id = ?'),
    remove: db.prepare<[string]>('DELETE FROM jobs WHERE id = ?'),
    release: db.prepare<[number, string]>('UPDATE jobs SET available_at = ? WHERE id = ?'),
    size: db.prepare<[string], { n: number }>('SELECT count(*) AS n FROM jobs WHERE kind = ?'),
    purge: db.prepare<[string]>('DELETE FROM jobs WHERE user_id = ?'),
  };
  const claim = db.transaction((kind: string, leaseMs: number, limit: number) => {
    const at = now();
    const rows = q.available.all(kind, at, limit);
    for (const row of rows) q.lease.run(at + leaseMs, row.id);
    return rows.map((r): Job => ({
      id: r.id, kind: r.kind, userId: r.user_id, payload: JSON.parse(r.payload) as Record<string, unknown>, attempts: r.attempts + 1, createdAt: r.created_at,
    }));
  });
  let closed = false;
  return {
    enqueue: (job) => guard(() => void q.insert.run({
      id: job.id, kind: job.kind, userId: job.userId, payload: JSON.stringify(job.payload), availableAt: now(), createdAt: new Date(now()).toISOString(),
    })),
    claim: (kind, leaseMs, limit) => guard(() => claim(kind, leaseMs, limit)),
    complete: (id) => guard(() => void q.remove.run(id)),
    release: (id, delayMs) => guard(() => void q.release.run(now() + delayMs, id)),
    size: (kind) => guard(() => q.size.get(kind)!.n),
    purgeUser: (userId) => guard(() => q.purge.run(userId).changes),
    async close() {
      if (closed) return;
      closed = true;
      db.close();
    },
  };
}

function migrate(db: Database.Database): void {
  const current = db.pragma('user_version', { simple: true }) as number;
  if (current > MIGRATIONS.length) {
    throw new Error(`the database was written by a newer PAI (schema ${current}, this build knows ${MIGRATIONS.length})`);
  }
  for (let i = current; i < MIGRATIONS.length; i++) {
    db.transaction(() => {
      db.exec(MIGRATIONS[i]!);
      db.pragma(`user_version = ${i + 1}`);
    })();
  }
}
