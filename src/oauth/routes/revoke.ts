/**
 * Token revocation, RFC 7009, https://www.rfc-editor.org/rfc/rfc7009
 * A client revokes its own tokens. A refresh token ends its whole family; an access token is recorded by jti until
 * it expires, and introspection and this service's own APIs refuse it from then on. Access tokens already issued
 * from a revoked family stay valid until they expire (they are short-lived); present them to revoke them at once.
 * §2.2: an unknown, invalid or foreign token still answers 200.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { InvalidRequest } from '../../platform/errors/oauth.ts';
import { oauthRepository } from '../repository.ts';
import { revokeFamily } from '../revocation.ts';
import type { OAuthDeps } from '../plugin.ts';
import { authenticateRequest, oauthErrorSchema, singleValuedForm } from './shared.ts';

export const REVOCATION_PATH = '/oauth2/revoke';

export function revocationRoute(app: FastifyInstance, deps: OAuthDeps) {
  app.post(REVOCATION_PATH, {
    schema: {
      operationId: 'oauth.revoke',
      tags: ['OAuth'],
      summary: 'Token revocation (RFC 7009)',
      consumes: ['application/x-www-form-urlencoded'],
      // RFC 7009 §2.1: an unknown hint is ignored (the server extends its search to every token type).
      body: z.looseObject({ token: z.string().optional(), token_type_hint: z.string().optional() }),
      response: { 200: z.object({}), 400: oauthErrorSchema, 401: oauthErrorSchema },
    },
    async handler(request, reply) {
      reply.header('Cache-Control', 'no-store');
      const body = singleValuedForm(request.body);
      const { client } = await authenticateRequest(deps, request, body, REVOCATION_PATH);
      if (!body.token) throw new InvalidRequest('token is required.');
      const scope = deps.scopeFor(request.tenant.id);
      if (body.token.split('.').length === 3) {
        const claims = await deps.tokens.verify(request.tenant, body.token).catch(() => undefined);
        if (claims && claims.client_id === client.clientId) await deps.tokens.revoke(scope, claims.jti, new Date(claims.exp * 1000));
        return {};
      }
      const row = await oauthRepository(scope).findRefreshToken(deps.keyring.hashSecret(body.token));
      if (row && row.clientId === client.clientId) await revokeFamily(scope, row.familyId);
      return {};
    },
  });
}
