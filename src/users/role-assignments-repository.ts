/**
 * Drizzle queries for role assignments (`user_roles`): which roles a user holds, with the role definitions joined
 * where the permissions matter. Assignments are user data, so they belong to the users capability; the role
 * definitions themselves are the roles capability's.
 */
import { asc, eq, inArray, ne } from 'drizzle-orm';
import type { TenantScope } from '../platform/db.ts';
import { roles, userRoles, users } from '../db/schema/index.ts';

export interface RoleGrant {
  name: string;
  builtIn: boolean;
  permissions: string[];
}

export function roleAssignmentsRepository(scope: TenantScope) {
  return {
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
    async grantsOfUser(userId: string): Promise<RoleGrant[]> {
      const rows = await scope
        .select(userRoles, eq(userRoles.userId, userId))
        .innerJoin(roles, scope.on(roles, userRoles, eq(roles.name, userRoles.roleName)));
      return rows.map((r) => ({ name: r.roles.name, builtIn: r.roles.builtIn, permissions: r.roles.permissions }));
    },

    /** The roles of an active user, with their permissions; empty for inactive or unknown users. */
    async grantsOfActiveUser(userId: string): Promise<RoleGrant[]> {
      const rows = await scope
        .select(userRoles, eq(userRoles.userId, userId))
        .innerJoin(users, scope.on(users, userRoles, eq(users.id, userRoles.userId), eq(users.active, true)))
        .innerJoin(roles, scope.on(roles, userRoles, eq(roles.name, userRoles.roleName)));
      return rows.map((r) => ({ name: r.roles.name, builtIn: r.roles.builtIn, permissions: r.roles.permissions }));
    },
  };
}
