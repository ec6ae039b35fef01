/**
 * Drizzle queries SCIM needs on the shared users table beyond users/repository.ts: lookup by userName, filtered and
 * sorted pages, and direct group memberships. Every query goes through the tenant scope; filters arrive compiled
 * (filter/to-sql.ts) and are ANDed after `tenant_id = $tenant`.
 */
import { eq, getTableColumns, inArray, sql, type SQL } from 'drizzle-orm';
import { alias } from 'drizzle-orm/pg-core';
import type { TenantScope } from '../../platform/db.ts';
import { groupMembers, groups, userEmails, users } from '../../db/schema/index.ts';
import { usersRepository, type UserRow } from '../../users/repository.ts';
import { checkIdentifier } from '../../users/identifiers.ts';
import type { AttrPath } from '../filter/ast.ts';
import type { FilterMapping, MultiTarget, ScalarTarget, Target } from '../filter/to-sql.ts';
import { findAttr, resolveAttr, USER_TYPE, type AttributeDef } from '../schema/definitions.ts';
import type { GroupRef } from './mapping.ts';

/** A jsonb array attribute as a set of values `scim_v` (non-arrays read as empty). */
export function jsonArrayTarget(array: SQL, def: AttributeDef): MultiTarget {
  return {
    kind: 'multi',
    sub(name) {
      const s = findAttr(def.subAttributes, name);
      if (!s) return undefined;
      return { kind: 'scalar', expr: sql`(scim_v ->> ${s.name})`, type: s.type, caseExact: s.caseExact };
    },
    exists: (pred) =>
      sql`exists (select 1 from jsonb_array_elements(case when jsonb_typeof(${array}) = 'array' then ${array} else '[]'::jsonb end) as scim_e(scim_v) where ${pred})`,
  };
}

const column = (expr: SQL | typeof users.id, def: AttributeDef, sqlType?: ScalarTarget['sqlType']): ScalarTarget => ({
  kind: 'scalar',
  expr: sql`${expr}`,
  type: def.type,
  caseExact: def.caseExact,
  ...(sqlType ? { sqlType } : {}),
});

const jsonScalar = (expr: SQL, def: AttributeDef): ScalarTarget => ({ kind: 'scalar', expr, type: def.type, caseExact: def.caseExact });

/** How each User attribute is found in SQL. */
export const userFilterMapping: FilterMapping = {
  resolve(path: AttrPath): Target | undefined {
    const r = resolveAttr(USER_TYPE, path.attr, path.schema);
    if (!r) return undefined;
    const { def } = r;
    if (def.returned === 'never') return undefined;
    if (r.extension) {
      const ext = sql`(${users.attributes} -> ${r.extension})`;
      if (def.type === 'complex') {
        // enterprise `manager`: `manager` alone means manager.value.
        const sub = findAttr(def.subAttributes, path.subAttr ?? 'value');
        return sub ? jsonScalar(sql`(${ext} -> ${def.name} ->> ${sub.name})`, sub) : undefined;
      }
      return path.subAttr === undefined ? jsonScalar(sql`(${ext} ->> ${def.name})`, def) : undefined;
    }
    switch (def.name) {
      case 'id':
        return column(users.id, def, 'uuid');
      case 'externalId':
        return column(sql`${users.externalId}`, def);
      case 'userName':
        // The stored key (users/identifiers.ts) is the lowercased userName and is indexed (unique).
        return { ...column(sql`${users.userNameKey}`, def), lowered: true };
      case 'displayName':
        return column(sql`${users.displayName}`, def);
      case 'active':
        return column(sql`${users.active}`, def, 'boolean');
      case 'meta': {
        const sub = path.subAttr?.toLowerCase();
        const subDef = findAttr(def.subAttributes, path.subAttr ?? '');
        if (!subDef) return undefined;
        if (sub === 'created') return column(sql`${users.createdAt}`, subDef, 'timestamptz');
        if (sub === 'lastmodified') return column(sql`${users.updatedAt}`, subDef, 'timestamptz');
        if (sub === 'resourcetype') return { kind: 'const', value: 'User' };
        return undefined;
      }
      case 'name': {
        const sub = findAttr(def.subAttributes, path.subAttr ?? '');
        if (!sub) return undefined;
        if (sub.name === 'givenName') return column(sql`${users.givenName}`, sub);
        if (sub.name === 'familyName') return column(sql`${users.familyName}`, sub);
        return jsonScalar(sql`(${users.attributes} -> 'name' ->> ${sub.name})`, sub);
      }
      case 'groups':
        return groupsTarget;
      case 'emails':
        return path.subAttr === undefined ? emailsTarget : undefined;
    }
    if (def.multiValued && def.type === 'complex') {
      if (path.subAttr !== undefined) return undefined; // resolved by the caller through `sub`
      return jsonArrayTarget(sql`(${users.attributes} -> ${def.name})`, def);
    }
    if (def.type === 'complex' || path.subAttr !== undefined) return undefined;
    return jsonScalar(sql`(${users.attributes} ->> ${def.name})`, def);
  },
};

/** `emails`: the indexed copy in user_emails (one row per value), so email filters use indexes. */
export const emailsTarget: MultiTarget = {
  kind: 'multi',
  sub(name) {
    switch (name.toLowerCase()) {
      case 'value':
        return { kind: 'scalar', expr: sql`scim_ue.value_lc`, type: 'string', caseExact: false, lowered: true, reversed: sql`scim_ue.value_rev` };
      case 'type':
        return { kind: 'scalar', expr: sql`scim_ue.type_lc`, type: 'string', caseExact: false, lowered: true };
      case 'display':
        return { kind: 'scalar', expr: sql`scim_ue.display`, type: 'string', caseExact: false };
      case 'primary':
        return { kind: 'scalar', expr: sql`scim_ue."primary"`, type: 'boolean', caseExact: false, sqlType: 'boolean' };
    }
    return undefined;
  },
  exists: (pred) => sql`exists (select 1 from ${userEmails} scim_ue where scim_ue.tenant_id = ${users.tenantId} and scim_ue.user_id = ${users.id} and ${pred})`,
};

/** `groups.value`, `groups.display`: the user's direct memberships. */
const groupsTarget: MultiTarget = {
  kind: 'multi',
  sub(name) {
    const n = name.toLowerCase();
    if (n === 'value') return { kind: 'scalar', expr: sql`scim_gm.group_id`, type: 'string', caseExact: true, sqlType: 'uuid' };
    if (n === 'display') return { kind: 'scalar', expr: sql`scim_g.display_name`, type: 'string', caseExact: false };
    if (n === 'type') return { kind: 'scalar', expr: sql`'direct'`, type: 'string', caseExact: false };
    return undefined;
  },
  exists: (pred) =>
    sql`exists (select 1 from ${groupMembers} scim_gm join ${groups} scim_g on scim_g.tenant_id = scim_gm.tenant_id and scim_g.id = scim_gm.group_id where scim_gm.tenant_id = ${users.tenantId} and scim_gm.user_id = ${users.id} and ${pred})`,
};

/** ORDER BY expression for `sortBy` (RFC 7644 §3.4.2.3); multi-valued attributes sort by their primary value. */
export function userSortExpr(path: AttrPath): SQL | undefined {
  const r = resolveAttr(USER_TYPE, path.attr, path.schema);
  if (r && !r.extension && r.def.name === 'emails' && (path.subAttr === undefined || path.subAttr.toLowerCase() === 'value')) return sql`lower(${users.email})`;
  const t = userFilterMapping.resolve(path);
  if (!t || t.kind !== 'scalar') return undefined;
  return t.caseExact || t.sqlType ? t.expr : sql`lower(${t.expr})`;
}

const emailRows = alias(userEmails, 'scim_ue');

export type PageRow = UserRow & { total: number; groupRefs: GroupRef[] | null };

export function scimUsersRepository(scope: TenantScope) {
  return {
    /** By the userName's key (users/identifiers.ts); a value that is no canonical userName names nobody. */
    async findByUserName(userName: string): Promise<UserRow | undefined> {
      const checked = checkIdentifier(userName, 'userName');
      return checked.ok ? usersRepository(scope).findByUserNameKey(checked.key) : undefined;
    },

    async lockByUserName(userName: string): Promise<UserRow | undefined> {
      const checked = checkIdentifier(userName, 'userName');
      return checked.ok ? usersRepository(scope).findByUserNameKey(checked.key, { lock: true }) : undefined;
    },

    count(where: SQL | undefined): Promise<number> {
      return scope.count(users, where);
    },

    /**
     * Users with an email matching `pred` (a predicate on `scim_ue`), counted from the email index alone: every row
     * belongs to an existing user of this tenant (foreign key), so no join to users is needed.
     */
    async countByEmails(pred: SQL): Promise<number> {
      const [row] = await scope.selectFields({ n: sql<number>`count(distinct ${emailRows.userId})::int` }, emailRows, pred);
      return row?.n ?? 0;
    },

    /**
     * One page, in one query: the users, each with its direct groups (a correlated json_agg, only when `withGroups`),
     * and with `withTotal` the number of all matches (`count(*) over ()`), which saves a round trip when the filter
     * selects few rows (a userName or externalId lookup).
     */
    async page(where: SQL | undefined, order: SQL[], offset: number, limit: number, opts: { withGroups: boolean; withTotal: boolean }): Promise<PageRow[]> {
      const rows = await scope
        .selectFields(
          {
            ...getTableColumns(users),
            total: opts.withTotal ? sql<number>`(count(*) over ())::int` : sql<number>`0`,
            groupRefs: opts.withGroups
              ? sql<GroupRef[] | null>`(select json_agg(json_build_object('id', scim_g.id, 'displayName', scim_g.display_name) order by scim_g.display_name) from ${groupMembers} scim_gm join ${groups} scim_g on scim_g.tenant_id = scim_gm.tenant_id and scim_g.id = scim_gm.group_id where scim_gm.tenant_id = users.tenant_id and scim_gm.user_id = users.id)`
              : sql<GroupRef[] | null>`null`,
          },
          users,
          where,
        )
        .orderBy(...order, users.createdAt, users.id)
        .offset(offset)
        .limit(limit);
      return rows as PageRow[];
    },

    /** Direct group memberships of the given users. */
    async groupsOf(userIds: string[]): Promise<Map<string, GroupRef[]>> {
      const map = new Map<string, GroupRef[]>();
      if (!userIds.length) return map;
      const rows = await scope
        .select(groupMembers, inArray(groupMembers.userId, userIds))
        .innerJoin(groups, scope.on(groups, groupMembers, eq(groups.id, groupMembers.groupId)))
        .orderBy(groups.displayName);
      for (const r of rows) {
        const list = map.get(r.group_members.memberId) ?? [];
        list.push({ id: r.groups.id, displayName: r.groups.displayName });
        map.set(r.group_members.memberId, list);
      }
      return map;
    },
  };
}
