/**
 * A durable work queue (memory formation runs from it): jobs survive restarts, a worker leases a job
 * while it works on it, and a lease that runs out (the worker died) makes the job available again.
 * Payloads carry ids, never user content, so nothing readable sits in the queue.
 */
export interface Job {
  id: string;
  kind: string;
  userId: string;
  payload: Record<string, unknown>;
  /** Times a worker has taken it. */
  attempts: number;
  createdAt: string;
}

export interface JobQueue {
  enqueue(job: { id: string; kind: string; userId: string; payload: Record<string, unknown> }): Promise<void>;
  /** Leases up to `limit` available jobs (oldest first) for `leaseMs`. */
  claim(kind: string, leaseMs: number, limit: number): Promise<Job[]>;
  /** Done: the job is removed. */
  complete(id: string): Promise<void>;
  /** Back to the queue, available again after `delayMs`. */
  release(id: string, delayMs: number): Promise<void>;
  /** Jobs not yet completed. */
  size(kind: string): Promise<number>;
  /** Drops a user's jobs (account deletion). */
  purgeUser(userId: string): Promise<number>;
  close(): Promise<void>;
}
