/**
 * The Admin Portal's management API: `POST /api/organizations/{id}/portal-links` (permission `portal:write`; an
 * organization-scoped client for its own organization only, ADR 0009) and the tenant's framing policy
 * `GET/PUT /api/portal/settings` (administrators). HTTP only; the rules are in service.ts.
 */
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { ScopeFor } from '../platform/db.ts';
import type { Keyring } from '../platform/crypto.ts';
import { actorOf } from '../platform/auth.ts';
import { problemResponses } from '../platform/errors/problem-schema.ts';
import { organizationIdParams } from '../organizations/schemas.ts';
import { createPortalLink, getPortalSettings, updatePortalSettings, type PortalClock } from './service.ts';
import { portalLinkCreateBody, portalLinkResponse, portalLinkToWire, portalSettingsBody, portalSettingsResponse } from './schemas.ts';

export const PORTAL_LINKS_PATH = '/api/organizations/:organizationId/portal-links';
export const PORTAL_SETTINGS_PATH = '/api/portal/settings';

export interface PortalRouteDeps extends PortalClock {
  scopeFor: ScopeFor;
  keyring: Keyring;
  linkTtlSeconds: number;
}

const TAGS = ['Admin Portal'];

export function portalRoutes(app: FastifyInstance, deps: PortalRouteDeps) {
  const r = app.withTypeProvider<ZodTypeProvider>();

  r.post(PORTAL_LINKS_PATH, {
    config: { permission: 'portal:write' },
    schema: {
      operationId: 'organizations.portalLinks.create',
      tags: TAGS,
      summary: 'Create a one-time Admin Portal link',
      description:
        `A link for the organization's IT administrator to configure one thing themselves: its SSO connection (\`sso\`), directory sync (\`dsync\`), domain verification, or SAML certificate renewal. ` +
        `It must be opened within ${deps.linkTtlSeconds} seconds (PORTAL_LINK_TTL_SECONDS) and opens one portal session, once; that session is limited to this organization and intent. Audited as portal.link.create.`,
      params: organizationIdParams,
      body: portalLinkCreateBody,
      response: { 201: portalLinkResponse, ...problemResponses(400, 401, 403, 404, 413, 415) },
    },
    handler: async (request, reply) => {
      const link = await createPortalLink(deps.scopeFor(request.tenant.id), deps.keyring, actorOf(request), request.tenant.issuer, request.params.organizationId, request.body, { ttlSeconds: deps.linkTtlSeconds, now: deps.now });
      // The link is a credential.
      return reply.status(201).header('Cache-Control', 'no-store').send(portalLinkToWire(link));
    },
  });

  r.get(PORTAL_SETTINGS_PATH, {
    config: { permission: 'admin' },
    schema: {
      operationId: 'portal.settings.get',
      tags: TAGS,
      summary: 'Read the Admin Portal settings of the tenant',
      response: { 200: portalSettingsResponse, ...problemResponses(401, 403) },
    },
    handler: async (request) => getPortalSettings(deps.scopeFor(request.tenant.id)),
  });

  r.put(PORTAL_SETTINGS_PATH, {
    config: { permission: 'admin' },
    schema: {
      operationId: 'portal.settings.update',
      tags: TAGS,
      summary: 'Set which origins may embed the Admin Portal',
      description: 'The portal pages answer `Content-Security-Policy: frame-ancestors <these origins>`; with none, `frame-ancestors \'none\'` and `X-Frame-Options: DENY`. Audited as portal.settings.update.',
      body: portalSettingsBody,
      response: { 200: portalSettingsResponse, ...problemResponses(400, 401, 403, 413, 415) },
    },
    handler: async (request) => updatePortalSettings(deps.scopeFor(request.tenant.id), actorOf(request), request.body),
  });
}
