/**
 * `/account`: the signed-in user's own account page (issue #14 item 4). HTML forms, each answered by a redirect back
 * to the page (post/redirect/get) or, on a refusal, the page again with the reason. Every form is bound to the
 * session: a CSRF token that is an HMAC of the session cookie (platform/csrf.ts), and cross-site posts are refused by
 * Origin and Sec-Fetch-Site. The current password is limited like a sign-in (platform/rate-limit.ts).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ScopeFor } from '../platform/db.ts';
import type { Keyring } from '../platform/crypto.ts';
import { clearCookie, readCookie, setCookie } from '../platform/cookies.ts';
import { csrfToken, isCrossSite, verifyCsrf } from '../platform/csrf.ts';
import { DomainError } from '../platform/errors/domain.ts';
import { toProblem } from '../platform/errors/problem.ts';
import { failureFloor, TooManyAttempts, type FailureLimiter } from '../platform/rate-limit.ts';
import { escapeHtml } from '../signin/pages.ts';
import { htmlReply, LOGIN_FAILURE_FLOOR_MS, logoutCsrf } from '../signin/routes.ts';
import { clientOf, findSession, SESSION_ABSOLUTE_SECONDS, SESSION_COOKIE, type Session } from '../signin/sessions.ts';
import { WrongPassword } from '../users/self-service.ts';
import { accountPage, type Notice } from './pages.ts';
import { accountOverview, changePassword, endOneSession, endOtherSessions, renameAccount, unlinkOwnIdentity } from './service.ts';

export const ACCOUNT_PATH = '/account';

export interface AccountDeps {
  scopeFor: ScopeFor;
  keyring: Keyring;
  limiter: FailureLimiter;
}

/** What a redirect back to the page says (`?done=`). */
const DONE: Record<string, string> = {
  name: 'Your name is saved.',
  ended: 'The session has ended.',
  'ended-others': 'Every other session has ended.',
  unlinked: 'The identity is unlinked.',
  password: 'Your password is changed. Every other session has ended.',
};

interface Signed {
  session: Session;
  cookie: string;
}

const str = (body: unknown, name: string) => {
  const v = (body as Record<string, unknown> | undefined)?.[name];
  return typeof v === 'string' && !v.includes('\u0000') ? v : '';
};

/** Not signed in (or no longer active): sign in first, then back here. */
const toLogin = (reply: FastifyReply) => reply.redirect(`/login?return_to=${encodeURIComponent(ACCOUNT_PATH)}`, 303);

export function accountRoutes(app: FastifyInstance, deps: AccountDeps) {
  const scopeOf = (request: FastifyRequest) => deps.scopeFor(request.tenant.id);

  async function signedIn(request: FastifyRequest): Promise<Signed | undefined> {
    const cookie = readCookie(request, SESSION_COOKIE);
    const session = await findSession(scopeOf(request), deps.keyring, cookie);
    return session && cookie ? { session, cookie } : undefined;
  }

  async function render(request: FastifyRequest, reply: FastifyReply, signed: Signed, status: number, notice?: Notice) {
    const account = await accountOverview(scopeOf(request), signed.session);
    if (!account.user.active) return toLogin(reply);
    const signOutForm = `<form method="post" action="/oauth2/logout"><input type="hidden" name="csrf" value="${escapeHtml(logoutCsrf(deps.keyring, signed.cookie))}"><button type="submit" class="button secondary">Sign out</button></form>`;
    return htmlReply(reply, status, accountPage({ tenantName: request.tenant.displayName, account, csrf: csrfToken(deps.keyring, 'account', signed.cookie), notice, signOutForm }));
  }

  /** A form post: the session, from this site, with its token; otherwise the answer that was sent. */
  async function enter(request: FastifyRequest, reply: FastifyReply): Promise<Signed | FastifyReply> {
    const signed = await signedIn(request);
    if (!signed) return toLogin(reply);
    if (isCrossSite(request, request.tenant.issuer)) return render(request, reply, signed, 403, { kind: 'error', text: 'This form was sent from another site; nothing was changed.' });
    if (!verifyCsrf(deps.keyring, 'account', signed.cookie, str(request.body, 'csrf'))) return render(request, reply, signed, 400, { kind: 'error', text: 'The form expired; nothing was changed. Please try again.' });
    return signed;
  }
  const isSigned = (v: Signed | FastifyReply): v is Signed => 'session' in v;

  /** Runs a change; a refusal of the rules (DomainError) shows the page again with its reason. */
  async function attempt(request: FastifyRequest, reply: FastifyReply, signed: Signed, change: () => Promise<string | FastifyReply>) {
    try {
      const done = await change();
      return typeof done === 'string' ? reply.redirect(`${ACCOUNT_PATH}?done=${done}`, 303) : done;
    } catch (e) {
      if (e instanceof DomainError) {
        // The status /api would answer (platform/errors/problem.ts), on the page with the reason.
        return render(request, reply, signed, toProblem(e).status, { kind: 'error', text: e.message });
      }
      throw e;
    }
  }

  app.get(ACCOUNT_PATH, { schema: { hide: true } }, async (request, reply) => {
    const signed = await signedIn(request);
    if (!signed) return toLogin(reply);
    const done = DONE[String((request.query as Record<string, unknown>).done ?? '')];
    return render(request, reply, signed, 200, done ? { kind: 'ok', text: done } : undefined);
  });

  app.post(`${ACCOUNT_PATH}/profile`, { schema: { hide: true } }, async (request, reply) => {
    const signed = await enter(request, reply);
    if (!isSigned(signed)) return signed;
    return attempt(request, reply, signed, async () => {
      // Not through `str`: a NUL or other control character is refused with a reason, not dropped.
      const raw = (request.body as Record<string, unknown> | undefined)?.displayName;
      await renameAccount(scopeOf(request), signed.session, request.ip, typeof raw === 'string' ? raw : '');
      return 'name';
    });
  });

  app.post(`${ACCOUNT_PATH}/sessions/end`, { schema: { hide: true } }, async (request, reply) => {
    const signed = await enter(request, reply);
    if (!isSigned(signed)) return signed;
    const sid = str(request.body, 'sid');
    return attempt(request, reply, signed, async () => {
      const ended = await endOneSession(scopeOf(request), signed.session, request.ip, sid);
      if (!ended) return render(request, reply, signed, 404, { kind: 'error', text: 'That session has already ended.' });
      if (sid !== signed.session.sid) return 'ended';
      clearCookie(request, reply, SESSION_COOKIE);
      return reply.redirect('/signed-out', 303);
    });
  });

  app.post(`${ACCOUNT_PATH}/sessions/end-others`, { schema: { hide: true } }, async (request, reply) => {
    const signed = await enter(request, reply);
    if (!isSigned(signed)) return signed;
    return attempt(request, reply, signed, async () => {
      await endOtherSessions(scopeOf(request), signed.session, request.ip);
      return 'ended-others';
    });
  });

  app.post(`${ACCOUNT_PATH}/identities/unlink`, { schema: { hide: true } }, async (request, reply) => {
    const signed = await enter(request, reply);
    if (!isSigned(signed)) return signed;
    const key = { providerType: str(request.body, 'providerType'), providerId: str(request.body, 'providerId'), subject: str(request.body, 'subject') };
    return attempt(request, reply, signed, async () => {
      await unlinkOwnIdentity(scopeOf(request), signed.session, request.ip, key);
      return 'unlinked';
    });
  });

  app.post(`${ACCOUNT_PATH}/password`, { schema: { hide: true } }, async (request, reply) => {
    const started = performance.now();
    const signed = await enter(request, reply);
    if (!isSigned(signed)) return signed;
    const [current, next, confirm] = [str(request.body, 'current_password'), str(request.body, 'new_password'), str(request.body, 'new_password_confirm')];
    if (next !== confirm) return render(request, reply, signed, 400, { kind: 'error', text: 'The two new passwords differ; nothing was changed.' });
    const limited = { tenantId: request.tenant.id, kind: 'account-password' as const, credential: signed.session.userId, address: request.ip };
    try {
      await deps.limiter.check(limited);
    } catch (e) {
      if (!(e instanceof TooManyAttempts)) throw e;
      reply.header('retry-after', String(e.retryAfterSeconds));
      return render(request, reply, signed, 429, { kind: 'error', text: `Too many attempts. Try again in ${e.retryAfterSeconds} seconds.` });
    }
    return attempt(request, reply, signed, async () => {
      try {
        const { cookie } = await changePassword(scopeOf(request), deps.keyring, signed.session, clientOf(request), current, next);
        setCookie(request, reply, SESSION_COOKIE, cookie, { maxAgeSeconds: SESSION_ABSOLUTE_SECONDS });
        return 'password';
      } catch (e) {
        if (e instanceof WrongPassword) {
          await deps.limiter.fail(limited);
          await failureFloor(started, LOGIN_FAILURE_FLOOR_MS);
        }
        throw e;
      }
    });
  });
}
