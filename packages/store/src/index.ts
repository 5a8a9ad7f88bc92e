/**
 * The store port: where users, API keys, conversations and messages live. Every read and write of
 * user-owned records takes the owner's id and adapters filter by it inside the query, so a caller can
 * never reach another user's record by id. Multi-record writes are atomic: a failure leaves nothing
 * half-visible. Adapters translate their driver's failures into PAI_STORE_UNAVAILABLE.
 */
export interface UserRecord {
  id: string;
  name: string;
  createdAt: string;
}

export interface ApiKeyRecord {
  id: string;
  userId: string;
  /** SHA-256 of the secret (base64url); the secret itself is never stored. */
  keyHash: string;
  /** First characters of the secret, to recognise it in listings. */
  prefix: string;
  name: string | null;
  createdAt: string;
  revokedAt: string | null;
}

export interface ConversationRecord {
  id: string;
  userId: string;
  title: string | null;
  agentId: string;
  createdAt: string;
  updatedAt: string;
  /** Running summary of the older turns (sealed when encryption is on); absent until one is written. */
  summary?: string;
  /** The newest message the summary covers. */
  summaryThrough?: string;
}

export type MessageRole = 'user' | 'assistant';

export interface MessageRecord {
  id: string;
  conversationId: string;
  userId: string;
  role: MessageRole;
  content: string;
  incomplete: boolean;
  createdAt: string;
}

export interface PageRequest {
  limit: number;
  cursor?: string | undefined;
}

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

export interface UserStore {
  create(user: UserRecord): Promise<void>;
  get(id: string): Promise<UserRecord | null>;
  /** Oldest first. */
  list(page: PageRequest): Promise<Page<UserRecord>>;
}

export interface ApiKeyStore {
  create(key: ApiKeyRecord): Promise<void>;
  /** Only keys that are not revoked. */
  findActiveByHash(keyHash: string): Promise<ApiKeyRecord | null>;
  get(id: string): Promise<ApiKeyRecord | null>;
  listForUser(userId: string, page: PageRequest): Promise<Page<ApiKeyRecord>>;
  /** False when there is no such key or it was already revoked. */
  revoke(id: string, at: string): Promise<boolean>;
}

export interface ConversationStore {
  create(conversation: ConversationRecord): Promise<void>;
  /** Creates the conversation and its first message in one atomic write. */
  createWithMessage(conversation: ConversationRecord, message: MessageRecord): Promise<void>;
  get(userId: string, id: string): Promise<ConversationRecord | null>;
  /** Newest first. */
  list(userId: string, page: PageRequest): Promise<Page<ConversationRecord>>;
  /** Deletes the conversation and all its messages; false when not found for this user. */
  delete(userId: string, id: string): Promise<boolean>;
  /**
   * Appends a message and bumps the conversation's updated_at atomically. Throws
   * PAI_CONVERSATION_NOT_FOUND when the conversation is not this user's, PAI_MESSAGE_CONFLICT when the id exists.
   */
  appendMessage(message: MessageRecord): Promise<void>;
  getMessage(userId: string, id: string): Promise<MessageRecord | null>;
  /** Oldest first. */
  listMessages(userId: string, conversationId: string, page: PageRequest): Promise<Page<MessageRecord>>;
  /** The last `limit` messages (oldest first), excluding `excludeId`. */
  recentMessages(userId: string, conversationId: string, limit: number, excludeId?: string): Promise<MessageRecord[]>;
  /** Replaces the running summary; false when the conversation is not this user's. */
  setSummary(userId: string, conversationId: string, summary: string, throughMessageId: string): Promise<boolean>;
}

/** One model call's token usage and cost, as billed to a user. */
export interface UsageRecord {
  id: string;
  userId: string;
  /** When the call finished (ISO). */
  at: string;
  /** UTC day of `at`, YYYY-MM-DD: the unit of budgets and daily grouping. */
  day: string;
  conversationId: string | null;
  agentId: string;
  agentVersion: number;
  provider: string;
  model: string;
  inputTokens: number;
  outputTokens: number;
  costUsd: number;
  /** True when the provider did not report usage and the tokens are estimated. */
  estimated: boolean;
}

export type UsageGroupBy = 'model' | 'agent' | 'day';

export interface UsageTotals {
  /** The model id, agent id or day, by `groupBy`. */
  key: string;
  requests: number;
  inputTokens: number;
  outputTokens: number;
  costUsd: number;
  estimatedRequests: number;
}

export interface UsageStore {
  record(entry: UsageRecord): Promise<void>;
  /** Totals per group for the user's calls on days fromDay..toDay (inclusive), ordered by key. */
  summarize(userId: string, query: { fromDay: string; toDay: string; groupBy: UsageGroupBy }): Promise<UsageTotals[]>;
  /** Input + output tokens the user spent on one UTC day. */
  tokensOnDay(userId: string, day: string): Promise<number>;
}

/** A long-term memory. `content` is whatever the caller stores (sealed ciphertext when encryption is on). */
export interface MemoryRecord {
  id: string;
  userId: string;
  content: string;
  /** preference | person | plan | fact | episodic, or a caller's own category. */
  category: string;
  /** 0..1 */
  importance: number;
  /** The message the memory was formed from; null when created through the API. */
  sourceMessageId: string | null;
  /** Set when a newer memory contradicts this one; superseded memories are kept, not deleted. */
  supersededBy: string | null;
  /** After this instant the memory is no longer listed or retrieved. */
  expiresAt: string | null;
  createdAt: string;
  updatedAt: string;
}

export interface MemoryListQuery extends PageRequest {
  category?: string | undefined;
  /** Superseded memories are hidden unless asked for. */
  includeSuperseded?: boolean | undefined;
  /** Expired memories (expiresAt <= now) are hidden; ISO instant. */
  now: string;
}

export type MemoryPatch = Partial<Pick<MemoryRecord, 'content' | 'category' | 'importance' | 'expiresAt' | 'supersededBy'>> & { updatedAt: string };

export interface MemoryStore {
  create(memory: MemoryRecord): Promise<void>;
  get(userId: string, id: string): Promise<MemoryRecord | null>;
  /** Newest first. */
  list(userId: string, query: MemoryListQuery): Promise<Page<MemoryRecord>>;
  /** The updated record, or null when not found for this user. */
  update(userId: string, id: string, patch: MemoryPatch): Promise<MemoryRecord | null>;
  delete(userId: string, id: string): Promise<boolean>;
}

/** A user's data key, wrapped by the key provider (never the plaintext key). */
export interface DataKeyRecord {
  userId: string;
  wrapped: string;
  /** The master key (version) that wrapped it. */
  keyId: string;
  createdAt: string;
}

export interface DataKeyStore {
  get(userId: string): Promise<DataKeyRecord | null>;
  /** Stores the record unless one exists; returns the stored one (the existing record if another writer won). */
  putIfAbsent(record: DataKeyRecord): Promise<DataKeyRecord>;
  /** Replaces the record only if its wrapped value is still `expectedWrapped` (rotation); false otherwise. */
  replace(userId: string, expectedWrapped: string, record: DataKeyRecord): Promise<boolean>;
  delete(userId: string): Promise<boolean>;
}

/** What deleting a user removed, per kind. */
export interface PurgeReceipt {
  users: number;
  apiKeys: number;
  conversations: number;
  messages: number;
  memories: number;
  usage: number;
  dataKeys: number;
  documents: number;
  chunks: number;
  agents: number;
}

export interface Store {
  /** Adapter name, e.g. "embedded" or "dynamodb". */
  readonly kind: string;
  readonly users: UserStore;
  readonly apiKeys: ApiKeyStore;
  readonly conversations: ConversationStore;
  readonly usage: UsageStore;
  readonly memories: MemoryStore;
  readonly dataKeys: DataKeyStore;
  readonly documents: DocumentStore;
  readonly agents: AgentStore;
  /**
   * Deletes everything the user owns (records, keys, usage, the wrapped data key and the user). Safe to
   * repeat: a purge interrupted part-way completes on the next call, and the user is gone from the first
   * step on (their keys stop working before any record is removed).
   */
  purgeUser(userId: string): Promise<PurgeReceipt>;
  /** Cheap round trip for /readyz; throws when unusable. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

import type { DocumentStore } from './documents.js';
import type { AgentStore } from './agents.js';
export type { ChunkRecord, DocumentPatch, DocumentRecord, DocumentStatus, DocumentStore } from './documents.js';
export type {
  AgentRecord, AgentRunRecord, AgentStore, AgentVersionRecord, AttemptRecord, EvaluationRecord, EvaluationStatus, JudgeSettings,
} from './agents.js';
export { encodeCursor, decodeCursor } from './cursor.js';
export { createEmbeddedStore, createEmbeddedJobQueue, type EmbeddedStoreOptions } from './adapters/embedded.js';
export type { Job, JobQueue } from './job-queue.js';
export { createJobWorker, type JobHandler, type JobLog, type JobWorker, type JobWorkerOptions } from './job-worker.js';
export { openJobQueue, openStore, type StoreSelection } from './open-store.js';
export { createDynamoDbStore, createDynamoDbTables, type DynamoDbStoreOptions } from './adapters/dynamodb.js';
export { createDynamoDbJobQueue, type DynamoDbJobQueueOptions } from './adapters/dynamodb/job-queue.js';
