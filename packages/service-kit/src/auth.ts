import { timingSafeEqual, createHash } from 'node:crypto';
import fp from 'fastify-plugin';
import type { FastifyRequest } from 'fastify';
import { AuthErrors } from '@pai/errors';

/** Who is calling. The admin manages users and keys; a user owns records. */
export type Principal = { kind: 'admin' } | { kind: 'user'; userId: string; keyId: string | null };

/** Resolves a bearer secret to a principal, or null when unknown/revoked. */
export interface Authenticator {
  authenticate(secret: string): Promise<Principal | null>;
}

/**
 * Route-level auth, set as `config: { auth }`:
 * - `user`: a user's key (default for /v1 routes), `admin`: the admin key, `any`: either,
 * - `internal`: service-to-service only (internal token), `none`: public (health, docs).
 */
export type AuthMode = 'none' | 'user' | 'admin' | 'any' | 'internal';

/** Headers services use to forward the caller's identity to each other. */
export const INTERNAL_HEADERS = {
  token: 'x-pai-internal-token',
  userId: 'x-pai-user-id',
  principal: 'x-pai-principal',
} as const;

declare module 'fastify' {
  interface FastifyContextConfig {
    auth?: AuthMode;
  }
  interface FastifyRequest {
    principal: Principal | null;
    /** True when the call came from another PAI service with the internal token. */
    internalCall: boolean;
  }
}

export interface AuthPluginOptions {
  authenticator: Authenticator;
  internalToken: string;
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

export function safeEqual(a: string, b: string): boolean {
  return timingSafeEqual(digest(a), digest(b));
}

function bearerOf(request: FastifyRequest): string | null {
  const header = request.headers.authorization;
  if (typeof header !== 'string') return null;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match ? match[1]! : null;
}

function forwardedPrincipal(request: FastifyRequest): Principal | null {
  const kind = request.headers[INTERNAL_HEADERS.principal];
  if (kind === 'admin') return { kind: 'admin' };
  const userId = request.headers[INTERNAL_HEADERS.userId];
  if (typeof userId === 'string' && userId.length > 0 && userId.length <= 64) return { kind: 'user', userId, keyId: null };
  return null;
}

export const authPlugin = fp<AuthPluginOptions>(async (app, options) => {
  app.decorateRequest('principal', null);
  app.decorateRequest('internalCall', false);

  const resolve = async (request: FastifyRequest, mode: AuthMode): Promise<void> => {
    const internal = request.headers[INTERNAL_HEADERS.token];
    if (typeof internal === 'string') {
      if (!safeEqual(internal, options.internalToken)) throw AuthErrors.invalidKey();
      request.internalCall = true;
      request.principal = forwardedPrincipal(request);
    } else if (mode === 'internal') {
      throw AuthErrors.internalOnly();
    } else {
      const secret = bearerOf(request);
      if (secret === null) throw AuthErrors.missingKey();
      const principal = await options.authenticator.authenticate(secret);
      if (principal === null) throw AuthErrors.invalidKey();
      request.principal = principal;
    }

    const principal = request.principal;
    if (mode === 'admin' && principal?.kind !== 'admin') throw AuthErrors.adminRequired();
    if (mode === 'user' && principal?.kind !== 'user') throw AuthErrors.userRequired();
    if (mode === 'any' && principal === null) throw AuthErrors.missingKey();
  };

  // A callback hook: public routes (probes, docs) pay no promise for auth.
  app.addHook('onRequest', (request, _reply, done) => {
    const configured = request.routeOptions.config?.auth;
    const mode: AuthMode = configured ?? (request.url.startsWith('/v1/') ? 'user' : 'none');
    if (mode === 'none') return done();
    resolve(request, mode).then(() => done(), done);
  });
}, { name: 'pai-auth', fastify: '5.x' });

/** The calling user's id; throws PAI_AUTH_USER_REQUIRED for the admin. */
export function userIdOf(request: FastifyRequest): string {
  const principal = request.principal;
  if (principal?.kind !== 'user') throw AuthErrors.userRequired();
  return principal.userId;
}
