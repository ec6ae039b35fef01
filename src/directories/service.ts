/**
 * Directories of organizations: the rules (no HTTP here).
 *
 * - A directory belongs to one organization and is deleted with it; its SCIM users and groups live in its own
 *   partition of the tenant's users and groups (ADR 0010) and are deleted with it.
 * - Tokens: `iamdir_` + 256 random bits, shown once, stored as SHA-256; at most two active at a time (rotation:
 *   create the second, move the IdP over, revoke the first); optional expiry; `lastUsedAt` kept to the minute.
 * - `provisionMembers`: each active directory user with an email in one of the organization's verified domains is
 *   linked to the tenant user with that email (created when there is none) and made a member of the organization,
 *   with the organization roles its groups map to. Deprovisioned (`active: false` or deleted): the membership ends
 *   and the user is signed out everywhere; the user is deactivated only when they belong to no other organization.
 * Every change is one transaction with its audit entries.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { TenantScope } from '../platform/db.ts';
import { Conflict, Invalid, NotFound } from '../platform/errors/domain.ts';
import { decodeCursor, encodeCursor } from '../platform/cursor.ts';
import { recordAudit, systemActor, type Actor } from '../audit/service.ts';
import { previousAttributes, publish } from '../events/in-transaction.ts';
import { snapshotCursor } from '../events/service.ts';
import { directoryData, directoryTokenData } from './events.ts';
import { getOrganization, membershipCountOfUser, membershipOf, removeMembership, setMembership } from '../organizations/service.ts';
import { organizationForVerifiedDomain } from '../organizations/domains.ts';
import { createUser, findUserById, findUsersByEmail, setActive, signOutEverywhere, toUser } from '../users/service.ts';
import { toUserResource } from '../scim/users/mapping.ts';
import { effectiveEmails } from '../users/email-index.ts';
import type { DirectoryProvider } from '../db/schema/index.ts';
import { z } from 'zod';
import { directoriesRepository, directoryRecordsRepository, type DirectoryGroupRow, type DirectoryRow, type DirectoryTokenRow, type DirectoryUserRow } from './repository.ts';
import type { DirectoryCreateBody, DirectoryPageQuery, DirectoryPatchBody } from './schemas.ts';

export const MAX_DIRECTORIES_PER_ORGANIZATION = 10;
export const MAX_ACTIVE_TOKENS = 2;
export const TOKEN_PREFIX = 'iamdir_';
export const DEFAULT_PAGE_SIZE = 100;
const TOKEN_SHAPE = /^iamdir_[A-Za-z0-9_-]{43}$/;

export interface Directory {
  id: string;
  organizationId: string;
  displayName: string;
  provider: DirectoryProvider;
  enabled: boolean;
  primary: boolean;
  provisionMembers: boolean;
  scimBaseUrl: string;
  userCount: number;
  groupCount: number;
  lastRequestAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
}

/** The path of a directory's own SCIM service under the issuer. */
export const directoryScimPath = (id: string) => `/directories/${id}/scim/v2`;

export function scimBaseUrlOf(issuer: string, id: string): string {
  return `${issuer.replace(/\/$/, '')}${directoryScimPath(id)}`;
}

async function toDirectory(tx: TenantScope, r: DirectoryRow, issuer: string): Promise<Directory> {
  const counts = await tx.inPartition(r.id, async (p) => ({ users: await directoryRecordsRepository(p).countUsers(), groups: await directoryRecordsRepository(p).countGroups() }));
  return {
    id: r.id,
    organizationId: r.organizationId,
    displayName: r.displayName,
    provider: r.provider,
    enabled: r.enabled,
    primary: r.primary,
    provisionMembers: r.provisionMembers,
    scimBaseUrl: scimBaseUrlOf(issuer, r.id),
    userCount: counts.users,
    groupCount: counts.groups,
    lastRequestAt: r.lastRequestAt,
    createdAt: r.createdAt,
    updatedAt: r.updatedAt,
  };
}

function auditView(r: DirectoryRow): Record<string, unknown> {
  return { organizationId: r.organizationId, displayName: r.displayName, provider: r.provider, enabled: r.enabled, primary: r.primary, provisionMembers: r.provisionMembers };
}

async function loadOrThrow(scope: TenantScope, id: string, lock = false): Promise<DirectoryRow> {
  const repo = directoriesRepository(scope);
  const row = lock ? await repo.lock(id) : await repo.find(id);
  if (!row) throw new NotFound('No directory with this id in this tenant.');
  return row;
}

export async function createDirectory(scope: TenantScope, actor: Actor, issuer: string, organizationId: string, body: DirectoryCreateBody): Promise<Directory> {
  return scope.transaction(async (tx) => {
    await getOrganization(tx, organizationId);
    const repo = directoriesRepository(tx);
    if ((await repo.countOfOrganization(organizationId)) >= MAX_DIRECTORIES_PER_ORGANIZATION) {
      throw new Invalid(`An organization has at most ${MAX_DIRECTORIES_PER_ORGANIZATION} directories.`, { field: 'organizationId' });
    }
    // The first directory of an organization is its primary one unless the request says otherwise.
    const primary = body.primary ?? (await repo.primaryOf(organizationId)) === undefined;
    const row = await repo.insert({
      organizationId,
      displayName: body.displayName,
      provider: body.provider ?? 'generic',
      enabled: body.enabled ?? true,
      primary: false,
      provisionMembers: body.provisionMembers ?? false,
      createdAt: new Date(),
    });
    const final = primary ? await markPrimary(tx, row) : row;
    await recordAudit(tx, actor, { action: 'directory.create', targetType: 'directory', targetId: row.id, after: auditView(final) });
    await publish(tx, { type: 'directory.created', organizationId, data: directoryData(final) });
    return toDirectory(tx, final, issuer);
  });
}

async function markPrimary(tx: TenantScope, row: DirectoryRow): Promise<DirectoryRow> {
  const repo = directoriesRepository(tx);
  await repo.clearPrimary(row.organizationId, row.id);
  return (await repo.update(row.id, { primary: true }))!;
}

/** The organization a directory belongs to (404 when there is none): the confinement check, without the counts. */
export async function organizationOfDirectory(scope: TenantScope, id: string): Promise<string> {
  return (await loadOrThrow(scope, id)).organizationId;
}

export async function getDirectory(scope: TenantScope, issuer: string, id: string): Promise<Directory> {
  return scope.transaction(async (tx) => toDirectory(tx, await loadOrThrow(tx, id), issuer));
}

export async function listDirectories(scope: TenantScope, issuer: string, organizationId: string): Promise<Directory[]> {
  return scope.transaction(async (tx) => {
    await getOrganization(tx, organizationId);
    const rows = await directoriesRepository(tx).listOfOrganization(organizationId, MAX_DIRECTORIES_PER_ORGANIZATION);
    const out: Directory[] = [];
    for (const r of rows) out.push(await toDirectory(tx, r, issuer));
    return out;
  });
}

/** Scalekit's `getPrimaryDirectoryByOrganizationId`: 404 when the organization has none. */
export async function getPrimaryDirectory(scope: TenantScope, issuer: string, organizationId: string): Promise<Directory> {
  return scope.transaction(async (tx) => {
    await getOrganization(tx, organizationId);
    const row = await directoriesRepository(tx).primaryOf(organizationId);
    if (!row) throw new NotFound('This organization has no primary directory.');
    return toDirectory(tx, row, issuer);
  });
}

export async function updateDirectory(scope: TenantScope, actor: Actor, issuer: string, id: string, patch: DirectoryPatchBody): Promise<Directory> {
  return scope.transaction(async (tx) => {
    const before = await loadOrThrow(tx, id, true);
    const repo = directoriesRepository(tx);
    const changes = {
      ...(patch.displayName !== undefined ? { displayName: patch.displayName } : {}),
      ...(patch.provider !== undefined ? { provider: patch.provider } : {}),
      ...(patch.enabled !== undefined ? { enabled: patch.enabled } : {}),
      ...(patch.provisionMembers !== undefined ? { provisionMembers: patch.provisionMembers } : {}),
      ...(patch.primary === false ? { primary: false } : {}),
    };
    let row = Object.keys(changes).length ? (await repo.update(id, changes))! : before;
    if (patch.primary === true && !before.primary) row = await markPrimary(tx, row);
    await recordAudit(tx, actor, { action: 'directory.update', targetType: 'directory', targetId: id, before: auditView(before), after: auditView(row) });
    const was = directoryData(before);
    const is = directoryData(row);
    const changed = previousAttributes(was, is);
    if (changed) await publish(tx, { type: 'directory.updated', organizationId: row.organizationId, data: is, previousAttributes: changed });
    // Turning membership provisioning on links the records already there; turning it off leaves memberships as they are.
    if (patch.provisionMembers === true && !before.provisionMembers) await tx.inPartition(id, (p) => syncAllMembers(p, row));
    return toDirectory(tx, row, issuer);
  });
}

/**
 * Deletes the directory, its tokens, role mappings, users and groups (foreign keys). Members it provisioned are
 * deprovisioned first, as if the directory had deleted each of them.
 */
export async function deleteDirectory(scope: TenantScope, actor: Actor, id: string): Promise<{ users: number; groups: number; membershipsEnded: number }> {
  return scope.transaction(async (tx) => {
    const row = await loadOrThrow(tx, id, true);
    const links = await directoriesRepository(tx).linksOfDirectory(id);
    for (const link of links) await deprovisionUser(tx, row, link.directoryUserId, link.userId, 'directory deleted');
    const counts = await tx.inPartition(id, async (p) => ({ users: await directoryRecordsRepository(p).countUsers(), groups: await directoryRecordsRepository(p).countGroups() }));
    await directoriesRepository(tx).delete(id);
    await publish(tx, { type: 'directory.deleted', organizationId: row.organizationId, data: directoryData(row) });
    await recordAudit(tx, actor, { action: 'directory.delete', targetType: 'directory', targetId: id, before: { ...auditView(row), ...counts, membershipsEnded: links.length } });
    return { ...counts, membershipsEnded: links.length };
  });
}

// Tokens.

export interface DirectoryToken {
  id: string;
  hint: string;
  createdAt: Date;
  expiresAt: Date | null;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
}

const toToken = (r: DirectoryTokenRow): DirectoryToken => ({ id: r.id, hint: r.hint, createdAt: r.createdAt, expiresAt: r.expiresAt, lastUsedAt: r.lastUsedAt, revokedAt: r.revokedAt });
const hashToken = (token: string) => createHash('sha256').update(token, 'utf8').digest();

export async function createDirectoryToken(scope: TenantScope, actor: Actor, directoryId: string, opts: { expiresInDays?: number | undefined } = {}): Promise<DirectoryToken & { token: string }> {
  return scope.transaction(async (tx) => {
    // The directory row lock serializes concurrent creations: two at once cannot both see one active token.
    const directory = await loadOrThrow(tx, directoryId, true);
    const repo = directoriesRepository(tx);
    const now = new Date();
    if ((await repo.activeTokensOf(directoryId, now)).length >= MAX_ACTIVE_TOKENS) {
      throw new Conflict(`A directory has at most ${MAX_ACTIVE_TOKENS} active tokens: revoke one first (rotation: create the new one, update the identity provider, revoke the old one).`, { field: 'tokens' });
    }
    const token = TOKEN_PREFIX + randomBytes(32).toString('base64url');
    const row = await repo.insertToken({
      directoryId,
      tokenHash: hashToken(token),
      hint: token.slice(-4),
      createdAt: now,
      expiresAt: opts.expiresInDays ? new Date(now.getTime() + opts.expiresInDays * 86_400_000) : null,
    });
    await recordAudit(tx, actor, { action: 'directory.token.create', targetType: 'directory', targetId: directoryId, after: { tokenId: row.id, hint: row.hint, expiresAt: row.expiresAt?.toISOString() ?? null } });
    await publish(tx, { type: 'directory.token_created', organizationId: directory.organizationId, data: directoryTokenData(row) });
    return { ...toToken(row), token };
  });
}

export async function listDirectoryTokens(scope: TenantScope, directoryId: string): Promise<DirectoryToken[]> {
  await loadOrThrow(scope, directoryId);
  return (await directoriesRepository(scope).tokensOf(directoryId)).map(toToken);
}

export async function revokeDirectoryToken(scope: TenantScope, actor: Actor, directoryId: string, tokenId: string): Promise<DirectoryToken> {
  return scope.transaction(async (tx) => {
    const directory = await loadOrThrow(tx, directoryId);
    const repo = directoriesRepository(tx);
    const row = await repo.revokeToken(directoryId, tokenId, new Date());
    if (!row) {
      const existing = await repo.findToken(directoryId, tokenId);
      if (!existing) throw new NotFound('No token with this id for this directory.');
      return toToken(existing); // already revoked: idempotent
    }
    await recordAudit(tx, actor, { action: 'directory.token.revoke', targetType: 'directory', targetId: directoryId, after: { tokenId, hint: row.hint } });
    await publish(tx, { type: 'directory.token_revoked', organizationId: directory.organizationId, data: directoryTokenData(row) });
    return toToken(row);
  });
}

export type TokenCheck = { ok: true; directory: DirectoryRow; tokenId: string } | { ok: false; reason: 'not-a-directory-token' | 'unknown' | 'wrong-directory' | 'revoked' | 'expired' | 'disabled' };

/**
 * A directory bearer token presented at `directoryId`'s SCIM base URL. Looked up by its SHA-256 (an index lookup:
 * the hash of a guess reveals nothing about a real token's bytes). A token of another directory is refused.
 */
export async function checkDirectoryToken(scope: TenantScope, directoryId: string, token: string, now = new Date()): Promise<TokenCheck> {
  if (!TOKEN_SHAPE.test(token)) return { ok: false, reason: token.startsWith(TOKEN_PREFIX) ? 'unknown' : 'not-a-directory-token' };
  const repo = directoriesRepository(scope);
  const row = await repo.tokenByHash(hashToken(token));
  if (!row) return { ok: false, reason: 'unknown' };
  if (row.directoryId !== directoryId) return { ok: false, reason: 'wrong-directory' };
  if (row.revokedAt) return { ok: false, reason: 'revoked' };
  if (row.expiresAt && row.expiresAt <= now) return { ok: false, reason: 'expired' };
  const directory = await repo.find(directoryId);
  if (!directory) return { ok: false, reason: 'unknown' };
  if (!directory.enabled) return { ok: false, reason: 'disabled' };
  await repo.touchToken(row.id, now);
  await repo.touchLastRequest(directoryId, now);
  return { ok: true, directory, tokenId: row.id };
}

// Directory API (reads in the directory's own scope).

// `a`: the last id of the previous page; `c`: the feed cursor read before the first page (snapshotCursor).
const pageToken = z.object({ a: z.uuid(), c: z.string().max(100) });

export interface DirectoryUser {
  id: string;
  directory_id: string;
  organization_id: string;
  user_name: string;
  external_id: string | null;
  email: string | null;
  emails: { value: string; type: string | null; primary: boolean }[];
  given_name: string | null;
  family_name: string | null;
  display_name: string | null;
  active: boolean;
  groups: { id: string; display_name: string }[];
  roles: string[];
  custom_attributes: Record<string, unknown>;
  linked_user_id: string | null;
  version: number;
  created_at: string;
  updated_at: string;
  raw_attributes?: Record<string, unknown>;
}

const CORE_KEYS = new Set(['emails', 'name', 'roles', 'schemas', 'displayName', 'userName', 'externalId', 'active', 'id', 'meta', 'password', 'groups']);

function rolesOf(attributes: Record<string, unknown>): string[] {
  const roles = attributes.roles;
  if (!Array.isArray(roles)) return [];
  return roles.flatMap((r) => (r && typeof r === 'object' && typeof (r as { value?: unknown }).value === 'string' ? [(r as { value: string }).value] : typeof r === 'string' ? [r] : []));
}

/** The SCIM resource as stored (scim/users/mapping.ts): what the directory last sent, without `meta`. */
function rawOf(r: DirectoryUserRow): Record<string, unknown> {
  return toUserResource(toUser(r, []));
}

function toDirectoryUser(r: DirectoryUserRow, directory: DirectoryRow, groups: { id: string; displayName: string }[], linked: string | undefined, detail: boolean): DirectoryUser {
  const attributes = r.attributes as Record<string, unknown>;
  return {
    id: r.id,
    directory_id: directory.id,
    organization_id: directory.organizationId,
    user_name: r.userName,
    external_id: r.externalId,
    email: r.email,
    emails: effectiveEmails(attributes, r.email).flatMap((e) => (typeof e.value === 'string' ? [{ value: e.value, type: e.type ?? null, primary: e.primary === true }] : [])),
    given_name: r.givenName,
    family_name: r.familyName,
    display_name: r.displayName,
    active: r.active,
    groups: groups.map((g) => ({ id: g.id, display_name: g.displayName })),
    roles: rolesOf(attributes),
    custom_attributes: Object.fromEntries(Object.entries(attributes).filter(([k]) => k.startsWith('urn:') && !CORE_KEYS.has(k))),
    linked_user_id: linked ?? null,
    version: r.version,
    created_at: r.createdAt.toISOString(),
    updated_at: r.updatedAt.toISOString(),
    ...(detail ? { raw_attributes: rawOf(r) } : {}),
  };
}

export interface DirectoryGroup {
  id: string;
  directory_id: string;
  organization_id: string;
  display_name: string;
  external_id: string | null;
  member_count: number;
  version: number;
  created_at: string;
  updated_at: string;
  raw_attributes?: Record<string, unknown>;
}

export function toDirectoryGroup(r: DirectoryGroupRow, directory: DirectoryRow, detail: boolean): DirectoryGroup {
  return {
    id: r.id,
    directory_id: directory.id,
    organization_id: directory.organizationId,
    display_name: r.displayName,
    external_id: r.externalId,
    member_count: r.memberCount,
    version: r.version,
    created_at: r.createdAt.toISOString(),
    updated_at: r.updatedAt.toISOString(),
    ...(detail ? { raw_attributes: { displayName: r.displayName, ...(r.externalId !== null ? { externalId: r.externalId } : {}), ...r.attributes } } : {}),
  };
}

function keysetOf(q: DirectoryPageQuery) {
  const limit = q.page_size ?? DEFAULT_PAGE_SIZE;
  const token = q.page_token !== undefined ? decodeCursor(q.page_token, pageToken) : undefined;
  return { limit, afterId: token?.a, feedCursor: token?.c, updatedAfter: q.updated_after ? new Date(q.updated_after) : undefined };
}

/**
 * The feed cursor every page of one listing answers with (issue #13 item 4): read before the first page's first query
 * and carried in the page tokens. A client that lists every page, then follows `GET /api/events?after=<feed_cursor>`
 * applying events by `version`, ends with the directory's state: any change the pages may have missed has its event
 * after this cursor.
 */
async function listingCursor(dscope: TenantScope, k: { feedCursor?: string }): Promise<string> {
  return k.feedCursor ?? (await snapshotCursor(dscope));
}

function nextPageToken<R extends { id: string }>(rows: R[], limit: number, feedCursor: string): string | null {
  return rows.length > limit ? encodeCursor({ a: rows[limit - 1]!.id, c: feedCursor }) : null;
}

/** `dscope` is the directory's own scope; the directory row is read through it (directories are not partitioned). */
export async function directoryFor(dscope: TenantScope): Promise<DirectoryRow> {
  return loadOrThrow(dscope, dscope.directoryId!);
}

export async function listDirectoryUsers(dscope: TenantScope, q: DirectoryPageQuery): Promise<{ users: DirectoryUser[]; next_page_token: string | null; feed_cursor: string }> {
  const k = keysetOf(q);
  const feedCursor = await listingCursor(dscope, k);
  const directory = await directoryFor(dscope);
  const records = directoryRecordsRepository(dscope);
  if (q.group_id && !(await records.groupExists(q.group_id))) throw new NotFound('No group with this id in this directory.', { parameter: 'group_id' });
  const rows = await records.users({ ...k, limit: k.limit + 1, groupId: q.group_id });
  const page = rows.slice(0, k.limit);
  const ids = page.map((r) => r.id);
  const [groups, links] = await Promise.all([records.groupsOfUsers(ids), directoriesRepository(dscope).linksOf(ids)]);
  const detail = q.include_detail === 'true';
  return {
    users: page.map((r) => toDirectoryUser(r, directory, groups.get(r.id) ?? [], links.get(r.id), detail)),
    next_page_token: nextPageToken(rows, k.limit, feedCursor),
    feed_cursor: feedCursor,
  };
}

export async function getDirectoryUser(dscope: TenantScope, userId: string): Promise<DirectoryUser> {
  const user = await readDirectoryUser(dscope, await directoryFor(dscope), userId, true);
  if (!user) throw new NotFound('No user with this id in this directory.');
  return user;
}

/** One directory user as the Directory API returns it, with its groups and linked tenant user. */
export async function readDirectoryUser(dscope: TenantScope, directory: DirectoryRow, userId: string, detail: boolean): Promise<DirectoryUser | undefined> {
  const records = directoryRecordsRepository(dscope);
  const row = await records.user(userId);
  if (!row) return undefined;
  const [groups, links] = await Promise.all([records.groupsOfUsers([row.id]), directoriesRepository(dscope).linksOf([row.id])]);
  return toDirectoryUser(row, directory, groups.get(row.id) ?? [], links.get(row.id), detail);
}

export async function listDirectoryGroups(dscope: TenantScope, q: DirectoryPageQuery): Promise<{ groups: DirectoryGroup[]; next_page_token: string | null; feed_cursor: string }> {
  if (q.group_id) throw new Invalid('`group_id` filters users, not groups.', { parameter: 'group_id' });
  const k = keysetOf(q);
  const feedCursor = await listingCursor(dscope, k);
  const directory = await directoryFor(dscope);
  const rows = await directoryRecordsRepository(dscope).groups({ ...k, limit: k.limit + 1 });
  const page = rows.slice(0, k.limit);
  return {
    groups: page.map((r) => toDirectoryGroup(r, directory, q.include_detail === 'true')),
    next_page_token: nextPageToken(rows, k.limit, feedCursor),
    feed_cursor: feedCursor,
  };
}

export async function getDirectoryGroup(dscope: TenantScope, groupId: string): Promise<DirectoryGroup> {
  const directory = await directoryFor(dscope);
  const row = await directoryRecordsRepository(dscope).group(groupId);
  if (!row) throw new NotFound('No group with this id in this directory.');
  return toDirectoryGroup(row, directory, true);
}

// Role mappings: directory group → organization roles.

export async function listRoleMappings(scope: TenantScope, directoryId: string): Promise<{ groupId: string; groupDisplayName: string; roles: string[] }[]> {
  return scope.transaction(async (tx) => {
    await loadOrThrow(tx, directoryId);
    const mappings = await directoriesRepository(tx).roleMappings(directoryId);
    const names = await tx.inPartition(directoryId, (p) => directoryRecordsRepository(p).groupNames(mappings.map((m) => m.groupId)));
    return mappings.map((m) => ({ groupId: m.groupId, groupDisplayName: names.get(m.groupId) ?? '', roles: m.roles }));
  });
}

export async function putRoleMapping(scope: TenantScope, actor: Actor, directoryId: string, groupId: string, roles: string[]): Promise<{ groupId: string; groupDisplayName: string; roles: string[] }> {
  const wanted = [...new Set(roles)].toSorted();
  return scope.transaction(async (tx) => {
    const directory = await loadOrThrow(tx, directoryId, true);
    const group = await tx.inPartition(directoryId, (p) => directoryRecordsRepository(p).groupExists(groupId));
    if (!group) throw new NotFound('No group with this id in this directory.', { field: 'groupId' });
    await directoriesRepository(tx).putRoleMapping(directoryId, groupId, wanted);
    await recordAudit(tx, actor, { action: 'directory.role_mapping.put', targetType: 'directory', targetId: directoryId, after: { groupId, roles: wanted } });
    await tx.inPartition(directoryId, async (p) => recomputeMembers(p, directory, await directoryRecordsRepository(p).userIdsInGroups([groupId])));
    return { groupId, groupDisplayName: group.displayName, roles: wanted };
  });
}

export async function deleteRoleMapping(scope: TenantScope, actor: Actor, directoryId: string, groupId: string): Promise<void> {
  await scope.transaction(async (tx) => {
    const directory = await loadOrThrow(tx, directoryId, true);
    if (!(await directoriesRepository(tx).deleteRoleMapping(directoryId, groupId))) throw new NotFound('This group has no role mapping.');
    await recordAudit(tx, actor, { action: 'directory.role_mapping.delete', targetType: 'directory', targetId: directoryId, before: { groupId } });
    await tx.inPartition(directoryId, async (p) => recomputeMembers(p, directory, await directoryRecordsRepository(p).userIdsInGroups([groupId])));
  });
}

// Membership provisioning. `p` is always a transaction in the directory's partition.

const provisioningActor = (directoryId: string): Actor => systemActor(`directory:${directoryId}`);

/** The organization roles a directory user's groups map to. */
async function mappedRoles(p: TenantScope, directoryId: string, directoryUserId: string): Promise<string[]> {
  const mappings = await directoriesRepository(p).roleMappings(directoryId);
  if (!mappings.length) return [];
  const mine = new Set(await directoryRecordsRepository(p).groupIdsOf(directoryUserId));
  return [...new Set(mappings.filter((m) => mine.has(m.groupId)).flatMap((m) => m.roles))].toSorted();
}

/** The first of the user's emails (then their userName) in a verified domain of the directory's organization. */
async function organizationEmail(p: TenantScope, directory: DirectoryRow, row: DirectoryUserRow): Promise<string | undefined> {
  const emails = effectiveEmails(row.attributes as Record<string, unknown>, row.email).flatMap((e) => (typeof e.value === 'string' ? [e.value] : []));
  if (row.email && !emails.includes(row.email)) emails.unshift(row.email);
  // Entra ID's userName is the UPN and Okta's the login, usually an address; tried last, and only in a verified domain.
  if (row.userName.includes('@') && !emails.includes(row.userName)) emails.push(row.userName);
  for (const email of emails) {
    const owner = await p.inPartition(null, (t) => organizationForVerifiedDomain(t, email));
    if (owner?.organizationId === directory.organizationId) return email;
  }
  return undefined;
}

/** Brings one directory user's organization membership in line with the record (create, change, reactivation). */
export async function syncMember(p: TenantScope, directory: DirectoryRow, directoryUserId: string): Promise<void> {
  if (!directory.provisionMembers) return;
  const records = directoryRecordsRepository(p);
  const row = await records.user(directoryUserId);
  if (!row) return;
  const repo = directoriesRepository(p);
  const linked = (await repo.linkOf(row.id))?.userId;
  if (!row.active) {
    if (linked) await deprovisionUser(p, directory, row.id, linked, 'deactivated');
    return;
  }
  const actor = provisioningActor(directory.id);
  let userId = linked;
  if (!userId) {
    const email = await organizationEmail(p, directory, row);
    if (!email) {
      await recordAudit(p, actor, { action: 'directory.member.skipped', targetType: 'directory', targetId: directory.id, after: { directoryUserId: row.id, reason: 'no email in a verified domain of the organization' } });
      return;
    }
    const matches = await p.inPartition(null, (t) => findUsersByEmail(t, email, 2));
    if (matches.length > 1) {
      await recordAudit(p, actor, { action: 'directory.member.skipped', targetType: 'directory', targetId: directory.id, after: { directoryUserId: row.id, reason: 'several users have this email' } });
      return;
    }
    userId =
      matches[0]?.id ??
      (await p.inPartition(null, (t) =>
        createUser(t, actor, { userName: email, email, emailVerified: true, givenName: row.givenName, familyName: row.familyName, displayName: row.displayName }),
      )).id;
    await repo.link(directory.id, row.id, userId);
    await recordAudit(p, actor, { action: 'directory.member.link', targetType: 'user', targetId: userId, after: { directoryId: directory.id, directoryUserId: row.id, matchedBy: matches[0] ? 'email' : 'created' } });
  }
  const roles = await mappedRoles(p, directory.id, row.id);
  const target = userId;
  await p.inPartition(null, async (t) => {
    const user = await findUserById(t, target);
    if (user && !user.active) await setActive(t, actor, target, true);
    await setMembership(t, actor, directory.organizationId, target, roles);
  });
}

/** Ends the membership a directory record gave, signs the user out; deactivates them if no organization is left. */
async function deprovisionUser(p: TenantScope, directory: DirectoryRow, directoryUserId: string, userId: string, reason: string): Promise<void> {
  const actor = provisioningActor(directory.id);
  await p.inPartition(null, async (t) => {
    if (!(await findUserById(t, userId))) return;
    if (await membershipOf(t, directory.organizationId, userId)) await removeMembership(t, actor, directory.organizationId, userId);
    await signOutEverywhere(t, actor, userId);
    if ((await membershipCountOfUser(t, userId)) === 0) {
      const user = await findUserById(t, userId);
      if (user?.active) await setActive(t, actor, userId, false);
    }
  });
  await recordAudit(p, actor, { action: 'directory.member.deprovision', targetType: 'user', targetId: userId, after: { directoryId: directory.id, directoryUserId, reason } });
}

/** A directory user is about to be deleted: its membership goes with it. */
export async function memberDeleted(p: TenantScope, directory: DirectoryRow, directoryUserId: string): Promise<void> {
  const linked = (await directoriesRepository(p).linkOf(directoryUserId))?.userId;
  if (linked) await deprovisionUser(p, directory, directoryUserId, linked, 'deleted');
}

/** Group membership or mappings changed: the roles of these directory users are recomputed. */
export async function recomputeMembers(p: TenantScope, directory: DirectoryRow, directoryUserIds: string[]): Promise<void> {
  if (!directory.provisionMembers || !directoryUserIds.length) return;
  const links = await directoriesRepository(p).linksOf(directoryUserIds);
  for (const id of directoryUserIds) if (links.has(id)) await syncMember(p, directory, id);
}

async function syncAllMembers(p: TenantScope, directory: DirectoryRow): Promise<void> {
  const records = directoryRecordsRepository(p);
  let afterId: string | undefined;
  for (;;) {
    const rows = await records.users({ afterId, limit: 500 });
    for (const r of rows) await syncMember(p, directory, r.id);
    if (rows.length < 500) return;
    afterId = rows.at(-1)!.id;
  }
}

// One read of the directory row per partition transaction, however many records it changes.
const directoryOfTx = new WeakMap<TenantScope, Promise<DirectoryRow | undefined>>();

/** The directory of a partition scope (undefined outside a directory's partition). */
export function partitionDirectory(p: TenantScope): Promise<DirectoryRow | undefined> {
  if (!p.directoryId) return Promise.resolve(undefined);
  let row = directoryOfTx.get(p);
  if (!row) directoryOfTx.set(p, (row = directoriesRepository(p).find(p.directoryId)));
  return row;
}

/** The directory of a partition scope, when membership provisioning is on (the subscriptions' fast path). */
export async function provisioningDirectory(p: TenantScope): Promise<DirectoryRow | undefined> {
  const row = await partitionDirectory(p);
  return row?.provisionMembers ? row : undefined;
}

