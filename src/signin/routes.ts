/**
 * `/login`: the hosted sign-in page. Local passwords here; upstream providers are listed when configured.
 * `return_to` is only ever a path on this host (no open redirect). The form's CSRF token is an HMAC of a random
 * sign-in transaction id kept in a cookie (platform/csrf.ts), and cross-site posts are refused by Origin and
 * Sec-Fetch-Site. Failures are generic, take the same time, are limited per platform/rate-limit.ts and audited.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { ScopeFor, TenantScope } from '../platform/db.ts';
import type { Keyring } from '../platform/crypto.ts';
import { clearCookie, readCookie, setCookie } from '../platform/cookies.ts';
import { csrfToken, isCrossSite, verifyCsrf } from '../platform/csrf.ts';
import { failureFloor, TooManyAttempts, type FailureLimiter } from '../platform/rate-limit.ts';
import { recordAudit } from '../audit/service.ts';
import type { SigninMetrics } from '../platform/metrics.ts';
import { continuePage, escapeHtml, loginPage, messagePage, page } from './pages.ts';
import { allProviders, route } from './routing.ts';
import { routedStartPath } from './connection-routes.ts';
import { startPath } from './upstream-routes.ts';
import { findSession } from './sessions.ts';
import { findUserById } from '../users/service.ts';
import { verifyPasswordLogin } from '../users/login.ts';
import { clientOf, createSession, SESSION_ABSOLUTE_SECONDS, SESSION_COOKIE } from './sessions.ts';

export const LOGIN_PATH = '/login';
/** The sign-in transaction: a random id the login form's CSRF token is bound to. */
const LOGIN_COOKIE = 'iam_login';
const LOGIN_COOKIE_SECONDS = 3600;
/** The least time a failed password sign-in takes: above argon2id's verification (~40 ms here) and the queries. */
export const LOGIN_FAILURE_FLOOR_MS = 250;

export interface SigninDeps {
  scopeFor: ScopeFor;
  keyring: Keyring;
  limiter: FailureLimiter;
  metrics: SigninMetrics;
}

/**
 * The login page's buttons: tenant-wide providers only. One bound to an organization is that organization's way in,
 * as its SSO connections are (reached by `organization_id`, `connection_id` or a verified domain, signin/routing.ts),
 * and not offered to everyone who opens the page, which may be another organization's sign-in.
 */
async function providerLinks(scope: TenantScope, returnTo: string) {
  return (await allProviders(scope)).filter((p) => p.organizationId === null).map((p) => ({ displayName: p.displayName, href: startPath(p.type, p.id, returnTo) }));
}

/** Only same-origin paths: `/x`, never `//host` or `/\host` (browsers treat both as other origins). */
export function safeReturnTo(value: unknown): string {
  return typeof value === 'string' && /^\/(?![/\\])[\x21-\x7e]*$/.test(value) ? value : '/';
}

/** The login form's token, bound to this browser's sign-in transaction (started here when there is none). */
function loginCsrf(request: FastifyRequest, reply: FastifyReply, keyring: Keyring): string {
  let id = readCookie(request, LOGIN_COOKIE);
  if (!id || !/^[A-Za-z0-9_-]{22}$/.test(id)) {
    id = randomBytes(16).toString('base64url');
    setCookie(request, reply, LOGIN_COOKIE, id, { maxAgeSeconds: LOGIN_COOKIE_SECONDS });
  }
  return csrfToken(keyring, 'login', id);
}

/** The sign-out form's token, bound to the session it ends (its secret cookie value). */
export function logoutCsrf(keyring: Keyring, sessionCookie: string): string {
  return csrfToken(keyring, 'logout', sessionCookie);
}

/**
 * An HTML answer that no other site can frame and that loads nothing from elsewhere. `formTargets`: origins a form
 * on the page may end up at (CSP form-action also governs the redirects after a submission).
 */
function html(reply: FastifyReply, status: number, body: string, opts: { formTargets?: string[] } = {}) {
  const formAction = ["'self'", ...(opts.formTargets ?? [])].join(' ');
  return reply
    .status(status)
    .header('content-type', 'text/html; charset=utf-8')
    .header('cache-control', 'no-store')
    .header('x-frame-options', 'DENY')
    .header('content-security-policy', `default-src 'none'; style-src 'unsafe-inline'; form-action ${formAction}; frame-ancestors 'none'; base-uri 'none'`)
    .send(body);
}

export function signinRoutes(app: FastifyInstance, deps: SigninDeps) {
  app.get(LOGIN_PATH, { schema: { hide: true, querystring: z.looseObject({ return_to: z.string().optional(), login_hint: z.string().optional() }) } }, async (request, reply) => {
    const { return_to, login_hint } = request.query as { return_to?: string; login_hint?: string };
    const returnTo = safeReturnTo(return_to);
    const providers = await providerLinks(deps.scopeFor(request.tenant.id), returnTo);
    return html(reply, 200, loginPage({ tenantName: request.tenant.displayName, returnTo, csrf: loginCsrf(request, reply, deps.keyring), login: login_hint?.slice(0, 320), providers }));
  });

  app.post(LOGIN_PATH, { schema: { hide: true } }, async (request, reply) => {
    const started = performance.now();
    const body = (request.body ?? {}) as Record<string, unknown>;
    const returnTo = safeReturnTo(body.return_to);
    // NUL cannot be stored or looked up (PostgreSQL text): such a name is no account's.
    const login = typeof body.login === 'string' && !body.login.includes('\u0000') ? body.login : '';
    const password = typeof body.password === 'string' ? body.password : '';
    const tenant = request.tenant;
    const scope = deps.scopeFor(tenant.id);
    const again = async (status: number, error: string) =>
      html(reply, status, loginPage({ tenantName: tenant.displayName, returnTo, csrf: loginCsrf(request, reply, deps.keyring), error, login, providers: await providerLinks(scope, returnTo) }));
    // Login CSRF would sign the victim into the attacker's account: refuse other sites, then check the token.
    if (isCrossSite(request, tenant.issuer)) return again(403, 'This sign-in form was sent from another site. Please sign in here.');
    if (!verifyCsrf(deps.keyring, 'login', readCookie(request, LOGIN_COOKIE), body.csrf)) return again(400, 'Your sign-in form expired. Please try again.');
    // Home-realm discovery: an email whose domain belongs to an SSO connection goes to that provider.
    const routed = await route(scope, { loginHint: login.trim() });
    if (routed && !('error' in routed)) return html(reply, 200, continuePage({ tenantName: tenant.displayName, href: routedStartPath(routed, returnTo, { loginHint: login.trim() }) }));
    const normalized = login.trim().toLowerCase().slice(0, 320);
    const attempt = { tenantId: tenant.id, kind: 'login' as const, credential: normalized, address: request.ip };
    try {
      await deps.limiter.check(attempt);
    } catch (e) {
      if (e instanceof TooManyAttempts) {
        reply.header('retry-after', String(e.retryAfterSeconds));
        return again(429, `Too many attempts. Try again in ${e.retryAfterSeconds} seconds.`);
      }
      throw e;
    }
    const user = await verifyPasswordLogin(scope, login, password);
    if (!user) {
      await deps.limiter.fail(attempt);
      // The typed name is the target: whether such an account exists is not recorded (nor shown) here.
      await recordAudit(scope, { type: 'system', id: 'signin', ip: request.ip }, { action: 'signin.failure', targetType: 'login', targetId: normalized, after: { method: 'pwd', outcome: 'rejected' } });
      deps.metrics.recordSignin('password', 'failure');
      await failureFloor(started, LOGIN_FAILURE_FLOOR_MS);
      return again(401, 'The email or password is not correct.');
    }
    // A fresh session id at every sign-in: a cookie planted before sign-in is worthless after it.
    const { cookie } = await scope.transaction(async (tx) => {
      const created = await createSession(tx, deps.keyring, user.id, 'pwd', clientOf(request));
      await recordAudit(tx, { type: 'user', id: user.id, ip: request.ip }, { action: 'signin.success', targetType: 'user', targetId: user.id, after: { method: 'pwd', sid: created.session.sid } });
      return created;
    });
    deps.metrics.recordSignin('password', 'success');
    setCookie(request, reply, SESSION_COOKIE, cookie, { maxAgeSeconds: SESSION_ABSOLUTE_SECONDS });
    clearCookie(request, reply, LOGIN_COOKIE);
    return reply.redirect(returnTo, 303);
  });

  app.get('/signed-out', { schema: { hide: true } }, async (request, reply) =>
    html(reply, 200, messagePage({ title: 'Signed out', tenantName: request.tenant.displayName, message: 'You are signed out.' })),
  );

  // The environment's landing page: who is signed in, or the way to sign in.
  app.get('/', { schema: { hide: true } }, async (request, reply) => {
    const scope = deps.scopeFor(request.tenant.id);
    const sessionCookie = readCookie(request, SESSION_COOKIE);
    const session = await findSession(scope, deps.keyring, sessionCookie);
    const subject = session ? await findUserById(scope, session.userId) : undefined;
    if (!subject?.active || !sessionCookie) return reply.redirect(`${LOGIN_PATH}?return_to=%2F`, 303);
    const who = subject.displayName ?? subject.email ?? subject.userName;
    const signOut = `<form method="post" action="${END_SESSION_FORM_PATH}"><input type="hidden" name="csrf" value="${escapeHtml(logoutCsrf(deps.keyring, sessionCookie))}"><button type="submit" class="button secondary">Sign out</button></form>`;
    const account = `<a class="button" href="/account">Your account</a>`;
    return html(reply, 200, page({ title: `Signed in as ${who}`, tenantName: request.tenant.displayName, body: `<p>Roles: ${escapeHtml(subject.roles.join(', ') || 'none')}</p>${account}${signOut}` }));
  });
}

/** Where the sign-out form posts: the OpenID end-session endpoint (src/oauth/routes/end-session.ts). */
const END_SESSION_FORM_PATH = '/oauth2/logout';

export { html as htmlReply };

/**
 * The error handler of the HTML surfaces (sign-in, portal, account): a page, never a JSON body or a stack; a client
 * mistake says so, anything else is logged as `<what> failure` and shown as a plain "try again".
 */
export function htmlErrorHandler(what: string) {
  return (err: { statusCode?: number }, request: FastifyRequest, reply: FastifyReply) => {
    const status = err.statusCode && err.statusCode < 500 ? err.statusCode : 500;
    if (status === 500) request.log.error({ err }, `${what} failure`);
    return html(reply, status, messagePage({ title: 'Something went wrong', tenantName: request.tenant?.displayName ?? '', message: status === 500 ? 'Please try again.' : 'The request was not valid.', status: 'error' }));
  };
}
