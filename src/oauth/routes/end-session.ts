/**
 * RP-initiated logout, OpenID Connect RP-Initiated Logout 1.0 §2–§3. The session ends; the browser goes to
 * `post_logout_redirect_uri` only when it exactly matches one registered for the client identified by
 * `id_token_hint` (or `client_id`), otherwise to a "signed out" page: no open redirect.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { decodeJwt, decodeProtectedHeader, jwtVerify } from 'jose';
import { z } from 'zod';
import { clearCookie, readCookie } from '../../platform/cookies.ts';
import { endSession, SESSION_COOKIE } from '../../signin/sessions.ts';
import type { OAuthDeps } from '../plugin.ts';

export const END_SESSION_PATH = '/oauth2/logout';

const params = z.looseObject({ id_token_hint: z.string().optional(), post_logout_redirect_uri: z.string().optional(), client_id: z.string().optional(), state: z.string().optional() });

export function endSessionRoutes(app: FastifyInstance, deps: OAuthDeps) {
  const handler = (source: 'query' | 'body') => async (request: FastifyRequest, reply: FastifyReply) => {
    const p = (source === 'query' ? request.query : request.body) as z.infer<typeof params>;
    const tenant = request.tenant;
    let clientId = typeof p.client_id === 'string' ? p.client_id : undefined;
    if (typeof p.id_token_hint === 'string') {
      // The hint may be expired (§2: "the OP SHOULD accept it"); its signature and issuer must still be ours.
      try {
        const { kid } = decodeProtectedHeader(p.id_token_hint);
        const key = kid ? await deps.keys.verificationKey(tenant.id, kid) : undefined;
        if (key) {
          const { payload } = await jwtVerify(p.id_token_hint, key.key, { issuer: tenant.issuer, currentDate: new Date(decodeJwt(p.id_token_hint).iat! * 1000) });
          const aud = Array.isArray(payload.aud) ? payload.aud[0] : payload.aud;
          if (clientId && aud !== clientId) clientId = undefined;
          else clientId = aud;
        } else clientId = undefined;
      } catch {
        clientId = undefined;
      }
    }
    await endSession(deps.scopeFor(tenant.id), deps.keyring, readCookie(request, SESSION_COOKIE));
    clearCookie(request, reply, SESSION_COOKIE);
    reply.header('cache-control', 'no-store');
    const target = typeof p.post_logout_redirect_uri === 'string' ? p.post_logout_redirect_uri : undefined;
    if (target && clientId) {
      const client = (await deps.directory.client(tenant.id, clientId))?.client;
      if (client?.postLogoutRedirectUris.includes(target)) {
        const url = new URL(target);
        if (typeof p.state === 'string') url.searchParams.set('state', p.state);
        return reply.redirect(url.toString(), 303);
      }
    }
    return reply.redirect('/signed-out', 303);
  };
  const schema = { operationId: 'oidc.logout', tags: ['OAuth'], summary: 'End session (RP-initiated logout)' };
  app.get(END_SESSION_PATH, { schema: { ...schema, querystring: params } }, handler('query'));
  app.post(END_SESSION_PATH, { schema: { ...schema, operationId: 'oidc.logout.post', body: params } }, handler('body'));
}
