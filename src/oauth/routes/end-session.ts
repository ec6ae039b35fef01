/**
 * RP-initiated logout, OpenID Connect RP-Initiated Logout 1.0 §2–§3,
 * https://openid.net/specs/openid-connect-rpinitiated-1_0.html
 * - With an `id_token_hint` we issued for the signed-in user (same `sub`, and same `sid` when it has one), the
 *   session ends at once. Anything else (no hint, someone else's hint, a forged one) gets a confirmation page
 *   (§2: "the OP SHOULD ask the End-User whether to log out"): a POST form whose CSRF token is bound to the
 *   session it ends, so a link or image on another site cannot sign anyone out, and a cross-site POST
 *   (Sec-Fetch-Site / Origin) is refused.
 * - The browser then goes to `post_logout_redirect_uri` only when it exactly matches one registered for the client
 *   identified by the hint (or `client_id`, §3), otherwise to a "signed out" page: no open redirect.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { decodeJwt, decodeProtectedHeader, jwtVerify } from 'jose';
import { z } from 'zod';
import { clearCookie, readCookie } from '../../platform/cookies.ts';
import { isCrossSite, verifyCsrf } from '../../platform/csrf.ts';
import type { Tenant } from '../../platform/tenancy/tenant.ts';
import { recordAudit } from '../../audit/service.ts';
import { endSession, findSession, SESSION_COOKIE } from '../../signin/sessions.ts';
import { htmlReply, logoutCsrf } from '../../signin/routes.ts';
import { escapeHtml, messagePage, page } from '../../signin/pages.ts';
import type { OAuthDeps } from '../plugin.ts';

export const END_SESSION_PATH = '/oauth2/logout';

const params = z.looseObject({
  id_token_hint: z.string().optional(),
  post_logout_redirect_uri: z.string().optional(),
  client_id: z.string().optional(),
  state: z.string().optional(),
  csrf: z.string().optional().describe('Set by the confirmation page only'),
});
type Params = z.infer<typeof params>;

interface Hint {
  clientId: string | undefined;
  sub: string | undefined;
  sid: string | undefined;
}

/** The hint may be expired (§2: "the OP SHOULD accept it"); its signature and issuer must still be ours. */
async function readHint(deps: OAuthDeps, tenant: Tenant, token: string): Promise<Hint | undefined> {
  try {
    const { kid } = decodeProtectedHeader(token);
    const key = kid ? await deps.keys.verificationKey(tenant.id, kid) : undefined;
    if (!key) return undefined;
    const { payload } = await jwtVerify(token, key.key, { issuer: tenant.issuer, currentDate: new Date(decodeJwt(token).iat! * 1000) });
    const aud = Array.isArray(payload.aud) ? payload.aud[0] : payload.aud;
    return { clientId: aud, sub: payload.sub, sid: typeof payload.sid === 'string' ? payload.sid : undefined };
  } catch {
    return undefined;
  }
}

function confirmPage(tenantName: string, fields: Record<string, string | undefined>): string {
  const hidden = Object.entries(fields)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `<input type="hidden" name="${k}" value="${escapeHtml(v!)}">`)
    .join('');
  return page({
    title: 'Sign out?',
    tenantName,
    body: `<p>An application asked to sign you out of ${escapeHtml(tenantName)}.</p><form method="post" action="${END_SESSION_PATH}">${hidden}<button type="submit">Sign out</button></form><a class="button secondary" href="/">Stay signed in</a>`,
  });
}

export function endSessionRoutes(app: FastifyInstance, deps: OAuthDeps) {
  const handler = (source: 'query' | 'body') => async (request: FastifyRequest, reply: FastifyReply) => {
    const p = (source === 'query' ? request.query : request.body) as Params;
    const tenant = request.tenant;
    const scope = deps.scopeFor(tenant.id);
    reply.header('cache-control', 'no-store');

    const hint = typeof p.id_token_hint === 'string' ? await readHint(deps, tenant, p.id_token_hint) : undefined;
    // §3: with both, client_id must be the hint's audience; a hint that is not ours names no client.
    let clientId = typeof p.client_id === 'string' ? p.client_id : undefined;
    if (typeof p.id_token_hint === 'string') clientId = hint && (!clientId || hint.clientId === clientId) ? hint.clientId : undefined;
    const wanted = typeof p.post_logout_redirect_uri === 'string' ? p.post_logout_redirect_uri : undefined;
    const client = wanted && clientId ? (await deps.directory.client(tenant.id, clientId))?.client : undefined;
    const target = wanted && client?.postLogoutRedirectUris.includes(wanted) ? wanted : undefined;

    const refuse = () =>
      htmlReply(reply, 403, messagePage({ title: 'Not signed out', tenantName: tenant.displayName, message: 'This sign-out request did not come from this site.', status: 'error' }));
    const confirmation = source === 'body' && p.csrf !== undefined;
    // The confirmation page's form: only from our own page (checked first: another site learns nothing else)…
    if (confirmation && isCrossSite(request, tenant.issuer)) return refuse();
    const sessionCookie = readCookie(request, SESSION_COOKIE);
    const session = await findSession(scope, deps.keyring, sessionCookie);
    if (session && sessionCookie) {
      if (confirmation) {
        // …and with the token of this very session.
        if (!verifyCsrf(deps.keyring, 'logout', sessionCookie, p.csrf)) return refuse();
      } else if (!hint || hint.sub !== session.userId || (hint.sid !== undefined && hint.sid !== session.sid)) {
        const form = { csrf: logoutCsrf(deps.keyring, sessionCookie), client_id: target ? clientId : undefined, post_logout_redirect_uri: target, state: target && typeof p.state === 'string' ? p.state : undefined };
        return htmlReply(reply, 200, confirmPage(tenant.displayName, form), { formTargets: target ? [new URL(target).origin] : [] });
      }
      await scope.transaction(async (tx) => {
        await endSession(tx, deps.keyring, sessionCookie);
        await recordAudit(tx, { type: 'user', id: session.userId, ip: request.ip }, { action: 'session.end', targetType: 'user', targetId: session.userId, after: { sid: session.sid, reason: 'logout', clientId: clientId ?? null } });
      });
    }
    clearCookie(request, reply, SESSION_COOKIE);
    if (target) {
      const url = new URL(target);
      if (typeof p.state === 'string') url.searchParams.set('state', p.state);
      return reply.redirect(url.toString(), 303);
    }
    return reply.redirect('/signed-out', 303);
  };
  const schema = { operationId: 'oidc.logout', tags: ['OAuth'], summary: 'End session (RP-initiated logout)' };
  app.get(END_SESSION_PATH, { schema: { ...schema, querystring: params } }, handler('query'));
  app.post(END_SESSION_PATH, { schema: { ...schema, operationId: 'oidc.logout.post', body: params } }, handler('body'));
}
