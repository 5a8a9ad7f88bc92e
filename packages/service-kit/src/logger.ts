import type { FastifyServerOptions } from 'fastify';

/**
 * Paths pino redacts. Request logs carry no bodies or headers by default; these catch the places where
 * a secret or a user's words could still reach a log line through an object we log ourselves.
 */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers["x-pai-internal-token"]',
  'headers.authorization',
  'headers["x-pai-internal-token"]',
  '*.headers.authorization',
  '*.headers["x-pai-internal-token"]',
  'body',
  '*.body',
  'content',
  '*.content',
  'message_text',
  'apiKey',
  '*.apiKey',
  'key',
  '*.key',
  'secret',
  '*.secret',
  'internalToken',
  '*.internalToken',
];

export interface LoggerSettings {
  level: string;
  /** A writable stream for tests (e.g. to scan logs for secrets). */
  stream?: NodeJS.WritableStream;
}

export function loggerOptions(name: string, settings: LoggerSettings | false): FastifyServerOptions['logger'] | false {
  if (settings === false) return false;
  const options = {
    level: settings.level,
    name,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    ...(settings.stream ? { stream: settings.stream } : {}),
  };
  return options as FastifyServerOptions['logger'];
}
