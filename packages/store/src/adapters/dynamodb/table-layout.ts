/**
 * Where each record lives in the DynamoDB tables (see packages/store/README.md). Every table has the
 * generic shape the infra creates (infra/lib/constructs/pai-tables.ts): `pk`/`sk` strings, GSI `gsi1`
 * (`gsi1pk`/`gsi1sk`, all attributes projected), TTL attribute `ttl`.
 */
export const TABLE_NAMES = {
  users: 'users',
  dataKeys: 'data-keys',
  conversations: 'conversations',
  memories: 'memories',
  usage: 'usage',
  documents: 'documents',
  agents: 'agents',
} as const;

export type TableName = keyof typeof TABLE_NAMES;

export const GSI1 = 'gsi1';

export interface ItemKey {
  pk: string;
  sk: string;
}

/** Message slots sort as strings, so the per-conversation counter is zero-padded. */
const SEQ_DIGITS = 12;
const seqPart = (seq: number) => String(seq).padStart(SEQ_DIGITS, '0');

/** Chunk ordinals sort as strings too (MAX_CHUNK_ORDINAL in document-chunks.ts keeps them within 8 digits). */
const ORDINAL_DIGITS = 8;
const ordinalPart = (ordinal: number) => String(ordinal).padStart(ORDINAL_DIGITS, '0');
/** Agent versions likewise. */
const VERSION_DIGITS = 10;
const versionPart = (version: number) => String(version).padStart(VERSION_DIGITS, '0');

/**
 * '#' separates key parts; an id containing it could make one conversation's message prefix match
 * another's. PAI's ids (@pai/ids) never contain it, so a write that carries one is a bug: refuse it.
 */
export function keyPart(value: string): string {
  if (value.includes('#')) throw new Error(`ids used in DynamoDB keys must not contain '#': ${JSON.stringify(value)}`);
  return value;
}

export const keys = {
  // users table
  user: (userId: string): ItemKey => ({ pk: `USER#${userId}`, sk: 'PROFILE' }),
  usersIndex: 'USERS',
  apiKey: (keyId: string): ItemKey => ({ pk: `APIKEY#${keyId}`, sk: 'APIKEY' }),
  apiKeysIndex: (userId: string) => `APIKEYS#${userId}`,
  keyHash: (hash: string): ItemKey => ({ pk: `KEYHASH#${hash}`, sk: 'KEYHASH' }),
  keyHashesIndex: (userId: string) => `KEYHASHES#${userId}`,
  // data-keys table
  dataKey: (userId: string): ItemKey => ({ pk: `USER#${userId}`, sk: 'DATAKEY' }),
  // conversations table: a user's conversations and messages share the partition `USER#<userId>`.
  userPartition: (userId: string) => `USER#${userId}`,
  conversationPrefix: 'CONV#',
  conversation: (userId: string, conversationId: string): ItemKey => ({ pk: `USER#${userId}`, sk: `CONV#${conversationId}` }),
  messagePrefix: (conversationId: string) => `MSG#${conversationId}#`,
  message: (userId: string, conversationId: string, seq: number): ItemKey => ({
    pk: `USER#${userId}`, sk: `MSG#${conversationId}#${seqPart(seq)}`,
  }),
  /** Inclusive bounds of the slots after `seq` (listing resumes from a cursor). */
  messagesAfter: (conversationId: string, seq: number): [string, string] => [
    `MSG#${conversationId}#${seqPart(seq + 1)}`, `MSG#${conversationId}#${'9'.repeat(SEQ_DIGITS)}`,
  ],
  /** One per message id, in its own partition: message ids are unique across all conversations. */
  messageId: (messageId: string): ItemKey => ({ pk: `MSGID#${messageId}`, sk: 'MSGID' }),
  messageIdsIndex: (userId: string) => `MSGIDS#${userId}`,
  // memories table
  memoryPrefix: 'MEM#',
  memory: (userId: string, memoryId: string): ItemKey => ({ pk: `USER#${userId}`, sk: `MEM#${memoryId}` }),
  // usage table
  usage: (userId: string, day: string, id: string): ItemKey => ({ pk: `USER#${userId}`, sk: `USAGE#${day}#${id}` }),
  /** Inclusive bounds of the usage rows of days fromDay..toDay ('~' sorts after every id character). */
  usageDays: (fromDay: string, toDay: string): [string, string] => [`USAGE#${fromDay}#`, `USAGE#${toDay}#~`],
  usageDay: (day: string) => `USAGE#${day}#`,
  // documents table: a user's documents and chunks share the partition `USER#<userId>`.
  documentPrefix: 'DOC#',
  document: (userId: string, documentId: string): ItemKey => ({ pk: `USER#${userId}`, sk: `DOC#${documentId}` }),
  chunkPrefix: (documentId: string) => `CHUNK#${documentId}#`,
  chunk: (userId: string, documentId: string, ordinal: number): ItemKey => ({
    pk: `USER#${userId}`, sk: `CHUNK#${documentId}#${ordinalPart(ordinal)}`,
  }),
  /** Inclusive bounds of the chunks after `ordinal` (-1: from the first). */
  chunksAfter: (documentId: string, ordinal: number): [string, string] => [
    `CHUNK#${documentId}#${ordinalPart(ordinal + 1)}`, `CHUNK#${documentId}#${'9'.repeat(ORDINAL_DIGITS)}`,
  ],
  /** gsi1 partition resolving a user's chunk ids (gsi1sk = the chunk id) to their items. */
  chunkIdsIndex: (userId: string) => `CHUNKIDS#${userId}`,
  // agents table: a user's agents, versions, runs and evaluations share the partition `USER#<userId>`.
  agentPrefix: 'AGENT#',
  agent: (userId: string, agentId: string): ItemKey => ({ pk: `USER#${userId}`, sk: `AGENT#${agentId}` }),
  versionPrefix: (agentId: string) => `VERSION#${agentId}#`,
  version: (userId: string, agentId: string, version: number): ItemKey => ({
    pk: `USER#${userId}`, sk: `VERSION#${agentId}#${versionPart(version)}`,
  }),
  run: (userId: string, agentId: string, at: string, runId: string): ItemKey => ({ pk: `USER#${userId}`, sk: `RUN#${agentId}#${at}#${runId}` }),
  /**
   * Inclusive bounds of the runs with from <= at < to: a run's key continues past its instant with
   * `#<id>`, so the bound `RUN#<agent>#<from>` sorts before the runs at `from`, and `RUN#<agent>#<to>`
   * before those at `to` ('#' sorts below every character of an ISO instant).
   */
  runsBetween: (agentId: string, from: string, to: string): [string, string] => [`RUN#${agentId}#${from}`, `RUN#${agentId}#${to}`],
  evaluation: (userId: string, agentId: string, evaluationId: string): ItemKey => ({
    pk: `USER#${userId}`, sk: `EVAL#${agentId}#${evaluationId}`,
  }),
} as const;
