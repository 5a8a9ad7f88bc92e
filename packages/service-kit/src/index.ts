export { createServiceApp, type ServiceApp, type ServiceAppOptions } from './create-service-app.js';
export { authPlugin, userIdOf, safeEqual, INTERNAL_HEADERS, type Principal, type Authenticator, type AuthMode, type AuthPluginOptions } from './auth.js';
export { toPaiError, sendError, type ValidationIssue } from './errors.js';
export { createReadiness, type Readiness, type ReadinessCheck, type HealthResult } from './health.js';
export { createLifecycle, closeGracefully, runServer, type Lifecycle, type ListenOptions } from './lifecycle.js';
export { REDACT_PATHS, type LoggerSettings } from './logger.js';
export { genRequestId } from './request-id.js';
export { openSse, type SseStream } from './sse.js';
export type { FastifyPluginAsyncZod as RoutePlugin } from 'fastify-type-provider-zod';
