/**
 * The authorization server's HTTP surface. Encapsulated: its form parser and its RFC 6749 §5.2 error handler stay
 * inside. Errors are `{error, error_description}` with `Cache-Control: no-store`.
 */
import type { FastifyError, FastifyInstance } from 'fastify';
import formbody from '@fastify/formbody';
import { cookieSupport } from '../platform/cookies.ts';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { databaseUnavailable, DATABASE_RETRY_AFTER_SECONDS } from '../platform/db-errors.ts';
import { InvalidClient, InvalidRequest, OAuthError, ServerError, TemporarilyUnavailable } from '../platform/errors/oauth.ts';
import type { ScopeFor, TenantScope } from '../platform/db.ts';
import type { Keyring } from '../platform/crypto.ts';
import { TooManyAttempts, type FailureLimiter } from '../platform/rate-limit.ts';
import type { OAuthMetrics } from '../platform/metrics.ts';
import type { ClientDirectory } from '../downstream/directory.ts';
import type { KeyStore } from './keys.ts';
import type { AccessTokens } from './tokens.ts';
import { tokenRoute } from './routes/token.ts';
import { discoveryRoutes } from './routes/discovery.ts';
import { jwksRoute } from './routes/jwks.ts';
import { authorizeRoutes } from './routes/authorize.ts';
import { introspectionRoute } from './routes/introspect.ts';
import { revocationRoute } from './routes/revoke.ts';
import { userinfoRoutes } from './routes/userinfo.ts';
import { endSessionRoutes } from './routes/end-session.ts';
import { corsSupport } from './cors.ts';

export interface OAuthDeps {
  scopeFor: ScopeFor;
  keyring: Keyring;
  keys: KeyStore;
  tokens: AccessTokens;
  directory: ClientDirectory;
  limiter: FailureLimiter;
  metrics: OAuthMetrics;
  accessTokenTtl: number;
}

export async function oauthPlugin(app: FastifyInstance, deps: OAuthDeps) {
  // RFC 6749 §3.2: the token endpoint takes application/x-www-form-urlencoded; JSON is refused with 415.
  app.removeContentTypeParser('application/json');
  await app.register(formbody);
  // The authorization and end-session endpoints read the session cookie.
  await cookieSupport(app);
  app.setErrorHandler((err: FastifyError, request, reply) => {
    let e: OAuthError;
    reply.header('Cache-Control', 'no-store').header('Pragma', 'no-cache');
    if (err instanceof OAuthError) e = err;
    else if (err instanceof TooManyAttempts) {
      reply.header('Retry-After', String(err.retryAfterSeconds));
      return reply.status(429).send(new TemporarilyUnavailable(`Too many failed attempts; retry after ${err.retryAfterSeconds} seconds.`).toJSON());
    } else if (hasZodFastifySchemaValidationErrors(err) || (err.statusCode && err.statusCode < 500)) {
      e = err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE' ? new InvalidRequest('Send application/x-www-form-urlencoded.') : new InvalidRequest(err.statusCode === 413 ? 'The request body is too large.' : 'The request is malformed.');
      if (err.statusCode === 413 || err.statusCode === 415) return reply.status(err.statusCode).send(e.toJSON());
    } else if (databaseUnavailable(err)) {
      request.log.warn({ err: err.message }, 'database unavailable');
      reply.header('Retry-After', String(DATABASE_RETRY_AFTER_SECONDS));
      e = new TemporarilyUnavailable('The service is temporarily unavailable; retry later.');
    } else {
      request.log.error({ err }, 'authorization server failure');
      e = new ServerError('The server could not process the request.');
    }
    // RFC 6749 §5.2: a failed Basic authentication answers 401 with a Basic challenge.
    if (e instanceof InvalidClient && /^basic /i.test(request.headers.authorization ?? '')) reply.header('WWW-Authenticate', 'Basic realm="iam", charset="UTF-8"');
    return reply.status(e.status).send(e.toJSON());
  });
  corsSupport(app, deps);
  tokenRoute(app, deps);
  introspectionRoute(app, deps);
  revocationRoute(app, deps);
  authorizeRoutes(app, deps);
  userinfoRoutes(app, deps);
  endSessionRoutes(app, deps);
  jwksRoute(app, deps);
  discoveryRoutes(app, deps);
}
