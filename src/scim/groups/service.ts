/**
 * SCIM Groups (RFC 7643 §4.2, RFC 7644 §3.3–§3.6): the rules. Members are users or groups of the same tenant
 * (nesting is stored, not expanded). PATCH on `members` becomes row inserts and deletes of just the members named,
 * so its cost does not grow with the group; other attributes go through the pure PATCH function. Every change is one
 * transaction with its audit events. No Fastify types here.
 * https://www.rfc-editor.org/rfc/rfc7644#section-3.5.2
 */
import { sql, type SQL } from 'drizzle-orm';
import type { TenantScope } from '../../platform/db.ts';
import { recordAudit, type Actor } from '../../audit/service.ts';
import { previousAttributes, publish } from '../../events/in-transaction.ts';
import { Conflict, NotFound, PreconditionFailed } from '../../platform/errors/domain.ts';
import { foreignKeyViolation, uniqueViolation } from '../../platform/db-errors.ts';
import { weakEtag } from '../../users/etag.ts';
import { groupMembers } from '../../db/schema/index.ts';
import { badRequest } from '../errors.ts';
import { compileFilter } from '../filter/to-sql.ts';
import { formatAttrPath } from '../filter/format.ts';
import { GROUP_SCHEMA, GROUP_TYPE, findAttr } from '../schema/definitions.ts';
import { normalizeResource, normalizeValue, type Resource } from '../schema/validate.ts';
import { applyPatch, parsePatchRequest, resolvePatchPath, type PatchOperation } from '../patch/apply.ts';
import { listResponse, whereOf, type ListQuery } from '../query.ts';
import { project, wants, type Projection } from '../projection.ts';
import { MAX_MEMBERS_PER_REQUEST } from '../limits.ts';
import { anyUuid, groupFilterMapping, groupSortExpr, groupsRepository, memberRowMapping, type GroupRow, type Member, type MemberRef, type MemberType } from './repository.ts';
import { groupData } from './events.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const MEMBERS_DEF = findAttr(GROUP_TYPE.schema.attributes, 'members')!;
const NORMALIZE = { maxValues: { members: MAX_MEMBERS_PER_REQUEST } };

/** A member deleted between the check and the insert (a race) is a client-visible 400, not a 500. */
async function addChecked(tx: TenantScope, groupId: string, members: { id: string; type: MemberType }[]): Promise<MemberRef[]> {
  try {
    return await groupsRepository(tx).addMembers(groupId, members);
  } catch (e) {
    if (foreignKeyViolation(e) !== undefined) throw badRequest('invalidValue', 'A member was deleted while being added; retry.');
    throw e;
  }
}

/**
 * The events of a group change, in its transaction: `group.created` / `group.updated` with the group as it is now,
 * then one `group.member_added` / `group.member_removed` per direct member (feed), and `group.members_changed` for
 * the subscribers that recompute what membership grants (directories' role mappings).
 */
async function publishGroupChange(tx: TenantScope, kind: 'created' | 'updated', before: GroupRow | undefined, row: GroupRow, added: MemberRef[], removed: MemberRef[]): Promise<void> {
  const data = groupData(row);
  if (kind === 'created') await publish(tx, { type: 'group.created', data });
  else await publish(tx, { type: 'group.updated', data, previousAttributes: previousAttributes(groupData(before!), data) });
  const memberEvent = (m: MemberRef) => ({ groupId: row.id, memberId: m.id, memberType: m.type === 'User' ? ('user' as const) : ('group' as const) });
  for (const m of removed) await publish(tx, { type: 'group.member_removed', data: memberEvent(m) });
  for (const m of added) await publish(tx, { type: 'group.member_added', data: memberEvent(m) });
  if (added.length || removed.length) await publish(tx, { type: 'group.members_changed', groupId: row.id, added, removed });
}

function conflictOn(e: unknown): never {
  if (uniqueViolation(e) === 'groups_tenant_id_display_name_idx') throw new Conflict('A group with this displayName already exists in this tenant.', { field: 'displayName' });
  throw e;
}

function checkedGroup(res: Resource): { displayName: string; externalId: string | null; members: string[] | undefined } {
  if (typeof res.displayName !== 'string' || res.displayName.trim() === '') throw badRequest('invalidValue', '"displayName" is required and must be a non-empty string.');
  if (res.displayName.length > 256) throw badRequest('invalidValue', '"displayName" is longer than 256 characters.');
  return { displayName: res.displayName, externalId: (res.externalId as string | undefined) ?? null, members: memberIdsOf(res.members) };
}

/** Member ids from `members` values; each needs a `value`. */
function memberIdsOf(values: unknown): string[] | undefined {
  if (values === undefined) return undefined;
  const ids = (values as Record<string, unknown>[]).map((m, i) => {
    if (typeof m.value !== 'string' || m.value === '') throw badRequest('invalidValue', `members[${i}].value is required.`);
    return m.value;
  });
  return [...new Set(ids)];
}

/** Resolves member ids to users or groups of this tenant; unknown ids (or the group itself) are 400 invalidValue. */
async function resolveMembers(tx: TenantScope, groupId: string, ids: string[]): Promise<{ id: string; type: MemberType }[]> {
  const bad = ids.filter((id) => !UUID.test(id));
  const types = await groupsRepository(tx).memberTypes(ids.filter((id) => UUID.test(id)));
  const unknown = [...bad, ...ids.filter((id) => UUID.test(id) && !types.has(id))];
  if (unknown.length) throw badRequest('invalidValue', `No user or group with id ${unknown.slice(0, 5).map((u) => JSON.stringify(u.slice(0, 64))).join(', ')}${unknown.length > 5 ? ` (and ${unknown.length - 5} more)` : ''} in this tenant.`);
  if (ids.includes(groupId)) throw badRequest('invalidValue', 'A group cannot be a member of itself.');
  return ids.map((id) => ({ id, type: types.get(id)! }));
}

function auditView(g: GroupRow): Record<string, unknown> {
  return { displayName: g.displayName, externalId: g.externalId, version: g.version };
}

export async function createGroup(scope: TenantScope, actor: Actor, body: unknown): Promise<GroupRow> {
  const g = checkedGroup(normalizeResource(GROUP_TYPE, body, NORMALIZE));
  return scope.transaction(async (tx) => {
    const repo = groupsRepository(tx);
    let row: GroupRow;
    try {
      row = await repo.insertGroup({ displayName: g.displayName, externalId: g.externalId });
    } catch (e) {
      conflictOn(e);
    }
    const members = g.members?.length ? await resolveMembers(tx, row.id, g.members) : [];
    const added = await addChecked(tx, row.id, members);
    await publishGroupChange(tx, 'created', undefined, row, added, []);
    await recordAudit(tx, actor, { action: 'group.create', targetType: 'group', targetId: row.id, after: { ...auditView(row), members: members.map((m) => m.id) } });
    return row;
  });
}

export async function getGroup(scope: TenantScope, id: string): Promise<GroupRow> {
  const row = UUID.test(id) ? await groupsRepository(scope).findGroup(id) : undefined;
  if (!row) throw new NotFound(`No group "${id.slice(0, 100)}" in this tenant.`);
  return row;
}

async function lockGroup(tx: TenantScope, id: string, expectedVersion: number | undefined): Promise<GroupRow> {
  const row = UUID.test(id) ? await groupsRepository(tx).lockGroup(id) : undefined;
  if (!row) throw new NotFound(`No group "${id.slice(0, 100)}" in this tenant.`);
  if (expectedVersion !== undefined && row.version !== expectedVersion) {
    throw new PreconditionFailed(`The group has changed (version ${row.version}, If-Match named ${expectedVersion}). Read it again and retry.`);
  }
  return row;
}

/** RFC 7644 §3.5.1: displayName, externalId and the member list replaced; only the differences are written. */
export async function replaceGroup(scope: TenantScope, actor: Actor, id: string, body: unknown, expectedVersion?: number): Promise<GroupRow> {
  const g = checkedGroup(normalizeResource(GROUP_TYPE, body, NORMALIZE));
  return scope.transaction(async (tx) => {
    const repo = groupsRepository(tx);
    const before = await lockGroup(tx, id, expectedVersion);
    const wanted = new Set(g.members ?? []);
    const current = new Set(await repo.memberIds(id));
    const toAdd = [...wanted].filter((m) => !current.has(m));
    const toRemove = [...current].filter((m) => !wanted.has(m));
    const added = await addChecked(tx, id, await resolveMembers(tx, id, toAdd));
    const removed = toRemove.length ? await repo.removeMembers(id, anyUuid(groupMembers.memberId, toRemove)) : [];
    let row: GroupRow;
    try {
      row = await repo.touchGroup(id, { displayName: g.displayName, externalId: g.externalId });
    } catch (e) {
      conflictOn(e);
    }
    await publishGroupChange(tx, 'updated', before, row, added, removed);
    await recordAudit(tx, actor, { action: 'group.update', targetType: 'group', targetId: id, before: auditView(before), after: { ...auditView(row), membersAdded: idsOf(added), membersRemoved: idsOf(removed) } });
    return row;
  });
}

/**
 * The net membership change of operations applied in order. An add succeeds only for a non-member and a remove only
 * for a member, so a member's adds and removes alternate: one more add than removes is an addition, one more remove
 * a removal, as many of each is no change.
 */
function netChange(added: MemberRef[], removed: MemberRef[]): { added: MemberRef[]; removed: MemberRef[] } {
  const balance = new Map<string, { ref: MemberRef; n: number }>();
  for (const m of added) balance.set(m.id, { ref: m, n: (balance.get(m.id)?.n ?? 0) + 1 });
  for (const m of removed) balance.set(m.id, { ref: m, n: (balance.get(m.id)?.n ?? 0) - 1 });
  const net = [...balance.values()];
  return { added: net.filter((b) => b.n > 0).map((b) => b.ref), removed: net.filter((b) => b.n < 0).map((b) => b.ref) };
}

const idsOf = (refs: MemberRef[]) => refs.map((m) => m.id);

/** Whether an operation is about `members` (its path, or the one key of a no-path value). */
function isMembersPath(path: string | undefined): boolean {
  return path !== undefined && /^\s*(urn:ietf:params:scim:schemas:core:2\.0:Group:)?members(\s*$|\[|\.)/i.test(path);
}

/**
 * RFC 7644 §3.5.2 on a group. Operations on `members` are applied in order as row changes:
 * add (values) → insert; remove `members[filter]` → delete the rows the filter matches (compiled to SQL);
 * remove `members` with a value list (Entra ID) → delete those; remove `members` → delete all; replace `members` →
 * delete all, insert the values. Other attributes go through applyPatch. The version is incremented once.
 */
export async function patchGroup(scope: TenantScope, actor: Actor, id: string, body: unknown, expectedVersion?: number): Promise<GroupRow> {
  const ops = splitNoPathMembers(parsePatchRequest(body));
  return scope.transaction(async (tx) => {
    const repo = groupsRepository(tx);
    const before = await lockGroup(tx, id, expectedVersion);
    const added: MemberRef[] = [];
    const removed: MemberRef[] = [];
    const attrOps: PatchOperation[] = [];
    for (const [i, op] of ops.entries()) {
      if (!isMembersPath(op.path)) {
        attrOps.push(op);
        continue;
      }
      const t = resolvePatchPath(GROUP_TYPE, op.path!);
      if (t.kind !== 'attr' || t.sub || t.filterSub) throw badRequest('invalidPath', `Operations[${i}]: members can be added, removed or replaced as values, not by sub-attribute.`);
      if (t.filter) {
        if (op.op !== 'remove') throw badRequest('invalidPath', `Operations[${i}]: a filtered members path can only be removed; use add for new members.`);
        removed.push(...(await repo.removeMembers(id, compileFilter(t.filter, memberRowMapping))));
        continue;
      }
      const values = normalizeValue(MEMBERS_DEF, op.value, 'members', NORMALIZE);
      const ids = memberIdsOf(values) ?? [];
      if (op.op === 'add') {
        if (!ids.length) throw badRequest('invalidValue', `Operations[${i}]: "add" of members needs a list of {"value": id}.`);
        added.push(...(await addChecked(tx, id, await resolveMembers(tx, id, ids))));
      } else if (op.op === 'remove') {
        removed.push(...(await repo.removeMembers(id, ids.length ? anyUuid(groupMembers.memberId, ids.filter((x) => UUID.test(x))) : undefined)));
      } else {
        removed.push(...(await repo.removeMembers(id, undefined)));
        added.push(...(await addChecked(tx, id, await resolveMembers(tx, id, ids))));
      }
    }
    let set: { displayName?: string; externalId?: string | null } = {};
    if (attrOps.length) {
      const current: Resource = { displayName: before.displayName, ...(before.externalId !== null ? { externalId: before.externalId } : {}) };
      const next = normalizeResource(GROUP_TYPE, applyPatch({ type: GROUP_TYPE, id }, current, attrOps));
      const g = checkedGroup(next);
      set = { displayName: g.displayName, externalId: g.externalId };
    }
    let row: GroupRow;
    try {
      row = await repo.touchGroup(id, set);
    } catch (e) {
      conflictOn(e);
    }
    // Operations in order may add and remove one member: only the net change is an event.
    const net = netChange(added, removed);
    await publishGroupChange(tx, 'updated', before, row, net.added, net.removed);
    await recordAudit(tx, actor, {
      action: 'group.update',
      targetType: 'group',
      targetId: id,
      before: auditView(before),
      after: { ...auditView(row), ...(added.length ? { membersAdded: idsOf(added) } : {}), ...(removed.length ? { membersRemoved: idsOf(removed) } : {}) },
    });
    return row;
  });
}

/** A no-path add/replace whose value holds `members` (and maybe other attributes) becomes separate operations. */
function splitNoPathMembers(ops: PatchOperation[]): PatchOperation[] {
  return ops.flatMap((op) => {
    if (op.path !== undefined || !op.value || typeof op.value !== 'object' || Array.isArray(op.value)) return [op];
    const entries = Object.entries(op.value as Record<string, unknown>);
    const members = entries.find(([k]) => k.toLowerCase() === 'members');
    if (!members) return [op];
    const rest = Object.fromEntries(entries.filter(([k]) => k.toLowerCase() !== 'members'));
    return [...(Object.keys(rest).length ? [{ op: op.op, value: rest }] : []), { op: op.op, path: 'members', value: members[1] }];
  });
}

export async function deleteGroup(scope: TenantScope, actor: Actor, id: string, expectedVersion?: number): Promise<void> {
  await scope.transaction(async (tx) => {
    const before = await lockGroup(tx, id, expectedVersion);
    const members = await groupsRepository(tx).membersOf(id);
    // Before the delete: subscribers read the group as it was.
    await publish(tx, { type: 'group.deleted', data: groupData(before) });
    await groupsRepository(tx).deleteGroup(id);
    if (members.length) await publish(tx, { type: 'group.members_changed', groupId: id, added: [], removed: members, groupDeleted: true });
    await recordAudit(tx, actor, { action: 'group.delete', targetType: 'group', targetId: id, before: auditView(before) });
  });
}

export function toScimGroup(row: GroupRow, members: Member[] | undefined, base: string): Resource {
  return {
    schemas: [GROUP_SCHEMA],
    id: row.id,
    ...(row.externalId !== null ? { externalId: row.externalId } : {}),
    displayName: row.displayName,
    // RFC 7643 §2.5: an empty multi-valued attribute is unassigned and is not returned.
    ...(members?.length ? { members: members.map((m) => ({ value: m.value, $ref: `${base}/${m.type}s/${m.value}`, type: m.type, ...(m.display !== null ? { display: m.display } : {}) })) } : {}),
    meta: {
      resourceType: 'Group',
      created: row.createdAt.toISOString(),
      lastModified: row.updatedAt.toISOString(),
      location: `${base}/Groups/${row.id}`,
      version: weakEtag(row.version),
    },
  };
}

/** One group as served; members are only read when the projection returns them (`excludedAttributes=members`). */
export async function representGroup(scope: TenantScope, row: GroupRow, base: string, projection: Projection = {}): Promise<Resource> {
  const members = wants(projection, 'members') ? ((await groupsRepository(scope).members([row.id])).get(row.id) ?? []) : undefined;
  return project(toScimGroup(row, members, base), projection);
}

export async function listGroups(scope: TenantScope, q: ListQuery, base: string) {
  const where = whereOf(q.filter, groupFilterMapping);
  const repo = groupsRepository(scope);
  let order: SQL[] = [];
  if (q.sortBy) {
    const expr = groupSortExpr(q.sortBy);
    if (!expr) throw badRequest('invalidValue', `"sortBy": cannot sort by "${formatAttrPath(q.sortBy)}".`);
    order = [q.descending ? sql`${expr} desc nulls last` : sql`${expr} asc nulls last`];
  }
  const [total, rows] = await Promise.all([repo.count(where), q.count === 0 ? Promise.resolve([]) : repo.page(where, order, q.startIndex - 1, q.count)]);
  const members = wants(q.projection, 'members') ? await repo.members(rows.map((r) => r.id)) : undefined;
  return listResponse(
    total,
    q.startIndex,
    rows.map((r) => project(toScimGroup(r, members ? (members.get(r.id) ?? []) : undefined, base), q.projection)),
  );
}
