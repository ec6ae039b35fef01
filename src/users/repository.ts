/** Drizzle queries for users; every one goes through the tenant scope. */
import { and, asc, eq, ilike, or, sql, type SQL } from 'drizzle-orm';
import type { TenantScope } from '../platform/db.ts';
import { userRoles, users } from '../db/schema/index.ts';
import { containsPattern } from '../platform/cursor.ts';
import { requireIdentifier } from './identifiers.ts';

export type UserRow = typeof users.$inferSelect;
/** The comparison keys are never passed in: they are derived here from userName and email, so they cannot drift. */
export type UserInsert = Omit<typeof users.$inferInsert, 'tenantId' | 'id' | 'version' | 'updatedAt' | 'userNameKey' | 'emailKey'>;
export type UserChanges = Partial<Omit<UserRow, 'tenantId' | 'id' | 'version' | 'createdAt' | 'updatedAt' | 'userNameKey' | 'emailKey'>>;

/** The identifier keys (users/identifiers.ts) of the userName and email being written. */
function keysOf(values: { userName?: string | undefined; email?: string | null | undefined }): { userNameKey?: string; emailKey?: string | null } {
  return {
    ...(values.userName !== undefined ? { userNameKey: requireIdentifier(values.userName, 'userName') } : {}),
    ...(values.email !== undefined ? { emailKey: values.email === null ? null : requireIdentifier(values.email, 'email') } : {}),
  };
}

export interface UserFilter {
  /** Case-insensitive substring of the email address. */
  email?: string | undefined;
  /** Case-insensitive substring of the full, given or family name. */
  name?: string | undefined;
  /** Holds this role. */
  role?: string | undefined;
  active?: boolean | undefined;
}

/** The position after which a page starts: the last row of the previous page. */
export interface UserPosition {
  createdAt: string;
  id: string;
}

export function usersRepository(scope: TenantScope) {
  return {
    async findUser(id: string): Promise<UserRow | undefined> {
      const [row] = await scope.select(users, eq(users.id, id));
      return row;
    },

    /** The row, locked until the transaction ends. */
    async lockUser(id: string): Promise<UserRow | undefined> {
      const [row] = await scope.select(users, eq(users.id, id)).for('update');
      return row;
    },

    async insertUser(input: UserInsert): Promise<UserRow> {
      const [row] = await scope.insert(users, { ...input, userNameKey: requireIdentifier(input.userName, 'userName'), ...keysOf({ email: input.email ?? null }) }).returning();
      return row!;
    },

    /** The user whose userName has this key. */
    async findByUserNameKey(key: string, opts: { lock?: boolean } = {}): Promise<UserRow | undefined> {
      const q = scope.select(users, eq(users.userNameKey, key)).limit(1);
      const [row] = await (opts.lock ? q.for('update') : q);
      return row;
    },

    /** Up to `limit` users whose sign-in email has this key (emails are not unique). */
    async listByEmailKey(key: string, limit: number): Promise<UserRow[]> {
      return scope.select(users, eq(users.emailKey, key)).orderBy(asc(users.createdAt), asc(users.id)).limit(limit);
    },

    /**
     * Compare-and-set: applies `changes` only while the row still has version `seenVersion`, and increments it.
     * Undefined when the user is gone or another transaction changed it first.
     */
    async updateUser(id: string, seenVersion: number, changes: UserChanges): Promise<UserRow | undefined> {
      const [row] = await scope
        .update(users, { ...changes, ...keysOf(changes), version: sql`${users.version} + 1` }, eq(users.id, id), eq(users.version, seenVersion))
        .returning();
      return row;
    },

    /** Marks a change that is not in the row itself (e.g. roles) by incrementing the version. */
    async touchUser(id: string): Promise<UserRow | undefined> {
      const [row] = await scope.update(users, { version: sql`${users.version} + 1` }, eq(users.id, id)).returning();
      return row;
    },

    async deleteUser(id: string): Promise<boolean> {
      const rows = await scope.delete(users, eq(users.id, id)).returning({ id: users.id });
      return rows.length > 0;
    },

    /**
     * Users in a stable order, (created_at, id) ascending, starting after `after`. Keyset pagination: a user created
     * or deleted meanwhile never shifts the pages that follow.
     */
    async listUsers(filter: UserFilter, opts: { after?: UserPosition | undefined; limit: number }): Promise<UserRow[]> {
      const conditions: (SQL | undefined)[] = [];
      if (filter.email) conditions.push(ilike(users.email, containsPattern(filter.email)));
      if (filter.name) {
        const p = containsPattern(filter.name);
        conditions.push(
          or(
            ilike(users.displayName, p),
            ilike(users.givenName, p),
            ilike(users.familyName, p),
            sql`coalesce(${users.givenName}, '') || ' ' || coalesce(${users.familyName}, '') ilike ${p}`,
          ),
        );
      }
      if (filter.role) {
        conditions.push(
          sql`exists (select 1 from ${userRoles} where ${userRoles.tenantId} = ${users.tenantId} and ${userRoles.userId} = ${users.id} and ${userRoles.roleName} = ${filter.role})`,
        );
      }
      if (filter.active !== undefined) conditions.push(eq(users.active, filter.active));
      if (opts.after) {
        // The position is read back from the row itself, at full (microsecond) precision; the cursor's own
        // millisecond timestamp is the fallback for a row deleted since.
        conditions.push(
          sql`(${users.createdAt}, ${users.id}) > (coalesce((select u.created_at from users u where u.tenant_id = ${scope.tenantId} and u.id = ${opts.after.id}::uuid), ${opts.after.createdAt}::timestamptz), ${opts.after.id}::uuid)`,
        );
      }
      return scope
        .select(users, and(...conditions))
        .orderBy(asc(users.createdAt), asc(users.id))
        .limit(opts.limit);
    },
  };
}

export type UsersRepository = ReturnType<typeof usersRepository>;
