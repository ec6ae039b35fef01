/**
 * Drizzle queries for SCIM groups and their members. Member changes touch only the rows that change (insert …
 * on conflict do nothing, delete by key), so adding one member to a 50,000-member group costs what adding one to a
 * 10-member group costs. Every query goes through the tenant scope.
 */
import { asc, eq, inArray, sql, type SQL } from 'drizzle-orm';
import type { TenantScope } from '../../platform/db.ts';
import { groupMembers, groups, users } from '../../db/schema/index.ts';
import type { AttrPath } from '../filter/ast.ts';
import type { FilterMapping, MultiTarget, Target } from '../filter/to-sql.ts';
import { findAttr, GROUP_TYPE, resolveAttr } from '../schema/definitions.ts';

export type GroupRow = typeof groups.$inferSelect;
/** A direct member of a group. */
export type MemberRef = { id: string; type: MemberType };

/** `column = any($1::uuid[])`: one bind parameter however many ids (IN lists stop at 65,535 parameters). */
export function anyUuid(column: SQL | typeof groupMembers.memberId, ids: string[]): SQL {
  return sql`${column} = any(${sql.param(ids)}::uuid[])`;
}
export type MemberType = 'User' | 'Group';

export interface Member {
  value: string;
  type: MemberType;
  display: string | null;
}

const membersTarget: MultiTarget = {
  kind: 'multi',
  sub(name) {
    const n = name.toLowerCase();
    if (n === 'value') return { kind: 'scalar', expr: sql`scim_m.member_id`, type: 'string', caseExact: true, sqlType: 'uuid' };
    if (n === 'type') return { kind: 'scalar', expr: sql`scim_m.member_type`, type: 'string', caseExact: false };
    return undefined;
  },
  exists: (pred) => sql`exists (select 1 from ${groupMembers} scim_m where scim_m.tenant_id = ${groups.tenantId} and scim_m.group_id = ${groups.id} and ${pred})`,
};

export const groupFilterMapping: FilterMapping = {
  resolve(path: AttrPath): Target | undefined {
    const r = resolveAttr(GROUP_TYPE, path.attr, path.schema);
    if (!r || r.extension) return undefined;
    const { def } = r;
    switch (def.name) {
      case 'id':
        return { kind: 'scalar', expr: sql`${groups.id}`, type: 'string', caseExact: true, sqlType: 'uuid' };
      case 'externalId':
        return { kind: 'scalar', expr: sql`${groups.externalId}`, type: 'string', caseExact: true };
      case 'displayName':
        return { kind: 'scalar', expr: sql`${groups.displayName}`, type: 'string', caseExact: false };
      case 'members':
        return path.subAttr === undefined ? membersTarget : undefined;
      case 'meta': {
        const sub = findAttr(def.subAttributes, path.subAttr ?? '')?.name;
        if (sub === 'created') return { kind: 'scalar', expr: sql`${groups.createdAt}`, type: 'dateTime', caseExact: false, sqlType: 'timestamptz' };
        if (sub === 'lastModified') return { kind: 'scalar', expr: sql`${groups.updatedAt}`, type: 'dateTime', caseExact: false, sqlType: 'timestamptz' };
        if (sub === 'resourceType') return { kind: 'const', value: 'Group' };
        return undefined;
      }
    }
    return undefined;
  },
};

/** The members of one group as a filter target for `remove members[…]`: columns of group_members itself. */
export const memberRowMapping: FilterMapping = {
  resolve(path) {
    if (path.schema !== undefined || path.subAttr !== undefined) return undefined;
    const n = path.attr.toLowerCase();
    if (n === 'value') return { kind: 'scalar', expr: sql`${groupMembers.memberId}`, type: 'string', caseExact: true, sqlType: 'uuid' };
    if (n === 'type') return { kind: 'scalar', expr: sql`${groupMembers.memberType}`, type: 'string', caseExact: false };
    return undefined;
  },
};

export function groupSortExpr(path: AttrPath): SQL | undefined {
  const t = groupFilterMapping.resolve(path);
  if (!t || t.kind !== 'scalar') return undefined;
  return t.caseExact || t.sqlType ? t.expr : sql`lower(${t.expr})`;
}

export function groupsRepository(scope: TenantScope) {
  return {
    async insertGroup(input: { displayName: string; externalId: string | null }): Promise<GroupRow> {
      const [row] = await scope.insert(groups, input).returning();
      return row!;
    },

    async findGroup(id: string): Promise<GroupRow | undefined> {
      const [row] = await scope.select(groups, eq(groups.id, id));
      return row;
    },

    async lockGroup(id: string): Promise<GroupRow | undefined> {
      const [row] = await scope.select(groups, eq(groups.id, id)).for('update');
      return row;
    },

    /** Sets the given columns and increments the version. */
    async touchGroup(id: string, set: Partial<Pick<GroupRow, 'displayName' | 'externalId'>>): Promise<GroupRow> {
      const [row] = await scope.update(groups, { ...set, version: sql`${groups.version} + 1`, updatedAt: new Date() }, eq(groups.id, id)).returning();
      return row!;
    },

    async deleteGroup(id: string): Promise<boolean> {
      const rows = await scope.delete(groups, eq(groups.id, id)).returning({ id: groups.id });
      return rows.length > 0;
    },

    count(where: SQL | undefined): Promise<number> {
      return scope.count(groups, where);
    },

    page(where: SQL | undefined, order: SQL[], offset: number, limit: number): Promise<GroupRow[]> {
      return scope
        .select(groups, where)
        .orderBy(...order, groups.createdAt, groups.id)
        .offset(offset)
        .limit(limit);
    },

    /** Which of `ids` are users and which are groups of this tenant. */
    async memberTypes(ids: string[]): Promise<Map<string, MemberType>> {
      const out = new Map<string, MemberType>();
      if (!ids.length) return out;
      for (const r of await scope.selectFields({ id: users.id }, users, anyUuid(sql`${users.id}`, ids))) out.set(r.id, 'User');
      const rest = ids.filter((id) => !out.has(id));
      if (rest.length) for (const r of await scope.selectFields({ id: groups.id }, groups, anyUuid(sql`${groups.id}`, rest))) out.set(r.id, 'Group');
      return out;
    },

    /** Inserts memberships that do not exist yet; returns the members actually added. */
    async addMembers(groupId: string, members: MemberRef[]): Promise<MemberRef[]> {
      const added: MemberRef[] = [];
      for (let i = 0; i < members.length; i += 5000) {
        const chunk = members.slice(i, i + 5000);
        const rows = await scope
          .insert(
            groupMembers,
            chunk.map((m) => ({ groupId, memberId: m.id, memberType: m.type })),
          )
          .onConflictDoNothing()
          .returning({ id: groupMembers.memberId, type: groupMembers.memberType });
        added.push(...rows);
      }
      return added;
    },

    /** Deletes the memberships matching `where` (ANDed with the group); returns the members removed. */
    async removeMembers(groupId: string, where: SQL | undefined): Promise<MemberRef[]> {
      return scope.delete(groupMembers, eq(groupMembers.groupId, groupId), where).returning({ id: groupMembers.memberId, type: groupMembers.memberType });
    },

    async membersOf(groupId: string): Promise<MemberRef[]> {
      return scope.selectFields({ id: groupMembers.memberId, type: groupMembers.memberType }, groupMembers, eq(groupMembers.groupId, groupId));
    },

    async memberIds(groupId: string): Promise<string[]> {
      const rows = await scope.selectFields({ id: groupMembers.memberId }, groupMembers, eq(groupMembers.groupId, groupId));
      return rows.map((r) => r.id);
    },

    /** Members with their display names (a user's displayName, else userName; a group's displayName). */
    async members(groupIds: string[]): Promise<Map<string, Member[]>> {
      const out = new Map<string, Member[]>();
      if (!groupIds.length) return out;
      const rows = await scope
        .selectFields(
          {
            groupId: groupMembers.groupId,
            value: groupMembers.memberId,
            type: groupMembers.memberType,
            display: sql<string | null>`coalesce(${users.displayName}, ${users.userName}, scim_mg.display_name)`,
          },
          groupMembers,
          inArray(groupMembers.groupId, groupIds),
        )
        .leftJoin(users, scope.on(users, groupMembers, eq(users.id, groupMembers.userId)))
        .leftJoin(sql`${groups} scim_mg`, sql`scim_mg.tenant_id = ${groupMembers.tenantId} and scim_mg.id = ${groupMembers.memberGroupId}`)
        .orderBy(asc(groupMembers.createdAt), asc(groupMembers.memberId));
      for (const r of rows) {
        const list = out.get(r.groupId) ?? [];
        list.push({ value: r.value, type: r.type, display: r.display });
        out.set(r.groupId, list);
      }
      return out;
    },
  };
}
