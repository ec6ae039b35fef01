/** Users: one store that `/api/users`, SCIM and sign-in share. Roles and linked upstream identities hang off it. */
import { sql } from 'drizzle-orm';
import { boolean, foreignKey, index, integer, jsonb, pgTable, primaryKey, text, unique, uuid } from 'drizzle-orm/pg-core';
import { tenantId, timestamps, timestamptz } from './_columns.ts';
import { tenants } from './tenancy.ts';

export const users = pgTable(
  'users',
  {
    tenantId: tenantId().references(() => tenants.id, { onDelete: 'cascade' }),
    id: uuid('id').notNull().defaultRandom(),
    /**
     * NULL for the tenant's own users; a directory's id for the records of that directory (SCIM at its own base URL,
     * ADR 0010). A partition: TenantScope and row-level security show a scope only the rows of its own.
     */
    directoryId: uuid('directory_id'),
    /** SCIM `userName`, as sent (canonical: users/identifiers.ts). Defaults to the email. */
    userName: text('user_name').notNull(),
    /** The comparison key of `userName` (users/identifiers.ts); unique per tenant and directory partition. */
    userNameKey: text('user_name_key').notNull(),
    /** The sign-in address. Not unique (RFC 7643 §8.7.1: `emails` has uniqueness none). */
    email: text('email'),
    /** The comparison key of `email`; another user's userName key may not equal it (trigger, see migrations). */
    emailKey: text('email_key'),
    emailVerified: boolean('email_verified').notNull().default(false),
    givenName: text('given_name'),
    familyName: text('family_name'),
    /** The full name (`fullName` on /api, `name.formatted`/`displayName` in SCIM). */
    displayName: text('display_name'),
    externalId: text('external_id'),
    active: boolean('active').notNull().default(true),
    /** argon2id (PHC string). Never returned by any API. */
    passwordHash: text('password_hash'),
    /** The rest of the SCIM representation (emails, phoneNumbers, addresses, enterprise extension, …). */
    attributes: jsonb('attributes').$type<Record<string, unknown>>().notNull().default({}),
    /**
     * Tokens issued before this instant are dead even if the user is active again: set on deactivation and on
     * "sign out everywhere" (oauth/tokens.ts compares it with `iat`).
     */
    tokensNotBefore: timestamptz('tokens_not_before'),
    /** Incremented on every change: ETags (RFC 7644 §3.14) and optimistic concurrency. */
    version: integer('version').notNull().default(1),
    ...timestamps,
  },
  (t) => [
    primaryKey({ name: 'users_pkey', columns: [t.tenantId, t.id] }),
    unique('users_tenant_id_user_name_key_idx').on(t.tenantId, t.directoryId, t.userNameKey).nullsNotDistinct(),
    index('users_tenant_id_email_key_idx').on(t.tenantId, t.emailKey),
    index('users_tenant_id_external_id_idx').on(t.tenantId, t.directoryId, t.externalId),
    index('users_tenant_id_created_at_idx').on(t.tenantId, t.directoryId, t.createdAt, t.id),
    // The Directory API's keyset pages (directories/repository.ts).
    index('users_tenant_id_directory_id_id_idx').on(t.tenantId, t.directoryId, t.id),
  ],
);

export const roles = pgTable(
  'roles',
  {
    tenantId: tenantId().references(() => tenants.id, { onDelete: 'cascade' }),
    name: text('name').notNull(),
    description: text('description'),
    permissions: text('permissions').array().notNull().default(sql`'{}'::text[]`),
    builtIn: boolean('built_in').notNull().default(false),
    ...timestamps,
  },
  (t) => [primaryKey({ name: 'roles_pkey', columns: [t.tenantId, t.name] })],
);

export const userRoles = pgTable(
  'user_roles',
  {
    tenantId: tenantId(),
    userId: uuid('user_id').notNull(),
    roleName: text('role_name').notNull(),
    createdAt: timestamptz('created_at').notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ name: 'user_roles_pkey', columns: [t.tenantId, t.userId, t.roleName] }),
    foreignKey({ name: 'user_roles_user_fk', columns: [t.tenantId, t.userId], foreignColumns: [users.tenantId, users.id] }).onDelete('cascade'),
    foreignKey({ name: 'user_roles_role_fk', columns: [t.tenantId, t.roleName], foreignColumns: [roles.tenantId, roles.name] }).onDelete('cascade'),
    index('user_roles_tenant_id_role_name_idx').on(t.tenantId, t.roleName),
  ],
);

/** A user's link to an upstream identity: (provider, subject) → user. */
export const userIdentities = pgTable(
  'user_identities',
  {
    tenantId: tenantId(),
    userId: uuid('user_id').notNull(),
    providerType: text('provider_type').notNull(),
    providerId: text('provider_id').notNull(),
    subject: text('subject').notNull(),
    email: text('email'),
    createdAt: timestamptz('created_at').notNull().defaultNow(),
    lastSignInAt: timestamptz('last_sign_in_at'),
  },
  (t) => [
    primaryKey({ name: 'user_identities_pkey', columns: [t.tenantId, t.providerType, t.providerId, t.subject] }),
    foreignKey({ name: 'user_identities_user_fk', columns: [t.tenantId, t.userId], foreignColumns: [users.tenantId, users.id] }).onDelete('cascade'),
    index('user_identities_tenant_id_user_id_idx').on(t.tenantId, t.userId),
  ],
);
