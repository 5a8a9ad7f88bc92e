import { performance } from 'node:perf_hooks';
import type { FastifyInstance } from 'fastify';
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * Latency buckets in seconds, from 1 ms to 60 s, dense enough that p50/p95/p99 interpolate meaningfully
 * for both fast API calls and long model streams.
 */
export const LATENCY_BUCKETS = [
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60,
];

export interface ServiceMetrics {
  readonly registry: Registry;
  readonly httpDuration: Histogram<'method' | 'route' | 'status_code'>;
  readonly errors: Counter<'code'>;
}

declare module 'fastify' {
  interface FastifyInstance {
    metrics: ServiceMetrics;
  }
}

/** Every service's registry: process metrics, HTTP latency by route and status, errors by code. */
export function createServiceMetrics(service: string): ServiceMetrics {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry });
  return {
    registry,
    httpDuration: new Histogram({
      name: 'pai_http_request_duration_seconds',
      help: 'HTTP request duration by route template and status (probes and /metrics excluded).',
      labelNames: ['method', 'route', 'status_code'],
      buckets: LATENCY_BUCKETS,
      registers: [registry],
    }),
    errors: new Counter({
      name: 'pai_errors_total',
      help: 'Errors answered to clients, by PAI error code (HTTP errors and SSE error events).',
      labelNames: ['code'],
      registers: [registry],
    }),
  };
}

const UNMEASURED = new Set(['/healthz', '/readyz', '/metrics']);

/**
 * Times every request from arrival to the last byte (the response's `finish`), which also covers
 * hijacked SSE streams that Fastify's onResponse never sees.
 */
export function registerMetrics(app: FastifyInstance, metrics: ServiceMetrics): void {
  app.addHook('onRequest', (request, reply, done) => {
    const route = request.routeOptions.url;
    if (route !== undefined && UNMEASURED.has(route)) return done();
    const started = performance.now();
    reply.raw.once('finish', () => {
      metrics.httpDuration.observe(
        { method: request.method, route: route ?? 'unmatched', status_code: String(reply.raw.statusCode) },
        (performance.now() - started) / 1000,
      );
    });
    done();
  });
}

export function registerMetricsRoute(app: FastifyInstance, metrics: ServiceMetrics): void {
  app.get('/metrics', {
    config: { auth: 'none' },
    logLevel: 'warn',
    schema: {
      tags: ['health'],
      summary: 'Prometheus metrics (text exposition format)',
      description: 'Serve to your scraper only; do not route it through the public load balancer.',
    },
  }, async (_request, reply) => {
    reply.type(metrics.registry.contentType);
    return metrics.registry.metrics();
  });
}
