/**
 * Drizzle queries for role definitions; every one goes through the tenant scope. Who holds a role is the users
 * capability's (users/role-assignments-repository.ts); `countAssignments` only counts, for the audit of a delete.
 */
import { asc, eq, gt, inArray } from 'drizzle-orm';
import type { TenantScope } from '../platform/db.ts';
import { roles, userRoles } from '../db/schema/index.ts';
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

  };
}

export type RolesRepository = ReturnType<typeof rolesRepository>;
