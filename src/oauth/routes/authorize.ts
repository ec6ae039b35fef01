/**
 * Authorization endpoint, RFC 6749 §4.1.1 and OpenID Connect Core §3.1.2, with PKCE (RFC 7636) and the
 * authorization response issuer (RFC 9207). Errors about the client or redirect URI are shown to the user and never
 * redirected (RFC 6749 §4.1.2.1); every other error goes back to the client's redirect URI with `state` and `iss`.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { readCookie } from '../../platform/cookies.ts';
import { oauthRepository } from '../repository.ts';
import { findSession, SESSION_COOKIE } from '../../signin/sessions.ts';
import { LOGIN_PATH, htmlReply } from '../../signin/routes.ts';
import { messagePage } from '../../signin/pages.ts';
import { findSubject } from '../subjects.ts';
import { route } from '../../signin/routing.ts';
import { routedStartPath } from '../../signin/connection-routes.ts';
import { newOpaqueToken } from '../issue.ts';
import { currentOrganization } from '../organization-context.ts';
import { findOrganization, isUuid } from '../../organizations/service.ts';
import type { OAuthDeps } from '../plugin.ts';

export const AUTHORIZATION_PATH = '/oauth2/authorize';
export const CODE_TTL_SECONDS = 60;

class RedirectError extends Error {
  readonly error: string;
  constructor(error: string, description: string) {
    super(description);
    this.error = error;
  }
}

const params = z.looseObject({
  response_type: z.string().optional(),
  client_id: z.string().optional(),
  redirect_uri: z.string().optional(),
  scope: z.string().optional(),
  state: z.string().optional(),
  nonce: z.string().optional(),
  code_challenge: z.string().optional(),
  code_challenge_method: z.string().optional(),
  prompt: z.string().optional(),
  max_age: z.string().optional(),
  login_hint: z.string().optional(),
  response_mode: z.string().optional(),
  connection_id: z.string().optional().describe('Scalekit-style routing: an upstream provider, `<type>:<id>` or `<id>`'),
  organization_id: z.string().optional().describe('Sign in within this organization of the tenant: the user must be a member, and the tokens carry `org_id` and `org_roles` (ADR 0009).'),
  domain_hint: z.string().optional(),
});

function single(input: unknown): Record<string, string> | undefined {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries((input ?? {}) as Record<string, unknown>)) {
    if (Array.isArray(v)) return undefined;
    if (typeof v === 'string') out[k] = v;
  }
  return out;
}

export function authorizeRoutes(app: FastifyInstance, deps: OAuthDeps) {
  const schema = {
    operationId: 'oauth.authorize',
    tags: ['OAuth'],
    summary: 'Authorization endpoint (authorization code + PKCE)',
    description:
      'RFC 6749 §4.1 / OIDC Core §3.1.2. `response_type=code` only. PKCE S256 is required for ClientSideApplication and accepted for InteractiveApplication. The user signs in at `/login` when they have no session.',
  };
  const handler = (source: 'query' | 'body') => async (request: FastifyRequest, reply: FastifyReply) =>
    authorize(deps, request, reply, source === 'query' ? request.query : request.body);
  app.get(AUTHORIZATION_PATH, { schema: { ...schema, querystring: params } }, handler('query'));
  app.post(AUTHORIZATION_PATH, { schema: { ...schema, operationId: 'oauth.authorize.post', body: params } }, handler('body'));
}

async function authorize(deps: OAuthDeps, request: FastifyRequest, reply: FastifyReply, raw: unknown) {
  const tenant = request.tenant;
  const showError = (message: string) => htmlReply(reply, 400, messagePage({ title: 'Sign-in request not valid', tenantName: tenant.displayName, message, status: 'error' }));
  const p = single(raw);
  // RFC 6749 §3.1: parameters MUST NOT be included more than once.
  if (!p) return showError('A parameter was repeated in the request.');
  const entry = p.client_id ? await deps.directory.client(tenant.id, p.client_id) : undefined;
  const client = entry?.client;
  if (!client || client.clientType === 'MachineClient') return showError('The application is not known.');
  request.clientId = client.clientId;
  // RFC 9700 §4.1.3: exact string matching. OIDC requires redirect_uri; with one registered URI we may default it.
  const redirectUri = p.redirect_uri ?? (client.redirectUris.length === 1 && !p.scope?.split(' ').includes('openid') ? client.redirectUris[0] : undefined);
  if (!redirectUri || !client.redirectUris.includes(redirectUri)) return showError('The redirect URI is not registered for this application.');

  const back = (query: Record<string, string | undefined>) => {
    const url = new URL(redirectUri);
    for (const [k, v] of Object.entries({ ...query, state: p.state, iss: tenant.issuer })) if (v !== undefined) url.searchParams.set(k, v);
    return reply.header('cache-control', 'no-store').redirect(url.toString(), 303);
  };

  try {
    if (p.response_mode && p.response_mode !== 'query') throw new RedirectError('invalid_request', 'Only response_mode=query is supported.');
    if (p.response_type !== 'code') throw new RedirectError('unsupported_response_type', 'Only response_type=code is supported.');
    const catalog = await deps.directory.catalog(tenant.id);
    const requested = [...new Set((p.scope ?? '').split(' ').filter(Boolean))];
    if (!requested.length) throw new RedirectError('invalid_scope', 'scope is required.');
    const unknown = requested.filter((s) => !catalog.isKnown(s));
    if (unknown.length) throw new RedirectError('invalid_scope', `Unknown scope: ${unknown.join(' ')}.`);
    // Identity scopes are open to every interactive application; API scopes and offline_access must be allowed.
    const denied = requested.filter((s) => !client.allowedScopes.includes(s) && !['openid', 'profile', 'email'].includes(s));
    if (denied.length) throw new RedirectError('invalid_scope', `The application is not allowed scope: ${denied.join(' ')}.`);
    // PKCE: RFC 7636 §4.3; S256 only (RFC 9700 §2.1.1). Public clients must use it.
    if (p.code_challenge !== undefined || p.code_challenge_method !== undefined) {
      if ((p.code_challenge_method ?? 'plain') !== 'S256') throw new RedirectError('invalid_request', 'code_challenge_method must be S256.');
      if (!/^[A-Za-z0-9_-]{43}$/.test(p.code_challenge ?? '')) throw new RedirectError('invalid_request', 'code_challenge must be a base64url SHA-256 (43 characters).');
    } else if (client.clientType === 'ClientSideApplication') {
      throw new RedirectError('invalid_request', 'PKCE (code_challenge with S256) is required for this application.');
    }
    if (p.nonce !== undefined && p.nonce.length > 512) throw new RedirectError('invalid_request', 'nonce is too long.');
    const prompts = new Set((p.prompt ?? '').split(' ').filter(Boolean));
    if (prompts.has('none') && prompts.size > 1) throw new RedirectError('invalid_request', 'prompt=none cannot be combined.');
    const maxAge = p.max_age !== undefined ? Number(p.max_age) : undefined;
    if (maxAge !== undefined && !(Number.isInteger(maxAge) && maxAge >= 0)) throw new RedirectError('invalid_request', 'max_age must be a non-negative integer.');

    const scope = deps.scopeFor(tenant.id);
    // ADR 0009: the organization must exist here before anyone signs in for it.
    const organizationId = p.organization_id;
    if (organizationId !== undefined && !(isUuid(organizationId) && (await findOrganization(scope, organizationId)))) {
      throw new RedirectError('invalid_request', 'Unknown organization_id.');
    }
    let session = await findSession(scope, deps.keyring, readCookie(request, SESSION_COOKIE));
    const subject = session ? await findSubject(scope, session.userId) : undefined;
    if (!subject?.active) session = undefined;
    const tooOld = session && maxAge !== undefined && Date.now() - session.authTime.getTime() > maxAge * 1000;
    if (!session || prompts.has('login') || prompts.has('select_account') || tooOld) {
      if (prompts.has('none')) throw new RedirectError('login_required', 'The user is not signed in.');
      // Back to this request after sign-in, without the prompt that forced it (or it would loop).
      const again = new URLSearchParams(p);
      again.delete('prompt');
      if (maxAge !== undefined) again.set('max_age', String(Math.max(maxAge, 600)));
      const returnTo = `${AUTHORIZATION_PATH}?${again.toString()}`;
      // Enterprise SSO: connection_id > organization_id > domain_hint > login_hint pick the upstream provider.
      const routed = await route(scope, { connectionId: p.connection_id, organizationId: p.organization_id, domainHint: p.domain_hint, loginHint: p.login_hint });
      if (routed && 'error' in routed) throw new RedirectError('invalid_request', routed.error);
      if (routed) {
        return reply
          .header('cache-control', 'no-store')
          .redirect(routedStartPath(routed, returnTo, { loginHint: p.login_hint, domainHint: p.domain_hint }) + (prompts.has('login') ? '&prompt=login' : ''), 303);
      }
      const login = new URLSearchParams({ return_to: returnTo });
      if (p.login_hint) login.set('login_hint', p.login_hint);
      return reply.header('cache-control', 'no-store').redirect(`${LOGIN_PATH}?${login.toString()}`, 303);
    }

    // RFC 6749 §4.1.2.1: the user signed in, but not as a member of the organization the client asked for.
    const organization = await currentOrganization(scope, organizationId, session.userId);
    if (organization === undefined) throw new RedirectError('access_denied', 'The user is not a member of the requested organization.');

    const code = newOpaqueToken();
    await oauthRepository(scope).insertCode({
      codeHash: deps.keyring.hashSecret(code),
      clientId: client.clientId,
      userId: session.userId,
      sessionId: session.sid,
      redirectUri,
      scopes: requested,
      codeChallenge: p.code_challenge ?? null,
      codeChallengeMethod: p.code_challenge ? 'S256' : null,
      nonce: p.nonce ?? null,
      organizationId: organization?.id ?? null,
      authTime: session.authTime,
      expiresAt: new Date(Date.now() + CODE_TTL_SECONDS * 1000),
    });
    return back({ code });
  } catch (e) {
    if (e instanceof RedirectError) return back({ error: e.error, error_description: e.message });
    throw e;
  }
}
