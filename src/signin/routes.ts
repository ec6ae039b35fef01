/**
 * `/login`: the hosted sign-in page. Local passwords here; upstream providers are listed when configured.
 * `return_to` is only ever a path on this host (no open redirect), and the form carries a double-submit CSRF token.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { ScopeFor, TenantScope } from '../platform/db.ts';
import type { Keyring } from '../platform/crypto.ts';
import { safeEqual } from '../platform/crypto.ts';
import { clearCookie, readCookie, setCookie } from '../platform/cookies.ts';
import { TooManyAttempts, type FailureLimiter } from '../platform/rate-limit.ts';
import { escapeHtml, loginPage, messagePage, page } from './pages.ts';
import { allProviders, route } from './routing.ts';
import { startPath } from './upstream-routes.ts';
import { findSession } from './sessions.ts';
import { findSubject } from '../oauth/subjects.ts';
import { verifyPasswordLogin } from './password.ts';
import { createSession, SESSION_ABSOLUTE_SECONDS, SESSION_COOKIE } from './sessions.ts';

export const LOGIN_PATH = '/login';
const CSRF_COOKIE = 'iam_csrf';

export interface SigninDeps {
  scopeFor: ScopeFor;
  keyring: Keyring;
  limiter: FailureLimiter;
}

async function providerLinks(scope: TenantScope, returnTo: string) {
  return (await allProviders(scope)).map((p) => ({ displayName: p.displayName, href: startPath(p.type, p.id, returnTo) }));
}

/** Only same-origin paths: `/x`, never `//host` or `/\host` (browsers treat both as other origins). */
export function safeReturnTo(value: unknown): string {
  return typeof value === 'string' && /^\/(?![/\\])[\x21-\x7e]*$/.test(value) ? value : '/';
}

function csrfToken(request: FastifyRequest, reply: FastifyReply): string {
  const existing = readCookie(request, CSRF_COOKIE);
  if (existing && /^[A-Za-z0-9_-]{22}$/.test(existing)) return existing;
  const token = randomBytes(16).toString('base64url');
  setCookie(request, reply, CSRF_COOKIE, token);
  return token;
}

function html(reply: FastifyReply, status: number, body: string) {
  return reply
    .status(status)
    .header('content-type', 'text/html; charset=utf-8')
    .header('cache-control', 'no-store')
    .header('x-frame-options', 'DENY')
    .header('content-security-policy', "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
    .send(body);
}

export function signinRoutes(app: FastifyInstance, deps: SigninDeps) {
  app.get(LOGIN_PATH, { schema: { hide: true, querystring: z.looseObject({ return_to: z.string().optional(), login_hint: z.string().optional() }) } }, async (request, reply) => {
    const { return_to, login_hint } = request.query as { return_to?: string; login_hint?: string };
    const returnTo = safeReturnTo(return_to);
    const providers = await providerLinks(deps.scopeFor(request.tenant.id), returnTo);
    return html(reply, 200, loginPage({ tenantName: request.tenant.displayName, returnTo, csrf: csrfToken(request, reply), login: login_hint?.slice(0, 320), providers }));
  });

  app.post(LOGIN_PATH, { schema: { hide: true } }, async (request, reply) => {
    const body = (request.body ?? {}) as Record<string, unknown>;
    const returnTo = safeReturnTo(body.return_to);
    const login = typeof body.login === 'string' ? body.login : '';
    const password = typeof body.password === 'string' ? body.password : '';
    const cookieCsrf = readCookie(request, CSRF_COOKIE) ?? '';
    const formCsrf = typeof body.csrf === 'string' ? body.csrf : '';
    const scope = deps.scopeFor(request.tenant.id);
    const again = async (status: number, error: string) =>
      html(reply, status, loginPage({ tenantName: request.tenant.displayName, returnTo, csrf: csrfToken(request, reply), error, login, providers: await providerLinks(scope, returnTo) }));
    if (!cookieCsrf || !safeEqual(Buffer.from(cookieCsrf), Buffer.from(formCsrf))) return again(400, 'Your sign-in form expired. Please try again.');
    const tenantId = request.tenant.id;
    // Home-realm discovery: an email whose domain belongs to an SSO connection goes to that provider.
    const routed = await route(scope, { loginHint: login.trim() });
    if (routed && 'provider' in routed) {
      return reply.redirect(startPath(routed.provider.type, routed.provider.id, returnTo, { loginHint: login.trim() }), 303);
    }
    // Per-account and per-address backoff (failures only); the message never says which part was wrong.
    const keys = [`login:${login.trim().toLowerCase()}`, `login-ip:${request.ip}`];
    try {
      deps.limiter.check(tenantId, keys);
    } catch (e) {
      if (e instanceof TooManyAttempts) {
        reply.header('retry-after', String(e.retryAfterSeconds));
        return again(429, `Too many attempts. Try again in ${e.retryAfterSeconds} seconds.`);
      }
      throw e;
    }
    const user = await verifyPasswordLogin(scope, login, password);
    if (!user) {
      await deps.limiter.fail(tenantId, keys);
      return again(401, 'The email or password is not correct.');
    }
    // A fresh session id at every sign-in: a cookie planted before sign-in is worthless after it.
    const { cookie } = await createSession(scope, deps.keyring, user.id, 'pwd');
    setCookie(request, reply, SESSION_COOKIE, cookie, { maxAgeSeconds: SESSION_ABSOLUTE_SECONDS });
    clearCookie(request, reply, CSRF_COOKIE);
    return reply.redirect(returnTo, 303);
  });

  app.get('/signed-out', { schema: { hide: true } }, async (request, reply) =>
    html(reply, 200, messagePage({ title: 'Signed out', tenantName: request.tenant.displayName, message: 'You are signed out.' })),
  );

  // The environment's landing page: who is signed in, or the way to sign in.
  app.get('/', { schema: { hide: true } }, async (request, reply) => {
    const scope = deps.scopeFor(request.tenant.id);
    const session = await findSession(scope, deps.keyring, readCookie(request, SESSION_COOKIE));
    const subject = session ? await findSubject(scope, session.userId) : undefined;
    if (!subject?.active) return reply.redirect(`${LOGIN_PATH}?return_to=%2F`, 303);
    const who = subject.displayName ?? subject.email ?? subject.userName;
    return html(reply, 200, page({ title: `Signed in as ${who}`, tenantName: request.tenant.displayName, body: `<p>Roles: ${escapeHtml(subject.roles.join(', ') || 'none')}</p><p><a class="button secondary" href="/oauth2/logout">Sign out</a></p>` }));
  });
}

export { html as htmlReply };
