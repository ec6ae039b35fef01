/**
 * Invitations by email (issue #14 item 2): an organization's invitation of a user (created for it when needed), or a
 * tenant-level one (`organization_id` null: SCIM `sendInvitation`). The link's token is 256 random bits; only its
 * HMAC is stored. Status is derived: revoked, accepted, expired (by `expires_at`), else pending.
 */
import { sql } from 'drizzle-orm';
import { boolean, foreignKey, index, integer, pgTable, primaryKey, text, uniqueIndex, uuid } from 'drizzle-orm/pg-core';
import { bytea, tenantId, timestamps, timestamptz } from './_columns.ts';
import { organizations } from './organizations.ts';
import { users } from './users.ts';

export const INVITATION_SOURCES = ['api', 'scim'] as const;
export type InvitationSource = (typeof INVITATION_SOURCES)[number];

export const invitations = pgTable(
  'invitations',
  {
    tenantId: tenantId(),
    id: uuid('id').notNull().defaultRandom(),
    organizationId: uuid('organization_id'),
    userId: uuid('user_id').notNull(),
    /** The address the link was sent to, as given. */
    email: text('email').notNull(),
    /** Organization roles the membership gets on acceptance. */
    roles: text('roles').array().notNull().default(sql`'{}'::text[]`),
    /** HMAC-SHA-256 (platform/crypto.ts) of the current link's token; a resend replaces it, so older links die. */
    tokenHash: bytea('token_hash').notNull(),
    /** Lifetime of each link in days (1–30), kept for resends. */
    expiresInDays: integer('expires_in_days').notNull(),
    expiresAt: timestamptz('expires_at').notNull(),
    /** The user was created by this invitation: only then may accepting it set the first password. */
    createdUser: boolean('created_user').notNull(),
    source: text('source', { enum: INVITATION_SOURCES }).notNull(),
    /** Who invited (the audit actor's id). */
    invitedBy: text('invited_by').notNull(),
    /** Emails queued for this invitation so far (abuse limit on resends). */
    sendCount: integer('send_count').notNull().default(0),
    lastSentAt: timestamptz('last_sent_at'),
    acceptedAt: timestamptz('accepted_at'),
    revokedAt: timestamptz('revoked_at'),
    ...timestamps,
  },
  (t) => [
    primaryKey({ name: 'invitations_pkey', columns: [t.tenantId, t.id] }),
    foreignKey({ name: 'invitations_organization_fk', columns: [t.tenantId, t.organizationId], foreignColumns: [organizations.tenantId, organizations.id] }).onDelete('cascade'),
    foreignKey({ name: 'invitations_user_fk', columns: [t.tenantId, t.userId], foreignColumns: [users.tenantId, users.id] }).onDelete('cascade'),
    uniqueIndex('invitations_tenant_id_token_hash_idx').on(t.tenantId, t.tokenHash),
    // One open (pending or expired) invitation per user and organization: concurrent invitations of one address race here.
    uniqueIndex('invitations_tenant_id_organization_id_user_id_open_idx')
      .on(t.tenantId, t.organizationId, t.userId)
      .where(sql`${t.acceptedAt} IS NULL AND ${t.revokedAt} IS NULL AND ${t.organizationId} IS NOT NULL`),
    index('invitations_tenant_id_organization_id_created_at_idx').on(t.tenantId, t.organizationId, t.createdAt, t.id),
    index('invitations_tenant_id_user_id_idx').on(t.tenantId, t.userId),
  ],
);
