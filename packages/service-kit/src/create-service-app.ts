import Fastify, { LogController, type FastifyServerOptions, type FastifyInstance, type FastifyBaseLogger, type RawServerDefault, type RawRequestDefaultExpression, type RawReplyDefaultExpression } from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import {
  jsonSchemaTransform,
  jsonSchemaTransformObject,
  serializerCompiler,
  validatorCompiler,
  type ZodTypeProvider,
} from 'fastify-type-provider-zod';
import { ServiceErrors } from '@pai/errors';
import { registerErrorHandling, sendError } from './errors.js';
import { genRequestId } from './request-id.js';
import { loggerOptions, type LoggerSettings } from './logger.js';
import { createReadiness, registerHealthRoutes, type Readiness } from './health.js';
import { createLifecycle, type Lifecycle } from './lifecycle.js';
import { INTERNAL_HEADERS } from './auth.js';
import { createServiceMetrics, registerMetrics, registerMetricsRoute } from './metrics.js';

const PROBES = new Set(['/healthz', '/readyz', '/metrics']);
let probeLogger: { parent: FastifyBaseLogger; child: FastifyBaseLogger } | null = null;

/**
 * Probes run thousands of times a minute and log nothing below warn: they share one child logger
 * instead of creating one per request (what Fastify does for every other request).
 */
const probeAwareChildLogger: NonNullable<FastifyServerOptions['childLoggerFactory']> = function (logger, bindings, options, raw) {
  if (raw.url !== undefined && PROBES.has(raw.url)) {
    if (probeLogger?.parent !== logger) probeLogger = { parent: logger, child: logger.child({ probe: true }, { level: 'warn' }) };
    return probeLogger!.child;
  }
  return logger.child(bindings, options);
};

export type ServiceApp = FastifyInstance<
  RawServerDefault,
  RawRequestDefaultExpression,
  RawReplyDefaultExpression,
  FastifyBaseLogger,
  ZodTypeProvider
>;

declare module 'fastify' {
  interface FastifyInstance {
    readiness: Readiness;
    lifecycle: Lifecycle;
  }
}

export interface ServiceAppOptions {
  /** Short service name: agent, memory, search, or pai for the embedded all-in-one. */
  name: string;
  title: string;
  description: string;
  version: string;
  bodyLimitBytes: number;
  /** Pino settings, or false for no logs (tests). */
  logger: LoggerSettings | false;
  tags?: { name: string; description: string }[];
}

const BASE_TAGS = [
  { name: 'health', description: 'Liveness and readiness probes (no auth).' },
];

/**
 * A Fastify instance with everything every PAI service shares: zod validation and serialization,
 * OpenAPI at /openapi.json and Swagger UI at /docs, the SPEC error body, x-request-id, redacted pino
 * logs, /healthz and /readyz, and a lifecycle for graceful shutdown. Routes are added by the caller.
 */
export async function createServiceApp(options: ServiceAppOptions): Promise<ServiceApp> {
  const app = Fastify({
    logger: loggerOptions(options.name, options.logger),
    bodyLimit: options.bodyLimitBytes,
    genReqId: genRequestId,
    requestIdHeader: false,
    logController: new LogController({ requestIdLogLabel: 'request_id' }),
    childLoggerFactory: probeAwareChildLogger,
    return503OnClosing: false,
    forceCloseConnections: 'idle',
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 200 },
    ajv: { customOptions: { coerceTypes: false } },
  }).withTypeProvider<ZodTypeProvider>();

  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  app.decorate('readiness', createReadiness());
  app.decorate('lifecycle', createLifecycle());
  app.decorate('metrics', createServiceMetrics(options.name));

  app.addHook('onRequest', (request, reply, done) => {
    reply.header('x-request-id', request.id);
    // While draining, new work is refused (calls between PAI services still finish what is in flight).
    if (app.lifecycle.draining && request.headers[INTERNAL_HEADERS.token] === undefined) {
      reply.header('connection', 'close');
      sendError(request, reply, ServiceErrors.shuttingDown());
      return;
    }
    done();
  });

  registerErrorHandling(app, options.bodyLimitBytes);
  registerMetrics(app, app.metrics);

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: { title: options.title, description: options.description, version: options.version },
      tags: [...BASE_TAGS, ...(options.tags ?? [])],
      components: {
        securitySchemes: {
          bearer: {
            type: 'http',
            scheme: 'bearer',
            description: 'An API key: the admin key (PAI_ADMIN_API_KEY or <PAI_DATA_DIR>/admin-api-key) or a user key from POST /v1/users/{id}/api-keys.',
          },
          internalToken: {
            type: 'apiKey',
            in: 'header',
            name: 'x-pai-internal-token',
            description: 'PAI_INTERNAL_TOKEN, shared by the PAI services; the caller forwards the user in x-pai-user-id.',
          },
        },
      },
    },
    transform: jsonSchemaTransform,
    transformObject: jsonSchemaTransformObject,
  });
  await app.register(swaggerUi, { routePrefix: '/docs', uiConfig: { deepLinking: true } });

  app.get('/openapi.json', { config: { auth: 'none' }, schema: { hide: true } }, async () => app.swagger());
  registerHealthRoutes(app, options.name);
  registerMetricsRoute(app, app.metrics);
  return app;
}
