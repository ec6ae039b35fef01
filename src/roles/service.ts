/**
 * Roles and role assignments: the rules. The built-in `admin` role grants every permission and cannot be changed
 * or deleted; custom roles grant the permissions they list (see permissions.ts). Every write is one transaction
 * that also records the audit event. Assigning or removing a role increments the user's version (their ETag).
 */
import { z } from 'zod';
import type { TenantScope } from '../platform/db.ts';
import { Conflict, Forbidden, Invalid, NotFound } from '../platform/errors/domain.ts';
import { recordAudit, type Actor } from '../audit/service.ts';
import { publish } from '../events/in-transaction.ts';
import { uniqueViolation } from '../platform/db-errors.ts';
import { decodeCursor, pageOf, type Page } from '../platform/cursor.ts';
import { rolesRepository, type RoleRow } from './repository.ts';
import { notHeld, PERMISSIONS, type Permission } from '../platform/permissions.ts';

export interface Role {
  name: string;
  description: string | null;
  permissions: string[];
  builtIn: boolean;
  createdAt: Date;
  updatedAt: Date;
}

export interface NewRole {
  name: string;
  description?: string | null | undefined;
  permissions: string[];
}

export type RolePatch = Partial<Omit<NewRole, 'name'>>;

const roleCursor = z.object({ name: z.string() });

function toRole(row: RoleRow): Role {
  return { name: row.name, description: row.description, permissions: row.permissions, builtIn: row.builtIn, createdAt: row.createdAt, updatedAt: row.updatedAt };
}

function auditView(role: Role): Record<string, unknown> {
  return { name: role.name, description: role.description, permissions: role.permissions, builtIn: role.builtIn };
}

function assertKnownPermissions(permissions: string[]): void {
  const unknown = permissions.filter((p) => !PERMISSIONS.includes(p as Permission));
  if (unknown.length) throw new Invalid(`Unknown permission(s): ${unknown.join(', ')}.`, { unknownPermissions: unknown, knownPermissions: PERMISSIONS });
}

/** Defining permissions you do not hold is how escalation starts: refused, as granting them would be. */
function assertMayDefine(actor: Actor, permissions: string[]): void {
  const missing = notHeld(actor.authority, permissions);
  if (missing.length) throw new Forbidden(`You cannot give a role permission(s) you do not hold: ${missing.join(', ')}.`, { reason: 'not-held', permissions: missing });
}

/** Creates the tenant's built-in roles when they are missing; idempotent and safe to run concurrently. */
export async function ensureBuiltInRoles(scope: TenantScope): Promise<void> {
  await rolesRepository(scope).ensureBuiltInRoles();
}

export async function listRoles(scope: TenantScope, query: { cursor?: string | undefined; limit?: number | undefined } = {}): Promise<Page<Role>> {
  await ensureBuiltInRoles(scope);
  const limit = Math.min(Math.max(query.limit ?? 100, 1), 200);
  const after = query.cursor !== undefined ? decodeCursor(query.cursor, roleCursor).name : undefined;
  const rows = await rolesRepository(scope).listRoles({ after, limit: limit + 1 });
  return pageOf(rows, limit, toRole, (r) => ({ name: r.name }));
}

export async function getRole(scope: TenantScope, name: string): Promise<Role> {
  await ensureBuiltInRoles(scope);
  const row = await rolesRepository(scope).findRole(name);
  if (!row) throw new NotFound(`No role "${name}" in this tenant.`);
  return toRole(row);
}

export async function createRole(scope: TenantScope, actor: Actor, input: NewRole): Promise<Role> {
  const permissions = [...new Set(input.permissions)];
  assertKnownPermissions(permissions);
  assertMayDefine(actor, permissions);
  await ensureBuiltInRoles(scope);
  return scope.transaction(async (tx) => {
    let row: RoleRow;
    try {
      row = await rolesRepository(tx).insertRole({ name: input.name, description: input.description ?? null, permissions });
    } catch (e) {
      if (uniqueViolation(e) !== undefined) throw new Conflict(`A role named "${input.name}" already exists.`, { field: 'name' });
      throw e;
    }
    const role = toRole(row);
    await recordAudit(tx, actor, { action: 'role.create', targetType: 'role', targetId: role.name, after: auditView(role) });
    return role;
  });
}

export async function updateRole(scope: TenantScope, actor: Actor, name: string, patch: RolePatch): Promise<Role> {
  const permissions = patch.permissions ? [...new Set(patch.permissions)] : undefined;
  if (permissions) assertKnownPermissions(permissions);
  await ensureBuiltInRoles(scope);
  return scope.transaction(async (tx) => {
    const repo = rolesRepository(tx);
    const current = await repo.lockRole(name);
    if (!current) throw new NotFound(`No role "${name}" in this tenant.`);
    if (current.builtIn) throw new Conflict(`The built-in role "${name}" cannot be changed.`, { reason: 'built-in' });
    if (!actor.authority.admin) {
      // Nobody but an administrator edits a role they hold: that is granting yourself.
      if (actor.authority.roles.has(name)) {
        throw new Forbidden(`You hold role "${name}"; only an administrator may change it.`, { reason: 'own-role' });
      }
      if (permissions) assertMayDefine(actor, permissions.filter((p) => !current.permissions.includes(p)));
    }
    const set = {
      ...(patch.description !== undefined ? { description: patch.description } : {}),
      ...(permissions ? { permissions } : {}),
    };
    if (!Object.keys(set).length) return toRole(current);
    const row = (await repo.updateRole(name, set))!;
    const [before, after] = [toRole(current), toRole(row)];
    await recordAudit(tx, actor, { action: 'role.update', targetType: 'role', targetId: name, before: auditView(before), after: auditView(after) });
    return after;
  });
}

/**
 * Deletes a custom role and its assignments. A role that an upstream provider assigns by default
 * (`defaultUserRoles`) is refused with 409 naming the providers: change them first.
 */
export async function deleteRole(scope: TenantScope, actor: Actor, name: string): Promise<void> {
  await ensureBuiltInRoles(scope);
  await scope.transaction(async (tx) => {
    const repo = rolesRepository(tx);
    const current = await repo.lockRole(name);
    if (!current) throw new NotFound(`No role "${name}" in this tenant.`);
    if (current.builtIn) throw new Conflict(`The built-in role "${name}" cannot be deleted.`, { reason: 'built-in' });
    // Capabilities that refer to roles (upstream defaultUserRoles) refuse here with a 409 of their own.
    await publish(tx, { type: 'role.deleting', role: name });
    const assignedUsers = await repo.countAssignments(name);
    await repo.deleteRole(name);
    await recordAudit(tx, actor, { action: 'role.delete', targetType: 'role', targetId: name, before: { ...auditView(toRole(current)), assignedUsers } });
  });
}

/** The roles named that exist in this tenant, with their permissions (for grant checks). */
export async function rolesNamed(scope: TenantScope, names: string[]): Promise<Pick<RoleRow, 'name' | 'builtIn' | 'permissions'>[]> {
  await ensureBuiltInRoles(scope);
  return rolesRepository(scope).rolesNamed(names);
}

/** Locks a role row until the transaction ends: serializes changes that count its holders (the last admin). */
export async function lockRole(scope: TenantScope, name: string): Promise<void> {
  await rolesRepository(scope).lockRole(name);
}
