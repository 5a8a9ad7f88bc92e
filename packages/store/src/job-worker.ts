import type { Job, JobQueue } from './job-queue.js';

export interface JobLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

/** What one kind of job does. */
export interface JobHandler {
  kind: string;
  /** Does the job; throwing means "try again later" (with backoff). */
  run(job: Job, signal: AbortSignal): Promise<void>;
  /** After the last attempt failed: the fallback, if the kind has one. */
  giveUp?(job: Job, error: unknown): Promise<void>;
}

export interface JobWorkerOptions {
  queue: JobQueue;
  handlers: JobHandler[];
  log: JobLog;
  /** Attempts before giving up. */
  maxAttempts?: number;
  leaseMs?: number;
  /** Poll interval when idle (jobs are also picked up right after they are enqueued). */
  pollMs?: number;
  retryDelayMs?: (attempt: number) => number;
}

export interface JobWorker {
  /** Looks for work now (called after a turn enqueues a job). */
  kick(): void;
  start(): void;
  /** Stops taking jobs, cancels the one in progress (it goes back to the queue) and waits for it. */
  stop(): Promise<void>;
}

const notFound = (err: unknown) => (err as { statusCode?: number }).statusCode === 404;
const codeOf = (err: unknown) => (err as { code?: string }).code;

/**
 * Runs queued background work (memory formation, conversation summaries, document indexing) off the reply's critical
 * path, one job at a time, from the durable queue: a job is leased while it runs, retried with backoff
 * when it fails, handed to its kind's fallback after the last attempt, and dropped when what it refers
 * to was deleted (404).
 */
export function createJobWorker(options: JobWorkerOptions): JobWorker {
  const maxAttempts = options.maxAttempts ?? 3;
  const leaseMs = options.leaseMs ?? 120_000;
  const pollMs = options.pollMs ?? 5_000;
  const retryDelay = options.retryDelayMs ?? ((attempt: number) => Math.min(60_000, 2_000 * 2 ** attempt));
  let running = false;
  let stopped = true;
  let current: Promise<void> | null = null;
  let timer: NodeJS.Timeout | undefined;
  let stopping = new AbortController();

  /** Back to the queue after the backoff, with a wake-up when it is due (sooner than the idle poll). */
  async function retryLater(job: Job): Promise<void> {
    const delay = retryDelay(job.attempts);
    await options.queue.release(job.id, delay);
    if (delay < pollMs) setTimeout(run, delay + 1).unref();
  }

  async function handle(handler: JobHandler, job: Job): Promise<void> {
    try {
      await handler.run(job, stopping.signal);
    } catch (err) {
      // Shutting down: the job goes back to the queue for the next start.
      if (stopping.signal.aborted) return options.queue.release(job.id, 0);
      // What the job refers to is gone (a deleted conversation or user): nothing left to do.
      if (notFound(err)) return options.queue.complete(job.id);
      if (job.attempts < maxAttempts) {
        options.log.warn({ job: job.id, kind: job.kind, attempt: job.attempts, code: codeOf(err) }, 'background job failed; will retry');
        return retryLater(job);
      }
      if (handler.giveUp) await handler.giveUp(job, err);
      else options.log.warn({ job: job.id, kind: job.kind, code: codeOf(err) }, 'background job failed for good');
    }
    await options.queue.complete(job.id);
  }

  async function drain(): Promise<void> {
    let found = true;
    while (!stopped && found) {
      found = false;
      for (const handler of options.handlers) {
        if (stopped) break;
        const [job] = await options.queue.claim(handler.kind, leaseMs, 1);
        if (!job) continue;
        found = true;
        try {
          await handle(handler, job);
        } catch (err) {
          // The fallback or the queue failed: the job comes back after its backoff (or its lease).
          options.log.warn({ job: job.id, kind: job.kind, code: codeOf(err) }, 'background job step failed; will retry');
          await retryLater(job).catch(() => {});
        }
      }
    }
  }

  function run(): void {
    if (stopped || running) return;
    running = true;
    current = drain()
      .catch((err: unknown) => options.log.warn({ code: codeOf(err) }, 'background job queue unavailable'))
      .finally(() => {
        running = false;
        current = null;
      });
  }

  return {
    kick: () => setImmediate(run),
    start() {
      stopped = false;
      stopping = new AbortController();
      timer = setInterval(run, pollMs);
      timer.unref();
      setImmediate(run);
    },
    async stop() {
      stopped = true;
      clearInterval(timer);
      stopping.abort();
      await current;
    },
  };
}
