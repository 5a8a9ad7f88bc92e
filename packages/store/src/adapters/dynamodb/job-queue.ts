import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { StoreErrors, isPaiError } from '@pai/errors';
import type { Job, JobQueue } from '../../job-queue.js';
import { deleteAll, isConditionFailure, type Item } from './table-io.js';
import { GSI1, TABLE_NAMES, keyPart, type ItemKey } from './table-layout.js';

export interface DynamoDbJobQueueOptions {
  /** The SDK client (endpoint, region, credentials and retries are the caller's). close() leaves it open. */
  client: DynamoDBClient | DynamoDBDocumentClient;
  /** Prepended to the table name, e.g. "pai-prod-" (DYNAMODB_TABLE_PREFIX); the jobs live in `<prefix>memories`. */
  tablePrefix: string;
  /** The clock (epoch ms) that leases and delays are measured on; tests drive it by hand. */
  now?: () => number;
  /** Most items one Query request reads; tests set it small to cross DynamoDB's page boundaries. */
  queryPageSize?: number;
}

/**
 * Where the queue's items live in the memories table (packages/store/README.md, "The job queue").
 * Job ids, kinds and user ids must not contain '#'. Neither partition starts with `USER#`, so the store's
 * per-user sweep of the memories table never mistakes a job for a memory.
 */
const jobKeys = {
  /** The job itself, addressed by id: claim, release and complete each touch this one item. */
  job: (jobId: string): ItemKey => ({ pk: `JOB#${jobId}`, sk: 'JOB' }),
  /** gsi1: a kind's jobs, oldest first (ISO instants of one width sort as strings). */
  kindIndex: (kind: string) => `JOBS#${kind}`,
  order: (createdAt: string, jobId: string) => `${createdAt}#${jobId}`,
  /** One pointer per job in its user's partition: how purgeUser finds a user's jobs. */
  userPartition: (userId: string) => `JOBUSER#${userId}`,
  pointer: (userId: string, jobId: string): ItemKey => ({ pk: `JOBUSER#${userId}`, sk: `JOB#${jobId}` }),
};

const toJob = (i: Item): Job => ({
  id: i.id as string, kind: i.kind as string, userId: i.userId as string,
  payload: JSON.parse(i.payload as string) as Record<string, unknown>, attempts: i.attempts as number, createdAt: i.createdAt as string,
});

/**
 * The job queue on DynamoDB, in the memories table next to the memories ("the formation queue" of
 * infra/lib/constructs/pai-tables.ts). Every job is one item keyed by its id plus a pointer in its user's
 * partition; claim only ever writes the job item, with one conditional UpdateItem per job, so the
 * winner of that condition owns the lease (design and the race argument in packages/store/README.md).
 */
export function createDynamoDbJobQueue(options: DynamoDbJobQueueOptions): JobQueue {
  const doc = options.client instanceof DynamoDBDocumentClient
    ? options.client
    : DynamoDBDocumentClient.from(options.client, { marshallOptions: { removeUndefinedValues: true } });
  const TableName = `${options.tablePrefix}${TABLE_NAMES.memories}`;
  const now = options.now ?? Date.now;
  const pageSize = options.queryPageSize;
  let closed = false;

  /** Runs one queue operation, turning driver and network failures into PAI_STORE_UNAVAILABLE. */
  async function guard<T>(fn: () => Promise<T>): Promise<T> {
    try {
      if (closed) throw new Error('job queue is closed');
      return await fn();
    } catch (error) {
      if (isPaiError(error)) throw error;
      throw StoreErrors.unavailable({ cause: error });
    }
  }

  /** Swallows only a failed write condition, answering `otherwise`. */
  async function unless<T>(write: () => Promise<T>, otherwise: T): Promise<T> {
    try {
      return await write();
    } catch (error) {
      if (isConditionFailure(error)) return otherwise;
      throw error;
    }
  }

  /**
   * Takes the lease on one job if it is available now: the condition and the update are one atomic
   * write of the item, so of any number of workers racing for the job exactly one succeeds.
   */
  const lease = (jobId: string, at: number, leaseMs: number) => unless(async () => {
    const out = await doc.send(new UpdateCommand({
      TableName,
      Key: jobKeys.job(jobId),
      UpdateExpression: 'SET #availableAt = :until ADD #attempts :one',
      ConditionExpression: 'attribute_exists(pk) AND #availableAt <= :now',
      ExpressionAttributeNames: { '#availableAt': 'availableAt', '#attempts': 'attempts' },
      ExpressionAttributeValues: { ':until': at + leaseMs, ':now': at, ':one': 1 },
      ReturnValues: 'ALL_NEW',
    }));
    return toJob(out.Attributes!);
  }, null);

  /** Deletes the job if it is this user's; true when it was there. */
  const removeUsersJob = (userId: string, jobId: string) => unless(async () => {
    await doc.send(new DeleteCommand({
      TableName,
      Key: jobKeys.job(jobId),
      ConditionExpression: '#userId = :userId',
      ExpressionAttributeNames: { '#userId': 'userId' },
      ExpressionAttributeValues: { ':userId': userId },
    }));
    return true;
  }, false);

  async function claim(kind: string, leaseMs: number, limit: number): Promise<Job[]> {
    const leased: Job[] = [];
    if (limit <= 0) return leased;
    const at = now();
    let start: Record<string, unknown> | undefined;
    do {
      // The index copy may lag (gsi1 is eventually consistent): its availableAt only picks candidates,
      // the conditional lease on the job item decides.
      const wanted = Math.max((limit - leased.length) * 2, 50);
      const out = await doc.send(new QueryCommand({
        TableName,
        IndexName: GSI1,
        KeyConditionExpression: 'gsi1pk = :g',
        FilterExpression: '#availableAt <= :now',
        ExpressionAttributeNames: { '#availableAt': 'availableAt' },
        ExpressionAttributeValues: { ':g': jobKeys.kindIndex(kind), ':now': at },
        ExclusiveStartKey: start,
        Limit: Math.min(wanted, pageSize ?? wanted),
      }));
      start = out.LastEvaluatedKey;
      const candidates = out.Items ?? [];
      // Oldest first, as many at once as are still wanted; a candidate another worker won is skipped.
      for (let i = 0; i < candidates.length && leased.length < limit;) {
        const batch = candidates.slice(i, i + limit - leased.length);
        i += batch.length;
        const won = await Promise.all(batch.map((c) => lease(c.id as string, at, leaseMs)));
        for (const job of won) if (job) leased.push(job);
      }
    } while (start !== undefined && leased.length < limit);
    return leased;
  }

  async function enqueue(job: { id: string; kind: string; userId: string; payload: Record<string, unknown> }): Promise<void> {
    const at = now();
    const createdAt = new Date(at).toISOString();
    const pointer = jobKeys.pointer(keyPart(job.userId), keyPart(job.id));
    // 1. The pointer first: a job item always has one, so purgeUser finds every job.
    await doc.send(new PutCommand({ TableName, Item: { ...pointer, jobId: job.id } }));
    // 2. The job: from this write on it can be claimed.
    try {
      await doc.send(new PutCommand({
        TableName,
        Item: {
          ...jobKeys.job(job.id), gsi1pk: jobKeys.kindIndex(keyPart(job.kind)), gsi1sk: jobKeys.order(createdAt, job.id),
          id: job.id, kind: job.kind, userId: job.userId, payload: JSON.stringify(job.payload), attempts: 0, availableAt: at, createdAt,
        },
        ConditionExpression: 'attribute_not_exists(pk)',
      }));
    } catch (error) {
      if (isConditionFailure(error)) throw new Error(`job ${job.id} already exists`);
      throw error;
    }
    // 3. A purge of this user that read the pointer before step 2 and removed it after: the job would
    //    be left with no pointer, so it goes too (the purge's second pass covers the other order).
    const still = await doc.send(new GetCommand({ TableName, Key: pointer, ConsistentRead: true }));
    if (!still.Item) await removeUsersJob(job.userId, job.id);
  }

  async function complete(id: string): Promise<void> {
    // The job first (it is what workers see), then its pointer; a crash between leaves a pointer to
    // nothing, which the next purge of the user removes.
    const out = await doc.send(new DeleteCommand({ TableName, Key: jobKeys.job(keyPart(id)), ReturnValues: 'ALL_OLD' }));
    if (out.Attributes) await doc.send(new DeleteCommand({ TableName, Key: jobKeys.pointer(out.Attributes.userId as string, id) }));
  }

  async function release(id: string, delayMs: number): Promise<void> {
    // Conditional, so that releasing a job completed or purged meanwhile does not bring it back.
    await unless(async () => {
      await doc.send(new UpdateCommand({
        TableName,
        Key: jobKeys.job(keyPart(id)),
        UpdateExpression: 'SET #availableAt = :at',
        ConditionExpression: 'attribute_exists(pk)',
        ExpressionAttributeNames: { '#availableAt': 'availableAt' },
        ExpressionAttributeValues: { ':at': now() + delayMs },
      }));
    }, undefined);
  }

  async function size(kind: string): Promise<number> {
    let count = 0;
    let start: Record<string, unknown> | undefined;
    do {
      const out = await doc.send(new QueryCommand({
        TableName,
        IndexName: GSI1,
        KeyConditionExpression: 'gsi1pk = :g',
        ExpressionAttributeValues: { ':g': jobKeys.kindIndex(kind) },
        Select: 'COUNT',
        ExclusiveStartKey: start,
        Limit: pageSize,
      }));
      count += out.Count ?? 0;
      start = out.LastEvaluatedKey;
    } while (start !== undefined);
    return count;
  }

  async function purgeUser(userId: string): Promise<number> {
    const pointers: Item[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const out = await doc.send(new QueryCommand({
        TableName,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': jobKeys.userPartition(userId) },
        ConsistentRead: true,
        ExclusiveStartKey: start,
        Limit: pageSize,
      }));
      pointers.push(...(out.Items ?? []));
      start = out.LastEvaluatedKey;
    } while (start !== undefined);
    const jobIds = pointers.map((p) => p.jobId as string);
    // Jobs, then pointers, then the jobs once more: an enqueue that wrote its pointer before the query
    // but its job after the first pass loses the job here, or (job written later still) in its own
    // step 3, which then finds its pointer gone. The job's userId must match: a pointer proves nothing.
    const first = await Promise.all(jobIds.map((id) => removeUsersJob(userId, id)));
    await deleteAll(doc, TableName, pointers.map((p) => ({ pk: p.pk as string, sk: p.sk as string })));
    const second = await Promise.all(jobIds.map((id) => removeUsersJob(userId, id)));
    return [...first, ...second].filter(Boolean).length;
  }

  return {
    enqueue: (job) => guard(() => enqueue(job)),
    claim: (kind, leaseMs, limit) => guard(() => claim(kind, leaseMs, limit)),
    complete: (id) => guard(() => complete(id)),
    release: (id, delayMs) => guard(() => release(id, delayMs)),
    size: (kind) => guard(() => size(kind)),
    purgeUser: (userId) => guard(() => purgeUser(userId)),
    async close() {
      closed = true;
    },
  };
}
