/**
 * Users: the rules. One store serves `/api/users`, SCIM and sign-in, so these functions are the only way users are
 * created or changed. Every write is one transaction that also records the audit event.
 *
 * Concurrency: changes of one user are serialized. The transaction locks the row (SELECT … FOR UPDATE), checks the
 * expected version when the caller has one (If-Match: a mismatch is PreconditionFailed, 412), and writes with
 * `UPDATE … WHERE version = $seen` (compare-and-set), which increments the version. Two concurrent PATCHes without
 * If-Match therefore apply one after the other, the second on top of the first: neither change is lost.
 */
import { z } from 'zod';
import type { TenantScope } from '../platform/db.ts';
import { Conflict, Forbidden, Invalid, NotFound, PreconditionFailed } from '../platform/errors/domain.ts';
import { foreignKeyViolation } from '../platform/db-errors.ts';
import { recordAudit, type Actor } from '../audit/service.ts';
import { previousAttributes, publish } from '../events/in-transaction.ts';
import { userData } from './events.ts';
import { roleAssignmentsRepository } from './role-assignments-repository.ts';
import { lockRole, rolesNamed } from '../roles/service.ts';
import { ADMIN_ROLE, authorityOf, notHeld, type Authority } from '../platform/permissions.ts';
import { usersRepository, type UserChanges, type UserFilter, type UserRow } from './repository.ts';
import { uniqueViolation } from '../platform/db-errors.ts';
import { decodeCursor, pageOf, type Page } from '../platform/cursor.ts';
import { hashPassword } from './password.ts';
import { effectiveEmails, emailsChanged, syncEmailIndex, withSignInEmail } from './email-index.ts';
import { checkIdentifier, loginKey, requireIdentifier } from './identifiers.ts';

/** A user as every caller sees it: never the password hash. */
export interface User {
  id: string;
  userName: string;
  email: string | null;
  emailVerified: boolean;
  /** The full name: `fullName` on `/api`, `displayName`/`name.formatted` in SCIM. */
  displayName: string | null;
  givenName: string | null;
  familyName: string | null;
  externalId: string | null;
  active: boolean;
  attributes: Record<string, unknown>;
  passwordSet: boolean;
  /** Tokens issued before this are dead (deactivation, sign-out everywhere); `null`: no cutoff. */
  tokensNotBefore: Date | null;
  roles: string[];
  version: number;
  createdAt: Date;
  updatedAt: Date;
}

export interface NewUser {
  /** Defaults to the email. One of the two is required. */
  userName?: string | undefined;
  email?: string | null | undefined;
  emailVerified?: boolean | undefined;
  /** Defaults to "givenName familyName" when either is given. */
  displayName?: string | null | undefined;
  givenName?: string | null | undefined;
  familyName?: string | null | undefined;
  externalId?: string | null | undefined;
  active?: boolean | undefined;
  attributes?: Record<string, unknown> | undefined;
  /** Hashed with argon2id; the plain value is never stored, returned or audited. */
  password?: string | undefined;
  /** Role names; each must exist in the tenant. */
  roles?: string[] | undefined;
}

/** Fields to change; `undefined` leaves a field as it is, `null` clears it. */
export type UserPatch = Omit<NewUser, 'roles' | 'password'> & { password?: string | null | undefined };

export interface UserQuery extends UserFilter {
  cursor?: string | undefined;
  limit?: number | undefined;
}

export const DEFAULT_PAGE_SIZE = 50;
export const MAX_PAGE_SIZE = 200;

const userCursor = z.object({ createdAt: z.iso.datetime(), id: z.uuid() });

export function toUser(row: UserRow, roles: string[]): User {
  return {
    id: row.id,
    userName: row.userName,
    email: row.email,
    emailVerified: row.emailVerified,
    displayName: row.displayName,
    givenName: row.givenName,
    familyName: row.familyName,
    externalId: row.externalId,
    active: row.active,
    attributes: row.attributes,
    passwordSet: row.passwordHash !== null,
    tokensNotBefore: row.tokensNotBefore,
    roles,
    version: row.version,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
  };
}

/** What the audit trail keeps of a user: the representation, which holds no password or hash. */
function auditView(user: User): Record<string, unknown> {
  const { attributes, createdAt, updatedAt, tokensNotBefore, ...rest } = user;
  return { ...rest, ...(Object.keys(attributes).length ? { attributes } : {}) };
}

/**
 * Maps a unique violation on the users login identifiers to a 409 naming the field; rethrows anything else. The
 * userName key is unique (`users_tenant_id_user_name_key_idx`); the trigger `users_login_identifiers_distinct`
 * refuses a userName that is another user's email and an email that is another user's userName (emails alone may
 * repeat, RFC 7643 §8.7.1). With the userName taken from the email, every clash is about the email.
 */
function conflictOn(e: unknown, userNameFromEmail: boolean): never {
  const constraint = uniqueViolation(e);
  const userNameClash = constraint === 'users_tenant_id_user_name_key_idx' || constraint === 'users_user_name_is_another_email';
  if (userNameClash && userNameFromEmail) throw new Conflict('A user with this email address already exists in this tenant.', { field: 'email' });
  if (constraint === 'users_tenant_id_user_name_key_idx') throw new Conflict('A user with this userName already exists in this tenant (userNames are compared case-insensitively).', { field: 'userName' });
  if (constraint === 'users_user_name_is_another_email') throw new Conflict("This userName is another user's email address in this tenant.", { field: 'userName' });
  if (constraint === 'users_email_is_another_user_name') throw new Conflict("This email address is another user's userName in this tenant.", { field: 'email' });
  throw e;
}

/** 400 naming the field when a userName or email being written is not canonical (users/identifiers.ts). */
function assertIdentifiers(values: { userName?: string | undefined; email?: string | null | undefined }): void {
  if (typeof values.email === 'string') requireIdentifier(values.email, 'email');
  if (values.userName !== undefined) requireIdentifier(values.userName, 'userName');
}

function joinName(given: string | null | undefined, family: string | null | undefined): string | null {
  return [given, family].filter(Boolean).join(' ') || null;
}

type NamedRole = Awaited<ReturnType<typeof rolesNamed>>[number];

/** Fails with a 400 naming the roles that do not exist in the tenant; returns the roles, for `assertMayGrant`. */
export async function assertRolesExist(scope: TenantScope, names: string[]): Promise<NamedRole[]> {
  if (!names.length) return [];
  const found = await rolesNamed(scope, names);
  const existing = new Set(found.map((r) => r.name));
  const unknown = names.filter((n) => !existing.has(n));
  if (unknown.length) throw new Invalid(`Unknown role(s): ${unknown.join(', ')}.`, { unknownRoles: unknown });
  return found;
}

/**
 * No grant beyond what the grantor holds: giving roles needs every permission in them (and `admin` needs admin).
 * Role assignment here and upstream `defaultUserRoles` apply it to the roles `assertRolesExist` returned.
 */
export function assertMayGrant(actor: Actor, wanted: readonly NamedRole[]): void {
  if (actor.authority.admin || !wanted.length) return;
  if (wanted.some((r) => r.builtIn && r.name === ADMIN_ROLE)) throw new Forbidden('Only an administrator may assign the admin role.', { reason: 'not-held', roles: [ADMIN_ROLE] });
  const missing = notHeld(actor.authority, wanted.flatMap((r) => r.permissions));
  if (missing.length) throw new Forbidden(`You cannot grant permission(s) you do not hold: ${missing.join(', ')}.`, { reason: 'not-held', permissions: missing });
}

/**
 * Changing a user (their credentials, email, state or roles) is power over what they hold: only a principal holding
 * everything the user holds may do it. Otherwise a `users:write` user sets the administrator's password.
 */
export async function assertMayChangeUser(scope: TenantScope, actor: Actor, userId: string): Promise<void> {
  if (actor.authority.admin) return;
  const target = authorityOf(await roleAssignmentsRepository(scope).grantsOfUser(userId));
  const missing = target.admin ? [ADMIN_ROLE] : notHeld(actor.authority, target.permissions);
  if (missing.length) throw new Forbidden('This user holds permissions you do not hold; only an administrator may change them.', { reason: 'not-held', permissions: missing });
}

/**
 * `opts.alsoInTransaction` runs after the insert in the same transaction (SCIM stores its email index and invitation
 * request there), so callers need no outer transaction and savepoint.
 */
export async function createUser(
  scope: TenantScope,
  actor: Actor,
  input: NewUser,
  opts: { alsoInTransaction?: ((tx: TenantScope, user: User) => Promise<void>) | undefined } = {},
): Promise<User> {
  const userName = input.userName ?? input.email ?? undefined;
  if (!userName) throw new Invalid('A user needs a userName or an email address.', { field: 'email' });
  assertIdentifiers({ userName: input.userName, email: input.email });
  const roles = [...new Set(input.roles ?? [])];
  // Hashing takes tens of milliseconds: done before the transaction opens.
  const passwordHash = input.password !== undefined ? await hashPassword(input.password) : null;
  return scope.transaction(async (tx) => {
    assertMayGrant(actor, await assertRolesExist(tx, roles));
    const repo = usersRepository(tx);
    let row: UserRow;
    try {
      row = await repo.insertUser({
        userName,
        email: input.email ?? null,
        emailVerified: input.emailVerified ?? false,
        displayName: input.displayName ?? joinName(input.givenName, input.familyName),
        givenName: input.givenName ?? null,
        familyName: input.familyName ?? null,
        externalId: input.externalId ?? null,
        active: input.active ?? true,
        attributes: input.attributes ?? {},
        passwordHash,
        // Written at millisecond precision, so the pagination cursor holds it exactly.
        createdAt: new Date(),
      });
    } catch (e) {
      conflictOn(e, input.userName === undefined);
    }
    await roleAssignmentsRepository(tx).addUserRoles(row.id, roles);
    const user = toUser(row, roles.toSorted());
    await recordAudit(tx, actor, { action: 'user.create', targetType: 'user', targetId: user.id, after: auditView(user) });
    await publish(tx, { type: 'user.created', data: userData(user) });
    await syncEmailIndex(tx, row.id, effectiveEmails(row.attributes, row.email), { fresh: true });
    await opts.alsoInTransaction?.(tx, user);
    await publish(tx, { type: 'user.changed', userId: user.id });
    return user;
  });
}

/** Users whose sign-in email has the comparison key of `email` (users/identifiers.ts), at most `limit`. */
export async function findUsersByEmail(scope: TenantScope, email: string, limit: number): Promise<User[]> {
  const checked = checkIdentifier(email, 'email');
  if (!checked.ok) return [];
  const rows = await usersRepository(scope).listByEmailKey(checked.key, limit);
  return rows.map((r) => toUser(r, []));
}

export async function findUserById(scope: TenantScope, id: string): Promise<User | undefined> {
  const row = await usersRepository(scope).findUser(id);
  return row ? toUser(row, await roleAssignmentsRepository(scope).rolesOfUser(id)) : undefined;
}

/**
 * The user an email address names, by the sign-in rule (users/login.ts): the user whose userName has its key, else
 * the one user whose email has it. `ambiguous` when several users share the address and none has it as userName.
 */
export async function userForEmail(scope: TenantScope, email: string): Promise<{ user: User | undefined; ambiguous: boolean }> {
  const key = loginKey(email);
  if (key === undefined) return { user: undefined, ambiguous: false };
  const repo = usersRepository(scope);
  const row = (await repo.findByUserNameKey(key)) ?? (await repo.listByEmailKey(key, 2)).find((_, i, all) => all.length === 1);
  if (row) return { user: toUser(row, await roleAssignmentsRepository(scope).rolesOfUser(row.id)), ambiguous: false };
  return { user: undefined, ambiguous: (await repo.listByEmailKey(key, 2)).length > 1 };
}

export async function getUser(scope: TenantScope, id: string): Promise<User> {
  const user = await findUserById(scope, id);
  if (!user) throw new NotFound('No user with this id in this tenant.');
  return user;
}

export async function listUsers(scope: TenantScope, query: UserQuery = {}): Promise<Page<User>> {
  const limit = Math.min(Math.max(query.limit ?? DEFAULT_PAGE_SIZE, 1), MAX_PAGE_SIZE);
  const after = query.cursor !== undefined ? decodeCursor(query.cursor, userCursor) : undefined;
  const rows = await usersRepository(scope).listUsers(query, { after, limit: limit + 1 });
  const roles = await roleAssignmentsRepository(scope).rolesOfUsers(rows.slice(0, limit).map((r) => r.id));
  return pageOf(
    rows,
    limit,
    (r) => toUser(r, roles.get(r.id) ?? []),
    (r) => ({ createdAt: r.createdAt.toISOString(), id: r.id }),
  );
}

/** The columns that `patch` changes, compared with `row`; an empty object when nothing changes. */
function changesOf(row: UserRow, patch: UserPatch, passwordHash: string | null | undefined): UserChanges {
  const changes: UserChanges = {};
  const set = <K extends keyof UserChanges>(key: K, value: UserChanges[K] | undefined) => {
    if (value !== undefined && value !== row[key]) changes[key] = value;
  };
  set('userName', patch.userName);
  set('email', patch.email);
  set('emailVerified', patch.emailVerified);
  set('givenName', patch.givenName);
  set('familyName', patch.familyName);
  set('externalId', patch.externalId);
  set('active', patch.active);
  if (patch.displayName !== undefined) set('displayName', patch.displayName);
  else if ((patch.givenName !== undefined || patch.familyName !== undefined) && row.displayName === joinName(row.givenName, row.familyName)) {
    // The full name followed the parts, so it keeps following them.
    set('displayName', joinName(patch.givenName !== undefined ? patch.givenName : row.givenName, patch.familyName !== undefined ? patch.familyName : row.familyName));
  }
  if (patch.attributes !== undefined && JSON.stringify(patch.attributes) !== JSON.stringify(row.attributes)) changes.attributes = patch.attributes;
  else if (patch.attributes === undefined && changes.email !== undefined) {
    // The sign-in email changed alone (/api/users): the SCIM email it mirrors follows.
    const attributes = withSignInEmail(row.attributes, changes.email);
    if (attributes) changes.attributes = attributes;
  }
  if (passwordHash !== undefined) changes.passwordHash = passwordHash;
  if (changes.active === false) changes.tokensNotBefore = tokenCutoff();
  return changes;
}

/**
 * Changes a user. `expectedVersion` (from If-Match) makes the change conditional: 412 when the stored version
 * differs. Without it, concurrent changes wait for each other and each applies to the latest row, never lost.
 */
export async function updateUser(
  scope: TenantScope,
  actor: Actor,
  id: string,
  patch: UserPatch,
  opts: { expectedVersion?: number | undefined } = {},
): Promise<User> {
  const passwordHash = typeof patch.password === 'string' ? await hashPassword(patch.password) : patch.password;
  return scope.transaction(async (tx) => {
    const repo = usersRepository(tx);
    // The row lock serializes concurrent changes of one user: each one reads what the previous one committed.
    const current = await repo.lockUser(id);
    if (!current) throw new NotFound('No user with this id in this tenant.');
    if (opts.expectedVersion !== undefined && current.version !== opts.expectedVersion) {
      throw new PreconditionFailed(`The user has changed (version ${current.version}, If-Match named ${opts.expectedVersion}). Read it again and retry.`, { currentVersion: current.version });
    }
    await assertMayChangeUser(tx, actor, id);
    const roles = await roleAssignmentsRepository(tx).rolesOfUser(id);
    const changes = changesOf(current, patch, passwordHash);
    if (!Object.keys(changes).length) return toUser(current, roles);
    assertIdentifiers(changes);
    let updated: UserRow | undefined;
    try {
      updated = await repo.updateUser(id, current.version, changes);
    } catch (e) {
      conflictOn(e, false);
    }
    // Compare-and-set on the version we read: a writer that did not take the lock cannot be overwritten unseen.
    if (!updated) throw new Conflict('The user was changed at the same time. Read it again and retry.', { field: 'version' });
    // Deactivation: sessions end and refresh tokens die with it (subscribers); access tokens issued before the
    // cutoff stay dead even after a reactivation.
    if (current.active && !updated.active) await publish(tx, { type: 'user.deactivated', userId: id });
    if (changes.passwordHash !== undefined) await publish(tx, { type: 'user.password_changed', userId: id });
    if (emailsChanged(current, updated)) await syncEmailIndex(tx, id, effectiveEmails(updated.attributes, updated.email));
    await publish(tx, { type: 'user.changed', userId: id });
    const before = toUser(current, roles);
    const after = toUser(updated, roles);
    await publish(tx, { type: 'user.updated', data: userData(after), previousAttributes: previousAttributes(userData(before), userData(after)) });
    await recordAudit(tx, actor, {
      action: 'user.update',
      targetType: 'user',
      targetId: id,
      before: auditView(before),
      after: { ...auditView(after), ...(passwordHash !== undefined ? { passwordChanged: true } : {}) },
    });
    return after;
  });
}

/**
 * The instant before which the user's tokens and codes are dead. `iat` has second precision, so tokens issued in
 * the cutoff's second count as before it, and tokens issued after it get a later `iat` (oauth/tokens.ts).
 */
function tokenCutoff(): Date {
  return new Date();
}

/**
 * Signs a user out everywhere: every session ends, every refresh token dies (subscribers), and every access token
 * issued so far stops working. The user stays active and may sign in again.
 */
export async function signOutEverywhere(scope: TenantScope, actor: Actor, id: string): Promise<User> {
  return scope.transaction(async (tx) => {
    const repo = usersRepository(tx);
    const current = await repo.lockUser(id);
    if (!current) throw new NotFound('No user with this id in this tenant.');
    await assertMayChangeUser(tx, actor, id);
    const updated = (await repo.updateUser(id, current.version, { tokensNotBefore: tokenCutoff() }))!;
    await publish(tx, { type: 'session.revoked', data: { userId: id, allSessions: true, signedOutBefore: updated.tokensNotBefore!.toISOString() } });
    const roles = await roleAssignmentsRepository(tx).rolesOfUser(id);
    await recordAudit(tx, actor, { action: 'user.sessions.revoke', targetType: 'user', targetId: id, after: { signedOutBefore: updated.tokensNotBefore?.toISOString() } });
    return toUser(updated, roles);
  });
}

export function setActive(scope: TenantScope, actor: Actor, id: string, active: boolean, opts: { expectedVersion?: number | undefined } = {}): Promise<User> {
  return updateUser(scope, actor, id, { active }, opts);
}

/**
 * Deletes a user with their role assignments and linked identities. Deleting the tenant's last active
 * administrator needs `confirm`, as removing its admin role does.
 */
export async function deleteUser(
  scope: TenantScope,
  actor: Actor,
  id: string,
  opts: { expectedVersion?: number | undefined; confirm?: boolean | undefined } = {},
): Promise<void> {
  await scope.transaction(async (tx) => {
    const repo = usersRepository(tx);
    const roleRepo = roleAssignmentsRepository(tx);
    const current = await repo.lockUser(id);
    if (!current) throw new NotFound('No user with this id in this tenant.');
    if (opts.expectedVersion !== undefined && current.version !== opts.expectedVersion) {
      throw new PreconditionFailed(`The user has changed (version ${current.version}, If-Match named ${opts.expectedVersion}).`, { currentVersion: current.version });
    }
    await assertMayChangeUser(tx, actor, id);
    const roles = await roleRepo.rolesOfUser(id);
    if (roles.includes(ADMIN_ROLE) && current.active) await assertNotLastAdmin(tx, id, opts.confirm);
    await publish(tx, { type: 'user.deleted', data: userData(toUser(current, roles)) });
    await repo.deleteUser(id);
    await recordAudit(tx, actor, { action: 'user.delete', targetType: 'user', targetId: id, before: auditView(toUser(current, roles)) });
  });
}

/**
 * Refuses (409) to leave the tenant without an active administrator unless `confirm` is set. The admin role row is
 * locked first, so two concurrent removals of the last two administrators cannot both pass.
 */
export async function assertNotLastAdmin(tx: TenantScope, userId: string, confirm: boolean | undefined): Promise<void> {
  const repo = roleAssignmentsRepository(tx);
  await lockRole(tx, ADMIN_ROLE);
  if (confirm) return;
  if ((await repo.countActiveHolders(ADMIN_ROLE, userId)) === 0) {
    throw new Conflict('This is the last active administrator of the tenant. Repeat the request with ?confirm=true to remove it anyway.', {
      reason: 'last-admin',
    });
  }
}

/** A user's role names, sorted. 404 for a user that does not exist in this tenant. */
export async function listUserRoles(scope: TenantScope, userId: string): Promise<string[]> {
  if (!(await usersRepository(scope).findUser(userId))) throw new NotFound('No user with this id in this tenant.');
  return roleAssignmentsRepository(scope).rolesOfUser(userId);
}

/** Adds roles to a user; roles the user already has are left alone (idempotent). Returns all of the user's roles. */
export async function assignRoles(scope: TenantScope, actor: Actor, userId: string, names: string[]): Promise<string[]> {
  const wanted = [...new Set(names)];
  return scope.transaction(async (tx) => {
    const users = usersRepository(tx);
    const repo = roleAssignmentsRepository(tx);
    // The user row is locked: concurrent role changes of one user are serialized, and a concurrent delete waits.
    const locked = await users.lockUser(userId);
    if (!locked) throw new NotFound('No user with this id in this tenant.');
    const roles = await assertRolesExist(tx, wanted);
    await assertMayChangeUser(tx, actor, userId);
    assertMayGrant(actor, roles);
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
    const touched = await users.touchUser(userId);
    const after = await repo.rolesOfUser(userId);
    await publishRolesChanged(tx, locked, touched!, before, after);
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
    const repo = roleAssignmentsRepository(tx);
    const user = await users.lockUser(userId);
    if (!user) throw new NotFound('No user with this id in this tenant.');
    await assertRolesExist(tx, [name]);
    await assertMayChangeUser(tx, actor, userId);
    const before = await repo.rolesOfUser(userId);
    if (!before.includes(name)) throw new NotFound(`The user does not have role "${name}".`);
    if (name === ADMIN_ROLE && user.active) await assertNotLastAdmin(tx, userId, opts.confirm);
    await repo.removeUserRole(userId, name);
    const touched = await users.touchUser(userId);
    const after = before.filter((r) => r !== name);
    await publishRolesChanged(tx, user, touched!, before, after);
    await recordAudit(tx, actor, { action: 'user.roles.remove', targetType: 'user', targetId: userId, before: { roles: before }, after: { roles: after } });
    return after;
  });
}

/** `user.updated` for a change of roles: `previousAttributes` has the roles (and version) before. */
async function publishRolesChanged(tx: TenantScope, beforeRow: UserRow, afterRow: UserRow, before: string[], after: string[]): Promise<void> {
  const was = userData(toUser(beforeRow, before));
  const is = userData(toUser(afterRow, after));
  await publish(tx, { type: 'user.updated', data: is, previousAttributes: previousAttributes(was, is) });
}

/** What an active user holds through their roles; nothing for inactive or unknown users. */
export async function authorityOfUser(scope: TenantScope, userId: string): Promise<Authority> {
  return authorityOf(await roleAssignmentsRepository(scope).grantsOfActiveUser(userId));
}
