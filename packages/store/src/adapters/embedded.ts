import { chmodSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { AgentErrors, ConflictErrors, DocumentErrors, NotFoundErrors, StoreErrors, isPaiError } from '@pai/errors';
import { decodeCursor, encodeCursor } from '../cursor.js';
import type { AgentRecord, AgentRunRecord, AgentVersionRecord, AttemptRecord, EvaluationRecord, JudgeSettings } from '../agents.js';
import type { ChunkRecord, DocumentPatch, DocumentRecord } from '../documents.js';
import { routingAfterVersion } from './agent-routing.js';
import { assertChunksOf } from './document-chunks.js';
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
  // Documents and agents carry no foreign key to users: the search and agent services may keep their
  // own database file, without the users table.
  `
  CREATE TABLE documents (
    user_id TEXT NOT NULL,
    id TEXT NOT NULL,
    title TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size_bytes INTEGER NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'indexing', 'indexed', 'failed')),
    error TEXT,
    chunks_total INTEGER NOT NULL,
    chunks_indexed INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (user_id, id)
  ) STRICT;

  CREATE TABLE chunks (
    user_id TEXT NOT NULL,
    id TEXT NOT NULL,
    document_id TEXT NOT NULL,
    ordinal INTEGER NOT NULL,
    content TEXT NOT NULL,
    heading TEXT,
    token_count INTEGER NOT NULL,
    PRIMARY KEY (user_id, id),
    FOREIGN KEY (user_id, document_id) REFERENCES documents(user_id, id) ON DELETE CASCADE
  ) STRICT;
  CREATE UNIQUE INDEX chunks_by_document ON chunks(user_id, document_id, ordinal);

  CREATE TABLE agents (
    user_id TEXT NOT NULL,
    id TEXT NOT NULL,
    name TEXT NOT NULL,
    description TEXT,
    routing TEXT NOT NULL,
    latest_version INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (user_id, id)
  ) STRICT;

  CREATE TABLE agent_versions (
    user_id TEXT NOT NULL,
    agent_id TEXT NOT NULL,
    version INTEGER NOT NULL,
    system_prompt TEXT NOT NULL,
    model TEXT NOT NULL,
    temperature REAL,
    max_tokens INTEGER,
    judge TEXT,
    created_at TEXT NOT NULL,
    PRIMARY KEY (user_id, agent_id, version),
    FOREIGN KEY (user_id, agent_id) REFERENCES agents(user_id, id) ON DELETE CASCADE
  ) STRICT;

  CREATE TABLE agent_runs (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    agent_id TEXT NOT NULL,
    version INTEGER NOT NULL,
    at TEXT NOT NULL,
    conversation_id TEXT,
    ok INTEGER NOT NULL,
    error_code TEXT,
    latency_ms REAL NOT NULL,
    ttft_ms REAL,
    input_tokens INTEGER NOT NULL,
    output_tokens INTEGER NOT NULL,
    cost_usd REAL NOT NULL,
    score REAL,
    passed INTEGER,
    attempts TEXT NOT NULL
  ) STRICT;
  CREATE INDEX agent_runs_by_agent ON agent_runs(user_id, agent_id, at, id);

  CREATE TABLE agent_evaluations (
    user_id TEXT NOT NULL,
    agent_id TEXT NOT NULL,
    id TEXT NOT NULL,
    versions TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('running', 'completed', 'failed')),
    cases_total INTEGER NOT NULL,
    cases_done INTEGER NOT NULL,
    body TEXT NOT NULL,
    error TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (user_id, agent_id, id)
  ) STRICT;
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

interface DocumentRow {
  user_id: string; id: string; title: string; content_type: string; size_bytes: number; status: DocumentRecord['status']; error: string | null;
  chunks_total: number; chunks_indexed: number; created_at: string; updated_at: string;
}
const toDocument = (r: DocumentRow): DocumentRecord => ({
  id: r.id, userId: r.user_id, title: r.title, contentType: r.content_type, sizeBytes: r.size_bytes, status: r.status, error: r.error,
  chunksTotal: r.chunks_total, chunksIndexed: r.chunks_indexed, createdAt: r.created_at, updatedAt: r.updated_at,
});
const documentParams = (d: DocumentRecord) => ({
  id: d.id, userId: d.userId, title: d.title, contentType: d.contentType, sizeBytes: d.sizeBytes, status: d.status, error: d.error,
  chunksTotal: d.chunksTotal, chunksIndexed: d.chunksIndexed, createdAt: d.createdAt, updatedAt: d.updatedAt,
});
interface ChunkRow { user_id: string; id: string; document_id: string; ordinal: number; content: string; heading: string | null; token_count: number }
const toChunk = (r: ChunkRow): ChunkRecord => ({
  id: r.id, documentId: r.document_id, userId: r.user_id, ordinal: r.ordinal, content: r.content, heading: r.heading, tokenCount: r.token_count,
});

interface AgentRow {
  user_id: string; id: string; name: string; description: string | null; routing: string; latest_version: number; created_at: string; updated_at: string;
}
const toAgent = (r: AgentRow): AgentRecord => ({
  id: r.id, userId: r.user_id, name: r.name, description: r.description, routing: JSON.parse(r.routing) as Record<string, number>,
  latestVersion: r.latest_version, createdAt: r.created_at, updatedAt: r.updated_at,
});
interface VersionRow {
  user_id: string; agent_id: string; version: number; system_prompt: string; model: string; temperature: number | null; max_tokens: number | null;
  judge: string | null; created_at: string;
}
const toVersion = (r: VersionRow): AgentVersionRecord => ({
  agentId: r.agent_id, userId: r.user_id, version: r.version, systemPrompt: r.system_prompt, model: r.model, temperature: r.temperature,
  maxTokens: r.max_tokens, judge: r.judge === null ? null : JSON.parse(r.judge) as JudgeSettings, createdAt: r.created_at,
});
interface RunRow {
  id: string; user_id: string; agent_id: string; version: number; at: string; conversation_id: string | null; ok: number; error_code: string | null;
  latency_ms: number; ttft_ms: number | null; input_tokens: number; output_tokens: number; cost_usd: number; score: number | null;
  passed: number | null; attempts: string;
}
const toRun = (r: RunRow): AgentRunRecord => ({
  id: r.id, userId: r.user_id, agentId: r.agent_id, version: r.version, at: r.at, conversationId: r.conversation_id, ok: r.ok === 1,
  errorCode: r.error_code, latencyMs: r.latency_ms, ttftMs: r.ttft_ms, inputTokens: r.input_tokens, outputTokens: r.output_tokens,
  costUsd: r.cost_usd, score: r.score, passed: r.passed === null ? null : r.passed === 1, attempts: JSON.parse(r.attempts) as AttemptRecord[],
});
interface EvaluationRow {
  user_id: string; agent_id: string; id: string; versions: string; status: EvaluationRecord['status']; cases_total: number; cases_done: number;
  body: string; error: string | null; created_at: string; updated_at: string;
}
const toEvaluation = (r: EvaluationRow): EvaluationRecord => ({
  id: r.id, userId: r.user_id, agentId: r.agent_id, versions: JSON.parse(r.versions) as number[], status: r.status, casesTotal: r.cases_total,
  casesDone: r.cases_done, body: r.body, error: r.error, createdAt: r.created_at, updatedAt: r.updated_at,
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
    insertDocument: db.prepare(`INSERT INTO documents (user_id, id, title, content_type, size_bytes, status, error, chunks_total,
      chunks_indexed, created_at, updated_at) VALUES (@userId, @id, @title, @contentType, @sizeBytes, @status, @error, @chunksTotal,
      @chunksIndexed, @createdAt, @updatedAt)`),
    getDocument: db.prepare<[string, string], DocumentRow>('SELECT * FROM documents WHERE user_id = ? AND id = ?'),
    listDocuments: db.prepare<[string, string, number], DocumentRow>('SELECT * FROM documents WHERE user_id = ? AND id < ? ORDER BY id DESC LIMIT ?'),
    updateDocument: db.prepare(`UPDATE documents SET status = coalesce(@status, status),
      error = CASE WHEN @setError = 1 THEN @error ELSE error END,
      chunks_total = coalesce(@chunksTotal, chunks_total), chunks_indexed = coalesce(@chunksIndexed, chunks_indexed),
      updated_at = @updatedAt WHERE user_id = @userId AND id = @id`),
    deleteDocument: db.prepare<[string, string]>('DELETE FROM documents WHERE user_id = ? AND id = ?'),
    deleteChunksOf: db.prepare<[string, string]>('DELETE FROM chunks WHERE user_id = ? AND document_id = ?'),
    insertChunk: db.prepare(`INSERT INTO chunks (user_id, id, document_id, ordinal, content, heading, token_count)
      VALUES (@userId, @id, @documentId, @ordinal, @content, @heading, @tokenCount)`),
    listChunks: db.prepare<[string, string, number, number], ChunkRow>(
      'SELECT * FROM chunks WHERE user_id = ? AND document_id = ? AND ordinal > ? ORDER BY ordinal LIMIT ?'),
    getChunks: db.prepare<[string, string], ChunkRow>('SELECT * FROM chunks WHERE user_id = ? AND id IN (SELECT value FROM json_each(?))'),

    insertAgent: db.prepare(`INSERT INTO agents (user_id, id, name, description, routing, latest_version, created_at, updated_at)
      VALUES (@userId, @id, @name, @description, @routing, @latestVersion, @createdAt, @updatedAt)`),
    getAgent: db.prepare<[string, string], AgentRow>('SELECT * FROM agents WHERE user_id = ? AND id = ?'),
    listAgents: db.prepare<[string, string, number], AgentRow>('SELECT * FROM agents WHERE user_id = ? AND id > ? ORDER BY id LIMIT ?'),
    setAgentVersion: db.prepare<[number, string, string, string, string]>(
      'UPDATE agents SET latest_version = ?, routing = ?, updated_at = ? WHERE user_id = ? AND id = ?'),
    setRouting: db.prepare<[string, string, string, string]>('UPDATE agents SET routing = ?, updated_at = ? WHERE user_id = ? AND id = ?'),
    insertVersion: db.prepare(`INSERT INTO agent_versions (user_id, agent_id, version, system_prompt, model, temperature, max_tokens, judge,
      created_at) VALUES (@userId, @agentId, @version, @systemPrompt, @model, @temperature, @maxTokens, @judge, @createdAt)`),
    getVersion: db.prepare<[string, string, number], VersionRow>('SELECT * FROM agent_versions WHERE user_id = ? AND agent_id = ? AND version = ?'),
    listVersions: db.prepare<[string, string], VersionRow>('SELECT * FROM agent_versions WHERE user_id = ? AND agent_id = ? ORDER BY version'),
    insertRun: db.prepare(`INSERT INTO agent_runs (id, user_id, agent_id, version, at, conversation_id, ok, error_code, latency_ms, ttft_ms,
      input_tokens, output_tokens, cost_usd, score, passed, attempts) VALUES (@id, @userId, @agentId, @version, @at, @conversationId, @ok,
      @errorCode, @latencyMs, @ttftMs, @inputTokens, @outputTokens, @costUsd, @score, @passed, @attempts)`),
    listRuns: db.prepare<[string, string, string, string], RunRow>(
      'SELECT * FROM agent_runs WHERE user_id = ? AND agent_id = ? AND at >= ? AND at < ? ORDER BY at, id'),
    putEvaluation: db.prepare(`INSERT INTO agent_evaluations (user_id, agent_id, id, versions, status, cases_total, cases_done, body, error,
      created_at, updated_at) VALUES (@userId, @agentId, @id, @versions, @status, @casesTotal, @casesDone, @body, @error, @createdAt, @updatedAt)
      ON CONFLICT (user_id, agent_id, id) DO UPDATE SET versions = excluded.versions, status = excluded.status,
      cases_total = excluded.cases_total, cases_done = excluded.cases_done, body = excluded.body, error = excluded.error,
      created_at = excluded.created_at, updated_at = excluded.updated_at`),
    getEvaluation: db.prepare<[string, string, string], EvaluationRow>('SELECT * FROM agent_evaluations WHERE user_id = ? AND agent_id = ? AND id = ?'),
    purge: {
      messages: db.prepare<[string]>('DELETE FROM messages WHERE user_id = ?'),
      conversations: db.prepare<[string]>('DELETE FROM conversations WHERE user_id = ?'),
      memories: db.prepare<[string]>('DELETE FROM memories WHERE user_id = ?'),
      apiKeys: db.prepare<[string]>('DELETE FROM api_keys WHERE user_id = ?'),
      usage: db.prepare<[string]>('DELETE FROM usage WHERE user_id = ?'),
      dataKeys: db.prepare<[string]>('DELETE FROM data_keys WHERE user_id = ?'),
      users: db.prepare<[string]>('DELETE FROM users WHERE id = ?'),
      chunks: db.prepare<[string]>('DELETE FROM chunks WHERE user_id = ?'),
      documents: db.prepare<[string]>('DELETE FROM documents WHERE user_id = ?'),
      agentVersions: db.prepare<[string]>('DELETE FROM agent_versions WHERE user_id = ?'),
      agentRuns: db.prepare<[string]>('DELETE FROM agent_runs WHERE user_id = ?'),
      agentEvaluations: db.prepare<[string]>('DELETE FROM agent_evaluations WHERE user_id = ?'),
      agents: db.prepare<[string]>('DELETE FROM agents WHERE user_id = ?'),
    },
    ping: db.prepare('SELECT 1'),
  };

  const purgeUser = db.transaction((userId: string): PurgeReceipt => {
    // Children first: the foreign keys would cascade, but the receipt needs each count.
    const messages = q.purge.messages.run(userId).changes;
    const conversations = q.purge.conversations.run(userId).changes;
    const chunks = q.purge.chunks.run(userId).changes;
    const documents = q.purge.documents.run(userId).changes;
    q.purge.agentVersions.run(userId);
    q.purge.agentRuns.run(userId);
    q.purge.agentEvaluations.run(userId);
    return {
      messages, conversations, chunks, documents,
      agents: q.purge.agents.run(userId).changes,
      memories: q.purge.memories.run(userId).changes,
      apiKeys: q.purge.apiKeys.run(userId).changes,
      usage: q.purge.usage.run(userId).changes,
      dataKeys: q.purge.dataKeys.run(userId).changes,
      users: q.purge.users.run(userId).changes,
    };
  });

  const createDocument = db.transaction((document: DocumentRecord, chunks: ChunkRecord[]) => {
    if (q.getDocument.get(document.userId, document.id)) throw DocumentErrors.conflict(document.id);
    q.insertDocument.run(documentParams(document));
    for (const c of chunks) {
      q.insertChunk.run({ userId: c.userId, id: c.id, documentId: c.documentId, ordinal: c.ordinal, content: c.content, heading: c.heading, tokenCount: c.tokenCount });
    }
  });

  const updateDocument = db.transaction((userId: string, id: string, patch: DocumentPatch) => {
    const changed = q.updateDocument.run({
      userId, id, updatedAt: patch.updatedAt, status: patch.status ?? null, setError: 'error' in patch ? 1 : 0, error: patch.error ?? null,
      chunksTotal: patch.chunksTotal ?? null, chunksIndexed: patch.chunksIndexed ?? null,
    }).changes;
    const row = changed > 0 ? q.getDocument.get(userId, id) : undefined;
    return row ? toDocument(row) : null;
  });

  const deleteDocument = db.transaction((userId: string, id: string) => {
    q.deleteChunksOf.run(userId, id);
    return q.deleteDocument.run(userId, id).changes > 0;
  });

  const createAgent = db.transaction((a: AgentRecord) => {
    if (q.getAgent.get(a.userId, a.id)) throw AgentErrors.conflict(a.id);
    q.insertAgent.run({
      userId: a.userId, id: a.id, name: a.name, description: a.description, routing: JSON.stringify(a.routing), latestVersion: a.latestVersion,
      createdAt: a.createdAt, updatedAt: a.updatedAt,
    });
  });

  // Read-then-write transactions run as BEGIN IMMEDIATE (`.immediate`): the write lock is taken before the
  // read, so a writer on another connection to the file waits (busy_timeout) instead of reading a number
  // that is stale by the time it writes.
  const addVersion = db.transaction((v: Omit<AgentVersionRecord, 'version'>, routing: Record<string, number> | undefined): AgentVersionRecord => {
    const agent = q.getAgent.get(v.userId, v.agentId);
    if (!agent) throw AgentErrors.notFound(v.agentId);
    const record: AgentVersionRecord = {
      agentId: v.agentId, userId: v.userId, version: agent.latest_version + 1, systemPrompt: v.systemPrompt, model: v.model,
      temperature: v.temperature, maxTokens: v.maxTokens, judge: v.judge, createdAt: v.createdAt,
    };
    q.insertVersion.run({ ...record, judge: record.judge === null ? null : JSON.stringify(record.judge) });
    const weights = routingAfterVersion(JSON.parse(agent.routing) as Record<string, number>, record.version, routing);
    q.setAgentVersion.run(record.version, JSON.stringify(weights), v.createdAt, v.userId, v.agentId);
    return record;
  });

  const setRouting = db.transaction((userId: string, agentId: string, routing: Record<string, number>, updatedAt: string) => {
    if (q.setRouting.run(JSON.stringify(routing), updatedAt, userId, agentId).changes === 0) return null;
    return toAgent(q.getAgent.get(userId, agentId)!);
  });

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
    documents: {
      createWithChunks: (document, chunks) => guard(() => {
        assertChunksOf(document, chunks);
        createDocument.immediate(document, chunks);
      }),
      get: (userId, id) => guard(() => {
        const row = q.getDocument.get(userId, id);
        return row ? toDocument(row) : null;
      }),
      list: (userId, page) => guard(() => {
        const scope = `documents:${userId}`;
        const before = page.cursor ? decodeCursor<string>(scope, page.cursor, 'string') : '\uffff';
        return pageFrom(q.listDocuments.all(userId, before, page.limit + 1), page.limit, toDocument, (r) => r.id, scope);
      }),
      update: (userId, id, patch) => guard(() => updateDocument(userId, id, patch)),
      listChunks: (userId, documentId, page) => guard(() => {
        const scope = `chunks:${userId}:${documentId}`;
        const after = page.cursor ? decodeCursor<number>(scope, page.cursor, 'number') : -1;
        return pageFrom(q.listChunks.all(userId, documentId, after, page.limit + 1), page.limit, toChunk, (r) => r.ordinal, scope);
      }),
      getChunks: (userId, ids) => guard(() => {
        if (ids.length === 0) return [];
        const found = new Map(q.getChunks.all(userId, JSON.stringify(ids)).map((r) => [r.id, toChunk(r)]));
        return ids.flatMap((id) => found.get(id) ?? []);
      }),
      delete: (userId, id) => guard(() => deleteDocument(userId, id)),
    },
    agents: {
      create: (agent) => guard(() => createAgent.immediate(agent)),
      get: (userId, id) => guard(() => {
        const row = q.getAgent.get(userId, id);
        return row ? toAgent(row) : null;
      }),
      list: (userId, page) => guard(() => {
        const scope = `agents:${userId}`;
        const after = page.cursor ? decodeCursor<string>(scope, page.cursor, 'string') : '';
        return pageFrom(q.listAgents.all(userId, after, page.limit + 1), page.limit, toAgent, (r) => r.id, scope);
      }),
      addVersion: (version, routing) => guard(() => addVersion.immediate(version, routing)),
      getVersion: (userId, agentId, version) => guard(() => {
        const row = q.getVersion.get(userId, agentId, version);
        return row ? toVersion(row) : null;
      }),
      listVersions: (userId, agentId) => guard(() => q.listVersions.all(userId, agentId).map(toVersion)),
      setRouting: (userId, agentId, routing, updatedAt) => guard(() => setRouting(userId, agentId, routing, updatedAt)),
      recordRun: (run) => guard(() => void q.insertRun.run({
        id: run.id, userId: run.userId, agentId: run.agentId, version: run.version, at: run.at, conversationId: run.conversationId,
        ok: run.ok ? 1 : 0, errorCode: run.errorCode, latencyMs: run.latencyMs, ttftMs: run.ttftMs, inputTokens: run.inputTokens,
        outputTokens: run.outputTokens, costUsd: run.costUsd, score: run.score, passed: run.passed === null ? null : run.passed ? 1 : 0,
        attempts: JSON.stringify(run.attempts),
      })),
      listRuns: (userId, agentId, range) => guard(() => q.listRuns.all(userId, agentId, range.from, range.to).map(toRun)),
      putEvaluation: (e) => guard(() => void q.putEvaluation.run({
        userId: e.userId, agentId: e.agentId, id: e.id, versions: JSON.stringify(e.versions), status: e.status, casesTotal: e.casesTotal,
        casesDone: e.casesDone, body: e.body, error: e.error, createdAt: e.createdAt, updatedAt: e.updatedAt,
      })),
      getEvaluation: (userId, agentId, id) => guard(() => {
        const row = q.getEvaluation.get(userId, agentId, id);
        return row ? toEvaluation(row) : null;
      }),
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
