/**
 * Directories: one organization's user directory (Entra ID, Okta, Google Workspace …) provisioning over SCIM 2.0
 * into its own partition of `users` and `groups` (ADR 0010), with its own bearer tokens. Deleting an organization
 * deletes its directories; deleting a directory deletes its users and groups (foreign keys in the migration
 * `0014_directories-partition.sql`, which drizzle-kit cannot express on the partitioned tables).
 */
import { sql } from 'drizzle-orm';
import { boolean, foreignKey, index, pgTable, primaryKey, text, uniqueIndex, uuid } from 'drizzle-orm/pg-core';
import { bytea, tenantId, timestamps, timestamptz } from './_columns.ts';
import { organizations } from './organizations.ts';
import { groups } from './scim.ts';
import { users } from './users.ts';

/** A hint for the admin and for per-IdP instructions; the SCIM dialects are detected per request, not from it. */
export const DIRECTORY_PROVIDERS = ['entra', 'okta', 'google', 'onelogin', 'jumpcloud', 'generic'] as const;
export type DirectoryProvider = (typeof DIRECTORY_PROVIDERS)[number];

export const directories = pgTable(
  'directories',
  {
    tenantId: tenantId(),
    id: uuid('id').notNull().defaultRandom(),
    organizationId: uuid('organization_id').notNull(),
    displayName: text('display_name').notNull(),
    provider: text('provider', { enum: DIRECTORY_PROVIDERS }).notNull().default('generic'),
    /** A disabled directory's SCIM endpoint answers 403; its records stay readable through the Directory API. */
    enabled: boolean('enabled').notNull().default(true),
    /** At most one per organization (partial unique index). */
    primary: boolean('primary').notNull().default(false),
    /** Directory users also become members of the organization (linked to tenant users by verified email). */
    provisionMembers: boolean('provision_members').notNull().default(false),
    lastRequestAt: timestamptz('last_request_at'),
    ...timestamps,
  },
  (t) => [
    primaryKey({ name: 'directories_pkey', columns: [t.tenantId, t.id] }),
    foreignKey({ name: 'directories_organization_fk', columns: [t.tenantId, t.organizationId], foreignColumns: [organizations.tenantId, organizations.id] }).onDelete('cascade'),
    index('directories_tenant_id_organization_id_created_at_idx').on(t.tenantId, t.organizationId, t.createdAt, t.id),
    uniqueIndex('directories_one_primary_idx').on(t.tenantId, t.organizationId).where(sql`${t.primary}`),
  ],
);

/**
 * Long-lived SCIM bearer tokens of a directory. Only the SHA-256 of the token is stored: the token carries 256 random
 * bits, so a fast hash is as good as a slow one and lets every SCIM request be checked by an index lookup.
 */
export const directoryTokens = pgTable(
  'directory_tokens',
  {
    tenantId: tenantId(),
    id: uuid('id').notNull().defaultRandom(),
    directoryId: uuid('directory_id').notNull(),
    tokenHash: bytea('token_hash').notNull(),
    /** The last four characters, to tell tokens apart in lists. */
    hint: text('hint').notNull(),
    createdAt: timestamptz('created_at').notNull().defaultNow(),
    expiresAt: timestamptz('expires_at'),
    lastUsedAt: timestamptz('last_used_at'),
    revokedAt: timestamptz('revoked_at'),
  },
  (t) => [
    primaryKey({ name: 'directory_tokens_pkey', columns: [t.tenantId, t.id] }),
    foreignKey({ name: 'directory_tokens_directory_fk', columns: [t.tenantId, t.directoryId], foreignColumns: [directories.tenantId, directories.id] }).onDelete('cascade'),
    uniqueIndex('directory_tokens_token_hash_idx').on(t.tokenHash),
    index('directory_tokens_tenant_id_directory_id_idx').on(t.tenantId, t.directoryId),
  ],
);

/** A directory group's members get these organization roles (recomputed on every change of groups or mappings). */
export const directoryRoleMappings = pgTable(
  'directory_role_mappings',
  {
    tenantId: tenantId(),
    directoryId: uuid('directory_id').notNull(),
    groupId: uuid('group_id').notNull(),
    roles: text('roles').array().notNull().default(sql`'{}'::text[]`),
    ...timestamps,
  },
  (t) => [
    primaryKey({ name: 'directory_role_mappings_pkey', columns: [t.tenantId, t.directoryId, t.groupId] }),
    foreignKey({ name: 'directory_role_mappings_directory_fk', columns: [t.tenantId, t.directoryId], foreignColumns: [directories.tenantId, directories.id] }).onDelete('cascade'),
    foreignKey({ name: 'directory_role_mappings_group_fk', columns: [t.tenantId, t.groupId], foreignColumns: [groups.tenantId, groups.id] }).onDelete('cascade'),
  ],
);

/** A directory user (its partition's `users` row) linked to the tenant user who is the organization's member. */
export const directoryUserLinks = pgTable(
  'directory_user_links',
  {
    tenantId: tenantId(),
    directoryId: uuid('directory_id').notNull(),
    directoryUserId: uuid('directory_user_id').notNull(),
    userId: uuid('user_id').notNull(),
    createdAt: timestamptz('created_at').notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ name: 'directory_user_links_pkey', columns: [t.tenantId, t.directoryUserId] }),
    foreignKey({ name: 'directory_user_links_directory_fk', columns: [t.tenantId, t.directoryId], foreignColumns: [directories.tenantId, directories.id] }).onDelete('cascade'),
    foreignKey({ name: 'directory_user_links_directory_user_fk', columns: [t.tenantId, t.directoryUserId], foreignColumns: [users.tenantId, users.id] }).onDelete('cascade'),
    foreignKey({ name: 'directory_user_links_user_fk', columns: [t.tenantId, t.userId], foreignColumns: [users.tenantId, users.id] }).onDelete('cascade'),
    index('directory_user_links_tenant_id_user_id_idx').on(t.tenantId, t.userId),
  ],
);
