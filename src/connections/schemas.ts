/** The wire format of SSO connections (camelCase JSON). Secrets are write-only: accepted, never returned. */
import { z } from 'zod';
import { CONNECTION_STATUSES, CONNECTION_TYPES, JIT_POLICIES, UPSTREAM_TYPES } from '../db/schema/index.ts';
import { organizationRole } from '../organizations/schemas.ts';
import type { Connection } from './service.ts';
import { MAX_METADATA_BYTES } from './saml-metadata.ts';
import { clientIdParam } from '../downstream/schemas.ts';

const httpUrl = z.url({ protocol: /^https?$/ }).max(2048);
const claimName = z.string().min(1).max(128).regex(/^[\x21-\x7e]+$/, 'printable ASCII without spaces');
const pem = z
  .string()
  .max(16_384)
  .regex(/-----BEGIN CERTIFICATE-----[\s\S]+-----END CERTIFICATE-----/, 'a PEM certificate (-----BEGIN CERTIFICATE----- …)');

/** Which profile fields come from which claim or SAML attribute (defaults: the OIDC standard claims). */
const profileMapping = z
  .strictObject({ email: claimName.optional(), givenName: claimName.optional(), familyName: claimName.optional(), groups: claimName.optional() })
  .describe('Claim (OIDC) or attribute (SAML) names for the normalized profile; unset fields use the standard names.');

/** OpenID Connect Core §4 at the application: who receives this connection's IdP-initiated arrivals. */
const idpInitiatedClientId = clientIdParam
  .optional()
  .describe(
    'An InteractiveApplication or ClientSideApplication of this tenant with an `initiateLoginUri`: a sign-in started at the IdP (an unsolicited SAML response, once validated, or the OIDC initiate URI) sends the browser there with `iss`, `login_hint`, `target_link_uri`, `connection_id` and `organization_id`, never signing anyone in itself. Unset (or the application has no `initiateLoginUri`): a fresh SP-initiated sign-in at this connection that ends on this service.',
  );

/** Generic OpenID Connect: Okta, OneLogin, JumpCloud, Keycloak, PingFederate, … (OpenID Connect Discovery 1.0). */
export const oidcSettings = z.strictObject({
  issuer: httpUrl.describe('The issuer; its `/.well-known/openid-configuration` is fetched unless `discoveryUrl` is set.'),
  discoveryUrl: httpUrl.optional(),
  clientId: z.string().min(1).max(256),
  scopes: z.array(z.string().regex(/^[\x21\x23-\x5b\x5d-\x7e]{1,128}$/)).max(20).default(['openid', 'email', 'profile']),
  claimMapping: profileMapping.optional(),
  idpInitiatedClientId,
});
export type OidcSettings = z.infer<typeof oidcSettings>;

/** SAML 2.0 identity provider, entered by hand or read from its metadata. */
export const samlSettings = z.strictObject({
  idpEntityId: z.string().min(1).max(1024),
  idpSsoUrl: httpUrl,
  idpCertificates: z.array(pem).min(1).max(5).describe('Signing certificates; several at once for rotation.'),
  idpMetadataUrl: httpUrl.optional(),
  wantAssertionsSigned: z.boolean().default(true),
  wantResponseSigned: z.boolean().default(false),
  wantAssertionsEncrypted: z
    .boolean()
    .default(false)
    .describe('Accept only encrypted assertions (EncryptedAssertion, RSA-OAEP key transport, AES-CBC or AES-GCM), decrypted with the connection\'s own key, whose certificate is `serviceProvider.signingCertificate` and the SP metadata\'s encryption KeyDescriptor.'),
  signAuthnRequest: z
    .boolean()
    .default(false)
    .describe('Sign AuthnRequests (HTTP-Redirect, RSA-SHA256). The first time it is on, the connection gets its own key and certificate: `serviceProvider.signingCertificate`, also in the SP metadata, for the IdP.'),
  attributeMapping: profileMapping.optional(),
  idpInitiatedClientId,
});
export type SamlSettings = z.infer<typeof samlSettings>;

const common = {
  displayName: z.string().trim().min(1).max(256),
  jitPolicy: z.enum(JIT_POLICIES).optional().describe('Who is admitted who is not yet a member: `anyone` the IdP authenticates, only emails in the organization\'s `verified_domains` (default), or `existing_members`.'),
  defaultOrganizationRoles: z.array(organizationRole).max(20).optional().describe('Organization roles of members this connection adds.'),
};

/**
 * Where an IdP's SAML metadata comes from: its URL (fetched through the bounded fetcher, and re-read daily) or the
 * XML itself. `entityId` picks one IdP out of a federation's EntitiesDescriptor.
 */
export const samlMetadataSource = z
  .union([
    z.strictObject({ url: httpUrl.describe('The IdP\'s metadata URL (https). Kept as `idpMetadataUrl` and re-read every day.'), entityId: z.string().min(1).max(1024).optional() }),
    z.strictObject({ xml: z.string().min(1).max(MAX_METADATA_BYTES).describe('The metadata document (md:EntityDescriptor).'), entityId: z.string().min(1).max(1024).optional() }),
  ])
  .describe('The IdP\'s SAML metadata, by URL or as XML: sets idpEntityId, idpSsoUrl (HTTP-Redirect) and idpCertificates.');
export type SamlMetadataSource = z.infer<typeof samlMetadataSource>;

export const connectionCreateBody = z
  .discriminatedUnion('type', [
    z.strictObject({ type: z.literal('oidc'), ...common, settings: oidcSettings, clientSecret: z.string().min(1).max(1024).optional().describe('Write-only.') }),
    z.strictObject({
      type: z.literal('saml'),
      ...common,
      settings: samlSettings.partial().optional().describe('The IdP by hand; with `metadata`, only what the metadata does not say (e.g. `attributeMapping`).'),
      metadata: samlMetadataSource.optional(),
    }),
  ])
  .meta({
    examples: [
      { type: 'oidc', displayName: 'Megacorp Okta', settings: { issuer: 'https://megacorp.okta.com', clientId: '0oa1b2c3' }, clientSecret: 'from-okta', jitPolicy: 'verified_domains', defaultOrganizationRoles: ['member'] },
      { type: 'saml', displayName: 'Megacorp Entra ID', metadata: { url: 'https://login.microsoftonline.com/00000000-0000-0000-0000-000000000000/federationmetadata/2007-06/federationmetadata.xml?appid=11111111-1111-1111-1111-111111111111' } },
    ],
  });
export type ConnectionCreateBody = z.infer<typeof connectionCreateBody>;

export const connectionPatchBody = z
  .strictObject({
    displayName: common.displayName.optional(),
    jitPolicy: common.jitPolicy,
    defaultOrganizationRoles: common.defaultOrganizationRoles,
    settings: z.record(z.string(), z.unknown()).optional().describe('The whole settings object of the connection\'s type (replaces the stored one).'),
    clientSecret: z.string().min(1).max(1024).optional().describe('OIDC only; write-only.'),
  })
  .meta({ examples: [{ displayName: 'Megacorp Okta (prod)' }] });
export type ConnectionPatchBody = z.infer<typeof connectionPatchBody>;

export const connectionIdParams = z.strictObject({ connectionId: z.uuid() });
export const expiringQuery = z.strictObject({ withinDays: z.coerce.number().int().min(0).max(3650).default(30).describe('Days from now; 0: only expired ones.') });
export const domainQuery = z.strictObject({ domain: z.string().min(1).max(253).describe('An email domain, e.g. `megacorp.org`, or an email address.') });

export const connectionResponse = z
  .object({
    id: z.uuid(),
    organizationId: z.uuid(),
    type: z.enum(CONNECTION_TYPES),
    displayName: z.string(),
    status: z.enum(CONNECTION_STATUSES),
    settings: z.record(z.string(), z.unknown()),
    hasClientSecret: z.boolean(),
    jitPolicy: z.enum(JIT_POLICIES),
    defaultOrganizationRoles: z.array(z.string()),
    /** What the IdP must be told about us: redirect URI (OIDC) or entity ID, ACS URL and metadata URL (SAML). */
    serviceProvider: z.record(z.string(), z.string()),
    certificates: z.array(z.object({ subject: z.string(), fingerprint: z.string(), notAfter: z.iso.datetime() })).describe('SAML: the IdP signing certificates (subject, SHA-256 fingerprint, expiry); OIDC: empty.'),
    createdAt: z.iso.datetime(),
    updatedAt: z.iso.datetime(),
  })
  .meta({ id: 'Connection' });

export const connectionListResponse = z.object({ items: z.array(connectionResponse) });

export const domainSsoResponse = z
  .object({
    domain: z.string(),
    sso: z.boolean().describe('True when the domain is verified for an organization that has an active connection or a bound upstream provider.'),
    organizationId: z.uuid().nullable(),
    connections: z.array(z.object({ id: z.uuid(), type: z.enum(CONNECTION_TYPES), displayName: z.string() })),
    upstreamProviders: z.array(z.object({ type: z.enum(UPSTREAM_TYPES), id: z.string(), displayName: z.string() })).describe('Upstream providers bound to the organization (`connection_id` is `Type:id`).'),
  })
  .meta({ id: 'DomainSso' });

export function connectionToWire(c: Connection) {
  return { ...c, createdAt: c.createdAt.toISOString(), updatedAt: c.updatedAt.toISOString() };
}

export const samlMetadataImportResponse = z
  .object({
    connection: connectionResponse,
    changed: z.boolean().describe('False when the metadata said what the connection already had.'),
    certificates: z.array(z.object({ subject: z.string(), fingerprint: z.string(), notAfter: z.iso.datetime() })),
  })
  .meta({ id: 'SamlMetadataImport' });
