/**
 * Queries at the server root (RFC 7644 §3.4.2.1, §3.4.3, Table 1): `GET /scim/v2?filter=…` and
 * `POST /scim/v2/.search` search Users and Groups together. https://www.rfc-editor.org/rfc/rfc7644#section-3.4.2.1
 *
 * - A filtered attribute a resource type does not have has no value there (§3.4.2.1: "SHALL treat the attribute as
 *   if there is no attribute value"); a path neither type has is 400 invalidFilter, as on /Users or /Groups.
 * - Results are the matching Users (by creation, id), then the matching Groups (by creation, id); `startIndex` and
 *   `count` page through that sequence and `totalResults` is the sum. `sortBy` is refused here (400 invalidValue):
 *   a sort across types would need one order over attributes the types do not share; sort on /Users or /Groups.
 * - `attributes`/`excludedAttributes` apply to each type by its own schemas, and every result keeps
 *   `meta.resourceType`, so a client can tell what it got.
 * No Fastify types here.
 */
import type { TenantScope } from '../platform/db.ts';
import { toUser } from '../users/service.ts';
import { badRequest } from './errors.ts';
import { absentWhenUnknown, compileFilter } from './filter/to-sql.ts';
import { listResponse, parseListQuery, type ListParams } from './query.ts';
import { parseProjection, project, wants, type Projection } from './projection.ts';
import { GROUP_TYPE, USER_TYPE } from './schema/definitions.ts';
import type { Resource } from './schema/validate.ts';
import { scimUsersRepository, userFilterMapping } from './users/repository.ts';
import { toScimUser } from './users/mapping.ts';
import { groupFilterMapping, groupsRepository } from './groups/repository.ts';
import { toScimGroup } from './groups/service.ts';

/** The projection drops `meta` unless asked for; at the root the resource type is always said. */
function withResourceType(res: Resource, resourceType: 'User' | 'Group'): Resource {
  const meta = (res.meta as Record<string, unknown> | undefined) ?? {};
  return { ...res, meta: { resourceType, ...meta } };
}

function projectionsOf(p: ListParams): { user: Projection; group: Projection } {
  const attributes = p.attributes as string | string[] | undefined;
  const excluded = p.excludedAttributes as string | string[] | undefined;
  const text = (v: string | string[] | undefined) => (Array.isArray(v) ? v.join(',') : v);
  return { user: parseProjection(USER_TYPE, text(attributes), text(excluded)), group: parseProjection(GROUP_TYPE, text(attributes), text(excluded)) };
}

export async function searchRoot(scope: TenantScope, params: ListParams, base: string) {
  // Parsed once for syntax, paging and limits (the projection is recomputed per type below).
  const q = parseListQuery(USER_TYPE, params);
  if (q.sortBy) throw badRequest('invalidValue', '"sortBy" is not supported at the server root (Users and Groups share no order); sort on /Users or /Groups.');
  const projection = projectionsOf(params);
  const missingUser = new Set<string>();
  const missingGroup = new Set<string>();
  const userWhere = q.filter ? compileFilter(q.filter, absentWhenUnknown(userFilterMapping, missingUser)) : undefined;
  const groupWhere = q.filter ? compileFilter(q.filter, absentWhenUnknown(groupFilterMapping, missingGroup)) : undefined;
  const unknown = [...missingUser].find((p) => missingGroup.has(p));
  if (unknown) throw badRequest('invalidFilter', `Invalid filter: unknown or unfilterable attribute ${JSON.stringify(unknown)} (neither Users nor Groups have it).`);

  const usersRepo = scimUsersRepository(scope);
  const groupsRepo = groupsRepository(scope);
  const [userTotal, groupTotal] = await Promise.all([usersRepo.count(userWhere), groupsRepo.count(groupWhere)]);
  const offset = q.startIndex - 1;
  const userLimit = Math.max(0, Math.min(q.count, userTotal - offset));
  const groupOffset = Math.max(0, offset - userTotal);
  const groupLimit = Math.max(0, Math.min(q.count - userLimit, groupTotal - groupOffset));

  const [userRows, groupRows] = await Promise.all([
    userLimit ? usersRepo.page(userWhere, [], offset, userLimit, { withGroups: wants(projection.user, 'groups'), withTotal: false }) : Promise.resolve([]),
    groupLimit ? groupsRepo.page(groupWhere, [], groupOffset, groupLimit) : Promise.resolve([]),
  ]);
  const members = groupRows.length && wants(projection.group, 'members') ? await groupsRepo.members(groupRows.map((r) => r.id)) : undefined;
  const resources = [
    ...userRows.map((r) => withResourceType(project(toScimUser(toUser(r, []), r.groupRefs ?? [], base), projection.user), 'User')),
    ...groupRows.map((r) => withResourceType(project(toScimGroup(r, members ? (members.get(r.id) ?? []) : undefined, base), projection.group), 'Group')),
  ];
  return listResponse(userTotal + groupTotal, q.startIndex, resources);
}
