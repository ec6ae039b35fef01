/**
 * The Admin Portal's pages under `/portal`. `GET /portal/launch?token=…` spends a one-time link and starts the
 * portal session (cookie `iam_portal`); every other page needs that session and serves only its intent, for its
 * organization only: a connection, directory or domain of another organization is 404, like an unknown one.
 * Forms carry a CSRF token bound to the session (platform/csrf.ts) and cross-site posts are refused. Responses may be
 * framed only by the tenant's registered origins (CSP frame-ancestors), else by nobody.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { ScopeFor, TenantScope } from '../platform/db.ts';
import type { Keyring } from '../platform/crypto.ts';
import type { Outbound } from '../platform/outbound.ts';
import type { Actor } from '../audit/service.ts';
import { recentAuditEntries } from '../audit/service.ts';
import { clearCookie, readCookie, setCookie } from '../platform/cookies.ts';
import { csrfToken, isCrossSite, verifyCsrf } from '../platform/csrf.ts';
import { DomainError } from '../platform/errors/domain.ts';
import { getOrganization } from '../organizations/service.ts';
import { addDomain, getDomain, listDomains, verifyDomainNow } from '../organizations/domains.ts';
import type { TxtResolver } from '../organizations/dns.ts';
import { createConnection, getConnection, listConnections, serviceProviderOf, setConnectionStatus, updateConnection, type Connection } from '../connections/service.ts';
import { describeCertificate } from '../connections/saml-metadata.ts';
import { createDirectory, createDirectoryToken, getDirectory, listDirectories, listDirectoryTokens, revokeDirectoryToken } from '../directories/service.ts';
import { DIRECTORY_PROVIDERS, type PortalIntent } from '../db/schema/index.ts';
import { startConnectionTest } from '../signin/connection-routes.ts';
import { messagePage } from '../signin/pages.ts';
import { IDP_KEYS, IDPS, isIdpKey, type IdpKey } from './idps.ts';
import { copyValue, csrfField, escapeHtml, field, INTENT_PATHS, INTENT_TITLES, portalPage, postButton, status, textareaWithFile, when, type PortalFrame } from './pages.ts';
import {
  endPortalSession,
  findPortalSession,
  getPortalSettings,
  openPortalLink,
  portalActor,
  PORTAL_COOKIE,
  PORTAL_LAUNCH_PATH,
  PORTAL_SESSION_SECONDS,
  renewDraftConnectionId,
  type PortalClock,
  type PortalSession,
} from './service.ts';

export interface PortalPagesDeps extends PortalClock {
  scopeFor: ScopeFor;
  keyring: Keyring;
  outbound: Outbound;
  resolver: TxtResolver;
}

interface Ctx {
  scope: TenantScope;
  session: PortalSession;
  cookie: string;
  actor: Actor;
  frame: PortalFrame;
  frameAncestors: string[];
}

/** The CSP of every portal answer: nothing from elsewhere, one nonce'd script, framing by registered origins only. */
export function portalHeaders(reply: FastifyReply, frameAncestors: string[], nonce: string): FastifyReply {
  const ancestors = frameAncestors.length ? frameAncestors.join(' ') : "'none'";
  reply
    .header('content-type', 'text/html; charset=utf-8')
    .header('cache-control', 'no-store')
    // same-origin, not no-referrer: under no-referrer Chromium sends `Origin: null` on form posts, which the
    // cross-site check (platform/csrf.ts) must refuse. Other origins (the IdP) get no Referer either way.
    .header('referrer-policy', 'same-origin')
    .header('x-content-type-options', 'nosniff')
    .header('content-security-policy', `default-src 'none'; style-src 'unsafe-inline'; script-src 'nonce-${nonce}'; img-src 'self'; form-action 'self'; frame-ancestors ${ancestors}; base-uri 'none'`);
  // X-Frame-Options has no allow-list: it only backs up the refusal for browsers without CSP frame-ancestors.
  if (!frameAncestors.length) reply.header('x-frame-options', 'DENY');
  return reply;
}

function send(reply: FastifyReply, ctx: Pick<Ctx, 'frameAncestors' | 'frame'>, statusCode: number, body: string) {
  return portalHeaders(reply, ctx.frameAncestors, ctx.frame.nonce).status(statusCode).send(body);
}

async function message(request: FastifyRequest, reply: FastifyReply, scope: TenantScope, statusCode: number, title: string, text: string) {
  const { frameAncestors } = await getPortalSettings(scope);
  return portalHeaders(reply, frameAncestors, randomBytes(16).toString('base64')).status(statusCode).send(messagePage({ title, tenantName: request.tenant.displayName, message: text, status: 'error' }));
}

const NOTICES: Record<string, string> = {
  created: 'The connection was saved as a draft. Test it, then activate it.',
  saved: 'Saved.',
  activated: 'The connection is active: people of your organization sign in through it now.',
  deactivated: 'The connection is inactive: nobody signs in through it.',
  directory: 'The directory was created. Generate a token for your identity provider.',
  revoked: 'The token was revoked: requests with it are refused from now on.',
  domain: 'The domain was added. Publish the TXT record, then choose "Verify now".',
  certificate: 'The certificate was added beside the current one. Both are accepted until you remove the old one.',
  removed: 'The certificate was removed.',
  security: 'Saved. If you changed request signing or encryption, give your identity provider our certificate (or let it re-read our metadata).',
};

export function portalPageRoutes(app: FastifyInstance, deps: PortalPagesDeps) {
  const uuid = z.uuid();

  /** The portal session of this request, for `intent`; or the page that says why not. */
  async function enter(request: FastifyRequest, reply: FastifyReply, intent: PortalIntent): Promise<Ctx | FastifyReply> {
    const scope = deps.scopeFor(request.tenant.id);
    const cookie = readCookie(request, PORTAL_COOKIE);
    const session = await findPortalSession(scope, deps.keyring, cookie, deps);
    if (!session || !cookie) return message(request, reply, scope, 401, 'Portal session ended', 'This portal session has ended or was never started. Ask your administrator for a new link.');
    if (session.intent !== intent) return message(request, reply, scope, 403, 'Not part of this link', `This portal link is for ${INTENT_TITLES[session.intent].toLowerCase()} only.`);
    const organization = await getOrganization(scope, session.organizationId);
    const { frameAncestors } = await getPortalSettings(scope);
    const frame: PortalFrame = {
      tenantName: request.tenant.displayName,
      organizationName: organization.displayName,
      intent,
      csrf: csrfToken(deps.keyring, 'portal', cookie),
      returnUrl: session.returnUrl,
      nonce: randomBytes(16).toString('base64'),
    };
    return { scope, session, cookie, actor: portalActor(session, request.ip), frame, frameAncestors };
  }

  /** `enter`, plus the defences of a form post: same-origin, and the session's CSRF token. */
  async function enterPost(request: FastifyRequest, reply: FastifyReply, intent: PortalIntent): Promise<Ctx | FastifyReply> {
    const ctx = await enter(request, reply, intent);
    if (!isCtx(ctx)) return ctx;
    const body = (request.body ?? {}) as Record<string, unknown>;
    if (isCrossSite(request, request.tenant.issuer)) return send(reply, ctx, 403, portalPage(ctx.frame, { title: 'Refused', body: '<p class="error" role="alert">This form was sent from another site.</p>' }));
    if (!verifyCsrf(deps.keyring, 'portal', ctx.cookie, body.csrf)) return send(reply, ctx, 400, portalPage(ctx.frame, { title: 'Form expired', body: `<p class="error" role="alert">This form expired. <a href="${INTENT_PATHS[intent]}">Reload the page</a> and try again.</p>` }));
    return ctx;
  }

  const isCtx = (v: Ctx | FastifyReply): v is Ctx => 'session' in v && 'frame' in v;
  // Browsers submit a textarea's line breaks as CRLF (HTML §4.10.11): PEM and XML are kept with LF.
  const str = (body: unknown, name: string): string => {
    const v = (body as Record<string, unknown> | undefined)?.[name];
    return typeof v === 'string' ? v.replace(/\r\n?/g, '\n').trim() : '';
  };
  const noticeOf = (request: FastifyRequest) => {
    const key = (request.query as { done?: string } | undefined)?.done;
    return key && NOTICES[key] ? { kind: 'ok' as const, text: NOTICES[key]! } : undefined;
  };
  const seeOther = (reply: FastifyReply, to: string) => reply.header('cache-control', 'no-store').redirect(to, 303);

  /** Runs a change; a domain error (a client mistake) re-renders the page with its message, never a 500. */
  async function attempt(reply: FastifyReply, ctx: Ctx, change: () => Promise<string>, rerender: (error: string) => Promise<string>) {
    try {
      return seeOther(reply, await change());
    } catch (e) {
      if (e instanceof DomainError) return send(reply, ctx, 400, await rerender(e.message));
      throw e;
    }
  }

  // The link: spent once, then the session's cookie. SameSite=None over TLS, so the portal works inside an
  // iframe of another site (the registered frame ancestors); forms are protected by CSRF tokens, not SameSite.
  app.get(PORTAL_LAUNCH_PATH, { schema: { hide: true, querystring: z.looseObject({ token: z.string().optional() }) } }, async (request, reply) => {
    const scope = deps.scopeFor(request.tenant.id);
    const token = (request.query as { token?: string }).token ?? '';
    const outcome = await openPortalLink(scope, deps.keyring, token, request.ip, deps);
    if (!outcome.ok) {
      const text = { invalid: 'This portal link is not valid.', used: 'This portal link was already used. Ask your administrator for a new one.', expired: 'This portal link has expired. Ask your administrator for a new one.' }[outcome.reason];
      return message(request, reply, scope, outcome.reason === 'invalid' ? 404 : 410, 'Portal link', text);
    }
    setCookie(request, reply, PORTAL_COOKIE, outcome.cookie, { maxAgeSeconds: PORTAL_SESSION_SECONDS, crossSitePost: true });
    return seeOther(reply, INTENT_PATHS[outcome.session.intent]);
  });

  app.post('/portal/end', { schema: { hide: true } }, async (request, reply) => {
    const scope = deps.scopeFor(request.tenant.id);
    const cookie = readCookie(request, PORTAL_COOKIE);
    const session = await findPortalSession(scope, deps.keyring, cookie, deps);
    const body = (request.body ?? {}) as Record<string, unknown>;
    if (session && cookie && !isCrossSite(request, request.tenant.issuer) && verifyCsrf(deps.keyring, 'portal', cookie, body.csrf)) {
      await endPortalSession(scope, deps.keyring, cookie, session, request.ip);
    }
    clearCookie(request, reply, PORTAL_COOKIE);
    const { frameAncestors } = await getPortalSettings(scope);
    return portalHeaders(reply, frameAncestors, randomBytes(16).toString('base64')).status(200).send(messagePage({ title: 'Portal session ended', tenantName: request.tenant.displayName, message: 'You can close this window.' }));
  });

  // ---- SSO -------------------------------------------------------------------------------------------------

  const ssoPath = INTENT_PATHS.sso;
  const connectionPath = (id: string) => `${ssoPath}/connections/${id}`;

  /** A connection of the session's organization, or undefined (unknown and foreign look the same). */
  async function connectionOf(ctx: Ctx, request: FastifyRequest, id: string): Promise<Connection | undefined> {
    if (!uuid.safeParse(id).success) return undefined;
    try {
      const c = await getConnection(ctx.scope, request.tenant.issuer, id);
      return c.organizationId === ctx.session.organizationId ? c : undefined;
    } catch (e) {
      if (e instanceof DomainError) return undefined;
      throw e;
    }
  }

  function serviceProviderValues(issuer: string, type: 'saml' | 'oidc', id: string): string {
    const sp = serviceProviderOf(issuer, type, id);
    return type === 'saml'
      ? copyValue('Entity ID (Audience URI, Identifier)', sp.entityId!, 'sp-entity-id') + copyValue('ACS URL (Reply URL, Single sign-on URL)', sp.acsUrl!, 'sp-acs-url') + copyValue('Metadata URL', sp.metadataUrl!, 'sp-metadata-url')
      : copyValue('Redirect URI', sp.redirectUri!, 'sp-redirect-uri') + copyValue('Initiate login URI (optional)', sp.initiateLoginUri!, 'sp-initiate-uri');
  }

  async function ssoHome(request: FastifyRequest, ctx: Ctx, notice?: PortalNotice): Promise<string> {
    const connections = await listConnections(ctx.scope, request.tenant.issuer, ctx.session.organizationId);
    const list = connections.length
      ? `<h2>Your connections</h2><table><thead><tr><th scope="col">Name</th><th scope="col">Protocol</th><th scope="col">Status</th><th scope="col"><span class="hint">Action</span></th></tr></thead><tbody>${connections
          .map((c) => `<tr><td>${escapeHtml(c.displayName)}</td><td>${c.type.toUpperCase()}</td><td>${status(c.status)}</td><td><a href="${connectionPath(c.id)}">Manage<span class="hint"> ${escapeHtml(c.displayName)}</span></a></td></tr>`)
          .join('')}</tbody></table>`
      : '<p>Your organization has no single sign-on connection yet.</p>';
    const picker = `<h2 id="pick">Add a connection: choose your identity provider</h2><ul class="idps" aria-labelledby="pick">${IDP_KEYS.map(
      (k) => `<li><a href="${ssoPath}/new/${k}"><strong>${escapeHtml(IDPS[k].name)}</strong>${escapeHtml(IDPS[k].blurb)}</a></li>`,
    ).join('')}</ul>`;
    return portalPage(ctx.frame, { title: 'Set up single sign-on', body: list + picker, notice });
  }

  function idpForm(idp: IdpKey, csrf: string, values: Record<string, string> = {}): string {
    const guide = IDPS[idp];
    const common = field({ name: 'displayName', label: 'Name of this connection', value: values.displayName ?? guide.name, required: true });
    const specific =
      guide.protocol === 'saml'
        ? `<fieldset><legend>Your identity provider's details</legend><p class="hint">${escapeHtml(guide.where)}</p>` +
          field({ name: 'idpEntityId', label: 'IdP entity ID (Issuer)', value: values.idpEntityId, required: true }) +
          field({ name: 'idpSsoUrl', label: 'IdP sign-in URL (SSO URL, HTTP-Redirect)', type: 'url', value: values.idpSsoUrl, required: true }) +
          textareaWithFile({ name: 'certificate', label: 'IdP signing certificate (PEM)', hint: 'Begins with -----BEGIN CERTIFICATE-----. A .cer, .crt or .pem file works too.', value: values.certificate, required: true, accept: '.pem,.crt,.cer,text/plain', file: 'certificate' }) +
          '</fieldset>'
        : `<fieldset><legend>Your identity provider's details</legend><p class="hint">${escapeHtml(guide.where)}</p>` +
          field({ name: 'issuer', label: 'Issuer URL', type: 'url', value: values.issuer, required: true }) +
          field({ name: 'clientId', label: 'Client ID', value: values.clientId, required: true }) +
          field({ name: 'clientSecret', label: 'Client secret', type: 'password', required: true, hint: 'Stored encrypted; never shown again.' }) +
          '</fieldset>';
    return `<form method="post" action="${ssoPath}/new/${idp}"><input type="hidden" name="csrf" value="${escapeHtml(csrf)}">${common}${specific}<button type="submit">Save connection</button></form>`;
  }

  /** SAML only: the IdP's details from its metadata document, by URL or as the XML (a file or pasted). */
  function metadataForm(idp: IdpKey, csrf: string, values: Record<string, string> = {}): string {
    const guide = IDPS[idp];
    return `<h3>Or import your identity provider's metadata</h3><form method="post" action="${ssoPath}/new/${idp}/metadata"><input type="hidden" name="csrf" value="${escapeHtml(csrf)}">
${field({ name: 'metadataName', label: 'Name of this connection', value: values.displayName ?? guide.name, required: true })}
${field({ name: 'metadataUrl', label: 'Metadata URL', type: 'url', value: values.metadataUrl, hint: 'Read once now, and again daily: certificate rollovers are picked up by themselves.' })}
${textareaWithFile({ name: 'metadataXml', label: 'Or the metadata XML', hint: 'The federation metadata document (an EntityDescriptor). Use either the URL or the XML.', value: values.metadataXml, accept: '.xml,text/xml,application/xml,application/samlmetadata+xml', file: 'metadata' })}
<button type="submit">Import metadata and save</button></form>`;
  }

  async function ssoNew(request: FastifyRequest, ctx: Ctx, idp: IdpKey, notice?: PortalNotice, values?: Record<string, string>): Promise<string> {
    const guide = IDPS[idp];
    const steps = `<h2>1. In ${escapeHtml(guide.name)}</h2><ol>${guide.steps.map((s) => `<li>${escapeHtml(s)}</li>`).join('')}</ol>`;
    const ours = `<h2>2. The values for ${escapeHtml(guide.name)}</h2>${serviceProviderValues(request.tenant.issuer, guide.protocol, ctx.session.draftConnectionId)}`;
    const metadata = guide.protocol === 'saml' ? metadataForm(idp, ctx.frame.csrf, values) : '';
    return portalPage(ctx.frame, { title: `Connect ${guide.name}`, body: `${steps}${ours}<h2>3. Back here</h2>${idpForm(idp, ctx.frame.csrf, values)}${metadata}<p><a href="${ssoPath}">Back to the list of providers</a></p>`, notice });
  }

  app.get(ssoPath, { schema: { hide: true } }, async (request, reply) => {
    const ctx = await enter(request, reply, 'sso');
    if (!isCtx(ctx)) return ctx;
    return send(reply, ctx, 200, await ssoHome(request, ctx, noticeOf(request)));
  });

  app.get(`${ssoPath}/new/:idp`, { schema: { hide: true } }, async (request, reply) => {
    const ctx = await enter(request, reply, 'sso');
    if (!isCtx(ctx)) return ctx;
    const { idp } = request.params as { idp: string };
    if (!isIdpKey(idp)) return send(reply, ctx, 404, await ssoHome(request, ctx, { kind: 'error', text: 'Choose one of the identity providers below.' }));
    return send(reply, ctx, 200, await ssoNew(request, ctx, idp));
  });

  app.post(`${ssoPath}/new/:idp`, { schema: { hide: true } }, async (request, reply) => {
    const ctx = await enterPost(request, reply, 'sso');
    if (!isCtx(ctx)) return ctx;
    const { idp } = request.params as { idp: string };
    if (!isIdpKey(idp)) return send(reply, ctx, 404, await ssoHome(request, ctx, { kind: 'error', text: 'Choose one of the identity providers below.' }));
    const b = request.body;
    const values = { displayName: str(b, 'displayName'), idpEntityId: str(b, 'idpEntityId'), idpSsoUrl: str(b, 'idpSsoUrl'), certificate: str(b, 'certificate'), issuer: str(b, 'issuer'), clientId: str(b, 'clientId') };
    const body =
      IDPS[idp].protocol === 'saml'
        ? { type: 'saml' as const, displayName: values.displayName, settings: { idpEntityId: values.idpEntityId, idpSsoUrl: values.idpSsoUrl, idpCertificates: [values.certificate], wantAssertionsSigned: true, wantResponseSigned: false } }
        : { type: 'oidc' as const, displayName: values.displayName, settings: { issuer: values.issuer, clientId: values.clientId, scopes: ['openid', 'email', 'profile'] }, clientSecret: str(b, 'clientSecret') || undefined };
    if (!values.displayName) return send(reply, ctx, 400, await ssoNew(request, ctx, idp, { kind: 'error', text: 'Give the connection a name.' }, values));
    return attempt(
      reply,
      ctx,
      async () => {
        const id = ctx.session.draftConnectionId;
        await createConnection(ctx.scope, ctx.actor, deps.keyring, request.tenant.issuer, ctx.session.organizationId, body, { id });
        // The next connection of this session gets other URLs.
        await renewDraftConnectionId(ctx.scope, deps.keyring, ctx.cookie);
        return `${connectionPath(id)}?done=created`;
      },
      (error) => ssoNew(request, ctx, idp, { kind: 'error', text: error }, values),
    );
  });

  app.post(`${ssoPath}/new/:idp/metadata`, { schema: { hide: true } }, async (request, reply) => {
    const ctx = await enterPost(request, reply, 'sso');
    if (!isCtx(ctx)) return ctx;
    const { idp } = request.params as { idp: string };
    if (!isIdpKey(idp) || IDPS[idp].protocol !== 'saml') return send(reply, ctx, 404, await ssoHome(request, ctx, { kind: 'error', text: 'Metadata import is for SAML identity providers.' }));
    const b = request.body;
    const values = { displayName: str(b, 'metadataName'), metadataUrl: str(b, 'metadataUrl').trim(), metadataXml: str(b, 'metadataXml').trim() };
    const again = (text: string) => ssoNew(request, ctx, idp, { kind: 'error', text }, values);
    if (!values.displayName) return send(reply, ctx, 400, await again('Give the connection a name.'));
    if (Boolean(values.metadataUrl) === Boolean(values.metadataXml)) return send(reply, ctx, 400, await again('Give either the metadata URL or the metadata XML.'));
    const metadata = values.metadataUrl ? { url: values.metadataUrl } : { xml: values.metadataXml };
    return attempt(
      reply,
      ctx,
      async () => {
        const id = ctx.session.draftConnectionId;
        await createConnection(ctx.scope, ctx.actor, deps.keyring, request.tenant.issuer, ctx.session.organizationId, { type: 'saml', displayName: values.displayName, metadata }, { id, outbound: deps.outbound });
        await renewDraftConnectionId(ctx.scope, deps.keyring, ctx.cookie);
        return `${connectionPath(id)}?done=created`;
      },
      again,
    );
  });

  async function connectionPage(request: FastifyRequest, ctx: Ctx, c: Connection, notice?: PortalNotice): Promise<string> {
    const settings = c.settings as Record<string, unknown>;
    const details =
      c.type === 'saml'
        ? `<table><tbody><tr><th scope="row">IdP entity ID</th><td>${escapeHtml(String(settings.idpEntityId ?? ''))}</td></tr><tr><th scope="row">IdP sign-in URL</th><td>${escapeHtml(String(settings.idpSsoUrl ?? ''))}</td></tr><tr><th scope="row">Signing certificates</th><td>${((settings.idpCertificates as string[] | undefined) ?? []).length}</td></tr></tbody></table>`
        : `<table><tbody><tr><th scope="row">Issuer</th><td>${escapeHtml(String(settings.issuer ?? ''))}</td></tr><tr><th scope="row">Client ID</th><td>${escapeHtml(String(settings.clientId ?? ''))}</td></tr><tr><th scope="row">Client secret</th><td>${c.hasClientSecret ? 'set' : 'missing'}</td></tr></tbody></table>`;
    const test = `<h2>Test the connection</h2><p>Signs in at your identity provider in a pop-up window and shows what it sent, or exactly why it was refused. Nobody is signed in to the application by a test.</p>
<a class="button" href="${connectionPath(c.id)}/test" data-popup="${connectionPath(c.id)}/test" target="_blank" rel="opener">Test connection</a>`;
    // SAML: request signing and encrypted assertions, and our certificate for them once there is one.
    const checkbox = (name: string, label: string, hint: string) =>
      `<label class="check"><input type="checkbox" name="${name}" value="on"${settings[name] === true ? ' checked' : ''} aria-describedby="${name}-hint"> ${escapeHtml(label)}</label><p class="hint" id="${name}-hint">${escapeHtml(hint)}</p>`;
    const security =
      c.type === 'saml'
        ? `<h2>Request signing and encryption</h2><form method="post" action="${connectionPath(c.id)}/security">${csrfField(ctx.frame.csrf)}` +
          checkbox('signAuthnRequest', 'Sign sign-in requests', 'For identity providers that require signed AuthnRequests (e.g. AD FS with SignedSamlRequestsRequired).') +
          checkbox('wantAssertionsEncrypted', 'Require encrypted assertions', 'Your identity provider then encrypts every assertion to our certificate; unencrypted ones are refused.') +
          `<button type="submit">Save</button></form>` +
          (c.serviceProvider.signingCertificate ? copyValue('Our certificate (give it to your identity provider; it is also in our metadata)', c.serviceProvider.signingCertificate, 'sp-certificate') : '')
        : '';
    const toggle =
      c.status === 'active'
        ? postButton(`${connectionPath(c.id)}/deactivate`, ctx.frame.csrf, 'Deactivate', { kind: 'danger' })
        : postButton(`${connectionPath(c.id)}/activate`, ctx.frame.csrf, 'Activate connection');
    const body = `<p>Status: ${status(c.status)} · ${c.type.toUpperCase()}</p><h2>Values for your identity provider</h2>${serviceProviderValues(request.tenant.issuer, c.type, c.id)}
<h2>Your identity provider</h2>${details}${security}${test}<h2>Activation</h2><p>Once active, people with an email address at your verified domains sign in through this connection.</p>${toggle}
<p><a href="${ssoPath}">All connections</a></p>`;
    return portalPage(ctx.frame, { title: c.displayName, body, notice });
  }

  app.get(`${ssoPath}/connections/:id`, { schema: { hide: true } }, async (request, reply) => {
    const ctx = await enter(request, reply, 'sso');
    if (!isCtx(ctx)) return ctx;
    const c = await connectionOf(ctx, request, (request.params as { id: string }).id);
    if (!c) return send(reply, ctx, 404, await ssoHome(request, ctx, { kind: 'error', text: 'No such connection in your organization.' }));
    return send(reply, ctx, 200, await connectionPage(request, ctx, c, noticeOf(request)));
  });

  for (const to of ['activate', 'deactivate'] as const) {
    app.post(`${ssoPath}/connections/:id/${to}`, { schema: { hide: true } }, async (request, reply) => {
      const ctx = await enterPost(request, reply, 'sso');
      if (!isCtx(ctx)) return ctx;
      const c = await connectionOf(ctx, request, (request.params as { id: string }).id);
      if (!c) return send(reply, ctx, 404, await ssoHome(request, ctx, { kind: 'error', text: 'No such connection in your organization.' }));
      return attempt(
        reply,
        ctx,
        async () => {
          await setConnectionStatus(ctx.scope, ctx.actor, request.tenant.issuer, c.id, to === 'activate' ? 'active' : 'inactive');
          return `${connectionPath(c.id)}?done=${to}d`;
        },
        (error) => connectionPage(request, ctx, c, { kind: 'error', text: error }),
      );
    });
  }

  app.post(`${ssoPath}/connections/:id/security`, { schema: { hide: true } }, async (request, reply) => {
    const ctx = await enterPost(request, reply, 'sso');
    if (!isCtx(ctx)) return ctx;
    const c = await connectionOf(ctx, request, (request.params as { id: string }).id);
    if (!c || c.type !== 'saml') return send(reply, ctx, 404, await ssoHome(request, ctx, { kind: 'error', text: 'No such SAML connection in your organization.' }));
    const on = (name: string) => str(request.body, name) === 'on';
    return attempt(
      reply,
      ctx,
      async () => {
        await updateConnection(ctx.scope, ctx.actor, deps.keyring, request.tenant.issuer, c.id, { settings: { ...c.settings, signAuthnRequest: on('signAuthnRequest'), wantAssertionsEncrypted: on('wantAssertionsEncrypted') } });
        return `${connectionPath(c.id)}?done=security`;
      },
      (error) => connectionPage(request, ctx, c, { kind: 'error', text: error }),
    );
  });

  // Test connection: the sign-in of src/signin in its test mode (nobody is signed in); opened in a pop-up.
  app.get(`${ssoPath}/connections/:id/test`, { schema: { hide: true } }, async (request, reply) => {
    const ctx = await enter(request, reply, 'sso');
    if (!isCtx(ctx)) return ctx;
    const c = await connectionOf(ctx, request, (request.params as { id: string }).id);
    if (!c) return send(reply, ctx, 404, await ssoHome(request, ctx, { kind: 'error', text: 'No such connection in your organization.' }));
    return startConnectionTest(request, reply, deps, ctx.session.organizationId, c.id);
  });

  // ---- Directory sync ----------------------------------------------------------------------------------------

  const dsyncPath = INTENT_PATHS.dsync;

  async function directoryOf(ctx: Ctx, request: FastifyRequest, id: string) {
    if (!uuid.safeParse(id).success) return undefined;
    try {
      const d = await getDirectory(ctx.scope, request.tenant.issuer, id);
      return d.organizationId === ctx.session.organizationId ? d : undefined;
    } catch (e) {
      if (e instanceof DomainError) return undefined;
      throw e;
    }
  }

  async function dsyncHome(request: FastifyRequest, ctx: Ctx, notice?: PortalNotice, shownToken?: string): Promise<string> {
    const directories = await listDirectories(ctx.scope, request.tenant.issuer, ctx.session.organizationId);
    if (!directories.length) {
      const options = DIRECTORY_PROVIDERS.map((p) => `<option value="${p}">${escapeHtml({ entra: 'Microsoft Entra ID', okta: 'Okta', google: 'Google Workspace', onelogin: 'OneLogin', jumpcloud: 'JumpCloud', generic: 'Other SCIM 2.0 client' }[p])}</option>`).join('');
      return portalPage(ctx.frame, {
        title: 'Set up directory sync',
        notice,
        body: `<p>Your identity provider creates, updates and removes your people here over SCIM 2.0.</p><form method="post" action="${dsyncPath}"><input type="hidden" name="csrf" value="${escapeHtml(ctx.frame.csrf)}">
${field({ name: 'displayName', label: 'Name of the directory', value: 'Directory', required: true })}<label for="provider">Identity provider</label><select id="provider" name="provider">${options}</select><button type="submit">Create directory</button></form>`,
      });
    }
    const sections = await Promise.all(
      directories.map(async (d) => {
        const tokens = await listDirectoryTokens(ctx.scope, d.id);
        const errors = await recentAuditEntries(ctx.scope, { action: 'directory.token.refused', targetType: 'directory', targetId: d.id }, 10);
        const tokenRows = tokens
          .map(
            (t) =>
              `<tr><td><code>…${escapeHtml(t.hint)}</code></td><td>${when(t.createdAt)}</td><td>${when(t.lastUsedAt)}</td><td>${t.revokedAt ? status('revoked') : t.expiresAt && t.expiresAt <= new Date() ? status('expired') : status('active')}</td><td>${
                t.revokedAt ? '' : postButton(`${dsyncPath}/${d.id}/tokens/${t.id}/revoke`, ctx.frame.csrf, 'Revoke', { kind: 'danger', ariaLabel: `Revoke token ending ${t.hint}` })
              }</td></tr>`,
          )
          .join('');
        const tokenTable = tokens.length
          ? `<table><thead><tr><th scope="col">Token</th><th scope="col">Created</th><th scope="col">Last used</th><th scope="col">Status</th><th scope="col"><span class="hint">Action</span></th></tr></thead><tbody>${tokenRows}</tbody></table>`
          : '<p>No token yet.</p>';
        const errorList = errors.length
          ? `<ul>${errors.map((e) => `<li>${when(e.at)}: refused, ${escapeHtml(String(e.after?.reason ?? 'unknown'))} token</li>`).join('')}</ul>`
          : '<p>None.</p>';
        return `<section aria-labelledby="dir-${d.id}"><h2 id="dir-${d.id}">${escapeHtml(d.displayName)}</h2>
${copyValue('SCIM base URL (Tenant URL)', d.scimBaseUrl, `scim-${d.id}`)}
<h3>Bearer token (Secret Token)</h3>${tokenTable}${postButton(`${dsyncPath}/${d.id}/tokens`, ctx.frame.csrf, tokens.some((t) => !t.revokedAt) ? 'Rotate: generate a new token' : 'Generate token')}
<p class="hint">At most two tokens are active at once: generate the new one, update your identity provider, then revoke the old one.</p>
<h3>Activity</h3><p>Last request received: <span id="last-request">${when(d.lastRequestAt)}</span>. ${d.userCount} users and ${d.groupCount} groups provisioned.</p>
<h3>Recent errors</h3>${errorList}</section>`;
      }),
    );
    const shown = shownToken
      ? `<div class="ok" role="status"><p><strong>Your new token. Copy it now: it is shown only once.</strong></p>${copyValue('New bearer token', shownToken, 'new-token')}</div>`
      : '';
    return portalPage(ctx.frame, { title: 'Directory sync', notice, body: shown + sections.join('') });
  }

  app.get(dsyncPath, { schema: { hide: true } }, async (request, reply) => {
    const ctx = await enter(request, reply, 'dsync');
    if (!isCtx(ctx)) return ctx;
    return send(reply, ctx, 200, await dsyncHome(request, ctx, noticeOf(request)));
  });

  app.post(dsyncPath, { schema: { hide: true } }, async (request, reply) => {
    const ctx = await enterPost(request, reply, 'dsync');
    if (!isCtx(ctx)) return ctx;
    const provider = str(request.body, 'provider');
    return attempt(
      reply,
      ctx,
      async () => {
        await createDirectory(ctx.scope, ctx.actor, request.tenant.issuer, ctx.session.organizationId, {
          displayName: str(request.body, 'displayName') || 'Directory',
          provider: (DIRECTORY_PROVIDERS as readonly string[]).includes(provider) ? (provider as (typeof DIRECTORY_PROVIDERS)[number]) : 'generic',
        });
        return `${dsyncPath}?done=directory`;
      },
      (error) => dsyncHome(request, ctx, { kind: 'error', text: error }),
    );
  });

  // The token is shown in this answer only (never in a URL, never again).
  app.post(`${dsyncPath}/:id/tokens`, { schema: { hide: true } }, async (request, reply) => {
    const ctx = await enterPost(request, reply, 'dsync');
    if (!isCtx(ctx)) return ctx;
    const d = await directoryOf(ctx, request, (request.params as { id: string }).id);
    if (!d) return send(reply, ctx, 404, await dsyncHome(request, ctx, { kind: 'error', text: 'No such directory in your organization.' }));
    try {
      const created = await createDirectoryToken(ctx.scope, ctx.actor, d.id);
      return send(reply, ctx, 201, await dsyncHome(request, ctx, undefined, created.token));
    } catch (e) {
      if (e instanceof DomainError) return send(reply, ctx, 409, await dsyncHome(request, ctx, { kind: 'error', text: e.message }));
      throw e;
    }
  });

  app.post(`${dsyncPath}/:id/tokens/:tokenId/revoke`, { schema: { hide: true } }, async (request, reply) => {
    const ctx = await enterPost(request, reply, 'dsync');
    if (!isCtx(ctx)) return ctx;
    const { id, tokenId } = request.params as { id: string; tokenId: string };
    const d = await directoryOf(ctx, request, id);
    if (!d || !uuid.safeParse(tokenId).success) return send(reply, ctx, 404, await dsyncHome(request, ctx, { kind: 'error', text: 'No such token in your organization.' }));
    return attempt(
      reply,
      ctx,
      async () => {
        await revokeDirectoryToken(ctx.scope, ctx.actor, d.id, tokenId);
        return `${dsyncPath}?done=revoked`;
      },
      (error) => dsyncHome(request, ctx, { kind: 'error', text: error }),
    );
  });

  // ---- Domain verification -----------------------------------------------------------------------------------

  const domainsPath = INTENT_PATHS.domain_verification;

  async function domainsHome(request: FastifyRequest, ctx: Ctx, notice?: PortalNotice): Promise<string> {
    const domains = await listDomains(ctx.scope, ctx.session.organizationId);
    const items = domains
      .map(
        (d) => `<section aria-labelledby="dom-${d.id}"><h2 id="dom-${d.id}">${escapeHtml(d.domain)}</h2><p>Status: <span id="status-${escapeHtml(d.domain)}">${status(d.status)}</span>${d.verifiedAt ? ` since ${when(d.verifiedAt)}` : ''}</p>
${d.status === 'verified' ? '' : `<p>Add this TXT record at your DNS provider:</p>${copyValue('Name (host)', d.txtRecord.name, `txt-name-${d.id}`)}${copyValue('Value', d.txtRecord.value, `txt-value-${d.id}`)}
<p>${d.lastCheckedAt ? `Last checked ${when(d.lastCheckedAt)}` : 'Not checked yet'}${d.lastError ? `: <span class="hint">${escapeHtml(d.lastError)}</span>` : '.'} We also check again on our own until ${when(d.expiresAt)}.</p>
${d.status === 'failed' ? '' : postButton(`${domainsPath}/${d.id}/verify`, ctx.frame.csrf, 'Verify now', { ariaLabel: `Verify ${d.domain} now` })}`}</section>`,
      )
      .join('');
    const add = `<h2>Add a domain</h2><form method="post" action="${domainsPath}"><input type="hidden" name="csrf" value="${escapeHtml(ctx.frame.csrf)}">${field({ name: 'domain', label: 'Domain', hint: 'The part after @ in your email addresses, e.g. example.com', required: true })}<button type="submit">Add domain</button></form>`;
    return portalPage(ctx.frame, { title: 'Verify your domains', notice, body: `<p>A verified domain proves your organization owns its email addresses: people with these addresses sign in through your single sign-on.</p>${items}${add}` });
  }

  app.get(domainsPath, { schema: { hide: true } }, async (request, reply) => {
    const ctx = await enter(request, reply, 'domain_verification');
    if (!isCtx(ctx)) return ctx;
    return send(reply, ctx, 200, await domainsHome(request, ctx, noticeOf(request)));
  });

  app.post(domainsPath, { schema: { hide: true } }, async (request, reply) => {
    const ctx = await enterPost(request, reply, 'domain_verification');
    if (!isCtx(ctx)) return ctx;
    return attempt(
      reply,
      ctx,
      async () => {
        await addDomain(ctx.scope, ctx.actor, ctx.session.organizationId, str(request.body, 'domain'));
        return `${domainsPath}?done=domain`;
      },
      (error) => domainsHome(request, ctx, { kind: 'error', text: error }),
    );
  });

  app.post(`${domainsPath}/:id/verify`, { schema: { hide: true } }, async (request, reply) => {
    const ctx = await enterPost(request, reply, 'domain_verification');
    if (!isCtx(ctx)) return ctx;
    const { id } = request.params as { id: string };
    if (!uuid.safeParse(id).success) return send(reply, ctx, 404, await domainsHome(request, ctx, { kind: 'error', text: 'No such domain in your organization.' }));
    try {
      // getDomain: 404 for another organization's domain, exactly as for an unknown one.
      await getDomain(ctx.scope, ctx.session.organizationId, id);
      const d = await verifyDomainNow(ctx.scope, ctx.actor, ctx.session.organizationId, id, { resolver: deps.resolver });
      const notice = d.status === 'verified' ? { kind: 'ok' as const, text: `${d.domain} is verified.` } : { kind: 'error' as const, text: `${d.domain} is not verified yet: ${d.lastError ?? 'the record was not found'}` };
      return send(reply, ctx, 200, await domainsHome(request, ctx, notice));
    } catch (e) {
      if (e instanceof DomainError) return send(reply, ctx, 400, await domainsHome(request, ctx, { kind: 'error', text: e.message }));
      throw e;
    }
  });

  // ---- Certificate renewal ---------------------------------------------------------------------------------

  const certsPath = INTENT_PATHS.certificate_renewal;

  function describe(pem: string): { subject: string; notAfter: Date | null; fingerprint: string } {
    try {
      const c = describeCertificate(pem);
      return { ...c, notAfter: new Date(c.notAfter) };
    } catch {
      return { subject: 'unreadable certificate', notAfter: null, fingerprint: '' };
    }
  }

  async function certsHome(request: FastifyRequest, ctx: Ctx, notice?: PortalNotice): Promise<string> {
    const saml = (await listConnections(ctx.scope, request.tenant.issuer, ctx.session.organizationId)).filter((c) => c.type === 'saml');
    if (!saml.length) return portalPage(ctx.frame, { title: 'Certificate renewal', notice, body: '<p>Your organization has no SAML connection.</p>' });
    const now = Date.now();
    const sections = saml.map((c) => {
      const pems = ((c.settings as { idpCertificates?: string[] }).idpCertificates ?? []) as string[];
      const rows = pems
        .map((pem, i) => {
          const d = describe(pem);
          const days = d.notAfter ? Math.floor((d.notAfter.getTime() - now) / 86_400_000) : null;
          const expiry = d.notAfter ? `${when(d.notAfter)} <span class="hint">(${days! < 0 ? 'expired' : `in ${days} days`})</span>` : '—';
          const remove = pems.length > 1 ? postButton(`${certsPath}/${c.id}/remove`, ctx.frame.csrf, 'Remove', { kind: 'danger', hidden: { index: String(i), fingerprint: d.fingerprint }, ariaLabel: `Remove certificate ${i + 1}` }) : '<span class="hint">the only one</span>';
          return `<tr><td>${i + 1}</td><td>${escapeHtml(d.subject)}<br><span class="hint">SHA-256 ${escapeHtml(d.fingerprint)}</span></td><td class="expiry">${expiry}</td><td>${remove}</td></tr>`;
        })
        .join('');
      return `<section aria-labelledby="conn-${c.id}"><h2 id="conn-${c.id}">${escapeHtml(c.displayName)}</h2><p>Status: ${status(c.status)}</p>
<table id="certs-${c.id}"><thead><tr><th scope="col">#</th><th scope="col">Certificate</th><th scope="col">Expires</th><th scope="col"><span class="hint">Action</span></th></tr></thead><tbody>${rows}</tbody></table>
<form method="post" action="${certsPath}/${c.id}/add"><input type="hidden" name="csrf" value="${escapeHtml(ctx.frame.csrf)}">${textareaWithFile({ name: `certificate-${c.id}`, label: 'Add the new signing certificate (PEM)', hint: 'It is accepted beside the current one, so sign-ins keep working while your identity provider switches over.', required: true, accept: '.pem,.crt,.cer,text/plain', file: 'certificate' })}<button type="submit">Add certificate</button></form></section>`;
    });
    return portalPage(ctx.frame, { title: 'Certificate renewal', notice, body: sections.join('') });
  }

  app.get(certsPath, { schema: { hide: true } }, async (request, reply) => {
    const ctx = await enter(request, reply, 'certificate_renewal');
    if (!isCtx(ctx)) return ctx;
    return send(reply, ctx, 200, await certsHome(request, ctx, noticeOf(request)));
  });

  for (const op of ['add', 'remove'] as const) {
    app.post(`${certsPath}/:id/${op}`, { schema: { hide: true } }, async (request, reply) => {
      const ctx = await enterPost(request, reply, 'certificate_renewal');
      if (!isCtx(ctx)) return ctx;
      const c = await connectionOf(ctx, request, (request.params as { id: string }).id);
      if (!c || c.type !== 'saml') return send(reply, ctx, 404, await certsHome(request, ctx, { kind: 'error', text: 'No such SAML connection in your organization.' }));
      const current = ((c.settings as { idpCertificates?: string[] }).idpCertificates ?? []) as string[];
      let next: string[];
      if (op === 'add') {
        const pem = str(request.body, `certificate-${c.id}`);
        if (describe(pem).notAfter === null) return send(reply, ctx, 400, await certsHome(request, ctx, { kind: 'error', text: 'That is not a PEM certificate (-----BEGIN CERTIFICATE----- …).' }));
        if (current.some((p) => describe(p).fingerprint === describe(pem).fingerprint)) return send(reply, ctx, 400, await certsHome(request, ctx, { kind: 'error', text: 'This certificate is already there.' }));
        next = [...current, pem];
      } else {
        // The fingerprint guards against removing another certificate than the one shown (a concurrent change).
        const index = Number(str(request.body, 'index'));
        if (!Number.isInteger(index) || !current[index] || describe(current[index]).fingerprint !== str(request.body, 'fingerprint') || current.length < 2) {
          return send(reply, ctx, 400, await certsHome(request, ctx, { kind: 'error', text: 'That certificate cannot be removed (it changed, or it is the only one).' }));
        }
        next = current.filter((_, i) => i !== index);
      }
      return attempt(
        reply,
        ctx,
        async () => {
          await updateConnection(ctx.scope, ctx.actor, deps.keyring, request.tenant.issuer, c.id, { settings: { ...c.settings, idpCertificates: next } });
          return `${certsPath}?done=${op === 'add' ? 'certificate' : 'removed'}`;
        },
        (error) => certsHome(request, ctx, { kind: 'error', text: error }),
      );
    });
  }
}

type PortalNotice = { kind: 'ok' | 'error'; text: string };
