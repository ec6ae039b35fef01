/**
 * The Admin Portal (issue #14 item 3): one-time links handed to a customer's IT administrator, the sessions they
 * open, and the tenant's framing policy. A link's token is 256 random bits of which only the HMAC is stored; a
 * session's cookie likewise. Both belong to one organization and one intent, and die with the organization.
 */
import { sql } from 'drizzle-orm';
import { foreignKey, index, pgTable, primaryKey, text, uniqueIndex, uuid } from 'drizzle-orm/pg-core';
import { bytea, tenantId, timestamps, timestamptz } from './_columns.ts';
import { organizations } from './organizations.ts';
import { tenants } from './tenancy.ts';

/** What a link lets its holder configure (WorkOS's portal intents). */
export const PORTAL_INTENTS = ['sso', 'dsync', 'domain_verification', 'certificate_renewal'] as const;
export type PortalIntent = (typeof PORTAL_INTENTS)[number];

export const portalLinks = pgTable(
  'portal_links',
  {
    tenantId: tenantId(),
    id: uuid('id').notNull().defaultRandom(),
    organizationId: uuid('organization_id').notNull(),
    intent: text('intent', { enum: PORTAL_INTENTS }).notNull(),
    /** Where the portal's "Done" goes (the SaaS application's own page); null: a closing page. */
    returnUrl: text('return_url'),
    /** HMAC-SHA-256 (platform/crypto.ts) of the link's token. */
    tokenHash: bytea('token_hash').notNull(),
    expiresAt: timestamptz('expires_at').notNull(),
    /** Set when the link opened a session: it never opens another. */
    usedAt: timestamptz('used_at'),
    /** The audit actor that created it. */
    createdBy: text('created_by').notNull(),
    createdAt: timestamptz('created_at').notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ name: 'portal_links_pkey', columns: [t.tenantId, t.id] }),
    foreignKey({ name: 'portal_links_organization_fk', columns: [t.tenantId, t.organizationId], foreignColumns: [organizations.tenantId, organizations.id] }).onDelete('cascade'),
    uniqueIndex('portal_links_tenant_id_token_hash_idx').on(t.tenantId, t.tokenHash),
    index('portal_links_tenant_id_organization_id_created_at_idx').on(t.tenantId, t.organizationId, t.createdAt),
  ],
);

export const portalSessions = pgTable(
  'portal_sessions',
  {
    tenantId: tenantId(),
    /** HMAC of the cookie value. */
    idHash: bytea('id_hash').notNull(),
    linkId: uuid('link_id').notNull(),
    organizationId: uuid('organization_id').notNull(),
    intent: text('intent', { enum: PORTAL_INTENTS }).notNull(),
    returnUrl: text('return_url'),
    /** The id a connection created in this session gets, so the IdP can be told our URLs before it exists. */
    draftConnectionId: uuid('draft_connection_id').notNull(),
    lastSeenAt: timestamptz('last_seen_at').notNull(),
    expiresAt: timestamptz('expires_at').notNull(),
    endedAt: timestamptz('ended_at'),
    createdAt: timestamptz('created_at').notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ name: 'portal_sessions_pkey', columns: [t.tenantId, t.idHash] }),
    foreignKey({ name: 'portal_sessions_organization_fk', columns: [t.tenantId, t.organizationId], foreignColumns: [organizations.tenantId, organizations.id] }).onDelete('cascade'),
    foreignKey({ name: 'portal_sessions_link_fk', columns: [t.tenantId, t.linkId], foreignColumns: [portalLinks.tenantId, portalLinks.id] }).onDelete('cascade'),
  ],
);

/** Per tenant: the origins that may frame the portal (CSP frame-ancestors); none by default. */
export const portalSettings = pgTable('portal_settings', {
  tenantId: tenantId()
    .primaryKey()
    .references(() => tenants.id, { onDelete: 'cascade' }),
  frameAncestors: text('frame_ancestors').array().notNull().default(sql`'{}'::text[]`),
  ...timestamps,
});
