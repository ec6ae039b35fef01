/**
 * The wire format of `/api/upstream/{type}/{id}`: one body and one response shape per provider type, with the fields
 * of the Bizzkit getting-started guide. `clientSecret` is write-only.
 */
import { z } from 'zod';
import type { UpstreamType } from '../db/schema/index.ts';
import { ROLE_NAME_PATTERN } from '../platform/permissions.ts';
import { organizationRole } from '../organizations/schemas.ts';
import { MAX_MEMBERSHIP_ROLES } from '../organizations/limits.ts';
import { UPSTREAM_ID_PATTERN, isAllowedDiscoveryUrl, redirectUri, warningsFor, type ProviderInput, type UpstreamProvider } from './service.ts';

const HOSTNAME = /^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,62}$/;
const hostname = (what: string) => z.string().max(253).toLowerCase().regex(HOSTNAME, 'a DNS name such as example.com').describe(what);

export const providerIdParams = z.strictObject({
  id: z
    .string()
    .regex(UPSTREAM_ID_PATTERN, 'lowercase letters, digits and "-", starting with a letter or digit, at most 64 characters')
    .describe('Your stable name for this provider, e.g. `hesehus`. It becomes part of the sign-in path (`/signin-azureadhesehus`), so choose it before going live.'),
});

const common = {
  displayName: z.string().trim().min(1).max(200).describe('The label shown to users in the sign-in flow.'),
  clientSecret: z
    .string()
    .min(1)
    .max(1024)
    .optional()
    .describe('The client secret from the provider. Write-only: never returned. Omit it to keep the stored secret (required when creating).'),
  trustAllUsers: z
    .boolean()
    .default(false)
    .describe('true: everyone who authenticates at this provider may sign in. false: only users created or provisioned here beforehand.'),
  defaultUserRoles: z
    .array(z.string().regex(ROLE_NAME_PATTERN, 'a role name'))
    .max(20)
    .default([])
    .describe('Roles given to users created through this provider. Must exist. Keep minimal: avoid `admin` (answered with a warning).'),
  discoveryUrl: z
    .url()
    .max(2048)
    .refine(isAllowedDiscoveryUrl, 'an https URL (http only for localhost), not a link-local, private or reserved address')
    .optional()
    .describe("Overrides the provider's OpenID metadata URL, for sovereign clouds or a test IdP. Omit for the public cloud default."),
  domains: z
    .array(hostname('An email domain.'))
    .max(50)
    .default([])
    .describe('Email domains whose users are sent to this provider (home-realm discovery). Lowercase; one provider per domain.'),
  organizationId: z
    .uuid()
    .nullable()
    .optional()
    .describe(
      'Binds the provider to one organization of this tenant: `organization_id` routes there when the organization has no active SSO connection, ' +
        'and every sign-in through it runs in that organization (new members get `defaultOrganizationRoles`; with `trustAllUsers: false` only existing members get in), ' +
        'so the tokens carry `org_id` and `org_roles`. `null`: tenant-wide. Omitted: unchanged (tenant-wide when creating). Deleted with the organization. Needs an administrator.',
    ),
  defaultOrganizationRoles: z
    .array(organizationRole)
    .max(MAX_MEMBERSHIP_ROLES)
    .optional()
    .describe('Organization roles of members a bound provider adds (free-form names, as for memberships). Omitted: unchanged. Only with `organizationId`.'),
};

/** A second example per type: the same provider bound to an organization. */
const bound = { organizationId: '3f1c2a4e-8b7d-4c6e-9a1b-2d3e4f5a6b7c', defaultOrganizationRoles: ['member'] };

const AZURE_TENANT = /^(?:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|organizations|common|consumers|(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63})$/;

export const azureAdBody = z
  .strictObject({
    displayName: common.displayName,
    clientId: z.guid().describe('Application (client) ID of the app registration in Azure AD.'),
    clientSecret: common.clientSecret,
    tenantId: z.string().regex(AZURE_TENANT, 'a directory (tenant) ID, a verified domain, or organizations/common').describe('Directory (tenant) ID of your Azure AD.'),
    trustAllUsers: common.trustAllUsers,
    defaultUserRoles: common.defaultUserRoles,
    clientSecretExpiresAt: z.iso
      .datetime({ offset: true })
      .nullable()
      .optional()
      .describe('When the client secret expires (Azure AD secrets do). Omitted with a kept secret: unchanged. Listed by `GET /api/upstream?expiringWithinDays=30` and warned about daily.'),
    discoveryUrl: common.discoveryUrl,
    domains: common.domains,
    organizationId: common.organizationId,
    defaultOrganizationRoles: common.defaultOrganizationRoles,
  })
  .meta({
    examples: [
      {
        displayName: 'Hesehus Azure AD',
        clientId: '00000000-0000-0000-0000-000000000000',
        clientSecret: '<secret>',
        tenantId: '00000000-0000-0000-0000-000000000000',
        trustAllUsers: false,
        defaultUserRoles: [],
      },
      {
        displayName: 'Acme Entra ID',
        clientId: '00000000-0000-0000-0000-000000000000',
        clientSecret: '<secret>',
        tenantId: '00000000-0000-0000-0000-000000000000',
        trustAllUsers: true,
        defaultUserRoles: [],
        ...bound,
      },
    ],
  });

export const googleBody = z
  .strictObject({
    displayName: common.displayName,
    clientId: z.string().trim().min(1).max(256).describe('OAuth client ID from the Google Cloud console.'),
    clientSecret: common.clientSecret,
    hostedDomain: hostname('Google Workspace domain; only its accounts may sign in.').optional(),
    trustAllUsers: common.trustAllUsers,
    defaultUserRoles: common.defaultUserRoles,
    discoveryUrl: common.discoveryUrl,
    domains: common.domains,
    organizationId: common.organizationId,
    defaultOrganizationRoles: common.defaultOrganizationRoles,
  })
  .meta({
    examples: [
      {
        displayName: 'Google Workspace',
        clientId: '000000000000-abcdefghijklmnopqrstuvwxyz012345.apps.googleusercontent.com',
        clientSecret: '<secret>',
        hostedDomain: 'example.com',
        trustAllUsers: false,
        defaultUserRoles: [],
      },
      { displayName: 'Acme Google Workspace', clientId: '000000000000-abcdefghijklmnopqrstuvwxyz012345.apps.googleusercontent.com', clientSecret: '<secret>', hostedDomain: 'acme.example', trustAllUsers: true, defaultUserRoles: [], ...bound },
    ],
  });

export const auth0Body = z
  .strictObject({
    displayName: common.displayName,
    domain: hostname('Your Auth0 domain, e.g. `example.eu.auth0.com`, or its custom domain.'),
    clientId: z.string().trim().min(1).max(256).describe('Client ID of the Auth0 application.'),
    clientSecret: common.clientSecret,
    trustAllUsers: common.trustAllUsers,
    defaultUserRoles: common.defaultUserRoles,
    discoveryUrl: common.discoveryUrl,
    domains: common.domains,
    organizationId: common.organizationId,
    defaultOrganizationRoles: common.defaultOrganizationRoles,
  })
  .meta({
    examples: [
      {
        displayName: 'Auth0',
        domain: 'example.eu.auth0.com',
        clientId: 'AbCdEfGhIjKlMnOpQrStUvWxYz012345',
        clientSecret: '<secret>',
        trustAllUsers: false,
        defaultUserRoles: [],
      },
      { displayName: 'Acme Auth0', domain: 'acme.eu.auth0.com', clientId: 'AbCdEfGhIjKlMnOpQrStUvWxYz012345', clientSecret: '<secret>', trustAllUsers: false, defaultUserRoles: [], ...bound },
    ],
  });

const responseCommon = {
  id: z.string(),
  displayName: z.string(),
  clientId: z.string(),
  clientSecretSet: z.boolean().describe('Whether a client secret is stored. The secret itself is never returned.'),
  clientSecretExpiresAt: z.iso.datetime().nullable(),
  trustAllUsers: z.boolean(),
  defaultUserRoles: z.array(z.string()),
  domains: z.array(z.string()),
  discoveryUrl: z.string().nullable().describe('The metadata URL override, or null for the default.'),
  organizationId: z.uuid().nullable().describe('The organization whose sign-ins this provider serves, or null: tenant-wide.'),
  defaultOrganizationRoles: z.array(z.string()).describe('Organization roles of members it adds (bound providers only).'),
  redirectUri: z.string().describe('Register this redirect URI at the provider: this environment\'s URL plus the sign-in path.'),
  warnings: z.array(z.string()).optional().describe('Advice about a valid but risky configuration, e.g. `admin` in defaultUserRoles.'),
  createdAt: z.iso.datetime(),
  updatedAt: z.iso.datetime(),
};

export const azureAdResponse = z.object({ type: z.literal('AzureAd'), ...responseCommon, tenantId: z.string() });
export const googleResponse = z.object({ type: z.literal('Google'), ...responseCommon, hostedDomain: z.string().nullable() });
export const auth0Response = z.object({ type: z.literal('Auth0'), ...responseCommon, domain: z.string() });
export const providerResponse = z.discriminatedUnion('type', [azureAdResponse, googleResponse, auth0Response]);

export const providerListQuery = z.strictObject({
  expiringWithinDays: z.coerce
    .number()
    .int()
    .min(0)
    .max(3650)
    .optional()
    .describe('Only providers whose client secret expires within this many days (already expired included), e.g. 30.'),
  limit: z.coerce.number().int().min(1).max(200).optional().describe('Page size, 1 to 200 (default 100).'),
  cursor: z.string().min(1).max(512).optional().describe('`nextCursor` from the previous page.'),
});

export const providerPageResponse = z.object({ items: z.array(providerResponse), nextCursor: z.string().nullable() });

type AzureAdBody = z.infer<typeof azureAdBody>;
type GoogleBody = z.infer<typeof googleBody>;
type Auth0Body = z.infer<typeof auth0Body>;

/** The service input from a PUT body of any type. */
export function bodyToInput(type: UpstreamType, body: AzureAdBody | GoogleBody | Auth0Body): ProviderInput {
  const base = {
    displayName: body.displayName,
    clientId: body.clientId,
    clientSecret: body.clientSecret,
    trustAllUsers: body.trustAllUsers,
    defaultUserRoles: body.defaultUserRoles,
    domains: body.domains,
    organizationId: body.organizationId,
    defaultOrganizationRoles: body.defaultOrganizationRoles,
  };
  const discovery = body.discoveryUrl !== undefined ? { discoveryUrl: body.discoveryUrl } : {};
  switch (type) {
    case 'AzureAd': {
      const b = body as AzureAdBody;
      const expiry = b.clientSecretExpiresAt === undefined ? undefined : b.clientSecretExpiresAt === null ? null : new Date(b.clientSecretExpiresAt);
      return { ...base, clientSecretExpiresAt: expiry, settings: { tenantId: b.tenantId, ...discovery } };
    }
    case 'Google': {
      const b = body as GoogleBody;
      return { ...base, settings: { ...(b.hostedDomain ? { hostedDomain: b.hostedDomain } : {}), ...discovery } };
    }
    case 'Auth0':
      return { ...base, settings: { domain: (body as Auth0Body).domain, ...discovery } };
  }
}

export function providerToWire(p: UpstreamProvider, issuer: string): z.infer<typeof providerResponse> {
  const warnings = warningsFor(p);
  const base = {
    id: p.id,
    displayName: p.displayName,
    clientId: p.clientId,
    clientSecretSet: p.clientSecretSet,
    clientSecretExpiresAt: p.clientSecretExpiresAt?.toISOString() ?? null,
    trustAllUsers: p.trustAllUsers,
    defaultUserRoles: p.defaultUserRoles,
    domains: p.domains,
    discoveryUrl: p.settings.discoveryUrl ?? null,
    organizationId: p.organizationId,
    defaultOrganizationRoles: p.defaultOrganizationRoles,
    redirectUri: redirectUri(issuer, p.type, p.id),
    ...(warnings.length ? { warnings } : {}),
    createdAt: p.createdAt.toISOString(),
    updatedAt: p.updatedAt.toISOString(),
  };
  switch (p.type) {
    case 'AzureAd':
      return { type: 'AzureAd', ...base, tenantId: p.settings.tenantId ?? '' };
    case 'Google':
      return { type: 'Google', ...base, hostedDomain: p.settings.hostedDomain ?? null };
    case 'Auth0':
      return { type: 'Auth0', ...base, domain: p.settings.domain ?? '' };
  }
}
