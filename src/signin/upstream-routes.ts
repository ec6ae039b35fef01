/**
 * Upstream sign-in over HTTP:
 * - `GET /login/upstream/{type}/{id}` starts: a sealed, short-lived transaction cookie (state, nonce, PKCE verifier,
 *   where to return) and a redirect to the provider.
 * - `GET /signin-azuread<id>`, `/signin-google<id>`, `/signin-auth0<id>` are the redirect URIs (Bizzkit seed).
 *   A callback without our transaction (IdP-initiated, or replayed) is never accepted as a login: it starts a fresh
 *   SP-initiated sign-in at the same provider instead, once.
 * A provider bound to an organization (`organizationId`) signs in within it, as an SSO connection does: after
 * admission, a non-member joins with `defaultOrganizationRoles` when the provider trusts all users (an invitee keeps
 * the invited roles) and is refused otherwise; the authorization request resumes with `organization_id`, so the
 * tokens carry `org_id` and `org_roles`. Tenant-wide providers are untouched by this.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { ScopeFor, TenantScope } from '../platform/db.ts';
import type { Keyring } from '../platform/crypto.ts';
import type { Outbound } from '../platform/outbound.ts';
import { clearCookie, readCookie, setCookie } from '../platform/cookies.ts';
import { UPSTREAM_TYPES, type UpstreamType } from '../db/schema/index.ts';
import { findProviderWithSecret, redirectUri, SIGNIN_PATH_PREFIX } from '../upstream/service.ts';
import { messagePage } from './pages.ts';
import { htmlReply, safeReturnTo } from './routes.ts';
import { authorizationUrl, completeSignIn, FederationError, type Transaction } from './federation.ts';
import { admit, upstreamSource, type AdmissionRefusal } from './admission.ts';
import { recordAudit, systemActor } from '../audit/service.ts';
import type { SigninMetrics } from '../platform/metrics.ts';
import { clientOf, createSession, SESSION_ABSOLUTE_SECONDS, SESSION_COOKIE } from './sessions.ts';
import { ensureMembership } from './organization-membership.ts';
import { resumeInOrganization } from './organization-resume.ts';

export const UPSTREAM_START_PATH = '/login/upstream';
const TXN_COOKIE = 'iam_signin_txn';
const RESTART_COOKIE = 'iam_signin_restart';
const TXN_SECONDS = 600;
const SEAL_CONTEXT = 'signin-transaction/v1';

/** A sign-in in flight, sealed in a short-lived cookie: which provider (`type` an upstream type, or `oidc`/`saml` for a connection), where to return. */
export interface SealedTransaction extends Partial<Transaction> {
  tenantId: string;
  type: UpstreamType | 'oidc' | 'saml';
  id: string;
  returnTo: string;
  exp: number;
  /** SAML: the AuthnRequest ID the response must answer (InResponseTo). */
  requestId?: string;
  /** A connection test (signin/connection-test.ts): the result is shown, nobody is signed in. */
  test?: { organizationId: string };
}

/** Starts the transaction cookie for a sign-in at `txn.type`/`txn.id`. */
export function saveTransaction(request: FastifyRequest, reply: FastifyReply, keyring: Keyring, txn: Omit<SealedTransaction, 'exp'>): void {
  const sealed: SealedTransaction = { ...txn, exp: Date.now() + TXN_SECONDS * 1000 };
  setCookie(request, reply, TXN_COOKIE, keyring.seal(JSON.stringify(sealed), SEAL_CONTEXT), { maxAgeSeconds: TXN_SECONDS, crossSitePost: txn.type === 'saml' });
}

/**
 * Takes (reads and clears) the transaction for a callback at `type`/`id`; undefined when there is none that fits —
 * an IdP-initiated or replayed response, which is never accepted as a login.
 */
export function takeTransaction(request: FastifyRequest, reply: FastifyReply, keyring: Keyring, type: SealedTransaction['type'], id: string): SealedTransaction | undefined {
  const txn = openTransaction(keyring, readCookie(request, TXN_COOKIE));
  clearCookie(request, reply, TXN_COOKIE);
  if (!txn || txn.tenantId !== request.tenant.id || txn.type !== type || txn.id !== id || txn.exp < Date.now()) return undefined;
  return txn;
}

/** An unsolicited response: restart SP-initiated at `startUrl` once per minute; then a clear error. */
export function restartOnce(request: FastifyRequest, reply: FastifyReply, startUrl: string): FastifyReply {
  if (!readCookie(request, RESTART_COOKIE)) {
    setCookie(request, reply, RESTART_COOKIE, '1', { maxAgeSeconds: 60 });
    return reply.header('cache-control', 'no-store').redirect(startUrl, 303);
  }
  return htmlReply(reply, 400, messagePage({ title: 'Sign-in expired', tenantName: request.tenant.displayName, message: 'This sign-in attempt is no longer valid. Please start again.', status: 'error' }));
}

export function clearRestart(request: FastifyRequest, reply: FastifyReply): void {
  clearCookie(request, reply, RESTART_COOKIE);
}

export function startPath(type: UpstreamType, id: string, returnTo: string, hints: { loginHint?: string; domainHint?: string } = {}): string {
  const q = new URLSearchParams({ return_to: returnTo });
  if (hints.loginHint) q.set('login_hint', hints.loginHint);
  if (hints.domainHint) q.set('domain_hint', hints.domainHint);
  return `${UPSTREAM_START_PATH}/${type}/${encodeURIComponent(id)}?${q.toString()}`;
}

export function upstreamRoutes(app: FastifyInstance, deps: { scopeFor: ScopeFor; keyring: Keyring; outbound: Outbound; metrics: SigninMetrics }) {
  const fail = (request: FastifyRequest, reply: FastifyReply, status: number, title: string, message: string) =>
    htmlReply(reply, status, messagePage({ title, tenantName: request.tenant.displayName, message, status: 'error' }));

  app.get(`${UPSTREAM_START_PATH}/:type/:id`, {
    schema: {
      hide: true,
      params: z.object({ type: z.enum(UPSTREAM_TYPES), id: z.string().max(64) }),
      querystring: z.looseObject({ return_to: z.string().optional(), login_hint: z.string().max(320).optional(), domain_hint: z.string().max(255).optional(), prompt: z.string().optional() }),
    },
    handler: async (request, reply) => {
      const { type, id } = request.params as { type: UpstreamType; id: string };
      const q = request.query as { return_to?: string; login_hint?: string; domain_hint?: string; prompt?: string };
      const provider = await findProviderWithSecret(deps.scopeFor(request.tenant.id), deps.keyring, type, id);
      if (!provider) return fail(request, reply, 404, 'Unknown sign-in method', 'This sign-in method is not configured.');
      const callback = redirectUri(request.tenant.issuer, type, id);
      let started;
      try {
        started = await authorizationUrl(deps.outbound, provider, callback, { loginHint: q.login_hint, domainHint: q.domain_hint, forceLogin: q.prompt === 'login' });
      } catch (e) {
        if (e instanceof FederationError) {
          request.log.warn({ provider: `${type}:${id}`, reason: e.message }, 'upstream sign-in could not start');
          return fail(request, reply, 502, 'Sign-in unavailable', e.userMessage);
        }
        throw e;
      }
      saveTransaction(request, reply, deps.keyring, { ...started.transaction, tenantId: request.tenant.id, type, id, returnTo: safeReturnTo(q.return_to) });
      return reply.header('cache-control', 'no-store').redirect(started.url.toString(), 303);
    },
  });

  for (const type of UPSTREAM_TYPES) {
    app.get(`${SIGNIN_PATH_PREFIX[type]}:id`, { schema: { hide: true } }, async (request, reply) => {
      const id = (request.params as { id: string }).id;
      const scope = deps.scopeFor(request.tenant.id);
      const provider = await findProviderWithSecret(scope, deps.keyring, type, id);
      if (!provider) return fail(request, reply, 404, 'Unknown sign-in method', 'This sign-in method is not configured.');
      const txn = takeTransaction(request, reply, deps.keyring, type, id);
      // Unsolicited (IdP-initiated) or replayed: start over from our side, once; never log the user in from it.
      if (!txn?.state || !txn.nonce || !txn.verifier) return restartOnce(request, reply, startPath(type, id, '/'));
      const currentUrl = new URL(request.url, request.tenant.issuer);
      let identity;
      try {
        identity = await completeSignIn(deps.outbound, provider, redirectUri(request.tenant.issuer, type, id), currentUrl, { state: txn.state, nonce: txn.nonce, verifier: txn.verifier });
      } catch (e) {
        if (e instanceof FederationError) {
          request.log.warn({ provider: `${type}:${id}`, reason: e.message }, 'upstream sign-in rejected');
          // A failed sign-in is a security event: the reason (never a token) goes to the trail.
          await recordAudit(scope, { type: 'system', id: `upstream:${type}:${id}`, ip: request.ip }, { action: 'signin.failure', targetType: 'upstream', targetId: `${type}/${id}`, after: { method: `upstream:${type}:${id}`, outcome: 'rejected', reason: e.message.slice(0, 300) } });
          deps.metrics.recordSignin(type, 'failure');
          return fail(request, reply, 400, 'Sign-in failed', e.userMessage);
        }
        throw e;
      }
      const method = `upstream:${type}:${id}`;
      const refuse = async (reason: string, message: string) => {
        request.log.info({ provider: `${type}:${id}`, reason }, 'upstream user not admitted');
        await recordAudit(scope, { type: 'system', id: method, ip: request.ip }, { action: 'signin.failure', targetType: 'upstream', targetId: `${type}/${id}`, after: { method, outcome: 'not admitted', reason, subject: identity.subject } });
        deps.metrics.recordSignin(type, 'failure');
        return fail(request, reply, 403, 'Not allowed', message);
      };
      const admission = await admit(scope, upstreamSource(provider), identity, { ip: request.ip });
      if (!admission.ok) return refuse(admission.reason, REFUSAL_MESSAGES[admission.reason]);
      const { organizationId } = provider;
      if (organizationId) {
        const membership = await ensureMembership(scope, {
          organizationId,
          userId: admission.userId,
          mayJoin: provider.trustAllUsers,
          defaultRoles: provider.defaultOrganizationRoles,
          actor: systemActor(method, request.ip),
        });
        if (membership === 'refused') return refuse('not-a-member', REFUSAL_MESSAGES['not-allowed']);
      }
      const { cookie } = await scope.transaction(async (tx) => {
        const created = await createSession(tx, deps.keyring, admission.userId, method, clientOf(request));
        await recordAudit(tx, { type: 'user', id: admission.userId, ip: request.ip }, { action: 'signin.success', targetType: 'user', targetId: admission.userId, after: { method, sid: created.session.sid, ...(organizationId ? { organizationId } : {}) } });
        return created;
      });
      deps.metrics.recordSignin(type, 'success');
      setCookie(request, reply, SESSION_COOKIE, cookie, { maxAgeSeconds: SESSION_ABSOLUTE_SECONDS });
      clearRestart(request, reply);
      return reply.header('cache-control', 'no-store').redirect(organizationId ? resumeInOrganization(txn.returnTo, organizationId) : txn.returnTo, 303);
    });
  }
}

export const REFUSAL_MESSAGES: Record<AdmissionRefusal, string> = {
  'not-allowed': 'Your account is not allowed to sign in here. Ask an administrator to invite you.',
  inactive: 'Your account is disabled. Contact your administrator.',
  'ambiguous-email': 'More than one account here has your email address, so it cannot be chosen automatically. Sign in with your user name, or ask an administrator to link your account.',
  'invalid-email': 'Your email address contains characters that cannot be used here. Ask an administrator for help.',
  'invalid-identifier': 'An account cannot be created for you automatically. Ask an administrator for help.',
  conflict: 'An account with your email address or user name already exists here. Ask an administrator to link it to this sign-in.',
};

function openTransaction(keyring: Keyring, sealed: string | undefined): SealedTransaction | undefined {
  if (!sealed || sealed.length > 4096) return undefined;
  try {
    return JSON.parse(keyring.unseal(sealed, SEAL_CONTEXT)) as SealedTransaction;
  } catch {
    return undefined;
  }
}
