/** Drizzle queries for roles and role assignments; every one goes through the tenant scope. */
import { asc, eq, gt, inArray, ne } from 'drizzle-orm';
import type { TenantScope } from '../platform/db.ts';
import { roles, userRoles, users } from '../db/schema/index.ts';
import { ADMIN_ROLE, PERMISSIONS } from '../platform/permissions.ts';

export type RoleRow = typeof roles.$inferSelect;

export function rolesRepository(scope: TenantScope) {
  return {
    /** The built-in roles, created on first use in each tenant; a no-op once they exist. */
    async ensureBuiltInRoles(): Promise<void> {
      await scope
        .insert(roles, { name: ADMIN_ROLE, description: 'Full access to the management API.', permissions: [...PERMISSIONS], builtIn: true })
        .onConflictDoNothing();
    },

    async findRole(name: string): Promise<RoleRow | undefined> {
      const [row] = await scope.select(roles, eq(roles.name, name));
      return row;
    },

    /** Locks the role row until the transaction ends: serializes changes that count its holders. */
    async lockRole(name: string): Promise<RoleRow | undefined> {
      const [row] = await scope.select(roles, eq(roles.name, name)).for('update');
      return row;
    },

    async listRoles(opts: { after?: string | undefined; limit: number }): Promise<RoleRow[]> {
      return scope
        .select(roles, opts.after !== undefined ? gt(roles.name, opts.after) : undefined)
        .orderBy(asc(roles.name))
        .limit(opts.limit);
    },

    /** The roles named, with their permissions (those that exist). */
    async rolesNamed(names: string[]): Promise<Pick<RoleRow, 'name' | 'builtIn' | 'permissions'>[]> {
      if (!names.length) return [];
      return scope.select(roles, inArray(roles.name, names));
    },

    /** The names in `names` that exist as roles in this tenant. */
    async existingRoleNames(names: string[]): Promise<string[]> {
      if (!names.length) return [];
      const rows = await scope.select(roles, inArray(roles.name, names));
      return rows.map((r) => r.name);
    },

    async insertRole(input: { name: string; description: string | null; permissions: string[] }): Promise<RoleRow> {
      const [row] = await scope.insert(roles, { ...input, builtIn: false }).returning();
      return row!;
    },

    async updateRole(name: string, set: { description?: string | null; permissions?: string[] }): Promise<RoleRow | undefined> {
      const [row] = await scope.update(roles, set, eq(roles.name, name)).returning();
      return row;
    },

    async deleteRole(name: string): Promise<boolean> {
      const rows = await scope.delete(roles, eq(roles.name, name)).returning({ name: roles.name });
      return rows.length > 0;
    },

    async countAssignments(name: string): Promise<number> {
      return (await scope.select(userRoles, eq(userRoles.roleName, name))).length;
    },

    async rolesOfUser(userId: string): Promise<string[]> {
      const rows = await scope.select(userRoles, eq(userRoles.userId, userId)).orderBy(asc(userRoles.roleName));
      return rows.map((r) => r.roleName);
    },

    async rolesOfUsers(userIds: string[]): Promise<Map<string, string[]>> {
      const map = new Map<string, string[]>(userIds.map((id) => [id, []]));
      if (!userIds.length) return map;
      const rows = await scope.select(userRoles, inArray(userRoles.userId, userIds)).orderBy(asc(userRoles.roleName));
      for (const r of rows) map.get(r.userId)?.push(r.roleName);
      return map;
    },

    /** Inserts the assignments that do not exist yet; returns the role names actually added. */
    async addUserRoles(userId: string, names: string[]): Promise<string[]> {
      if (!names.length) return [];
      const rows = await scope
        .insert(userRoles, names.map((roleName) => ({ userId, roleName })))
        .onConflictDoNothing()
        .returning({ roleName: userRoles.roleName });
      return rows.map((r) => r.roleName);
    },

    async removeUserRole(userId: string, name: string): Promise<boolean> {
      const rows = await scope.delete(userRoles, eq(userRoles.userId, userId), eq(userRoles.roleName, name)).returning({ userId: userRoles.userId });
      return rows.length > 0;
    },

    /** Active users other than `exceptUserId` that hold `name`. */
    async countActiveHolders(name: string, exceptUserId?: string): Promise<number> {
      const rows = await scope
        .select(userRoles, eq(userRoles.roleName, name), exceptUserId ? ne(userRoles.userId, exceptUserId) : undefined)
        .innerJoin(users, scope.on(users, userRoles, eq(users.id, userRoles.userId), eq(users.active, true)));
      return rows.length;
    },

    /** The roles of a user, active or not, with their permissions: what the user would hold if (re)activated. */
    async grantsOfUser(userId: string): Promise<Pick<RoleRow, 'name' | 'builtIn' | 'permissions'>[]> {
      const rows = await scope
        .select(userRoles, eq(userRoles.userId, userId))
        .innerJoin(roles, scope.on(roles, userRoles, eq(roles.name, userRoles.roleName)));
      return rows.map((r) => ({ name: r.roles.name, builtIn: r.roles.builtIn, permissions: r.roles.permissions }));
    },

    /** The roles of an active user, with their permissions; empty for inactive or unknown users. */
    async grantsOfActiveUser(userId: string): Promise<Pick<RoleRow, 'name' | 'builtIn' | 'permissions'>[]> {
      const rows = await scope
        .select(userRoles, eq(userRoles.userId, userId))
        .innerJoin(users, scope.on(users, userRoles, eq(users.id, userRoles.userId), eq(users.active, true)))
        .innerJoin(roles, scope.on(roles, userRoles, eq(roles.name, userRoles.roleName)));
      return rows.map((r) => ({ name: r.roles.name, builtIn: r.roles.builtIn, permissions: r.roles.permissions }));
    },
  };
}

export type RolesRepository = ReturnType<typeof rolesRepository>;
