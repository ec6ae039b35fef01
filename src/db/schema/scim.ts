/** SCIM 2.0 groups (RFC 7643 §4.2) and their members; users are the shared `users` table. */
import { foreignKey, index, integer, jsonb, pgTable, primaryKey, text, uniqueIndex, uuid } from 'drizzle-orm/pg-core';
import { sql } from 'drizzle-orm';
import { tenantId, timestamps, timestamptz } from './_columns.ts';
import { tenants } from './tenancy.ts';

export const MEMBER_TYPES = ['User', 'Group'] as const;

export const groups = pgTable(
  'groups',
  {
    tenantId: tenantId().references(() => tenants.id, { onDelete: 'cascade' }),
    id: uuid('id').notNull().defaultRandom(),
    displayName: text('display_name').notNull(),
    externalId: text('external_id'),
    attributes: jsonb('attributes').$type<Record<string, unknown>>().notNull().default({}),
    version: integer('version').notNull().default(1),
    ...timestamps,
  },
  (t) => [
    primaryKey({ name: 'groups_pkey', columns: [t.tenantId, t.id] }),
    uniqueIndex('groups_tenant_id_display_name_idx').on(t.tenantId, sql`lower(${t.displayName})`),
    index('groups_tenant_id_external_id_idx').on(t.tenantId, t.externalId),
  ],
);

export const groupMembers = pgTable(
  'group_members',
  {
    tenantId: tenantId(),
    groupId: uuid('group_id').notNull(),
    memberId: uuid('member_id').notNull(),
    memberType: text('member_type', { enum: MEMBER_TYPES }).notNull(),
    createdAt: timestamptz('created_at').notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ name: 'group_members_pkey', columns: [t.tenantId, t.groupId, t.memberId] }),
    foreignKey({ name: 'group_members_group_fk', columns: [t.tenantId, t.groupId], foreignColumns: [groups.tenantId, groups.id] }).onDelete('cascade'),
    index('group_members_tenant_id_member_id_idx').on(t.tenantId, t.memberId),
  ],
);

/** `sendInvitation: true` (STACKIT notifications extension) is recorded here until invitation delivery exists. */
export const invitationRequests = pgTable(
  'invitation_requests',
  {
    tenantId: tenantId().references(() => tenants.id, { onDelete: 'cascade' }),
    id: uuid('id').notNull().defaultRandom(),
    userId: uuid('user_id').notNull(),
    source: text('source').notNull(),
    status: text('status', { enum: ['pending', 'sent', 'failed'] }).notNull().default('pending'),
    createdAt: timestamptz('created_at').notNull().defaultNow(),
  },
  (t) => [primaryKey({ name: 'invitation_requests_pkey', columns: [t.tenantId, t.id] })],
);
