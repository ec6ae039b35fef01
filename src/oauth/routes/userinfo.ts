/**
 * UserInfo endpoint, OpenID Connect Core §5.3: the claims of the token's user, per the scopes it carries (§5.4).
 * Bearer token (RFC 6750 §2.1) with scope `openid`; errors are RFC 6750 §3 challenges.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { bearerToken } from '../../platform/auth.ts';
import { InsufficientScope, InvalidToken, bearerChallenge, OAuthError } from '../../platform/errors/oauth.ts';
import { claimsFor, findSubject } from '../subjects.ts';
import { currentOrganization, organizationClaims } from '../organization-context.ts';
import type { OAuthDeps } from '../plugin.ts';

export const USERINFO_PATH = '/oauth2/userinfo';

export function userinfoRoutes(app: FastifyInstance, deps: OAuthDeps) {
  const handler = async (request: FastifyRequest, reply: FastifyReply) => {
    reply.header('cache-control', 'no-store');
    try {
      const claims = await deps.tokens.verifyActive(request.tenant, bearerToken(request));
      // The request is for this client from here on (its CORS origins may read the answer, errors included).
      request.clientId = claims.client_id;
      const scopes = claims.scope.split(' ');
      if (!scopes.includes('openid')) throw new InsufficientScope('The token lacks scope openid.');
      if (claims.sub === claims.client_id) throw new InvalidToken('The token has no user.');
      const subject = await findSubject(deps.scopeFor(request.tenant.id), claims.sub);
      if (!subject?.active) throw new InvalidToken('The user is not active.');
      // ADR 0009: the organization's roles as they are now; a token whose membership ended answers nothing more.
      const organization = await currentOrganization(deps.scopeFor(request.tenant.id), claims.org_id, subject.id);
      if (organization === undefined) throw new InvalidToken('The user is no longer a member of the organization of this token.');
      return { sub: subject.id, ...claimsFor(subject, scopes, request.tenant.id), ...organizationClaims(organization) };
    } catch (e) {
      if (!(e instanceof OAuthError)) throw e;
      reply.header('WWW-Authenticate', bearerChallenge(e, e.error === 'insufficient_scope' ? 'openid' : undefined));
      return reply.status(e.status).send(e.toJSON());
    }
  };
  const schema = { operationId: 'oidc.userinfo', tags: ['OAuth'], summary: 'UserInfo (OpenID Connect Core §5.3)' };
  app.get(USERINFO_PATH, { schema }, handler);
  app.post(USERINFO_PATH, { schema: { ...schema, operationId: 'oidc.userinfo.post' } }, handler);
}
