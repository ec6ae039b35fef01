/** Upstream identity providers: the IdPs users sign in with (Entra ID, Google, Auth0). */
import { sql } from 'drizzle-orm';
import { boolean, foreignKey, index, jsonb, pgTable, primaryKey, text, uuid } from 'drizzle-orm/pg-core';
import { tenantId, timestamps, timestamptz } from './_columns.ts';
import { tenants } from './tenancy.ts';
import { organizations } from './organizations.ts';

export const UPSTREAM_TYPES = ['AzureAd', 'Google', 'Auth0'] as const;
export type UpstreamType = (typeof UPSTREAM_TYPES)[number];

export const upstreamProviders = pgTable(
  'upstream_providers',
  {
    tenantId: tenantId().references(() => tenants.id, { onDelete: 'cascade' }),
    type: text('type', { enum: UPSTREAM_TYPES }).notNull(),
    /** Part of the sign-in path: `/signin-azuread<id>`. Lowercase URL-safe, at most 64 characters. */
    id: text('id').notNull(),
    displayName: text('display_name').notNull(),
    clientId: text('client_id').notNull(),
    /** Sealed with the master key; write-only over the API. */
    clientSecretSealed: text('client_secret_sealed'),
    clientSecretExpiresAt: timestamptz('client_secret_expires_at'),
    /** Type-specific settings: tenantId (AzureAd), hostedDomain (Google), domain (Auth0), discoveryUrl override. */
    settings: jsonb('settings').$type<Record<string, string>>().notNull().default({}),
    trustAllUsers: boolean('trust_all_users').notNull().default(false),
    defaultUserRoles: text('default_user_roles').array().notNull().default(sql`'{}'::text[]`),
    /** Email domains routed to this provider (home-realm discovery, `domain_hint`). */
    domains: text('domains').array().notNull().default(sql`'{}'::text[]`),
    /**
     * Bound to one organization (issue #11 item 4): it routes that organization's sign-ins and they run in its
     * context. Null: tenant-wide. The upstream capability deletes bound providers when the organization goes
     * (subscription to `organization.deleted`); the foreign key refuses anything that skips it.
     */
    organizationId: uuid('organization_id'),
    /** Organization roles of members a bound provider adds. */
    defaultOrganizationRoles: text('default_organization_roles').array().notNull().default(sql`'{}'::text[]`),
    ...timestamps,
  },
  (t) => [
    primaryKey({ name: 'upstream_providers_pkey', columns: [t.tenantId, t.type, t.id] }),
    foreignKey({ name: 'upstream_providers_organization_fk', columns: [t.tenantId, t.organizationId], foreignColumns: [organizations.tenantId, organizations.id] }),
    index('upstream_providers_tenant_id_organization_id_idx').on(t.tenantId, t.organizationId),
  ],
);
