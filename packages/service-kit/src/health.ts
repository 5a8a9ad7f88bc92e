import type { FastifyInstance } from 'fastify';
import { z } from 'zod';

export type HealthResult = { ok: true } | { ok: false; reason: string };
export type ReadinessCheck = () => Promise<HealthResult>;

export interface Readiness {
  /** Adds a named dependency check to /readyz. */
  register(name: string, check: ReadinessCheck): void;
  run(timeoutMs?: number): Promise<{ ready: boolean; checks: Record<string, HealthResult> }>;
}

export function createReadiness(): Readiness {
  const checks = new Map<string, ReadinessCheck>();
  return {
    register(name, check) {
      if (checks.has(name)) throw new Error(`readiness check '${name}' registered twice`);
      checks.set(name, check);
    },
    async run(timeoutMs = 3_000) {
      const entries = await Promise.all(
        [...checks].map(async ([name, check]) => [name, await withTimeout(check, timeoutMs)] as const),
      );
      return { ready: entries.every(([, r]) => r.ok), checks: Object.fromEntries(entries) };
    },
  };
}

async function withTimeout(check: ReadinessCheck, timeoutMs: number): Promise<HealthResult> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      check().catch((err: unknown) => ({ ok: false as const, reason: err instanceof Error ? err.message : String(err) })),
      new Promise<HealthResult>((resolve) => {
        timer = setTimeout(() => resolve({ ok: false, reason: `no answer within ${timeoutMs} ms` }), timeoutMs);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

const healthResult = z.union([
  z.object({ ok: z.literal(true) }),
  z.object({ ok: z.literal(false), reason: z.string().describe('Why the dependency is not usable, and what to do.') }),
]);

const readinessBody = z.object({
  status: z.enum(['ready', 'unready']),
  checks: z.record(z.string(), healthResult).describe('One entry per dependency (store, model, other services).'),
});

/** Probes are hit constantly: their bodies are tiny and fixed, so plain JSON.stringify serializes them. */
const plainJson = () => (data: unknown) => JSON.stringify(data);

export function registerHealthRoutes(app: FastifyInstance, service: string): void {
  const healthz = JSON.stringify({ status: 'ok', service });
  app.get('/healthz', {
    config: { auth: 'none' },
    logLevel: 'warn',
    serializerCompiler: plainJson,
    schema: {
      tags: ['health'],
      summary: 'Liveness: the process is up',
      response: { 200: z.object({ status: z.literal('ok'), service: z.string() }) },
    },
  }, (_request, reply) => {
    reply.type('application/json; charset=utf-8').send(healthz);
  });

  app.get('/readyz', {
    config: { auth: 'none' },
    logLevel: 'warn',
    serializerCompiler: plainJson,
    schema: {
      tags: ['health'],
      summary: 'Readiness: every dependency reachable',
      description: 'Answers 503 naming the failing dependencies (e.g. `model` when no model server answers).',
      response: { 200: readinessBody, 503: readinessBody },
    },
  }, async (_request, reply) => {
    const result = await app.readiness.run();
    return reply.code(result.ready ? 200 : 503).send({ status: result.ready ? 'ready' : 'unready', checks: result.checks });
  });
}
