/**
 * A circuit breaker around any model provider. After `failureThreshold` consecutive calls fail in a way
 * that says the provider itself is unhealthy, the circuit opens: calls fail at once with
 * PAI_LLM_UNAVAILABLE and a Retry-After instead of piling onto a failing upstream. After `openMs` it
 * half-opens and lets `halfOpenMaxCalls` probe calls through; a probe that succeeds closes it, one that
 * fails opens it again for another `openMs`.
 *
 * Outcomes that say nothing about the provider's health leave the count alone: the caller aborting, a
 * request the provider rejects as invalid (400-class), throttling (the provider is healthy, only busy;
 * retries with backoff already handle it). A stream succeeds when it reaches `done`; one that fails
 * midway is a failure; one the consumer stops early is neutral.
 */
import { LlmErrors, isPaiError, type PaiError } from '@pai/errors';
import type { CallOptions, ModelProvider, ModelRequest, ModelResponse, ModelStreamEvent } from '../index.js';

export type CircuitState = 'closed' | 'open' | 'half-open';

export interface CircuitBreakerOptions {
  /** Consecutive unhealthy failures that open the circuit. */
  failureThreshold: number;
  /** How long the circuit stays open before letting a probe through. */
  openMs: number;
  /** Calls let through at once while half-open (default 1). */
  halfOpenMaxCalls?: number;
  /** Clock in ms (tests inject one). */
  now?: () => number;
  /** Called on every transition, with the wrapped provider's name (e.g. for a gauge). Must not throw. */
  onStateChange?: (state: CircuitState, provider: string) => void;
  /** Which failures count against the provider; countsAsProviderFailure by default. */
  isFailure?: (error: unknown) => boolean;
}

export interface CircuitBreakerProvider extends ModelProvider {
  /** The circuit's state now (an open circuit whose `openMs` has passed reads half-open). */
  state(): CircuitState;
}

/**
 * True when `error` says the provider is unhealthy: unreachable, timing out, answering garbage or a
 * server error. False for caller aborts, 400-class rejections and throttling.
 */
export function countsAsProviderFailure(error: unknown): boolean {
  if (!isPaiError(error)) return true;
  switch (error.code) {
    case LlmErrors.aborted.code:
    case LlmErrors.rateLimited.code:
    case LlmErrors.invalidRequest.code:
      return false;
    case LlmErrors.upstream.code: {
      const status = upstreamStatus(error);
      return status === undefined || status >= 500;
    }
    default:
      return error.statusCode >= 500;
  }
}

function upstreamStatus(error: PaiError): number | undefined {
  const details = error.details as { upstreamStatus?: unknown } | undefined;
  return typeof details?.upstreamStatus === 'number' ? details.upstreamStatus : undefined;
}

interface Ticket {
  /** The circuit generation (one per transition) the call was admitted in. */
  generation: number;
  probe: boolean;
}

type Outcome = 'success' | 'failure' | 'neutral';

class Circuit {
  private current: CircuitState = 'closed';
  private generation = 0;
  private failures = 0;
  private openedAt = 0;
  private probes = 0;
  private lastFailure: string | undefined;
  private readonly now: () => number;
  private readonly halfOpenMaxCalls: number;

  constructor(
    private readonly provider: ModelProvider,
    private readonly options: CircuitBreakerOptions,
  ) {
    this.now = options.now ?? Date.now;
    this.halfOpenMaxCalls = Math.max(1, options.halfOpenMaxCalls ?? 1);
  }

  state(): CircuitState {
    if (this.current === 'open' && this.now() - this.openedAt >= this.options.openMs) this.move('half-open');
    return this.current;
  }

  /** Lets a call through, or throws the fail-fast error. */
  admit(): Ticket {
    const state = this.state();
    if (state === 'closed') return { generation: this.generation, probe: false };
    if (state === 'half-open' && this.probes < this.halfOpenMaxCalls) {
      this.probes += 1;
      return { generation: this.generation, probe: true };
    }
    throw this.rejection(state);
  }

  settle(ticket: Ticket, outcome: Outcome): void {
    const current = ticket.generation === this.generation;
    if (this.current === 'closed') {
      if (outcome === 'success') this.failures = 0;
      else if (outcome === 'failure') {
        this.failures += 1;
        if (this.failures >= this.options.failureThreshold) this.move('open');
      }
      return;
    }
    // Open, or half-open: only this generation's probes decide; late answers from before are ignored.
    if (this.current !== 'half-open' || !ticket.probe || !current) return;
    this.probes -= 1;
    if (outcome === 'success') this.move('closed');
    else if (outcome === 'failure') {
      this.failures += 1;
      this.move('open');
    }
  }

  noteFailure(error: unknown): void {
    this.lastFailure = error instanceof Error ? error.message : String(error);
  }

  private move(state: CircuitState): void {
    if (state === this.current) return;
    this.current = state;
    this.generation += 1;
    this.probes = 0;
    if (state === 'open') this.openedAt = this.now();
    if (state === 'closed') this.failures = 0;
    this.options.onStateChange?.(state, this.provider.name);
  }

  private rejection(state: CircuitState): PaiError {
    const { name, endpoint } = this.provider;
    const waitMs = state === 'open' ? this.openedAt + this.options.openMs - this.now() : 1_000;
    const seconds = Math.max(1, Math.ceil(waitMs / 1000));
    const last = this.lastFailure ? ` Last failure: ${this.lastFailure}` : '';
    const message =
      state === 'open'
        ? `Circuit open for ${name} at ${endpoint} after ${this.failures} consecutive failures; retrying after ${seconds} s.${last}`
        : `Circuit half-open for ${name} at ${endpoint}: a probe call is testing it; retrying after ${seconds} s.${last}`;
    return LlmErrors.unavailable(message, { headers: { 'Retry-After': String(seconds) } });
  }
}

/** `provider` behind a circuit breaker; see the module comment. */
export function withCircuitBreaker(provider: ModelProvider, options: CircuitBreakerOptions): CircuitBreakerProvider {
  const circuit = new Circuit(provider, options);
  const isFailure = options.isFailure ?? countsAsProviderFailure;
  const outcomeOf = (error: unknown): Outcome => {
    if (!isFailure(error)) return 'neutral';
    circuit.noteFailure(error);
    return 'failure';
  };

  async function complete(request: ModelRequest, callOptions?: CallOptions): Promise<ModelResponse> {
    const ticket = circuit.admit();
    try {
      const response = await provider.complete(request, callOptions);
      circuit.settle(ticket, 'success');
      return response;
    } catch (error) {
      circuit.settle(ticket, outcomeOf(error));
      throw error;
    }
  }

  async function* stream(request: ModelRequest, callOptions?: CallOptions): AsyncGenerator<ModelStreamEvent> {
    const ticket = circuit.admit();
    let settled = false;
    const settle = (outcome: Outcome): void => {
      if (!settled) circuit.settle(ticket, outcome);
      settled = true;
    };
    try {
      for await (const event of provider.stream(request, callOptions)) {
        if (event.type === 'done') settle('success');
        yield event;
      }
    } catch (error) {
      settle(outcomeOf(error));
      throw error;
    } finally {
      // The consumer stopped early (or the stream ended without `done`): no verdict on the provider.
      settle('neutral');
    }
  }

  return {
    name: provider.name,
    endpoint: provider.endpoint,
    defaultModel: provider.defaultModel,
    complete,
    stream,
    check: (callOptions) => provider.check(callOptions),
    close: () => provider.close(),
    state: () => circuit.state(),
  };
}
