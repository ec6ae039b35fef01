/** Downstream clients (OAuth clients we issue tokens to) and their secrets. */
import { sql } from 'drizzle-orm';
import { foreignKey, index, integer, jsonb, pgTable, primaryKey, text, uuid } from 'drizzle-orm/pg-core';
import { SIGNING_ALGS } from './oauth.ts';
import { bytea, tenantId, timestamps, timestamptz } from './_columns.ts';
import { tenants } from './tenancy.ts';
import { organizations } from './organizations.ts';

export const CLIENT_TYPES = ['MachineClient', 'InteractiveApplication', 'ClientSideApplication'] as const;
export type ClientType = (typeof CLIENT_TYPES)[number];


export const clients = pgTable(
  'clients',
  {
    tenantId: tenantId().references(() => tenants.id, { onDelete: 'cascade' }),
    clientId: text('client_id').notNull(),
    clientType: text('client_type', { enum: CLIENT_TYPES }).notNull(),
    displayName: text('display_name').notNull(),
    allowedScopes: text('allowed_scopes').array().notNull().default(sql`'{}'::text[]`),
    redirectUris: text('redirect_uris').array().notNull().default(sql`'{}'::text[]`),
    postLogoutRedirectUris: text('post_logout_redirect_uris').array().notNull().default(sql`'{}'::text[]`),
    allowedCorsOrigins: text('allowed_cors_origins').array().notNull().default(sql`'{}'::text[]`),
    /**
     * OpenID Connect Core §4 / Registration `initiate_login_uri`: where an IdP-initiated arrival at a connection that
     * names this application is sent (with `iss`, `login_hint`, `target_link_uri`), to start a fresh sign-in itself.
     */
    initiateLoginUri: text('initiate_login_uri'),
    accessTokenLifetime: integer('access_token_lifetime'),
    refreshTokenLifetime: integer('refresh_token_lifetime'),
    /** RFC 7523 private_key_jwt: the client's public keys (a JWK Set). */
    jwks: jsonb('jwks').$type<{ keys: Record<string, unknown>[] } | null>(),
    /** Access and ID token signing algorithm for this client. */
    tokenSigningAlg: text('token_signing_alg', { enum: SIGNING_ALGS }).notNull().default('ES256'),
    /**
     * New for every created client, kept by replacement: tokens carry it, so a client deleted and re-created under
     * the same id never revives the old one's tokens.
     */
    instanceId: uuid('instance_id').notNull().defaultRandom(),
    /**
     * A MachineClient bound to one organization (ADR 0009): its tokens carry `org_id` and see only that organization.
     * Immutable; deleting the organization deletes the client first (downstream/subscriptions.ts), so no action here.
     */
    organizationId: uuid('organization_id'),
    ...timestamps,
  },
  (t) => [
    primaryKey({ name: 'clients_pkey', columns: [t.tenantId, t.clientId] }),
    foreignKey({ name: 'clients_organization_fk', columns: [t.tenantId, t.organizationId], foreignColumns: [organizations.tenantId, organizations.id] }),
    index('clients_tenant_id_organization_id_idx').on(t.tenantId, t.organizationId).where(sql`organization_id IS NOT NULL`),
  ],
);

/** A tenant's own APIs (audience + scopes), beside the built-in ones. */
export const protectedApis = pgTable(
  'protected_apis',
  {
    tenantId: tenantId().references(() => tenants.id, { onDelete: 'cascade' }),
    audience: text('audience').notNull(),
    displayName: text('display_name').notNull(),
    scopes: text('scopes').array().notNull(),
    ...timestamps,
  },
  (t) => [primaryKey({ name: 'protected_apis_pkey', columns: [t.tenantId, t.audience] })],
);

export const clientSecrets = pgTable(
  'client_secrets',
  {
    tenantId: tenantId(),
    id: uuid('id').notNull().defaultRandom(),
    clientId: text('client_id').notNull(),
    /** HMAC-SHA-256 of the secret under the server-side pepper; the secret itself is shown once. */
    secretHash: bytea('secret_hash').notNull(),
    description: text('description'),
    expiresAt: timestamptz('expires_at'),
    createdAt: timestamptz('created_at').notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ name: 'client_secrets_pkey', columns: [t.tenantId, t.id] }),
    foreignKey({ name: 'client_secrets_client_fk', columns: [t.tenantId, t.clientId], foreignColumns: [clients.tenantId, clients.clientId] }).onDelete('cascade'),
    index('client_secrets_tenant_id_client_id_idx').on(t.tenantId, t.clientId),
  ],
);
