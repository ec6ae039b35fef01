/**
 * Organizations (a tenant's B2B customers), their members and their verified domains.
 * Deleting an organization deletes its memberships and domains (ON DELETE CASCADE, one statement); SSO connections
 * and directories, when they exist, hang off `organizations` the same way.
 */
import { sql } from 'drizzle-orm';
import { foreignKey, index, integer, jsonb, pgTable, primaryKey, text, uniqueIndex, uuid } from 'drizzle-orm/pg-core';
import { tenantId, timestamps, timestamptz } from './_columns.ts';
import { tenants } from './tenancy.ts';
import { users } from './users.ts';

export const organizations = pgTable(
  'organizations',
  {
    tenantId: tenantId().references(() => tenants.id, { onDelete: 'cascade' }),
    id: uuid('id').notNull().defaultRandom(),
    displayName: text('display_name').notNull(),
    /** Lowercase URL-safe; unique per tenant when set. */
    slug: text('slug'),
    /** The id of this organization in the customer's own system; unique per tenant when set. */
    externalId: text('external_id'),
    /** String → string, at most 50 keys (bounded by organizations/schemas.ts). */
    metadata: jsonb('metadata').$type<Record<string, string>>().notNull().default({}),
    ...timestamps,
  },
  (t) => [
    primaryKey({ name: 'organizations_pkey', columns: [t.tenantId, t.id] }),
    uniqueIndex('organizations_tenant_id_slug_idx').on(t.tenantId, t.slug),
    uniqueIndex('organizations_tenant_id_external_id_idx').on(t.tenantId, t.externalId),
    index('organizations_tenant_id_created_at_idx').on(t.tenantId, t.createdAt, t.id),
  ],
);

export const MEMBERSHIP_STATUSES = ['active', 'pending'] as const;
export type MembershipStatus = (typeof MEMBERSHIP_STATUSES)[number];

/**
 * A user's membership of an organization, with the organization roles it grants (free-form names). `pending`: invited
 * and not yet accepted; it grants nothing (no org claims, not a member for sign-in policies) until it is `active`.
 */
export const organizationMemberships = pgTable(
  'organization_memberships',
  {
    tenantId: tenantId(),
    organizationId: uuid('organization_id').notNull(),
    userId: uuid('user_id').notNull(),
    roles: text('roles').array().notNull().default(sql`'{}'::text[]`),
    status: text('status', { enum: MEMBERSHIP_STATUSES }).notNull().default('active'),
    ...timestamps,
  },
  (t) => [
    primaryKey({ name: 'organization_memberships_pkey', columns: [t.tenantId, t.organizationId, t.userId] }),
    foreignKey({
      name: 'organization_memberships_organization_fk',
      columns: [t.tenantId, t.organizationId],
      foreignColumns: [organizations.tenantId, organizations.id],
    }).onDelete('cascade'),
    foreignKey({ name: 'organization_memberships_user_fk', columns: [t.tenantId, t.userId], foreignColumns: [users.tenantId, users.id] }).onDelete('cascade'),
    index('organization_memberships_tenant_id_user_id_idx').on(t.tenantId, t.userId),
    index('organization_memberships_tenant_id_organization_id_created_at_idx').on(t.tenantId, t.organizationId, t.createdAt, t.userId),
  ],
);

export const DOMAIN_STATUSES = ['pending', 'verified', 'failed'] as const;
export type DomainStatus = (typeof DOMAIN_STATUSES)[number];
export const DOMAIN_VERIFICATION_METHODS = ['dns', 'manual'] as const;
export type DomainVerificationMethod = (typeof DOMAIN_VERIFICATION_METHODS)[number];

/**
 * A domain an organization claims. Pending until a DNS TXT record proves it (or an admin marks it verified), failed
 * when `expires_at` passes unproven. A verified domain belongs to one organization per tenant.
 */
export const organizationDomains = pgTable(
  'organization_domains',
  {
    tenantId: tenantId(),
    id: uuid('id').notNull().defaultRandom(),
    organizationId: uuid('organization_id').notNull(),
    /** Canonical: lowercase ASCII (punycode), no trailing dot. */
    domain: text('domain').notNull(),
    status: text('status', { enum: DOMAIN_STATUSES }).notNull().default('pending'),
    /** The value after `iam-domain-verification=` in the TXT record. A public challenge, not a credential. */
    verificationToken: text('verification_token').notNull(),
    verificationMethod: text('verification_method', { enum: DOMAIN_VERIFICATION_METHODS }),
    /** DNS checks made so far; drives the backoff. */
    attempts: integer('attempts').notNull().default(0),
    lastCheckedAt: timestamptz('last_checked_at'),
    /** Why the last check did not verify the domain. */
    lastError: text('last_error'),
    /** When the re-check job looks next (pending only). */
    nextCheckAt: timestamptz('next_check_at'),
    /** End of the verification window: unproven by then, the domain fails. */
    expiresAt: timestamptz('expires_at').notNull(),
    verifiedAt: timestamptz('verified_at'),
    failedAt: timestamptz('failed_at'),
    ...timestamps,
  },
  (t) => [
    primaryKey({ name: 'organization_domains_pkey', columns: [t.tenantId, t.id] }),
    foreignKey({
      name: 'organization_domains_organization_fk',
      columns: [t.tenantId, t.organizationId],
      foreignColumns: [organizations.tenantId, organizations.id],
    }).onDelete('cascade'),
    uniqueIndex('organization_domains_tenant_id_organization_id_domain_idx').on(t.tenantId, t.organizationId, t.domain),
    // One owner per verified domain per tenant; pending claims by several organizations may coexist.
    uniqueIndex('organization_domains_tenant_id_domain_verified_idx').on(t.tenantId, t.domain).where(sql`${t.status} = 'verified'`),
    // The re-check job's sweep across tenants.
    index('organization_domains_next_check_at_idx').on(t.nextCheckAt).where(sql`${t.status} = 'pending'`),
  ],
);
