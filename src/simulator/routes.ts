/**
 * The IdP simulator's endpoints (service.ts says what it is), on every tenant host when IDP_SIMULATOR allows it:
 * - SAML: `GET /simulator/saml/metadata`; `GET /simulator/saml/sso` (HTTP-Redirect AuthnRequest) → the page →
 *   `POST /simulator/saml/sso` → the signed Response, posted to the connection's ACS; `GET
 *   /simulator/saml/idp-initiated?connection_id=` starts without a request, as an IdP dashboard does.
 * - OIDC: `/simulator/oidc/.well-known/openid-configuration`, `/jwks`, `GET /authorize` → the page → `POST
 *   /authorize` → the redirect URI with a code → `POST /token` (RFC 6749 §4.1.3, errors per §5.2).
 * Encapsulated: it parses its own forms and answers HTML errors.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import formbody from '@fastify/formbody';
import type { ScopeFor } from '../platform/db.ts';
import type { Keyring } from '../platform/crypto.ts';
import { isCrossSite } from '../platform/csrf.ts';
import { InvalidClient, InvalidRequest, OAuthError, ServerError } from '../platform/errors/oauth.ts';
import { readCredentials } from '../oauth/client-auth.ts';
import { htmlErrorHandler, htmlReply } from '../signin/routes.ts';
import { messagePage } from '../signin/pages.ts';
import { samlPostPage, simulatorSignInPage } from './pages.ts';
import {
  authorizationResponse,
  exchangeCode,
  oidcDiscovery,
  oidcJwks,
  openOidcRequest,
  openSamlRequest,
  readAuthnRequest,
  readAuthorizationRequest,
  samlIdpMetadata,
  samlResponse,
  sealOidcRequest,
  sealSamlRequest,
  simulatedUserOf,
  SimulatorError,
  SIMULATOR_PREFIX,
  unsolicitedRequest,
} from './service.ts';

export interface SimulatorDeps {
  scopeFor: ScopeFor;
  keyring: Keyring;
}

const hidden = { schema: { hide: true } };
/**
 * CSP form-action governs the redirects after a submission too: a sign-in through the simulator ends, after our ACS
 * or callback, at the application's redirect URI, which these pages cannot know. Their forms' actions are fixed here.
 */
const ANY_FORM_TARGET = { formTargets: ['*'] };

export async function simulatorPlugin(app: FastifyInstance, deps: SimulatorDeps) {
  await app.register(formbody, { bodyLimit: 16_384 });
  // Forms only, as an IdP's endpoints take them (RFC 6749 §4.1.3; HTML forms): anything else is 415.
  app.removeContentTypeParser('application/json');
  app.setErrorHandler(htmlErrorHandler('IdP simulator'));
  const scopeOf = (request: FastifyRequest) => deps.scopeFor(request.tenant.id);
  const refuse = (request: FastifyRequest, reply: FastifyReply, e: unknown) => {
    if (!(e instanceof SimulatorError)) throw e;
    return htmlReply(reply, 400, messagePage({ title: 'IdP Simulator', tenantName: request.tenant.displayName, message: `The simulator cannot answer this request: ${e.message}.`, status: 'error' }));
  };
  const form = (request: FastifyRequest) => (request.body ?? {}) as Record<string, unknown>;

  // ---- SAML
  app.get(`${SIMULATOR_PREFIX}/saml/metadata`, hidden, async (request, reply) =>
    reply.type('application/samlmetadata+xml').header('cache-control', 'no-cache').send(await samlIdpMetadata(scopeOf(request), deps.keyring, request.tenant.issuer)),
  );

  const samlPage = async (request: FastifyRequest, reply: FastifyReply, read: () => Promise<Parameters<typeof sealSamlRequest>[2]>) => {
    try {
      const ctx = await read();
      return htmlReply(reply, 200, simulatorSignInPage({ tenantName: request.tenant.displayName, protocol: 'SAML', action: `${SIMULATOR_PREFIX}/saml/sso`, sealed: sealSamlRequest(deps.keyring, request.tenant.id, ctx), idpInitiated: ctx.requestId === null }), ANY_FORM_TARGET);
    } catch (e) {
      return refuse(request, reply, e);
    }
  };
  app.get(`${SIMULATOR_PREFIX}/saml/sso`, hidden, (request, reply) => {
    const q = request.query as Record<string, unknown>;
    const rawQuery = request.url.includes('?') ? request.url.slice(request.url.indexOf('?') + 1) : '';
    return samlPage(request, reply, () => readAuthnRequest(scopeOf(request), request.tenant.issuer, q.SAMLRequest, q.RelayState, rawQuery));
  });
  app.get(`${SIMULATOR_PREFIX}/saml/idp-initiated`, hidden, (request, reply) =>
    samlPage(request, reply, () => unsolicitedRequest(scopeOf(request), request.tenant.issuer, (request.query as Record<string, unknown>).connection_id)),
  );
  app.post(`${SIMULATOR_PREFIX}/saml/sso`, hidden, async (request, reply) => {
    if (isCrossSite(request, request.tenant.issuer)) return refuse(request, reply, new SimulatorError('the form was sent from another site'));
    const body = form(request);
    try {
      const ctx = openSamlRequest(deps.keyring, request.tenant.id, body.request);
      const user = simulatedUserOf(body);
      const answer = await samlResponse(scopeOf(request), deps.keyring, request.tenant.issuer, ctx, user);
      return htmlReply(reply, 200, samlPostPage({ tenantName: request.tenant.displayName, ...answer, email: user.email }), ANY_FORM_TARGET);
    } catch (e) {
      return refuse(request, reply, e);
    }
  });

  // ---- OIDC
  app.get(`${SIMULATOR_PREFIX}/oidc/.well-known/openid-configuration`, hidden, async (request, reply) => reply.header('cache-control', 'no-cache').send(oidcDiscovery(request.tenant.issuer)));
  app.get(`${SIMULATOR_PREFIX}/oidc/jwks`, hidden, async (request, reply) => reply.type('application/jwk-set+json').header('cache-control', 'no-cache').send(await oidcJwks(scopeOf(request), deps.keyring)));
  app.get(`${SIMULATOR_PREFIX}/oidc/authorize`, hidden, async (request, reply) => {
    try {
      const ctx = await readAuthorizationRequest(scopeOf(request), request.tenant.issuer, request.query as Record<string, unknown>);
      const hint = (request.query as Record<string, unknown>).login_hint;
      const user = typeof hint === 'string' && hint.includes('@') ? { email: hint.slice(0, 320) } : {};
      return htmlReply(reply, 200, simulatorSignInPage({ tenantName: request.tenant.displayName, protocol: 'OIDC', action: `${SIMULATOR_PREFIX}/oidc/authorize`, sealed: sealOidcRequest(deps.keyring, request.tenant.id, ctx), user }), ANY_FORM_TARGET);
    } catch (e) {
      return refuse(request, reply, e);
    }
  });
  app.post(`${SIMULATOR_PREFIX}/oidc/authorize`, hidden, async (request, reply) => {
    if (isCrossSite(request, request.tenant.issuer)) return refuse(request, reply, new SimulatorError('the form was sent from another site'));
    const body = form(request);
    try {
      const ctx = openOidcRequest(deps.keyring, request.tenant.id, body.request);
      const location = authorizationResponse(deps.keyring, request.tenant.id, request.tenant.issuer, ctx, simulatedUserOf(body));
      return reply.header('cache-control', 'no-store').redirect(location, 303);
    } catch (e) {
      return refuse(request, reply, e);
    }
  });
  // RFC 6749 §5.2 for whatever the request itself gets wrong (a body that is no form, bad characters), not a page.
  const tokenErrors = (err: { statusCode?: number }, request: FastifyRequest, reply: FastifyReply) => {
    const status = err.statusCode && err.statusCode < 500 ? err.statusCode : 500;
    if (status === 500) request.log.error({ err }, 'IdP simulator token endpoint failure');
    const e = status === 500 ? new ServerError('The server could not process the request.') : new InvalidRequest(status === 415 ? 'Send application/x-www-form-urlencoded.' : 'The request is malformed.');
    return reply.status(status === 500 ? 500 : 400).header('cache-control', 'no-store').send(e.toJSON());
  };
  app.post(`${SIMULATOR_PREFIX}/oidc/token`, { ...hidden, errorHandler: tokenErrors }, async (request, reply) => {
    reply.header('cache-control', 'no-store');
    try {
      const body = form(request);
      return reply.send(await exchangeCode(scopeOf(request), deps.keyring, request.tenant.issuer, body, readCredentials(request, body)));
    } catch (e) {
      if (!(e instanceof OAuthError)) throw e;
      if (e instanceof InvalidClient) reply.header('www-authenticate', 'Basic realm="simulator"');
      return reply.status(e.status).send(e.toJSON());
    }
  });
}
