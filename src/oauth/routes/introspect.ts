/**
 * Token introspection, RFC 7662, https://www.rfc-editor.org/rfc/rfc7662
 * Any authenticated confidential client of the tenant may introspect access tokens; refresh tokens only by the
 * client they were issued to. Anything not active — unknown, expired, revoked, of a deleted client or a deactivated
 * user — is `{"active": false}` and nothing else (§2.2).
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { InvalidClient, InvalidRequest } from '../../platform/errors/oauth.ts';
import { oauthRepository } from '../repository.ts';
import { findSubject } from '../subjects.ts';
import type { OAuthDeps } from '../plugin.ts';
import { authenticateRequest, oauthErrorSchema, singleValuedForm } from './shared.ts';

export const INTROSPECTION_PATH = '/oauth2/introspect';

export function introspectionRoute(app: FastifyInstance, deps: OAuthDeps) {
  app.post(INTROSPECTION_PATH, {
    schema: {
      operationId: 'oauth.introspect',
      tags: ['OAuth'],
      summary: 'Token introspection (RFC 7662)',
      consumes: ['application/x-www-form-urlencoded'],
      // RFC 7662 §2.1: the hint is optional help; an unknown one is ignored and the token looked up every way.
      body: z.looseObject({ token: z.string().optional(), token_type_hint: z.string().optional() }),
      response: { 200: z.looseObject({ active: z.boolean() }), 400: oauthErrorSchema, 401: oauthErrorSchema },
    },
    async handler(request, reply) {
      reply.header('Cache-Control', 'no-store');
      const body = singleValuedForm(request.body);
      const { client } = await authenticateRequest(deps, request, body, INTROSPECTION_PATH);
      if (client.clientType === 'ClientSideApplication') throw new InvalidClient('Public clients cannot introspect tokens.');
      if (!body.token) throw new InvalidRequest('token is required.');
      const inactive = { active: false };
      const scope = deps.scopeFor(request.tenant.id);
      if (body.token.split('.').length === 3) {
        try {
          const claims = await deps.tokens.verify(request.tenant, body.token);
          if (!(await deps.tokens.isActive(request.tenant, claims))) return inactive;
          const user = claims.sub !== claims.client_id ? await findSubject(scope, claims.sub) : undefined;
          return {
            active: true,
            scope: claims.scope,
            client_id: claims.client_id,
            ...(user ? { username: user.userName } : {}),
            token_type: 'Bearer',
            exp: claims.exp,
            iat: claims.iat,
            sub: claims.sub,
            aud: claims.aud,
            iss: claims.iss,
            jti: claims.jti,
            // ADR 0009: the organization the token acts in.
            ...(claims.org_id ? { org_id: claims.org_id } : {}),
          };
        } catch {
          return inactive;
        }
      }
      const row = await oauthRepository(scope).findRefreshToken(deps.keyring.hashSecret(body.token));
      if (!row || row.clientId !== client.clientId || row.revokedAt || row.rotatedAt || row.expiresAt.getTime() < Date.now()) return inactive;
      const user = await findSubject(scope, row.userId);
      if (!user?.active) return inactive;
      return {
        active: true,
        scope: row.scopes.join(' '),
        client_id: row.clientId,
        username: user.userName,
        token_type: 'refresh_token',
        exp: Math.floor(row.expiresAt.getTime() / 1000),
        iat: Math.floor(row.createdAt.getTime() / 1000),
        sub: row.userId,
        iss: request.tenant.issuer,
        ...(row.organizationId ? { org_id: row.organizationId } : {}),
      };
    },
  });
}
