/** SCIM 2.0 groups (RFC 7643 §4.2) and their members; users are the shared `users` table. */
import { boolean, foreignKey, index, integer, jsonb, pgTable, primaryKey, text, uniqueIndex, uuid } from 'drizzle-orm/pg-core';
import { sql } from 'drizzle-orm';
import { tenantId, timestamps, timestamptz } from './_columns.ts';
import { tenants } from './tenancy.ts';
import { users } from './users.ts';

export const MEMBER_TYPES = ['User', 'Group'] as const;
export const INVITATION_STATUSES = ['pending', 'sent', 'failed'] as const;

export const groups = pgTable(
  'groups',
  {
    tenantId: tenantId().references(() => tenants.id, { onDelete: 'cascade' }),
    id: uuid('id').notNull().defaultRandom(),
    /** The directory partition, as on `users` (NULL: the tenant's own groups). */
    directoryId: uuid('directory_id'),
    displayName: text('display_name').notNull(),
    externalId: text('external_id'),
    attributes: jsonb('attributes').$type<Record<string, unknown>>().notNull().default({}),
    /** Incremented on every change, member changes included: ETags (RFC 7644 §3.14). */
    version: integer('version').notNull().default(1),
    ...timestamps,
  },
  (t) => [
    primaryKey({ name: 'groups_pkey', columns: [t.tenantId, t.id] }),
    uniqueIndex('groups_tenant_id_display_name_idx').on(t.tenantId, sql`coalesce(${t.directoryId}, '00000000-0000-0000-0000-000000000000'::uuid)`, sql`lower(${t.displayName})`),
    index('groups_tenant_id_external_id_idx').on(t.tenantId, t.directoryId, t.externalId),
    index('groups_tenant_id_created_at_idx').on(t.tenantId, t.directoryId, t.createdAt, t.id),
    index('groups_tenant_id_directory_id_id_idx').on(t.tenantId, t.directoryId, t.id),
  ],
);

/**
 * One row per membership. `member_id` is the member's id; `user_id` / `member_group_id` repeat it by type (generated)
 * so that each has a real foreign key: deleting a user or a group anywhere (SCIM or /api/users) removes its
 * memberships with it. Adding or removing members touches only their rows, never the whole group.
 */
export const groupMembers = pgTable(
  'group_members',
  {
    tenantId: tenantId(),
    directoryId: uuid('directory_id'),
    groupId: uuid('group_id').notNull(),
    memberId: uuid('member_id').notNull(),
    memberType: text('member_type', { enum: MEMBER_TYPES }).notNull(),
    userId: uuid('user_id').generatedAlwaysAs(sql`case when member_type = 'User' then member_id end`),
    memberGroupId: uuid('member_group_id').generatedAlwaysAs(sql`case when member_type = 'Group' then member_id end`),
    createdAt: timestamptz('created_at').notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ name: 'group_members_pkey', columns: [t.tenantId, t.groupId, t.memberId] }),
    foreignKey({ name: 'group_members_group_fk', columns: [t.tenantId, t.groupId], foreignColumns: [groups.tenantId, groups.id] }).onDelete('cascade'),
    foreignKey({ name: 'group_members_user_fk', columns: [t.tenantId, t.userId], foreignColumns: [users.tenantId, users.id] }).onDelete('cascade'),
    foreignKey({ name: 'group_members_member_group_fk', columns: [t.tenantId, t.memberGroupId], foreignColumns: [groups.tenantId, groups.id] }).onDelete('cascade'),
    index('group_members_tenant_id_user_id_idx').on(t.tenantId, t.userId),
    index('group_members_tenant_id_member_group_id_idx').on(t.tenantId, t.memberGroupId),
  ],
);

/**
 * `sendInvitation: true` (STACKIT notifications extension) is recorded here until invitation delivery exists; the
 * delivery job will pick up `pending` rows. Created in the same transaction as the user.
 */
export const invitationRequests = pgTable(
  'invitation_requests',
  {
    tenantId: tenantId().references(() => tenants.id, { onDelete: 'cascade' }),
    id: uuid('id').notNull().defaultRandom(),
    userId: uuid('user_id').notNull(),
    source: text('source').notNull(),
    status: text('status', { enum: INVITATION_STATUSES }).notNull().default('pending'),
    createdAt: timestamptz('created_at').notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ name: 'invitation_requests_pkey', columns: [t.tenantId, t.id] }),
    foreignKey({ name: 'invitation_requests_user_fk', columns: [t.tenantId, t.userId], foreignColumns: [users.tenantId, users.id] }).onDelete('cascade'),
    index('invitation_requests_tenant_id_status_idx').on(t.tenantId, t.status),
  ],
);

/**
 * The SCIM `emails` of each user, one row per value, so that email filters (`emails[type eq "work" and value ew
 * "@corp.example"]`, `emails.value eq …`) run on indexes instead of unpacking every user's JSON. A copy of
 * `users.attributes.emails`, rewritten by the SCIM service in the transaction that writes the user; the JSON stays
 * the representation. Lowercased and reversed values are stored (generated), so PostgreSQL keeps statistics on them
 * and answers `eq`/`sw` and `ew` (RFC 7643: emails are caseExact false) from index-only scans.
 */
export const userEmails = pgTable(
  'user_emails',
  {
    tenantId: tenantId(),
    directoryId: uuid('directory_id'),
    userId: uuid('user_id').notNull(),
    position: integer('position').notNull(),
    value: text('value').notNull(),
    type: text('type'),
    primary: boolean('primary').notNull().default(false),
    display: text('display'),
    valueLc: text('value_lc').generatedAlwaysAs(sql`lower(value)`),
    valueRev: text('value_rev').generatedAlwaysAs(sql`reverse(lower(value))`),
    typeLc: text('type_lc').generatedAlwaysAs(sql`lower(type)`),
  },
  (t) => [
    primaryKey({ name: 'user_emails_pkey', columns: [t.tenantId, t.userId, t.position] }),
    foreignKey({ name: 'user_emails_user_fk', columns: [t.tenantId, t.userId], foreignColumns: [users.tenantId, users.id] }).onDelete('cascade'),
    index('user_emails_tenant_id_value_lc_idx').on(t.tenantId, t.valueLc.op('text_pattern_ops'), t.typeLc, t.userId),
    index('user_emails_tenant_id_value_rev_idx').on(t.tenantId, t.valueRev.op('text_pattern_ops'), t.typeLc, t.userId),
  ],
);
