import closeWithGrace from 'close-with-grace';
import type { FastifyInstance } from 'fastify';

/**
 * Graceful shutdown: `drain` first tells long-running work (SSE streams) to wrap up through `signal`
 * and waits for it, bounded by the grace period; only then is Fastify closed. Fastify's own preClose
 * runs after it has stopped routing requests, which is too late for in-process calls that in-flight
 * work still needs to make (e.g. storing a partial answer).
 */
export interface Lifecycle {
  /** Aborted when draining begins. */
  readonly signal: AbortSignal;
  readonly draining: boolean;
  /** Registers in-flight work that draining must wait for. */
  track<T>(work: Promise<T>): Promise<T>;
  /** Aborts `signal` and waits for tracked work, at most `timeoutMs`. */
  drain(timeoutMs: number): Promise<void>;
}

export function createLifecycle(): Lifecycle {
  const controller = new AbortController();
  const inFlight = new Set<Promise<unknown>>();
  return {
    get signal() {
      return controller.signal;
    },
    get draining() {
      return controller.signal.aborted;
    },
    track(work) {
      inFlight.add(work);
      const remove = () => inFlight.delete(work);
      work.then(remove, remove);
      return work;
    },
    async drain(timeoutMs) {
      if (!controller.signal.aborted) controller.abort(new Error('shutting down'));
      if (inFlight.size === 0) return;
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, timeoutMs);
      });
      await Promise.race([Promise.allSettled([...inFlight]).then(() => undefined), timeout]);
      clearTimeout(timer);
    },
  };
}

export async function closeGracefully(app: FastifyInstance, graceMs: number): Promise<void> {
  await app.lifecycle.drain(graceMs);
  await app.close();
}

export interface ListenOptions {
  port: number;
  host: string;
  graceMs: number;
}

/**
 * Listens and installs signal handlers: SIGTERM/SIGINT drain and close within the grace period; a
 * second signal or an expired grace period exits at once.
 */
export async function runServer(app: FastifyInstance, options: ListenOptions): Promise<string> {
  const address = await app.listen({ port: options.port, host: options.host });
  closeWithGrace({ delay: options.graceMs + 2_000 }, async ({ signal, err }) => {
    if (err) app.log.error({ err }, 'fatal error, shutting down');
    else app.log.info({ signal }, 'shutting down');
    await closeGracefully(app, options.graceMs);
  });
  return address;
}
