/** Wire formats of `/api/downstream`. Field names follow the Bizzkit seed (camelCase). */
import { z } from 'zod';
import { CLIENT_TYPES, SIGNING_ALGS } from '../db/schema/index.ts';

export const clientTypeParam = z.enum(CLIENT_TYPES);

/** RFC 6749 §2.2: client identifiers are opaque; we keep them URL-safe because they appear in paths. */
export const clientIdParam = z
  .string()
  .regex(/^[A-Za-z0-9._~-]{3,128}$/, 'URL-safe characters (A-Z a-z 0-9 . _ ~ -), 3 to 128')
  // User ids are UUIDs: a client id shaped like one could be mistaken for a user wherever `sub` is shown.
  .refine((id) => !/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id), 'a client id may not have the form of a UUID (user ids do)');

const loopback = new Set(['localhost', '127.0.0.1', '[::1]']);

/**
 * RFC 6749 §3.1.2: absolute, no fragment. https, or http on loopback (RFC 8252 §7.3). Compared exactly at
 * /authorize (RFC 9700 §4.1.3), so no normalization happens here either.
 */
export const redirectUri = z
  .string()
  .max(2000)
  .refine((v) => {
    try {
      const u = new URL(v);
      return !u.hash && !v.includes('#') && (u.protocol === 'https:' || (u.protocol === 'http:' && loopback.has(u.hostname)));
    } catch {
      return false;
    }
  }, 'an absolute https URL without a fragment (http only for localhost, 127.0.0.1, [::1])');

export const corsOrigin = z
  .string()
  .refine((v) => {
    try {
      const u = new URL(v);
      return u.origin === v && (u.protocol === 'https:' || loopback.has(u.hostname));
    } catch {
      return false;
    }
  }, 'an origin: scheme://host[:port], no path');

const scopeValue = z.string().min(1).max(200).regex(/^[\x21\x23-\x5B\x5D-\x7E]+$/, 'RFC 6749 §3.3 scope-token characters');

const common = {
  displayName: z.string().trim().min(1).max(200),
  allowedScopes: z.array(scopeValue).max(100).default([]).describe('Copy scope values exactly; the trailing `/` is required (`iam/`, `damapi/`).'),
  accessTokenLifetime: z.number().int().min(60).max(86_400).optional().describe('Seconds; default ACCESS_TOKEN_TTL_SECONDS'),
  tokenSigningAlg: z.enum(SIGNING_ALGS).default('ES256'),
};
const secret = z.string().min(32, 'at least 32 characters').max(512).optional().describe('An initial secret; omit and create one later with POST …/secrets.');
const interactive = {
  redirectUris: z.array(redirectUri).max(50).default([]),
  postLogoutRedirectUris: z.array(redirectUri).max(50).default([]),
  initiateLoginUri: redirectUri
    .optional()
    .describe(
      "OpenID Connect Core §4 (Registration's `initiate_login_uri`): where a sign-in started at an organization's IdP (a dashboard tile, an unsolicited SAML response) is sent, with `iss`, `login_hint`, `target_link_uri`, `connection_id` and `organization_id`, when the connection names this application (`settings.idpInitiatedClientId`); the application then starts an ordinary authorization request.",
    ),
  refreshTokenLifetime: z.number().int().min(300).max(90 * 86_400).optional().describe('Seconds; default 30 days'),
};
const jwk = z.looseObject({ kty: z.string(), kid: z.string().optional() });

export const machineClientBody = z
  .strictObject({
    ...common,
    clientSecret: secret,
    jwks: z.strictObject({ keys: z.array(jwk).min(1).max(10) }).optional().describe('Public keys for private_key_jwt client authentication (RFC 7523).'),
    organizationId: z
      .uuid()
      .optional()
      .describe(
        'Binds the client to one organization (ADR 0009): its tokens carry `org_id`, it may hold `iam/organization` but never `iam/`, `scim.read` or `scim.write`, and `/api/organizations/{id}/…` answers for that organization only. Set at creation; it cannot change (409).',
      ),
  })
  .meta({ examples: [{ displayName: 'DAM integration', allowedScopes: ['damapi/'] }, { displayName: 'Megacorp provisioning', allowedScopes: ['iam/organization'], organizationId: '0b6f2a52-8f7e-4f43-9c55-6f1f0e1c2a10' }] });

export const interactiveApplicationBody = z
  .strictObject({ ...common, ...interactive, clientSecret: secret })
  .meta({
    examples: [
      { displayName: 'Back office', allowedScopes: ['openid', 'profile', 'email', 'offline_access', 'iam/'], redirectUris: ['https://backoffice.example.com/signin-oidc'] },
      { displayName: 'Customer app (IdP-initiated sign-in)', allowedScopes: ['openid', 'profile', 'email'], redirectUris: ['https://app.example.com/callback'], initiateLoginUri: 'https://app.example.com/login/start' },
    ],
  });

export const clientSideApplicationBody = z
  .strictObject({ ...common, ...interactive, allowedCorsOrigins: z.array(corsOrigin).max(50).default([]) })
  .meta({ examples: [{ displayName: 'Storefront SPA', allowedScopes: ['openid', 'profile', 'searchapi/'], redirectUris: ['https://shop.example.com/callback'], allowedCorsOrigins: ['https://shop.example.com'] }] });

export type ClientBody = z.output<typeof machineClientBody> | z.output<typeof interactiveApplicationBody> | z.output<typeof clientSideApplicationBody>;

export const bodyForType = { MachineClient: machineClientBody, InteractiveApplication: interactiveApplicationBody, ClientSideApplication: clientSideApplicationBody } as const;

export const clientResponse = z.object({
  clientId: z.string(),
  type: clientTypeParam,
  displayName: z.string(),
  allowedScopes: z.array(z.string()),
  redirectUris: z.array(z.string()),
  postLogoutRedirectUris: z.array(z.string()),
  initiateLoginUri: z.string().nullable(),
  allowedCorsOrigins: z.array(z.string()),
  accessTokenLifetime: z.number().nullable(),
  refreshTokenLifetime: z.number().nullable(),
  tokenSigningAlg: z.enum(SIGNING_ALGS),
  jwks: z.looseObject({ keys: z.array(z.record(z.string(), z.unknown())) }).nullable(),
  organizationId: z.uuid().nullable().describe('The organization a MachineClient is bound to, or null (tenant-wide).'),
  secretCount: z.number().int(),
  createdAt: z.iso.datetime(),
  updatedAt: z.iso.datetime(),
});
export type ClientResponse = z.output<typeof clientResponse>;

export const secretCreateBody = z
  .strictObject({
    description: z.string().max(200).optional(),
    expiresAt: z.iso.datetime({ offset: true }).optional().describe('After this instant the secret no longer authenticates.'),
  })
  .meta({ examples: [{ description: 'rotation 2026-12', expiresAt: '2027-06-30T00:00:00Z' }] });

export const secretMetadata = z.object({
  id: z.uuid(),
  description: z.string().nullable(),
  expiresAt: z.iso.datetime().nullable(),
  createdAt: z.iso.datetime(),
});
export const secretCreated = secretMetadata.extend({ secret: z.string().describe('Shown once: store it now. Only its hash is kept.') });

export const protectedApiBody = z
  .strictObject({
    displayName: z.string().trim().min(1).max(200),
    scopes: z.array(scopeValue).min(1).max(50),
  })
  .meta({ examples: [{ displayName: 'Orders API', scopes: ['ordersapi/'] }] });
export const protectedApiResponse = z.object({ audience: z.string(), displayName: z.string(), scopes: z.array(z.string()), builtIn: z.boolean() });
export const audienceParam = z.string().regex(/^[a-z0-9][a-z0-9._-]{0,63}$/, 'lowercase letters, digits, . _ -; at most 64');
