/** The tenant's public signing keys as a JWK Set, RFC 7517 §5. */
import type { FastifyInstance } from 'fastify';
import type { OAuthDeps } from '../plugin.ts';

export const JWKS_PATH = '/oauth2/jwks';

export function jwksRoute(app: FastifyInstance, deps: OAuthDeps) {
  app.get(JWKS_PATH, { schema: { operationId: 'oauth.jwks', tags: ['OAuth'], summary: 'JSON Web Key Set' } }, async (request, reply) => {
    // Short caching: rotation publishes the next key well before it signs anything.
    reply.header('Cache-Control', 'public, max-age=300');
    return deps.keys.jwks(request.tenant.id);
  });
}
