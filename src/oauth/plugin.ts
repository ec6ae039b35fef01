/**
 * The authorization server's HTTP surface. Encapsulated: its form parser and its RFC 6749 §5.2 error handler stay
 * inside. Errors are `{error, error_description}` with `Cache-Control: no-store`.
 */
import type { FastifyError, FastifyInstance } from 'fastify';
import formbody from '@fastify/formbody';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { InvalidClient, InvalidRequest, OAuthError, ServerError, TemporarilyUnavailable } from '../platform/errors/oauth.ts';
import type { ScopeFor, TenantScope } from '../platform/db.ts';
import type { Keyring } from '../platform/crypto.ts';
import { TooManyAttempts, type FailureLimiter } from '../platform/rate-limit.ts';
import type { ClientDirectory } from '../downstream/directory.ts';
import type { KeyStore } from './keys.ts';
import type { AccessTokens } from './tokens.ts';
import { TOKEN_PATH, tokenRoute } from './routes/token.ts';
import { discoveryRoutes } from './routes/discovery.ts';
import { JWKS_PATH, jwksRoute } from './routes/jwks.ts';
import { authorizeRoutes } from './routes/authorize.ts';
import { introspectionRoute } from './routes/introspect.ts';
import { REVOCATION_PATH, revocationRoute } from './routes/revoke.ts';
import { USERINFO_PATH, userinfoRoutes } from './routes/userinfo.ts';
import { endSessionRoutes } from './routes/end-session.ts';

export interface OAuthDeps {
  scopeFor: ScopeFor;
  keyring: Keyring;
  keys: KeyStore;
  tokens: AccessTokens;
  directory: ClientDirectory;
  limiter: FailureLimiter;
  accessTokenTtl: number;
}

export async function oauthPlugin(app: FastifyInstance, deps: OAuthDeps) {
  // RFC 6749 §3.2: the token endpoint takes application/x-www-form-urlencoded; JSON is refused with 415.
  app.removeContentTypeParser('application/json');
  await app.register(formbody);
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
    } else {
      request.log.error({ err }, 'authorization server failure');
      e = new ServerError('The server could not process the request.');
    }
    // RFC 6749 §5.2: a failed Basic authentication answers 401 with a Basic challenge.
    if (e instanceof InvalidClient && /^basic /i.test(request.headers.authorization ?? '')) reply.header('WWW-Authenticate', 'Basic realm="iam", charset="UTF-8"');
    return reply.status(e.status).send(e.toJSON());
  });
  // CORS (Fetch standard) for browser clients: only origins registered on a ClientSideApplication, and only on the
  // endpoints a SPA calls. No credentials (cookies) are ever allowed cross-origin.
  const corsPaths = new Set([TOKEN_PATH, REVOCATION_PATH, USERINFO_PATH, JWKS_PATH, '/.well-known/openid-configuration', '/.well-known/oauth-authorization-server']);
  app.addHook('onRequest', (request, reply, done) => {
    const origin = request.headers.origin;
    // Most token requests come from servers: no Origin, no work.
    if (!origin || !corsPaths.has(request.url.split('?')[0]!)) return done();
    deps.directory.corsOrigins(request.tenant.id).then((allowed) => {
      if (!allowed.has(origin)) return done();
      reply.header('Access-Control-Allow-Origin', origin).header('Vary', 'Origin');
      if (request.method !== 'OPTIONS') return done();
      reply
        .status(204)
        .header('Access-Control-Allow-Methods', 'GET, POST')
        .header('Access-Control-Allow-Headers', 'Content-Type, Authorization, DPoP')
        .header('Access-Control-Max-Age', '600')
        .send();
    }, done);
  });
  for (const path of corsPaths) app.options(path, { schema: { hide: true } }, async (_request, reply) => reply.status(204).send());
  tokenRoute(app, deps);
  introspectionRoute(app, deps);
  revocationRoute(app, deps);
  authorizeRoutes(app, deps);
  userinfoRoutes(app, deps);
  endSessionRoutes(app, deps);
  jwksRoute(app, deps);
  discoveryRoutes(app, deps);
}
