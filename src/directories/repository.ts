/**
 * Drizzle queries of directories: their rows, tokens, role mappings and member links, and the Directory API's reads
 * of a directory's users and groups. Those run in the directory's own scope (`forDirectory`, ADR 0010): TenantScope
 * and row-level security limit them to the directory's partition, so no query here names a directory_id on users.
 */
import { asc, eq, gt, inArray, isNull, sql, type SQL } from 'drizzle-orm';
import type { TenantScope } from '../platform/db.ts';
import { directories, directoryRoleMappings, directoryTokens, directoryUserLinks, groupMembers, groups, users } from '../db/schema/index.ts';

export type DirectoryRow = typeof directories.$inferSelect;
export type DirectoryInsert = Omit<typeof directories.$inferInsert, 'tenantId' | 'id' | 'updatedAt'>;
export type DirectoryChanges = Partial<Pick<DirectoryRow, 'displayName' | 'provider' | 'enabled' | 'primary' | 'provisionMembers'>>;
export type DirectoryTokenRow = typeof directoryTokens.$inferSelect;
export type DirectoryUserRow = typeof users.$inferSelect;
export type DirectoryGroupRow = typeof groups.$inferSelect & { memberCount: number };

export function directoriesRepository(scope: TenantScope) {
  return {
    async insert(input: DirectoryInsert): Promise<DirectoryRow> {
      const [row] = await scope.insert(directories, { ...input, updatedAt: input.createdAt }).returning();
      return row!;
    },

    async find(id: string): Promise<DirectoryRow | undefined> {
      const [row] = await scope.select(directories, eq(directories.id, id));
      return row;
    },

    async lock(id: string): Promise<DirectoryRow | undefined> {
      const [row] = await scope.select(directories, eq(directories.id, id)).for('update');
      return row;
    },

    async update(id: string, changes: DirectoryChanges): Promise<DirectoryRow | undefined> {
      const [row] = await scope.update(directories, changes, eq(directories.id, id)).returning();
      return row;
    },

    /** The organization's other directories lose the primary mark (before one takes it: a partial unique index). */
    async clearPrimary(organizationId: string, except: string): Promise<void> {
      await scope.update(directories, { primary: false }, eq(directories.organizationId, organizationId), eq(directories.primary, true), sql`${directories.id} <> ${except}`);
    },

    async delete(id: string): Promise<boolean> {
      return (await scope.delete(directories, eq(directories.id, id)).returning({ id: directories.id })).length > 0;
    },

    async listOfOrganization(organizationId: string, limit: number): Promise<DirectoryRow[]> {
      return scope.select(directories, eq(directories.organizationId, organizationId)).orderBy(asc(directories.createdAt), asc(directories.id)).limit(limit);
    },

    async primaryOf(organizationId: string): Promise<DirectoryRow | undefined> {
      const [row] = await scope.select(directories, eq(directories.organizationId, organizationId), eq(directories.primary, true));
      return row;
    },

    async countOfOrganization(organizationId: string): Promise<number> {
      return scope.count(directories, eq(directories.organizationId, organizationId));
    },

    async touchLastRequest(id: string, at: Date): Promise<void> {
      // At most once a minute per directory: a sync of 10,000 users must not write this row 10,000 times.
      await scope.update(directories, { lastRequestAt: at }, eq(directories.id, id), sql`(${directories.lastRequestAt} IS NULL OR ${directories.lastRequestAt} < ${new Date(at.getTime() - 60_000)})`);
    },

    // Tokens.
    async insertToken(input: Omit<typeof directoryTokens.$inferInsert, 'tenantId' | 'id'>): Promise<DirectoryTokenRow> {
      const [row] = await scope.insert(directoryTokens, input).returning();
      return row!;
    },

    async tokensOf(directoryId: string): Promise<DirectoryTokenRow[]> {
      return scope.select(directoryTokens, eq(directoryTokens.directoryId, directoryId)).orderBy(asc(directoryTokens.createdAt), asc(directoryTokens.id));
    },

    /** Tokens that still work: not revoked and not expired at `now`. */
    async activeTokensOf(directoryId: string, now: Date): Promise<DirectoryTokenRow[]> {
      return scope
        .select(directoryTokens, eq(directoryTokens.directoryId, directoryId), isNull(directoryTokens.revokedAt), sql`(${directoryTokens.expiresAt} IS NULL OR ${directoryTokens.expiresAt} > ${now})`)
        .orderBy(asc(directoryTokens.createdAt));
    },

    async tokenByHash(hash: Buffer): Promise<DirectoryTokenRow | undefined> {
      const [row] = await scope.select(directoryTokens, eq(directoryTokens.tokenHash, hash));
      return row;
    },

    async revokeToken(directoryId: string, id: string, at: Date): Promise<DirectoryTokenRow | undefined> {
      const [row] = await scope.update(directoryTokens, { revokedAt: at }, eq(directoryTokens.directoryId, directoryId), eq(directoryTokens.id, id), isNull(directoryTokens.revokedAt)).returning();
      return row;
    },

    async findToken(directoryId: string, id: string): Promise<DirectoryTokenRow | undefined> {
      const [row] = await scope.select(directoryTokens, eq(directoryTokens.directoryId, directoryId), eq(directoryTokens.id, id));
      return row;
    },

    async touchToken(id: string, at: Date): Promise<void> {
      await scope.update(directoryTokens, { lastUsedAt: at }, eq(directoryTokens.id, id), sql`(${directoryTokens.lastUsedAt} IS NULL OR ${directoryTokens.lastUsedAt} < ${new Date(at.getTime() - 60_000)})`);
    },

    // Role mappings.
    async roleMappings(directoryId: string): Promise<{ groupId: string; roles: string[] }[]> {
      return scope.selectFields({ groupId: directoryRoleMappings.groupId, roles: directoryRoleMappings.roles }, directoryRoleMappings, eq(directoryRoleMappings.directoryId, directoryId));
    },

    async putRoleMapping(directoryId: string, groupId: string, roles: string[]): Promise<void> {
      await scope
        .insert(directoryRoleMappings, { directoryId, groupId, roles })
        .onConflictDoUpdate({ target: [directoryRoleMappings.tenantId, directoryRoleMappings.directoryId, directoryRoleMappings.groupId], set: { roles, updatedAt: new Date() } });
    },

    async deleteRoleMapping(directoryId: string, groupId: string): Promise<boolean> {
      return (await scope.delete(directoryRoleMappings, eq(directoryRoleMappings.directoryId, directoryId), eq(directoryRoleMappings.groupId, groupId)).returning()).length > 0;
    },

    // Links between directory users and tenant users.
    async linkOf(directoryUserId: string): Promise<{ userId: string } | undefined> {
      const [row] = await scope.selectFields({ userId: directoryUserLinks.userId }, directoryUserLinks, eq(directoryUserLinks.directoryUserId, directoryUserId));
      return row;
    },

    async linksOf(directoryUserIds: string[]): Promise<Map<string, string>> {
      if (!directoryUserIds.length) return new Map();
      const rows = await scope.selectFields({ d: directoryUserLinks.directoryUserId, u: directoryUserLinks.userId }, directoryUserLinks, inArray(directoryUserLinks.directoryUserId, directoryUserIds));
      return new Map(rows.map((r) => [r.d, r.u]));
    },

    async linksOfDirectory(directoryId: string): Promise<{ directoryUserId: string; userId: string }[]> {
      return scope.selectFields({ directoryUserId: directoryUserLinks.directoryUserId, userId: directoryUserLinks.userId }, directoryUserLinks, eq(directoryUserLinks.directoryId, directoryId));
    },

    async link(directoryId: string, directoryUserId: string, userId: string): Promise<void> {
      await scope
        .insert(directoryUserLinks, { directoryId, directoryUserId, userId })
        .onConflictDoUpdate({ target: [directoryUserLinks.tenantId, directoryUserLinks.directoryUserId], set: { userId } });
    },

    async unlink(directoryUserId: string): Promise<void> {
      await scope.delete(directoryUserLinks, eq(directoryUserLinks.directoryUserId, directoryUserId));
    },

    /** Other directory records linked to the same tenant user (in any directory): they keep the user active. */
    async otherLinksOfUser(userId: string, exceptDirectoryUserId: string): Promise<{ directoryId: string }[]> {
      return scope.selectFields({ directoryId: directoryUserLinks.directoryId }, directoryUserLinks, eq(directoryUserLinks.userId, userId), sql`${directoryUserLinks.directoryUserId} <> ${exceptDirectoryUserId}`);
    },
  };
}

/** Keyset position: the last id of the previous page. */
export interface Keyset {
  afterId?: string | undefined;
  updatedAfter?: Date | undefined;
  limit: number;
}

function keysetWhere(idColumn: typeof users.id | typeof groups.id, updatedColumn: typeof users.updatedAt | typeof groups.updatedAt, k: Keyset): (SQL | undefined)[] {
  return [k.afterId ? gt(idColumn, k.afterId) : undefined, k.updatedAfter ? gt(updatedColumn, k.updatedAfter) : undefined];
}

/** Reads of one directory's partition; `scope` must be that directory's scope (`forDirectory` or `inPartition`). */
export function directoryRecordsRepository(scope: TenantScope) {
  if (!scope.directoryId) throw new Error('directoryRecordsRepository needs a directory scope');
  return {
    async countUsers(): Promise<number> {
      return scope.count(users);
    },

    async countGroups(): Promise<number> {
      return scope.count(groups);
    },

    /** A page in id order: ids never change, so a page boundary never moves under concurrent writes. */
    async users(k: Keyset & { groupId?: string | undefined }): Promise<DirectoryUserRow[]> {
      const inGroup = k.groupId
        ? sql`exists (select 1 from ${groupMembers} dm where dm.tenant_id = ${users.tenantId} and dm.group_id = ${k.groupId} and dm.user_id = ${users.id})`
        : undefined;
      return scope.select(users, ...keysetWhere(users.id, users.updatedAt, k), inGroup).orderBy(asc(users.id)).limit(k.limit);
    },

    async usersByIds(ids: string[]): Promise<DirectoryUserRow[]> {
      if (!ids.length) return [];
      return scope.select(users, inArray(users.id, ids));
    },

    async user(id: string): Promise<DirectoryUserRow | undefined> {
      const [row] = await scope.select(users, eq(users.id, id));
      return row;
    },

    async groups(k: Keyset): Promise<DirectoryGroupRow[]> {
      const rows = await scope.selectFields({ ...groupColumns, memberCount: memberCount }, groups, ...keysetWhere(groups.id, groups.updatedAt, k)).orderBy(asc(groups.id)).limit(k.limit);
      return rows as DirectoryGroupRow[];
    },

    async group(id: string): Promise<DirectoryGroupRow | undefined> {
      const [row] = await scope.selectFields({ ...groupColumns, memberCount: memberCount }, groups, eq(groups.id, id));
      return row as DirectoryGroupRow | undefined;
    },

    /** Direct groups of each user. */
    async groupsOfUsers(userIds: string[]): Promise<Map<string, { id: string; displayName: string }[]>> {
      const map = new Map<string, { id: string; displayName: string }[]>();
      if (!userIds.length) return map;
      const rows = await scope
        .selectFields({ userId: groupMembers.userId, id: groups.id, displayName: groups.displayName }, groupMembers, inArray(groupMembers.userId, userIds))
        .innerJoin(groups, scope.on(groups, groupMembers, eq(groups.id, groupMembers.groupId)))
        .orderBy(asc(groups.displayName));
      for (const r of rows) {
        if (!r.userId) continue;
        map.set(r.userId, [...(map.get(r.userId) ?? []), { id: r.id, displayName: r.displayName }]);
      }
      return map;
    },

    /** Group ids a user is a direct member of. */
    async groupIdsOf(userId: string): Promise<string[]> {
      const rows = await scope.selectFields({ g: groupMembers.groupId }, groupMembers, eq(groupMembers.userId, userId));
      return rows.map((r) => r.g);
    },

    /** Direct user members of groups. */
    async userIdsInGroups(groupIds: string[]): Promise<string[]> {
      if (!groupIds.length) return [];
      const rows = await scope.selectFields({ u: groupMembers.userId }, groupMembers, inArray(groupMembers.groupId, groupIds), sql`${groupMembers.userId} IS NOT NULL`).groupBy(groupMembers.userId);
      return rows.map((r) => r.u!);
    },

    async groupExists(id: string): Promise<{ displayName: string } | undefined> {
      const [row] = await scope.selectFields({ displayName: groups.displayName }, groups, eq(groups.id, id));
      return row;
    },

    async groupNames(ids: string[]): Promise<Map<string, string>> {
      if (!ids.length) return new Map();
      const rows = await scope.selectFields({ id: groups.id, n: groups.displayName }, groups, inArray(groups.id, ids));
      return new Map(rows.map((r) => [r.id, r.n]));
    },
  };
}

const groupColumns = {
  tenantId: groups.tenantId,
  id: groups.id,
  directoryId: groups.directoryId,
  displayName: groups.displayName,
  externalId: groups.externalId,
  attributes: groups.attributes,
  version: groups.version,
  createdAt: groups.createdAt,
  updatedAt: groups.updatedAt,
};
const memberCount = sql<number>`(select count(*)::int from ${groupMembers} dm where dm.tenant_id = ${groups.tenantId} and dm.group_id = ${groups.id})`;
