/**
 * `/api/organizations/{id}/connections` and `/api/connections`: organizations' SSO connections (OIDC, SAML 2.0) and
 * the domain pre-check. HTTP only: schemas, status codes and calls into service.ts.
 */
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { TenantScope } from '../platform/db.ts';
import type { Keyring } from '../platform/crypto.ts';
import type { Outbound } from '../platform/outbound.ts';
import { actorOf } from '../platform/auth.ts';
import { problemResponses } from '../platform/errors/problem-schema.ts';
import { organizationIdParams } from '../organizations/schemas.ts';
import { connectionsWithExpiringCertificates, createConnection, rolloverSpCertificate, deleteConnection, getConnection, importSamlMetadata, listConnections, setConnectionStatus, ssoForDomain, updateConnection } from './service.ts';
import {
  connectionCreateBody,
  connectionIdParams,
  connectionListResponse,
  connectionPatchBody,
  connectionResponse,
  connectionToWire,
  domainQuery,
  domainSsoResponse,
  expiringQuery,
  samlMetadataImportResponse,
  samlMetadataSource,
} from './schemas.ts';

export const ORGANIZATION_CONNECTIONS_PATH = '/api/organizations/:organizationId/connections';
export const CONNECTIONS_PATH = '/api/connections';
export const CONNECTION_PATH = '/api/connections/:connectionId';

export interface ConnectionRouteDeps {
  scopeFor(tenantId: string): TenantScope;
  keyring: Keyring;
  /** The bounded fetcher, for SAML metadata URLs. */
  outbound: Outbound;
}

const TAGS = ['Connections'];
const READ = { permission: 'connections:read' } as const;
const WRITE = { permission: 'connections:write' } as const;

export function connectionRoutes(app: FastifyInstance, deps: ConnectionRouteDeps) {
  const r = app.withTypeProvider<ZodTypeProvider>();

  r.post(ORGANIZATION_CONNECTIONS_PATH, {
    config: WRITE,
    schema: {
      operationId: 'connections.create',
      tags: TAGS,
      summary: 'Add an SSO connection to an organization',
      description:
        'An OIDC or SAML 2.0 identity provider of the organization. It starts as `draft`; `POST …/activate` makes it route sign-ins. ' +
        'The answer\'s `serviceProvider` holds what to register at the IdP (OIDC redirect URI; SAML entity ID, ACS URL and metadata URL). `clientSecret` is write-only. ' +
        'SAML: give the IdP by hand in `settings`, or its `metadata` (a URL, re-read daily, or the XML).',
      params: organizationIdParams,
      body: connectionCreateBody,
      response: { 201: connectionResponse, ...problemResponses(400, 401, 403, 404, 413, 415) },
    },
    handler: async (request, reply) => {
      const c = await createConnection(deps.scopeFor(request.tenant.id), actorOf(request), deps.keyring, request.tenant.issuer, request.params.organizationId, request.body, { outbound: deps.outbound });
      return reply.status(201).header('Location', `${CONNECTIONS_PATH}/${c.id}`).send(connectionToWire(c));
    },
  });

  r.get(ORGANIZATION_CONNECTIONS_PATH, {
    config: READ,
    schema: {
      operationId: 'connections.listOfOrganization',
      tags: TAGS,
      summary: "List an organization's connections",
      description: 'In creation order: `organization_id` routing takes the first active one.',
      params: organizationIdParams,
      response: { 200: connectionListResponse, ...problemResponses(400, 401, 403, 404) },
    },
    handler: async (request) => ({ items: (await listConnections(deps.scopeFor(request.tenant.id), request.tenant.issuer, request.params.organizationId)).map(connectionToWire) }),
  });

  r.get(CONNECTIONS_PATH, {
    config: READ,
    schema: {
      operationId: 'connections.forDomain',
      tags: TAGS,
      summary: 'Is SSO configured for a domain?',
      description:
        'Pre-check SSO availability before showing a password field: `sso` is true when the domain is verified for an organization with an active connection. ' +
        'Pending or failed domains never count.',
      querystring: domainQuery,
      response: { 200: domainSsoResponse, ...problemResponses(400, 401, 403) },
    },
    handler: async (request) => ssoForDomain(deps.scopeFor(request.tenant.id), request.query.domain),
  });

  r.get(`${CONNECTIONS_PATH}/expiring-certificates`, {
    config: READ,
    schema: {
      operationId: 'connections.expiringCertificates',
      tags: TAGS,
      summary: 'SAML connections whose IdP certificates expire soon',
      description:
        'Every SAML connection of the tenant (any status) with an IdP signing certificate that expires within `withinDays` days (default 30) or has expired, each with its `certificates` (subject, SHA-256 fingerprint, `notAfter`): what the daily `saml-connection-upkeep` job warns about. ' +
        'Add the IdP\'s new certificate beside the old one (`idpCertificates` holds up to five) or re-read its metadata before the old one expires.',
      querystring: expiringQuery,
      response: { 200: connectionListResponse, ...problemResponses(400, 401, 403) },
    },
    handler: async (request) => ({ items: (await connectionsWithExpiringCertificates(deps.scopeFor(request.tenant.id), request.tenant.issuer, request.query.withinDays)).map(connectionToWire) }),
  });

  r.get(CONNECTION_PATH, {
    config: READ,
    schema: { operationId: 'connections.get', tags: TAGS, summary: 'Get a connection', description: 'The connection with its settings and service-provider URLs; the client secret is never returned (`hasClientSecret`).', params: connectionIdParams, response: { 200: connectionResponse, ...problemResponses(400, 401, 403, 404) } },
    handler: async (request) => connectionToWire(await getConnection(deps.scopeFor(request.tenant.id), request.tenant.issuer, request.params.connectionId)),
  });

  r.patch(CONNECTION_PATH, {
    config: WRITE,
    schema: {
      operationId: 'connections.update',
      tags: TAGS,
      summary: 'Change a connection',
      description: '`settings` replaces the whole settings object and is validated for the connection\'s type; `clientSecret` (OIDC) replaces the stored secret.',
      params: connectionIdParams,
      body: connectionPatchBody,
      response: { 200: connectionResponse, ...problemResponses(400, 401, 403, 404, 413, 415) },
    },
    handler: async (request) =>
      connectionToWire(await updateConnection(deps.scopeFor(request.tenant.id), actorOf(request), deps.keyring, request.tenant.issuer, request.params.connectionId, request.body)),
  });

  for (const [action, status] of [['activate', 'active'], ['deactivate', 'inactive']] as const) {
    r.post(`${CONNECTION_PATH}/${action}`, {
      config: WRITE,
      schema: {
        operationId: `connections.${action}`,
        tags: TAGS,
        summary: action === 'activate' ? 'Activate a connection (it routes sign-ins)' : 'Deactivate a connection (it routes nothing)',
        description:
          action === 'activate'
            ? 'Checks that the connection is complete (an OIDC client secret; SAML settings with a certificate), then routes sign-ins to it.'
            : 'The connection stays configured but routes no sign-in until activated again.',
        params: connectionIdParams,
        response: { 200: connectionResponse, ...problemResponses(400, 401, 403, 404) },
      },
      handler: async (request) => connectionToWire(await setConnectionStatus(deps.scopeFor(request.tenant.id), actorOf(request), request.tenant.issuer, request.params.connectionId, status)),
    });
  }

  r.post(`${CONNECTION_PATH}/saml-metadata`, {
    config: WRITE,
    schema: {
      operationId: 'connections.importSamlMetadata',
      tags: TAGS,
      summary: "Read a SAML connection's IdP from its metadata",
      description:
        'Sets `idpEntityId`, `idpSsoUrl` (the HTTP-Redirect SingleSignOnService) and `idpCertificates` (the signing KeyDescriptors) from the IdP\'s metadata, by `url` (fetched through the bounded fetcher; kept as `idpMetadataUrl` and re-read daily, so certificate rollovers published there are picked up) or as `xml`. ' +
        'Everything else in the settings is kept. No DOCTYPE, at most 512 KiB. Audited as connection.metadata.import when something changed.',
      params: connectionIdParams,
      body: samlMetadataSource,
      response: { 200: samlMetadataImportResponse, ...problemResponses(400, 401, 403, 404, 413, 415) },
    },
    handler: async (request) => {
      const r = await importSamlMetadata(deps.scopeFor(request.tenant.id), actorOf(request), deps.outbound, request.tenant.issuer, request.params.connectionId, request.body);
      return { ...r, connection: connectionToWire(r.connection) };
    },
  });

  const rolloverSteps = {
    rollover: {
      summary: "Start rolling over a SAML connection's own certificate",
      description:
        'Makes a next key and self-signed certificate (`serviceProvider.nextSigningCertificate`). Until it is promoted the SP metadata lists both as signing keys (AuthnRequests are still signed with the current one) and the next one as the encryption key; assertions encrypted to either certificate are accepted. ' +
        'Give the IdP the new certificate (or let it re-read our metadata), then promote. 409 while one is in progress; 400 when the connection has no certificate of its own (neither signAuthnRequest nor wantAssertionsEncrypted was ever on).',
    },
    promote: { summary: 'Finish a certificate rollover', description: 'The next certificate becomes the current one (requests are signed with it, the metadata lists only it) and the old key is deleted. 409 when no rollover is in progress.' },
    cancel: { summary: 'Cancel a certificate rollover', description: 'Deletes the next key and certificate; the current ones stay. 409 when no rollover is in progress.' },
  } as const;
  for (const [step, doc] of Object.entries(rolloverSteps) as [keyof typeof rolloverSteps, (typeof rolloverSteps)[keyof typeof rolloverSteps]][]) {
    r.post(`${CONNECTION_PATH}/sp-certificate/${step}`, {
      config: WRITE,
      schema: {
        operationId: `connections.spCertificate${step[0]!.toUpperCase()}${step.slice(1)}`,
        tags: TAGS,
        summary: doc.summary,
        description: `${doc.description} Audited as connection.sp_certificate.${step} with the certificates' fingerprints.`,
        params: connectionIdParams,
        body: z.strictObject({}).optional(),
        response: { 200: connectionResponse, ...problemResponses(400, 401, 403, 404, 409, 415) },
      },
      handler: async (request) => connectionToWire(await rolloverSpCertificate(deps.scopeFor(request.tenant.id), actorOf(request), deps.keyring, request.tenant.issuer, request.params.connectionId, step)),
    });
  }

  r.delete(CONNECTION_PATH, {
    config: WRITE,
    schema: { operationId: 'connections.delete', tags: TAGS, summary: 'Delete a connection', description: 'Sign-ins can no longer use it; users it admitted and their memberships stay.', params: connectionIdParams, response: { 204: z.null().describe('Deleted.'), ...problemResponses(400, 401, 403, 404) } },
    handler: async (request, reply) => {
      await deleteConnection(deps.scopeFor(request.tenant.id), actorOf(request), request.tenant.issuer, request.params.connectionId);
      return reply.status(204).send(null);
    },
  });
}
