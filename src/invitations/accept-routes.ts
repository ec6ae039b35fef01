/**
 * `GET/POST /invitations/accept?token=…`: the invitee's page, server-rendered like the sign-in pages.
 * - GET only shows the invitation (mail scanners and link previews fetch links; they must not use them up).
 * - POST accepts, once, behind the CSRF defences of platform/csrf.ts: a token bound to a random cookie of this
 *   browser and to the invitation, and refusal of cross-site posts (Origin, Sec-Fetch-Site).
 * - Then, by the invitee's address: when its domain is a verified domain of an organization with an active SSO
 *   connection (or a tenant-wide upstream lists it), the invitee continues there (signin/routing.ts); when the
 *   invitation created the account, they choose a password (users/password-policy.ts) and are signed in; otherwise
 *   they sign in as they already do.
 * The URL carries the token: the page sends no Referer to other origins (Referrer-Policy: same-origin) and is never
 * cached. Not no-referrer: under it Chromium sends `Origin: null` on the page's own form post, which the cross-site
 * check refuses, so no real browser could accept (found by test/account/account.browser.test.ts).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { ScopeFor } from '../platform/db.ts';
import type { Keyring } from '../platform/crypto.ts';
import { clearCookie, readCookie, setCookie } from '../platform/cookies.ts';
import { csrfToken, isCrossSite, verifyCsrf } from '../platform/csrf.ts';
import { recordAudit } from '../audit/service.ts';
import { passwordProblem, PASSWORD_MIN_LENGTH } from '../users/password-policy.ts';
import { escapeHtml, messagePage, page } from '../signin/pages.ts';
import { htmlReply } from '../signin/routes.ts';
import { route } from '../signin/routing.ts';
import { routedStartPath } from '../signin/connection-routes.ts';
import { clientOf, createSession, SESSION_ABSOLUTE_SECONDS, SESSION_COOKIE } from '../signin/sessions.ts';
import { acceptInvitation, ACCEPT_PATH, findByToken, type PresentedInvitation } from './service.ts';

/** This browser's acceptance: a random id the form's CSRF token is bound to. */
const ACCEPT_COOKIE = 'iam_invitation';
const ACCEPT_COOKIE_SECONDS = 3600;

export interface AcceptDeps {
  scopeFor: ScopeFor;
  keyring: Keyring;
}

type Mode = { kind: 'sso'; startPath: string } | { kind: 'password' } | { kind: 'signin' };

function reply(r: FastifyReply, status: number, body: string) {
  return htmlReply(r.header('referrer-policy', 'same-origin'), status, body);
}

function browserId(request: FastifyRequest, r: FastifyReply): string {
  let id = readCookie(request, ACCEPT_COOKIE);
  if (!id || !/^[A-Za-z0-9_-]{22}$/.test(id)) {
    id = randomBytes(16).toString('base64url');
    setCookie(request, r, ACCEPT_COOKIE, id, { maxAgeSeconds: ACCEPT_COOKIE_SECONDS });
  }
  return id;
}

/** Bound to the browser and to this invitation's token, so a form for one invitation cannot accept another. */
const binding = (browser: string, token: string) => `${browser}\u0000${token}`;

async function modeOf(deps: AcceptDeps, request: FastifyRequest, presented: PresentedInvitation): Promise<Mode> {
  const routed = await route(deps.scopeFor(request.tenant.id), { loginHint: presented.invitation.email });
  if (routed && !('error' in routed)) return { kind: 'sso', startPath: routedStartPath(routed, '/', { loginHint: presented.invitation.email }) };
  return presented.maySetPassword ? { kind: 'password' } : { kind: 'signin' };
}

const STATE_MESSAGES = {
  accepted: 'This invitation has already been accepted. Sign in to continue.',
  expired: 'This invitation has expired. Ask the person who invited you to send it again.',
  revoked: 'This invitation was withdrawn.',
  invalid: 'This invitation link is not valid. Check that you opened the whole link from the email.',
} as const;

function goneOrInvalid(request: FastifyRequest, r: FastifyReply, state: keyof typeof STATE_MESSAGES) {
  // 410: the link existed and is used up; 404: it names nothing.
  return reply(r, state === 'invalid' ? 404 : 410, messagePage({ title: 'Invitation', tenantName: request.tenant.displayName, message: STATE_MESSAGES[state], status: 'error' }));
}

function acceptPage(request: FastifyRequest, presented: PresentedInvitation, mode: Mode, token: string, csrf: string, error?: string): string {
  const { invitation, organizationName } = presented;
  const where = organizationName ? `${organizationName} on ${request.tenant.displayName}` : request.tenant.displayName;
  const alert = error ? `<p class="error" role="alert">${escapeHtml(error)}</p>` : '';
  const fields =
    mode.kind === 'password'
      ? `<label for="password">Choose a password</label><input id="password" name="password" type="password" autocomplete="new-password" minlength="${PASSWORD_MIN_LENGTH}" required aria-describedby="password-help">
<p id="password-help">At least ${PASSWORD_MIN_LENGTH} characters. Common passwords are refused.</p>
<label for="password_confirm">Repeat the password</label><input id="password_confirm" name="password_confirm" type="password" autocomplete="new-password" minlength="${PASSWORD_MIN_LENGTH}" required>`
      : '';
  const action = mode.kind === 'password' ? 'Accept and create account' : mode.kind === 'sso' ? 'Accept and continue with single sign-on' : 'Accept invitation';
  return page({
    title: 'You are invited',
    tenantName: request.tenant.displayName,
    body: `${alert}<p>${escapeHtml(invitation.email)} is invited to join <strong>${escapeHtml(where)}</strong>.</p>
<p>This invitation expires on ${escapeHtml(invitation.expiresAt.toUTCString())}.</p>
<form method="post" action="${ACCEPT_PATH}"><input type="hidden" name="token" value="${escapeHtml(token)}"><input type="hidden" name="csrf" value="${escapeHtml(csrf)}">
<input type="hidden" name="username" value="${escapeHtml(invitation.email)}" autocomplete="username">
${fields}<button type="submit">${action}</button></form>`,
  });
}

export function acceptRoutes(app: FastifyInstance, deps: AcceptDeps) {
  app.get(ACCEPT_PATH, { schema: { hide: true, querystring: z.looseObject({ token: z.string().optional() }) } }, async (request, r) => {
    const token = (request.query as { token?: string }).token ?? '';
    const presented = await findByToken(deps.scopeFor(request.tenant.id), deps.keyring, token);
    if (!presented) return goneOrInvalid(request, r, 'invalid');
    if (presented.invitation.status !== 'pending') return goneOrInvalid(request, r, presented.invitation.status);
    const mode = await modeOf(deps, request, presented);
    return reply(r, 200, acceptPage(request, presented, mode, token, csrfToken(deps.keyring, 'invitation', binding(browserId(request, r), token))));
  });

  app.post(ACCEPT_PATH, { schema: { hide: true } }, async (request, r) => {
    const body = (request.body ?? {}) as Record<string, unknown>;
    const token = typeof body.token === 'string' ? body.token : '';
    const scope = deps.scopeFor(request.tenant.id);
    const presented = await findByToken(scope, deps.keyring, token);
    if (!presented) return goneOrInvalid(request, r, 'invalid');
    if (presented.invitation.status !== 'pending') return goneOrInvalid(request, r, presented.invitation.status);
    const mode = await modeOf(deps, request, presented);
    const again = (status: number, error: string) =>
      reply(r, status, acceptPage(request, presented, mode, token, csrfToken(deps.keyring, 'invitation', binding(browserId(request, r), token)), error));
    // A forged acceptance would bind the victim's browser to an account the attacker chose the password of.
    if (isCrossSite(request, request.tenant.issuer)) return again(403, 'This form was sent from another site. Please use this page.');
    const browser = readCookie(request, ACCEPT_COOKIE);
    if (!browser || !verifyCsrf(deps.keyring, 'invitation', binding(browser, token), body.csrf)) return again(400, 'This form expired. Please try again.');

    let password: string | undefined;
    if (mode.kind === 'password') {
      password = typeof body.password === 'string' ? body.password : '';
      if (password !== body.password_confirm) return again(400, 'The two passwords are not the same.');
      const problem = passwordProblem(password, { email: presented.invitation.email });
      if (problem) return again(400, problem);
    }
    let cookie: string | undefined;
    const outcome = await acceptInvitation(scope, deps.keyring, token, {
      password,
      ip: request.ip,
      // A new password signs the invitee in at once: a fresh session, as at every sign-in.
      alsoInTransaction:
        mode.kind === 'password'
          ? async (tx, userId) => {
              const created = await createSession(tx, deps.keyring, userId, 'pwd', clientOf(request));
              await recordAudit(tx, { type: 'user', id: userId, ip: request.ip }, { action: 'signin.success', targetType: 'user', targetId: userId, after: { method: 'pwd', via: 'invitation', sid: created.session.sid } });
              cookie = created.cookie;
            }
          : undefined,
    });
    // Lost a race with another acceptance of the same link.
    if (!outcome.ok) return goneOrInvalid(request, r, outcome.reason === 'used' ? 'accepted' : 'invalid');
    clearCookie(request, r, ACCEPT_COOKIE);
    if (cookie) {
      setCookie(request, r, SESSION_COOKIE, cookie, { maxAgeSeconds: SESSION_ABSOLUTE_SECONDS });
      return r.header('cache-control', 'no-store').redirect('/', 303);
    }
    if (mode.kind === 'sso') {
      // A link, not a redirect: the IdP is another origin, which this page's CSP form-action does not list.
      return reply(
        r,
        200,
        page({
          title: 'Invitation accepted',
          tenantName: request.tenant.displayName,
          body: `<p>Your organization signs you in with its identity provider.</p><a class="button" href="${escapeHtml(mode.startPath)}">Continue with single sign-on</a>`,
        }),
      );
    }
    return r.header('cache-control', 'no-store').redirect(`/login?${new URLSearchParams({ return_to: '/', login_hint: presented.invitation.email }).toString()}`, 303);
  });
}
