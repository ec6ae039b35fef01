/**
 * Sign-in through an organization's SSO connection (Scalekit's enterprise SSO):
 * - `GET /sso/oidc/{id}/start` and `/sso/oidc/{id}/callback`: generic OpenID Connect (code + PKCE, state, nonce),
 *   the same federation code as the tenant-wide upstreams (federation.ts), with the connection's scopes and claims.
 * - `GET /sso/oidc/{id}/initiate`: third-party initiated login (OpenID Connect Core §4: `iss`, `login_hint`,
 *   `target_link_uri`), which an IdP dashboard tile calls. It is never a login by itself: it starts a fresh
 *   SP-initiated sign-in at the same connection.
 * `completeConnectionSignIn` is the one completion step for every connection type (SAML's ACS calls it too):
 * admission by the connection's JIT policy, membership of its organization, the session, and the way back into the
 * authorization request, which then runs in that organization's context (`organization_id`).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { ScopeFor, TenantScope } from '../platform/db.ts';
import type { Keyring } from '../platform/crypto.ts';
import type { Outbound } from '../platform/outbound.ts';
import { setCookie } from '../platform/cookies.ts';
import { recordAudit, systemActor } from '../audit/service.ts';
import type { SigninMetrics } from '../platform/metrics.ts';
import { connectionClientSecret, connectionSpSigningKeys, findActiveConnection, findTestableConnection, type RoutableConnection } from '../connections/service.ts';
import { messagePage } from './pages.ts';
import { htmlReply, safeReturnTo } from './routes.ts';
import { authorizationUrl, completeSignIn, FederationError, type FederatedProvider, type VerifiedIdentity } from './federation.ts';
import { admit, inVerifiedDomainOf, type AdmissionSource } from './admission.ts';
import { resumeInOrganization } from './organization-resume.ts';
import { SAML_RESPONSE_MAX_BYTES, samlAuthnRequest, SamlError, samlServiceProviderMetadata, validateSamlResponse, type SpKeyPair } from './saml.ts';
import { clientOf, createSession, SESSION_ABSOLUTE_SECONDS, SESSION_COOKIE } from './sessions.ts';
import { clearRestart, REFUSAL_MESSAGES, restartOnce, saveTransaction, startPath, takeTransaction } from './upstream-routes.ts';
import type { UpstreamType } from '../db/schema/index.ts';
import { connectionTestResult } from './connection-test.ts';
import { applicationInitiateLoginUrl } from './idp-initiated.ts';
import { ensureMembership } from './organization-membership.ts';

export const CONNECTION_SSO_PREFIX = '/sso';

export interface ConnectionSigninDeps {
  scopeFor: ScopeFor;
  keyring: Keyring;
  outbound: Outbound;
  metrics: SigninMetrics;
}

/** Where a sign-in through `connection` starts; `returnTo` is where the browser goes afterwards. */
export function connectionStartPath(connection: { type: 'oidc' | 'saml'; id: string }, returnTo: string, hints: { loginHint?: string | undefined } = {}): string {
  const q = new URLSearchParams({ return_to: returnTo });
  if (hints.loginHint) q.set('login_hint', hints.loginHint);
  return `${CONNECTION_SSO_PREFIX}/${connection.type}/${connection.id}/start?${q.toString()}`;
}

const callbackUri = (issuer: string, id: string) => `${issuer.replace(/\/$/, '')}${CONNECTION_SSO_PREFIX}/oidc/${id}/callback`;

function discoveryUrl(settings: { issuer: string; discoveryUrl?: string | undefined }): string {
  return settings.discoveryUrl ?? `${settings.issuer.replace(/\/$/, '')}/.well-known/openid-configuration`;
}

/** A SAML connection's own key pair when it signs its AuthnRequests or decrypts its assertions; undefined otherwise. */
async function samlKeyPair(scope: TenantScope, keyring: Keyring, c: Extract<RoutableConnection, { type: 'saml' }>): Promise<SpKeyPair | undefined> {
  if ((!c.settings.signAuthnRequest && !c.settings.wantAssertionsEncrypted) || !c.spSigningCert) return undefined;
  const keys = await connectionSpSigningKeys(scope, keyring, c.id);
  if (!keys.current) return undefined;
  return { privateKey: keys.current, certificate: c.spSigningCert, ...(keys.next && c.spNextSigningCert ? { next: { privateKey: keys.next, certificate: c.spNextSigningCert } } : {}) };
}

export async function federated(scope: TenantScope, keyring: Keyring, c: Extract<RoutableConnection, { type: 'oidc' }>): Promise<FederatedProvider> {
  return {
    type: 'oidc',
    id: c.id,
    clientId: c.settings.clientId,
    clientSecret: (await connectionClientSecret(scope, keyring, c.id)) ?? null,
    discoveryUrl: discoveryUrl(c.settings),
    scopes: c.settings.scopes,
    claimMapping: c.settings.claimMapping ?? {},
    settings: {},
  };
}

/** The JIT policy of a connection as an admission source (issue #11 item 7). */
/** The metrics label of a connection's sign-ins: its protocol, never its id. */
function connectionProviderType(type: RoutableConnection['type']): 'oidc_connection' | 'saml_connection' {
  return type === 'saml' ? 'saml_connection' : 'oidc_connection';
}

export function connectionSource(connection: RoutableConnection): AdmissionSource {
  const inVerifiedDomain = inVerifiedDomainOf(connection.organizationId);
  return {
    providerType: 'connection',
    providerId: connection.id,
    actorId: `connection:${connection.id}`,
    // Linking to an existing account is the takeover path: only a verified email in a verified domain of this organization.
    mayLinkEmail: inVerifiedDomain,
    mayCreate: async (tx, verifiedEmail) => {
      if (connection.jitPolicy === 'anyone') return true;
      if (connection.jitPolicy === 'verified_domains') return verifiedEmail !== undefined && (await inVerifiedDomain(tx, verifiedEmail));
      return false;
    },
    defaultUserRoles: [],
  };
}

const fail = (request: FastifyRequest, reply: FastifyReply, status: number, title: string, message: string) =>
  htmlReply(reply, status, messagePage({ title, tenantName: request.tenant.displayName, message, status: 'error' }));

/**
 * After a connection verified who the user is: admit them by the JIT policy, make them a member of the organization
 * (with its default roles) unless the policy admits existing members only, start the session and go back.
 */
export async function completeConnectionSignIn(
  request: FastifyRequest,
  reply: FastifyReply,
  deps: { scopeFor: ScopeFor; keyring: Keyring; metrics: SigninMetrics },
  input: { connection: RoutableConnection; identity: VerifiedIdentity; returnTo: string },
): Promise<FastifyReply> {
  const { connection, identity } = input;
  const scope = deps.scopeFor(request.tenant.id);
  const method = `connection:${connection.type}:${connection.id}`;
  const audit = { type: 'system' as const, id: `connection:${connection.id}`, ip: request.ip };
  const providerType = connectionProviderType(connection.type);
  const refuse = async (reason: string, message: string) => {
    request.log.info({ connection: connection.id, reason }, 'connection user not admitted');
    await recordAudit(scope, audit, { action: 'signin.failure', targetType: 'connection', targetId: connection.id, after: { method, outcome: 'not admitted', reason, subject: identity.subject } });
    deps.metrics.recordSignin(providerType, 'failure');
    return fail(request, reply, 403, 'Not allowed', message);
  };
  const admission = await admit(scope, connectionSource(connection), identity, { ip: request.ip });
  if (!admission.ok) return refuse(admission.reason, REFUSAL_MESSAGES[admission.reason]);
  const membership = await ensureMembership(scope, {
    organizationId: connection.organizationId,
    userId: admission.userId,
    mayJoin: connection.jitPolicy !== 'existing_members',
    defaultRoles: connection.defaultOrganizationRoles,
    actor: systemActor(`connection:${connection.id}`, request.ip),
  });
  if (membership === 'refused') return refuse('not-a-member', REFUSAL_MESSAGES['not-allowed']);
  const { cookie } = await scope.transaction(async (tx) => {
    const created = await createSession(tx, deps.keyring, admission.userId, method, clientOf(request));
    await recordAudit(tx, { type: 'user', id: admission.userId, ip: request.ip }, { action: 'signin.success', targetType: 'user', targetId: admission.userId, after: { method, sid: created.session.sid, organizationId: connection.organizationId } });
    return created;
  });
  deps.metrics.recordSignin(providerType, 'success');
  setCookie(request, reply, SESSION_COOKIE, cookie, { maxAgeSeconds: SESSION_ABSOLUTE_SECONDS });
  clearRestart(request, reply);
  return reply.header('cache-control', 'no-store').redirect(resumeInOrganization(input.returnTo, connection.organizationId), 303);
}

/** A SAML Response our SP refused: logged, audited with the reason, counted, and a generic page for the browser. */
async function samlRejected(request: FastifyRequest, reply: FastifyReply, deps: ConnectionSigninDeps, connectionId: string, e: SamlError, extra: { idpInitiated?: true } = {}): Promise<FastifyReply> {
  request.log.warn({ connection: connectionId, reason: e.reason, detail: e.message, ...extra }, 'SAML response rejected');
  await recordAudit(deps.scopeFor(request.tenant.id), { type: 'system', id: `connection:${connectionId}`, ip: request.ip }, { action: 'signin.failure', targetType: 'connection', targetId: connectionId, after: { method: `connection:saml:${connectionId}`, outcome: 'rejected', reason: e.reason, detail: e.message, ...extra } });
  deps.metrics.recordSignin('saml_connection', 'failure');
  return fail(request, reply, 400, 'Sign-in failed', 'Sign-in with your identity provider did not succeed. Please try again.');
}

/**
 * An unsolicited SAML Response (SAML 2.0 Profiles §4.1.5) at the ACS, never a login. When the connection hands
 * IdP-initiated arrivals to an application (idp-initiated.ts), the response is validated in full (signature,
 * audience, times, no InResponseTo, and its assertion ID consumed) so that the application gets a `login_hint` the
 * IdP really signed; an invalid one is refused like any failed sign-in. Otherwise a fresh SP-initiated sign-in starts.
 */
async function idpInitiatedSaml(request: FastifyRequest, reply: FastifyReply, deps: ConnectionSigninDeps, connection: Extract<RoutableConnection, { type: 'saml' }>, body: Record<string, unknown>): Promise<FastifyReply> {
  const scope = deps.scopeFor(request.tenant.id);
  if (!connection.settings.idpInitiatedClientId || typeof body.SAMLResponse !== 'string') return restartOnce(request, reply, connectionStartPath(connection, '/'));
  let identity: VerifiedIdentity;
  try {
    identity = await validateSamlResponse(scope, request.tenant.issuer, connection, body.SAMLResponse, null, await samlKeyPair(scope, deps.keyring, connection));
  } catch (e) {
    if (!(e instanceof SamlError)) throw e;
    return samlRejected(request, reply, deps, connection.id, e, { idpInitiated: true });
  }
  const application = await applicationInitiateLoginUrl(scope, request.tenant.issuer, connection, { loginHint: identity.email ?? identity.subject, targetLinkUri: typeof body.RelayState === 'string' ? body.RelayState : undefined });
  if (!application) return restartOnce(request, reply, connectionStartPath(connection, '/'));
  await recordAudit(scope, { type: 'system', id: `connection:${connection.id}`, ip: request.ip }, { action: 'signin.idp_initiated', targetType: 'connection', targetId: connection.id, after: { method: `connection:saml:${connection.id}`, outcome: 'sent to application', clientId: connection.settings.idpInitiatedClientId, subject: identity.subject } });
  return reply.header('cache-control', 'no-store').redirect(application, 303);
}

export function connectionSigninRoutes(app: FastifyInstance, deps: ConnectionSigninDeps) {
  const params = z.object({ id: z.uuid() });

  app.get(`${CONNECTION_SSO_PREFIX}/oidc/:id/start`, {
    schema: { hide: true, params, querystring: z.looseObject({ return_to: z.string().optional(), login_hint: z.string().max(320).optional(), prompt: z.string().optional() }) },
    handler: async (request, reply) => {
      const { id } = request.params as { id: string };
      const q = request.query as { return_to?: string; login_hint?: string; prompt?: string };
      const scope = deps.scopeFor(request.tenant.id);
      const connection = await findActiveConnection(scope, id);
      if (connection?.type !== 'oidc') return fail(request, reply, 404, 'Unknown sign-in method', 'This sign-in method is not configured.');
      let started;
      try {
        started = await authorizationUrl(deps.outbound, await federated(scope, deps.keyring, connection), callbackUri(request.tenant.issuer, id), { loginHint: q.login_hint, forceLogin: q.prompt === 'login' });
      } catch (e) {
        if (e instanceof FederationError) {
          request.log.warn({ connection: id, reason: e.message }, 'connection sign-in could not start');
          return fail(request, reply, 502, 'Sign-in unavailable', e.userMessage);
        }
        throw e;
      }
      saveTransaction(request, reply, deps.keyring, { ...started.transaction, tenantId: request.tenant.id, type: 'oidc', id, returnTo: safeReturnTo(q.return_to) });
      return reply.header('cache-control', 'no-store').redirect(started.url.toString(), 303);
    },
  });

  app.get(`${CONNECTION_SSO_PREFIX}/oidc/:id/callback`, { schema: { hide: true, params } }, async (request, reply) => {
    const { id } = request.params as { id: string };
    const scope = deps.scopeFor(request.tenant.id);
    const txn = takeTransaction(request, reply, deps.keyring, 'oidc', id);
    // A test (started from the Admin Portal) may try a connection that is not active yet; a sign-in never does.
    const connection = txn?.test ? await findTestableConnection(scope, id) : await findActiveConnection(scope, id);
    if (connection?.type !== 'oidc') return fail(request, reply, 404, 'Unknown sign-in method', 'This sign-in method is not configured.');
    if (!txn?.state || !txn.nonce || !txn.verifier) return restartOnce(request, reply, connectionStartPath(connection, '/'));
    if (txn.test) {
      return connectionTestResult(request, reply, deps, connection, txn.test, async () =>
        completeSignIn(deps.outbound, await federated(scope, deps.keyring, connection), callbackUri(request.tenant.issuer, id), new URL(request.url, request.tenant.issuer), { state: txn.state!, nonce: txn.nonce!, verifier: txn.verifier! }),
      );
    }
    let identity: VerifiedIdentity;
    try {
      identity = await completeSignIn(deps.outbound, await federated(scope, deps.keyring, connection), callbackUri(request.tenant.issuer, id), new URL(request.url, request.tenant.issuer), {
        state: txn.state,
        nonce: txn.nonce,
        verifier: txn.verifier,
      });
    } catch (e) {
      if (e instanceof FederationError) {
        request.log.warn({ connection: id, reason: e.message }, 'connection sign-in rejected');
        await recordAudit(scope, { type: 'system', id: `connection:${id}`, ip: request.ip }, { action: 'signin.failure', targetType: 'connection', targetId: id, after: { method: `connection:oidc:${id}`, outcome: 'rejected', reason: e.message.slice(0, 300) } });
        deps.metrics.recordSignin('oidc_connection', 'failure');
        return fail(request, reply, 400, 'Sign-in failed', e.userMessage);
      }
      throw e;
    }
    return completeConnectionSignIn(request, reply, deps, { connection, identity, returnTo: txn.returnTo });
  });

  // OpenID Connect Core §4: a login initiated by the IdP (or a third party) names the issuer and where to go.
  app.get(`${CONNECTION_SSO_PREFIX}/oidc/:id/initiate`, {
    schema: { hide: true, params, querystring: z.looseObject({ iss: z.string().max(2048).optional(), login_hint: z.string().max(320).optional(), target_link_uri: z.string().max(2048).optional() }) },
    handler: async (request, reply) => {
      const { id } = request.params as { id: string };
      const q = request.query as { iss?: string; login_hint?: string; target_link_uri?: string };
      const connection = await findActiveConnection(deps.scopeFor(request.tenant.id), id);
      if (connection?.type !== 'oidc') return fail(request, reply, 404, 'Unknown sign-in method', 'This sign-in method is not configured.');
      if (q.iss !== undefined && q.iss.replace(/\/$/, '') !== connection.settings.issuer.replace(/\/$/, '')) {
        return fail(request, reply, 400, 'Sign-in refused', 'This sign-in was started by an identity provider this organization does not use.');
      }
      // target_link_uri: only a path on this service (an absolute URL of our own issuer is reduced to its path).
      let target = '/';
      if (q.target_link_uri) {
        try {
          const t = new URL(q.target_link_uri, request.tenant.issuer);
          if (t.origin === new URL(request.tenant.issuer).origin) target = safeReturnTo(t.pathname + t.search);
        } catch {
          target = '/';
        }
      }
      const application = await applicationInitiateLoginUrl(deps.scopeFor(request.tenant.id), request.tenant.issuer, connection, { loginHint: q.login_hint, targetLinkUri: q.target_link_uri });
      if (application) {
        await recordAudit(deps.scopeFor(request.tenant.id), { type: 'system', id: `connection:${id}`, ip: request.ip }, { action: 'signin.idp_initiated', targetType: 'connection', targetId: id, after: { method: `connection:oidc:${id}`, outcome: 'sent to application', clientId: connection.settings.idpInitiatedClientId } });
        return reply.header('cache-control', 'no-store').redirect(application, 303);
      }
      return reply.header('cache-control', 'no-store').redirect(connectionStartPath(connection, target, { loginHint: q.login_hint }), 303);
    },
  });
  app.get(`${CONNECTION_SSO_PREFIX}/saml/:id/metadata`, { schema: { hide: true, params } }, async (request, reply) => {
    const { id } = request.params as { id: string };
    // Served for a connection not active yet too: the IdP is set up from it before the first (test) sign-in.
    const connection = await findTestableConnection(deps.scopeFor(request.tenant.id), id);
    if (connection?.type !== 'saml') return fail(request, reply, 404, 'Unknown sign-in method', 'This sign-in method is not configured.');
    return reply.type('application/samlmetadata+xml').send(samlServiceProviderMetadata(request.tenant.issuer, connection, await samlKeyPair(deps.scopeFor(request.tenant.id), deps.keyring, connection)));
  });

  app.get(`${CONNECTION_SSO_PREFIX}/saml/:id/start`, {
    schema: { hide: true, params, querystring: z.looseObject({ return_to: z.string().optional() }) },
    handler: async (request, reply) => {
      const { id } = request.params as { id: string };
      const q = request.query as { return_to?: string };
      const connection = await findActiveConnection(deps.scopeFor(request.tenant.id), id);
      if (connection?.type !== 'saml') return fail(request, reply, 404, 'Unknown sign-in method', 'This sign-in method is not configured.');
      const { url, requestId } = await samlAuthnRequest(request.tenant.issuer, connection, '', await samlKeyPair(deps.scopeFor(request.tenant.id), deps.keyring, connection));
      saveTransaction(request, reply, deps.keyring, { tenantId: request.tenant.id, type: 'saml', id, returnTo: safeReturnTo(q.return_to), requestId });
      return reply.header('cache-control', 'no-store').redirect(url, 303);
    },
  });

  // SAML 2.0 Bindings §3.5 (HTTP-POST): the IdP's form posts SAMLResponse here.
  app.post(`${CONNECTION_SSO_PREFIX}/saml/:id/acs`, { schema: { hide: true, params }, bodyLimit: SAML_RESPONSE_MAX_BYTES + 16_384 }, async (request, reply) => {
    const { id } = request.params as { id: string };
    const scope = deps.scopeFor(request.tenant.id);
    const txn = takeTransaction(request, reply, deps.keyring, 'saml', id);
    const connection = txn?.test ? await findTestableConnection(scope, id) : await findActiveConnection(scope, id);
    if (connection?.type !== 'saml') return fail(request, reply, 404, 'Unknown sign-in method', 'This sign-in method is not configured.');
    const body = (request.body ?? {}) as Record<string, unknown>;
    // IdP-initiated (unsolicited) or a replay without our transaction: never a login; start SP-initiated instead.
    if (!txn?.requestId) return idpInitiatedSaml(request, reply, deps, connection, body);
    if (txn.test) {
      const requestId = txn.requestId;
      return connectionTestResult(request, reply, deps, connection, txn.test, async () => {
        if (typeof body.SAMLResponse !== 'string') throw new SamlError('malformed', 'no SAMLResponse');
        return validateSamlResponse(scope, request.tenant.issuer, connection, body.SAMLResponse, requestId, await samlKeyPair(scope, deps.keyring, connection));
      });
    }
    let identity: VerifiedIdentity;
    try {
      if (typeof body.SAMLResponse !== 'string') throw new SamlError('malformed', 'no SAMLResponse');
      identity = await validateSamlResponse(scope, request.tenant.issuer, connection, body.SAMLResponse, txn.requestId, await samlKeyPair(scope, deps.keyring, connection));
    } catch (e) {
      if (e instanceof SamlError) return samlRejected(request, reply, deps, id, e);
      throw e;
    }
    return completeConnectionSignIn(request, reply, deps, { connection, identity, returnTo: txn.returnTo });
  });
}

/**
 * Starts a *test* sign-in at `connectionId` of `organizationId` (any status: a draft can be tried before it is
 * activated): the same request to the IdP as a sign-in, with a transaction marked as a test, whose answer
 * (ACS or callback above) shows the outcome and signs nobody in (connection-test.ts). The caller has already
 * established that the browser may test this organization's connections (the Admin Portal's session).
 */
export async function startConnectionTest(request: FastifyRequest, reply: FastifyReply, deps: Pick<ConnectionSigninDeps, 'scopeFor' | 'keyring' | 'outbound'>, organizationId: string, connectionId: string): Promise<FastifyReply> {
  const scope = deps.scopeFor(request.tenant.id);
  const connection = await findTestableConnection(scope, connectionId);
  if (!connection || connection.organizationId !== organizationId) return fail(request, reply, 404, 'Unknown connection', 'This connection is not configured completely, or is not part of this organization.');
  const test = { organizationId };
  if (connection.type === 'saml') {
    const { url, requestId } = await samlAuthnRequest(request.tenant.issuer, connection, '', await samlKeyPair(scope, deps.keyring, connection));
    saveTransaction(request, reply, deps.keyring, { tenantId: request.tenant.id, type: 'saml', id: connection.id, returnTo: '/', requestId, test });
    return reply.header('cache-control', 'no-store').redirect(url, 303);
  }
  let started;
  try {
    started = await authorizationUrl(deps.outbound, await federated(scope, deps.keyring, connection), callbackUri(request.tenant.issuer, connection.id), { forceLogin: true });
  } catch (e) {
    if (e instanceof FederationError) return fail(request, reply, 502, 'Test failed', `The identity provider could not be reached: ${e.message}`);
    throw e;
  }
  saveTransaction(request, reply, deps.keyring, { ...started.transaction, tenantId: request.tenant.id, type: 'oidc', id: connection.id, returnTo: '/', test });
  return reply.header('cache-control', 'no-store').redirect(started.url.toString(), 303);
}

/** Where a routed sign-in starts: an organization's connection or a tenant-wide upstream. */
export function routedStartPath(
  routed: { connection: RoutableConnection } | { provider: { type: UpstreamType; id: string } },
  returnTo: string,
  hints: { loginHint?: string | undefined; domainHint?: string | undefined } = {},
): string {
  return 'connection' in routed ? connectionStartPath(routed.connection, returnTo, hints) : startPath(routed.provider.type, routed.provider.id, returnTo, hints);
}
