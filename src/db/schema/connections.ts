/**
 * Enterprise SSO connections: one organization's identity provider, OIDC or SAML 2.0 (Scalekit's "connections").
 * Deleting an organization deletes its connections (ON DELETE CASCADE, in the same statement).
 */
import { sql } from 'drizzle-orm';
import { foreignKey, index, jsonb, pgTable, primaryKey, text, uuid } from 'drizzle-orm/pg-core';
import { tenantId, timestamps, timestamptz } from './_columns.ts';
import { organizations } from './organizations.ts';

export const CONNECTION_TYPES = ['oidc', 'saml'] as const;
export type ConnectionType = (typeof CONNECTION_TYPES)[number];
/** `draft` until configured and activated; only `active` connections route sign-ins. */
export const CONNECTION_STATUSES = ['draft', 'active', 'inactive'] as const;
export type ConnectionStatus = (typeof CONNECTION_STATUSES)[number];
/** Who a sign-in through the connection admits that is not yet a member (issue #11 item 7). */
export const JIT_POLICIES = ['anyone', 'verified_domains', 'existing_members'] as const;
export type JitPolicy = (typeof JIT_POLICIES)[number];

export const connections = pgTable(
  'connections',
  {
    tenantId: tenantId(),
    id: uuid('id').notNull().defaultRandom(),
    organizationId: uuid('organization_id').notNull(),
    type: text('type', { enum: CONNECTION_TYPES }).notNull(),
    displayName: text('display_name').notNull(),
    status: text('status', { enum: CONNECTION_STATUSES }).notNull().default('draft'),
    /** Type-specific, validated by connections/schemas.ts; never holds a secret. */
    settings: jsonb('settings').$type<Record<string, unknown>>().notNull().default({}),
    /** OIDC client secret, sealed with the master key; write-only over the API. */
    secretSealed: text('secret_sealed'),
    /**
     * SAML: our signing credential for AuthnRequests (SAML 2.0 Bindings §3.4.4.1), made when signing is first turned
     * on and kept (the IdP is configured with the certificate): the private key sealed, the self-signed certificate.
     */
    spSigningKeySealed: text('sp_signing_key_sealed'),
    spSigningCert: text('sp_signing_cert'),
    /**
     * A rollover in progress (POST /api/connections/{id}/sp-certificate/rollover): the next key and certificate,
     * published beside the current one until promoted.
     */
    spNextSigningKeySealed: text('sp_next_signing_key_sealed'),
    spNextSigningCert: text('sp_next_signing_cert'),
    jitPolicy: text('jit_policy', { enum: JIT_POLICIES }).notNull().default('verified_domains'),
    defaultOrganizationRoles: text('default_organization_roles').array().notNull().default(sql`'{}'::text[]`),
    ...timestamps,
  },
  (t) => [
    primaryKey({ name: 'connections_pkey', columns: [t.tenantId, t.id] }),
    foreignKey({ name: 'connections_organization_fk', columns: [t.tenantId, t.organizationId], foreignColumns: [organizations.tenantId, organizations.id] }).onDelete('cascade'),
    index('connections_tenant_id_organization_id_created_at_idx').on(t.tenantId, t.organizationId, t.createdAt, t.id),
  ],
);

/**
 * SAML assertion IDs already accepted (replay cache, SAML 2.0 Profiles §4.1.4.5): one row per assertion until its
 * NotOnOrAfter has passed. In PostgreSQL, so a replay to another instance is refused too.
 */
export const samlAssertions = pgTable(
  'saml_assertions',
  {
    tenantId: tenantId(),
    connectionId: uuid('connection_id').notNull(),
    assertionId: text('assertion_id').notNull(),
    expiresAt: timestamptz('expires_at').notNull(),
  },
  (t) => [
    primaryKey({ name: 'saml_assertions_pkey', columns: [t.tenantId, t.connectionId, t.assertionId] }),
    foreignKey({ name: 'saml_assertions_connection_fk', columns: [t.tenantId, t.connectionId], foreignColumns: [connections.tenantId, connections.id] }).onDelete('cascade'),
  ],
);
