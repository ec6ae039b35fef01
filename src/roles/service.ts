/**
 * Roles and role assignments: the rules. The built-in `admin` role grants every permission and cannot be changed
 * or deleted; custom roles grant the permissions they list (see permissions.ts). Every write is one transaction
 * that also records the audit event. Assigning or removing a role increments the user's version (their ETag).
 */
import { z } from 'zod';
import type { TenantScope } from '../platform/db.ts';
import { Conflict, Forbidden, Invalid, NotFound } from '../platform/errors/domain.ts';
import { recordAudit, type Actor } from '../audit/service.ts';
import { usersRepository } from '../users/repository.ts';
import { assertMayChangeUser, assertMayGrantRoles, assertNotLastAdmin, assertRolesExist } from '../users/service.ts';
import { publish } from '../events/in-transaction.ts';
import { uniqueViolation, foreignKeyViolation } from '../platform/db-errors.ts';
import { decodeCursor, pageOf, type Page } from '../platform/cursor.ts';
import { rolesRepository, type RoleRow } from './repository.ts';
import { ADMIN_ROLE, authorityOf, notHeld, PERMISSIONS, type Authority, type Permission } from '../platform/permissions.ts';

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
      if (actor.type === 'user' && (await repo.rolesOfUser(actor.id)).includes(name)) {
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

/** A user's role names, sorted. 404 for a user that does not exist in this tenant. */
export async function listUserRoles(scope: TenantScope, userId: string): Promise<string[]> {
  if (!(await usersRepository(scope).findUser(userId))) throw new NotFound('No user with this id in this tenant.');
  return rolesRepository(scope).rolesOfUser(userId);
}

/** Adds roles to a user; roles the user already has are left alone (idempotent). Returns all of the user's roles. */
export async function assignRoles(scope: TenantScope, actor: Actor, userId: string, names: string[]): Promise<string[]> {
  const wanted = [...new Set(names)];
  return scope.transaction(async (tx) => {
    const users = usersRepository(tx);
    const repo = rolesRepository(tx);
    // The user row is locked: concurrent role changes of one user are serialized, and a concurrent delete waits.
    if (!(await users.lockUser(userId))) throw new NotFound('No user with this id in this tenant.');
    await assertRolesExist(tx, wanted);
    await assertMayChangeUser(tx, actor, userId);
    await assertMayGrantRoles(tx, actor, wanted);
    const before = await repo.rolesOfUser(userId);
    let added: string[];
    try {
      added = await repo.addUserRoles(userId, wanted);
    } catch (e) {
      // A role deleted between the check and the insert.
      if (foreignKeyViolation(e) !== undefined) throw new Invalid('A role was deleted meanwhile. Retry.', { field: 'roles' });
      throw e;
    }
    if (!added.length) return before;
    await users.touchUser(userId);
    const after = await repo.rolesOfUser(userId);
    await recordAudit(tx, actor, { action: 'user.roles.add', targetType: 'user', targetId: userId, before: { roles: before }, after: { roles: after } });
    return after;
  });
}

/**
 * Removes one role from a user. 400 for a role the tenant does not have, 404 when the user does not hold it, and
 * 409 for removing `admin` from the last active administrator unless `confirm` is set.
 */
export async function removeRole(scope: TenantScope, actor: Actor, userId: string, name: string, opts: { confirm?: boolean | undefined } = {}): Promise<string[]> {
  return scope.transaction(async (tx) => {
    const users = usersRepository(tx);
    const repo = rolesRepository(tx);
    const user = await users.lockUser(userId);
    if (!user) throw new NotFound('No user with this id in this tenant.');
    await assertRolesExist(tx, [name]);
    await assertMayChangeUser(tx, actor, userId);
    const before = await repo.rolesOfUser(userId);
    if (!before.includes(name)) throw new NotFound(`The user does not have role "${name}".`);
    if (name === ADMIN_ROLE && user.active) await assertNotLastAdmin(tx, userId, opts.confirm);
    await repo.removeUserRole(userId, name);
    await users.touchUser(userId);
    const after = before.filter((r) => r !== name);
    await recordAudit(tx, actor, { action: 'user.roles.remove', targetType: 'user', targetId: userId, before: { roles: before }, after: { roles: after } });
    return after;
  });
}

/** What an active user holds through their roles; nothing for inactive or unknown users. */
export async function authorityOfUser(scope: TenantScope, userId: string): Promise<Authority> {
  return authorityOf(await rolesRepository(scope).grantsOfActiveUser(userId));
}
