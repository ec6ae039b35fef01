/**
 * SCIM Users (RFC 7644 §3.3–§3.6) on the shared user store: every write goes through users/service.ts (createUser,
 * updateUser, deleteUser), inside one transaction that also holds what SCIM adds: the invitation request, ending a
 * deactivated user's sessions and refresh tokens, and the audit events. No Fastify types here.
 * https://www.rfc-editor.org/rfc/rfc7644#section-3.3
 */
import type { TenantScope } from '../../platform/db.ts';
import type { Actor } from '../../audit/service.ts';
import { recordAudit } from '../../audit/service.ts';
import { NotFound, PreconditionFailed } from '../../platform/errors/domain.ts';
import { createUser, deleteUser, toUser, updateUser, type User, type UserPatch } from '../../users/service.ts';
import { usersRepository, type UserRow } from '../../users/repository.ts';
import { badRequest, ScimError } from '../errors.ts';
import { NOTIFICATIONS_SCHEMA, USER_TYPE } from '../schema/definitions.ts';
import { normalizeResource, type Resource } from '../schema/validate.ts';
import { applyPatch, parsePatchRequest } from '../patch/apply.ts';
import { ACTIVE_UNASSIGNED, toScimUser, toUserFields, toUserResource, type UserFields } from './mapping.ts';
import { emailsTarget, scimUsersRepository, userFilterMapping, userSortExpr, type PageRow } from './repository.ts';
import { singleMultiCondition } from '../filter/to-sql.ts';
import type { Filter } from '../filter/ast.ts';
import { listResponse, whereOf, type ListQuery } from '../query.ts';
import { project, wants, type Projection } from '../projection.ts';
import { formatAttrPath } from '../filter/format.ts';
import { sql, type SQL } from 'drizzle-orm';
import { requestInvitation, type InvitationSender } from '../invitations.ts';
import { getTenantSettings } from '../../tenancy/settings.ts';
import { verifyPassword } from '../../users/password.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A User resource from a client, checked: userName present, the password's length, sendInvitation taken out. */
function checkedUser(body: unknown): { fields: UserFields; password: string | undefined; sendInvitation: boolean } {
  const res = normalizeResource(USER_TYPE, body);
  return checkedResource(res);
}

function checkedResource(res: Resource) {
  if (typeof res.userName !== 'string' || res.userName.trim() === '') throw badRequest('invalidValue', '"userName" is required and must be a non-empty string.');
  if (res.userName.length > 256) throw badRequest('invalidValue', '"userName" is longer than 256 characters.');
  const notifications = res[NOTIFICATIONS_SCHEMA] as { sendInvitation?: boolean } | undefined;
  const password = res.password as string | undefined;
  if (password !== undefined && (password.length < 1 || password.length > 1024)) throw badRequest('invalidValue', '"password" must be 1 to 1024 characters.');
  return { fields: toUserFields(res), password, sendInvitation: notifications?.sendInvitation === true };
}

function toPatch(f: UserFields, password?: string): UserPatch {
  return {
    ...(password !== undefined ? { password } : {}),
    userName: f.userName,
    externalId: f.externalId,
    displayName: f.displayName,
    givenName: f.givenName,
    familyName: f.familyName,
    ...(f.active !== undefined ? { active: f.active } : {}),
    email: f.email,
    attributes: f.attributes,
  };
}

/** RFC 7644 §3.3. `sendInvitation: true` records an invitation request in the same transaction. */
export async function createScimUser(scope: TenantScope, actor: Actor, body: unknown, opts: { sendInvitation?: InvitationSender | undefined } = {}): Promise<User> {
  const checked = checkedUser(body);
  const { fields } = checked;
  // A directory's records never sign in (ADR 0010): a password (Okta's password sync) or an invitation is not kept.
  const password = scope.directoryId ? undefined : checked.password;
  const sendInvitation = scope.directoryId ? false : checked.sendInvitation;
  return createUser(
    scope,
    actor,
    {
      userName: fields.userName,
      email: fields.email,
      displayName: fields.displayName,
      givenName: fields.givenName,
      familyName: fields.familyName,
      externalId: fields.externalId,
      active: fields.active ?? true,
      attributes: fields.attributes,
      password,
    },
    { alsoInTransaction: sendInvitation ? (tx, user) => requestInvitation(tx, actor, user, 'scim', opts.sendInvitation).then(() => {}) : undefined },
  );
}

/**
 * The user at `/Users/{idOrUserName}`: by id, else (Bizagi addresses users by userName) by userName, compared
 * case-insensitively. 404 when neither matches.
 */
export async function findScimUser(scope: TenantScope, idOrUserName: string): Promise<UserRow | undefined> {
  if (idOrUserName.includes('\u0000')) return undefined;
  if (UUID.test(idOrUserName)) {
    const row = await usersRepository(scope).findUser(idOrUserName);
    if (row) return row;
  }
  return scimUsersRepository(scope).findByUserName(idOrUserName);
}

export async function getScimUser(scope: TenantScope, idOrUserName: string): Promise<User> {
  const row = await findScimUser(scope, idOrUserName);
  if (!row) throw new NotFound(`No user "${idOrUserName.slice(0, 100)}" in this tenant.`);
  return toUser(row, []);
}

async function lockScimUser(tx: TenantScope, idOrUserName: string, expectedVersion: number | undefined): Promise<UserRow> {
  if (idOrUserName.includes('\u0000')) throw new NotFound('No such user in this tenant.');
  let row = UUID.test(idOrUserName) ? await usersRepository(tx).lockUser(idOrUserName) : undefined;
  row ??= await scimUsersRepository(tx).lockByUserName(idOrUserName);
  if (!row) throw new NotFound(`No user "${idOrUserName.slice(0, 100)}" in this tenant.`);
  if (expectedVersion !== undefined && row.version !== expectedVersion) {
    throw new PreconditionFailed(`The user has changed (version ${row.version}, If-Match named ${expectedVersion}). Read it again and retry.`);
  }
  return row;
}

/**
 * Writes the new representation. users/service.ts keeps the email index in step and, when the user becomes inactive,
 * ends their sessions and refresh tokens in this transaction; the audit trail says so explicitly.
 */
async function write(tx: TenantScope, actor: Actor, row: UserRow, fields: UserFields, password?: string): Promise<User> {
  const user = await updateUser(tx, actor, row.id, toPatch(fields, password), { expectedVersion: row.version });
  if (row.active && !user.active) await recordAudit(tx, actor, { action: 'user.sessions.revoke', targetType: 'user', targetId: row.id, after: { reason: 'deactivated' } });
  else if (password !== undefined) await recordAudit(tx, actor, { action: 'user.sessions.revoke', targetType: 'user', targetId: row.id, after: { reason: 'password changed' } });
  return user;
}

/**
 * A password sent with PUT or PATCH (RFC 7643 §4.1.1; /ServiceProviderConfig `changePassword`): refused with 400
 * mutability unless the tenant's setting allows it. The password the user already has changes nothing (Okta sends it
 * with every PUT), so it does not end their sessions again.
 */
async function passwordChange(tx: TenantScope, row: UserRow, password: string | undefined): Promise<string | undefined> {
  if (password === undefined || tx.directoryId) return undefined;
  if (!(await getTenantSettings(tx)).scim.passwordChange) {
    throw new ScimError(400, 'mutability', 'Passwords cannot be changed through provisioning in this tenant (changePassword is not supported; an administrator can allow it with PATCH /api/tenant {"scim":{"passwordChange":true}}).');
  }
  if (row.passwordHash && (await verifyPassword(row.passwordHash, password))) return undefined;
  return password;
}

/** `active` as the new representation has it: undefined after a PATCH is unassigned (stored false, marked). */
function withActive(fields: UserFields, active: boolean | undefined): UserFields {
  if (active !== undefined) return { ...fields, active };
  return { ...fields, active: false, attributes: { ...fields.attributes, [ACTIVE_UNASSIGNED]: true } };
}

/** RFC 7644 §3.5.1: PUT replaces every writable attribute; a password only where the tenant allows changing it. */
export async function replaceScimUser(scope: TenantScope, actor: Actor, idOrUserName: string, body: unknown, expectedVersion?: number): Promise<User> {
  const { fields, password } = checkedUser(body);
  return scope.transaction(async (tx) => {
    const row = await lockScimUser(tx, idOrUserName, expectedVersion);
    const newPassword = await passwordChange(tx, row, password);
    // `active` left out of a PUT keeps its value (and stays unassigned if it was): reactivating by omission would be
    // a surprise.
    const wasUnassigned = !row.active && (row.attributes as Record<string, unknown>)[ACTIVE_UNASSIGNED] === true;
    return write(tx, actor, row, withActive(fields, fields.active ?? (wasUnassigned ? undefined : row.active)), newPassword);
  });
}

/** RFC 7644 §3.5.2: the operations are applied to the current representation, which is then written as a whole. */
export async function patchScimUser(scope: TenantScope, actor: Actor, idOrUserName: string, body: unknown, expectedVersion?: number): Promise<User> {
  const ops = parsePatchRequest(body);
  return scope.transaction(async (tx) => {
    const row = await lockScimUser(tx, idOrUserName, expectedVersion);
    const before = toUserResource(toUser(row, []));
    const after = applyPatch({ type: USER_TYPE, id: row.id }, before, ops);
    const res = normalizeResource(USER_TYPE, after);
    delete res[NOTIFICATIONS_SCHEMA];
    const { fields, password } = checkedResource(res);
    const newPassword = await passwordChange(tx, row, password);
    // RFC 7644 §3.5.2.2: `remove active` (or `replace` with null) unassigns it.
    return write(tx, actor, row, withActive(fields, fields.active), newPassword);
  });
}

/** RFC 7644 §3.6. */
export async function deleteScimUser(scope: TenantScope, actor: Actor, idOrUserName: string, expectedVersion?: number): Promise<void> {
  const row = await findScimUser(scope, idOrUserName);
  if (!row) throw new NotFound(`No user "${idOrUserName.slice(0, 100)}" in this tenant.`);
  await deleteUser(scope, actor, row.id, { expectedVersion });
}

/** A filter that names one user by a unique key (`userName eq …`, `id eq …`, or such a term ANDed with others). */
function selective(f: Filter | undefined): boolean {
  if (!f) return false;
  if (f.op === 'and') return selective(f.left) || selective(f.right);
  return f.op === 'eq' && f.path.schema === undefined && f.path.subAttr === undefined && ['username', 'id', 'externalid'].includes(f.path.attr.toLowerCase());
}

/**
 * RFC 7644 §3.4.2: filtered, sorted, paged; PostgreSQL filters and counts. A selective filter (a userName lookup)
 * costs one query (the total comes with the page); otherwise the count and the page run in parallel.
 */
export async function listScimUsers(scope: TenantScope, q: ListQuery, base: string) {
  const where = whereOf(q.filter, userFilterMapping);
  const repo = scimUsersRepository(scope);
  let order: SQL[] = [];
  if (q.sortBy) {
    const expr = userSortExpr(q.sortBy);
    if (!expr) throw badRequest('invalidValue', `"sortBy": cannot sort by "${formatAttrPath(q.sortBy)}".`);
    order = [q.descending ? sql`${expr} desc nulls last` : sql`${expr} asc nulls last`];
  }
  const withGroups = wants(q.projection, 'groups');
  let total: number;
  let rows: PageRow[];
  if (q.count > 0 && selective(q.filter)) {
    rows = await repo.page(where, order, q.startIndex - 1, q.count, { withGroups, withTotal: true });
    total = rows[0]?.total ?? (q.startIndex > 1 ? await repo.count(where) : 0);
  } else {
    const single = singleMultiCondition(q.filter, userFilterMapping);
    const counting = single?.target === emailsTarget ? repo.countByEmails(single.pred) : repo.count(where);
    [total, rows] = await Promise.all([counting, q.count === 0 ? Promise.resolve([]) : repo.page(where, order, q.startIndex - 1, q.count, { withGroups, withTotal: false })]);
  }
  return listResponse(
    total,
    q.startIndex,
    rows.map((r) => project(toScimUser(toUser(r, []), r.groupRefs ?? [], base), q.projection)),
  );
}

/** One user as served, with its direct groups when the projection wants them. */
export async function representUser(scope: TenantScope, user: User, base: string, projection: Projection = {}, opts: { fresh?: boolean } = {}): Promise<Resource> {
  const groups = wants(projection, 'groups') && !opts.fresh ? ((await scimUsersRepository(scope).groupsOf([user.id])).get(user.id) ?? []) : [];
  return project(toScimUser(user, groups, base), projection);
}
