/**
 * The scope of one model call, shared by every adapter: one AbortController per call that the timers
 * (first token, idle between chunks, total) and the caller's signal stop with the error explaining
 * why. Adapters hand `signal` to their HTTP client, so whatever the client throws afterwards is
 * replaced by that error (see `explain`), and `dispose` closes the upstream request if it is still
 * open. The connect timeout belongs to the HTTP client (undici's connect option, the SDK handler's
 * connectionTimeout), which reports it as an ordinary connection failure.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { LlmErrors, isPaiError, type PaiError } from '@pai/errors';
import type { ModelTimeouts } from './index.js';

export type TimerName = 'total' | 'first-token' | 'idle';

export class CallScope {
  private readonly controller = new AbortController();
  private readonly timers = new Map<TimerName, ReturnType<typeof setTimeout>>();
  private readonly callerSignal: AbortSignal | undefined;
  private readonly onCallerAbort = (): void => this.stop(LlmErrors.aborted());
  private idleLimit: { ms: number; makeError: () => PaiError } | undefined;

  constructor(callerSignal: AbortSignal | undefined) {
    this.callerSignal = callerSignal;
    if (callerSignal?.aborted) this.stop(LlmErrors.aborted());
    else callerSignal?.addEventListener('abort', this.onCallerAbort, { once: true });
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** The error that ended the call early, or undefined while it runs. */
  get stopReason(): PaiError | undefined {
    return this.controller.signal.aborted ? (this.controller.signal.reason as PaiError) : undefined;
  }

  stop(reason: PaiError): void {
    if (!this.controller.signal.aborted) this.controller.abort(reason);
  }

  /** Throws the stop reason when the call has been stopped. */
  throwIfStopped(): void {
    const reason = this.stopReason;
    if (reason) throw reason;
  }

  arm(name: TimerName, ms: number, makeError: () => PaiError): void {
    this.disarm(name);
    this.timers.set(name, setTimeout(() => this.stop(makeError()), ms));
  }

  disarm(name: TimerName): void {
    clearTimeout(this.timers.get(name));
    this.timers.delete(name);
  }

  /** Ends the call: closes the upstream request if it is still open and releases every handle. */
  dispose(): void {
    this.stop(LlmErrors.aborted());
    for (const name of [...this.timers.keys()]) this.disarm(name);
    this.callerSignal?.removeEventListener('abort', this.onCallerAbort);
  }

  /** The error to surface for `error`: the stop reason wins over whatever the HTTP client made of it. */
  explain(error: unknown, fallback: (error: unknown) => PaiError): PaiError {
    return this.stopReason ?? (isPaiError(error) ? error : fallback(error));
  }

  /**
   * A controller for one attempt of the call: it stops when the call stops, and can be stopped alone to
   * close a failed attempt's connection before the next one.
   */
  attempt(): AbortController {
    const controller = new AbortController();
    if (this.signal.aborted) controller.abort(this.stopReason);
    else this.signal.addEventListener('abort', () => controller.abort(this.stopReason), { once: true });
    return controller;
  }

  /** Waits `ms`, cut short (with the stop reason) when the call stops. */
  async pause(ms: number): Promise<void> {
    try {
      await sleep(ms, undefined, { signal: this.signal });
    } catch (error) {
      throw this.explain(error, () => LlmErrors.aborted());
    }
  }

  /**
   * Settles like `promise`, or rejects with the stop reason as soon as the call stops: for work the
   * signal cannot reach (credential providers, SDK middleware before the socket exists).
   */
  settle<T>(promise: Promise<T>): Promise<T> {
    if (this.stopReason) {
      promise.catch(() => undefined);
      return Promise.reject(this.stopReason);
    }
    return new Promise<T>((resolve, reject) => {
      const onStop = (): void => reject(this.stopReason);
      this.signal.addEventListener('abort', onStop, { once: true });
      promise.then(
        (value) => {
          this.signal.removeEventListener('abort', onStop);
          resolve(value);
        },
        (error: unknown) => {
          this.signal.removeEventListener('abort', onStop);
          reject(error);
        },
      );
    });
  }

  /** From now on, each wait in `paced` for the next chunk may last at most `ms`. */
  limitIdle(ms: number, makeError: () => PaiError): void {
    this.idleLimit = { ms, makeError };
  }

  /**
   * Iterates `source`, timing each wait for its next item against the idle limit (once set). Only the
   * waits count: time the consumer spends with an item is not idleness of the upstream.
   */
  async *paced<T>(source: AsyncIterable<T>): AsyncGenerator<T> {
    const iterator = source[Symbol.asyncIterator]();
    let finished = false;
    try {
      for (;;) {
        if (this.idleLimit) this.arm('idle', this.idleLimit.ms, this.idleLimit.makeError);
        let result: IteratorResult<T>;
        try {
          result = await iterator.next();
        } catch (error) {
          finished = true;
          throw error;
        } finally {
          this.disarm('idle');
        }
        if (result.done) {
          finished = true;
          return;
        }
        yield result.value;
      }
    } finally {
      if (!finished) await iterator.return?.();
    }
  }
}

/** Where a model call goes and how long it may take, for the scope and its timeout messages. */
export interface CallLimits {
  /** The endpoint, without credentials. */
  endpoint: string;
  timeouts: ModelTimeouts;
}

/** A scope for one model call with its total timeout armed. */
export function openCallScope(limits: CallLimits, signal: AbortSignal | undefined): CallScope {
  const scope = new CallScope(signal);
  const { totalMs } = limits.timeouts;
  scope.arm('total', totalMs, () =>
    LlmErrors.timeout(`The model call to ${limits.endpoint} exceeded the total timeout of ${totalMs} ms.`),
  );
  return scope;
}

/** The first-token timeout's error; `what` is "token" when streaming, "answer" otherwise. */
export function firstTokenTimeout(limits: CallLimits, what: 'token' | 'answer'): () => PaiError {
  const ms = limits.timeouts.firstTokenMs;
  return () =>
    LlmErrors.timeout(`No ${what} from the model server at ${limits.endpoint} within the first-token timeout of ${ms} ms.`);
}

/**
 * Marks the first token: the first-token timer ends and every later wait for a chunk is held to the
 * idle timeout instead.
 */
export function firstTokenArrived(scope: CallScope, limits: CallLimits): void {
  scope.disarm('first-token');
  const ms = limits.timeouts.idleMs;
  scope.limitIdle(ms, () =>
    LlmErrors.timeout(`The model server at ${limits.endpoint} sent nothing for the idle timeout of ${ms} ms in the middle of the stream.`),
  );
}
