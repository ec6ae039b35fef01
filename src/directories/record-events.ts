/**
 * How a directory's records reach the feed: the SCIM implementation publishes `user.*` and `group.*` events in
 * whichever partition it serves; in a directory's partition (`tx.directoryId`) those stay out of the feed
 * (src/events/in-transaction.ts) and these functions write the `organization.directory.*` event of the same change,
 * with the record as the Directory API returns it, in the same transaction.
 */
import type { TenantScope } from '../platform/db.ts';
import { publish, type GroupMemberRef } from '../events/in-transaction.ts';
import { directoryRecordsRepository } from './repository.ts';
import { partitionDirectory, readDirectoryUser, toDirectoryGroup } from './service.ts';

type UserEventType = 'organization.directory.user_created' | 'organization.directory.user_updated' | 'organization.directory.user_deleted';
type GroupEventType = 'organization.directory.group_created' | 'organization.directory.group_updated' | 'organization.directory.group_deleted';

/** `/api/users` field names (users/schemas.ts) → Directory API names, for `previousAttributes` of an update. */
const USER_FIELD_NAMES: Record<string, string> = {
  userName: 'user_name',
  externalId: 'external_id',
  email: 'email',
  givenName: 'given_name',
  familyName: 'family_name',
  fullName: 'display_name',
  active: 'active',
  version: 'version',
  updatedAt: 'updated_at',
};
/** The `group.*` data's names (scim/groups/events.ts) → Directory API names. */
const GROUP_FIELD_NAMES: Record<string, string> = { displayName: 'display_name', externalId: 'external_id', version: 'version', updatedAt: 'updated_at' };

/** `previousAttributes` under the Directory API's names; fields it does not show are left out. */
function renamed(previous: Record<string, unknown> | null | undefined, names: Record<string, string>): Record<string, unknown> | undefined {
  if (!previous) return undefined;
  return Object.fromEntries(Object.entries(previous).flatMap(([k, v]) => (Object.hasOwn(names, k) ? [[names[k]!, v]] : [])));
}

export async function publishUserRecord(p: TenantScope, type: UserEventType, userId: string, previous?: Record<string, unknown> | null): Promise<void> {
  const directory = await partitionDirectory(p);
  if (!directory) return;
  const data = await readDirectoryUser(p, directory, userId, false);
  if (!data) return;
  await publish(p, { type, organizationId: directory.organizationId, directoryId: directory.id, data, previousAttributes: renamed(previous, USER_FIELD_NAMES) });
}

export async function publishGroupRecord(p: TenantScope, type: GroupEventType, groupId: string, previous?: Record<string, unknown> | null): Promise<void> {
  const directory = await partitionDirectory(p);
  if (!directory) return;
  const row = await directoryRecordsRepository(p).group(groupId);
  if (!row) return;
  await publish(p, { type, organizationId: directory.organizationId, directoryId: directory.id, data: toDirectoryGroup(row, directory, false), previousAttributes: renamed(previous, GROUP_FIELD_NAMES) });
}

/** One `group_user_added` / `group_user_removed` per direct user member (nested groups are not the API's members). */
export async function publishMembershipRecords(p: TenantScope, groupId: string, added: GroupMemberRef[], removed: GroupMemberRef[]): Promise<void> {
  const directory = await partitionDirectory(p);
  if (!directory) return;
  const userIds = [...added, ...removed].filter((m) => m.type === 'User').map((m) => m.id);
  if (!userIds.length) return;
  const records = directoryRecordsRepository(p);
  const group = await records.group(groupId);
  if (!group) return;
  const usersById = new Map((await records.usersByIds(userIds)).map((u) => [u.id, u]));
  const base = { directory_id: directory.id, organization_id: directory.organizationId, group: { id: group.id, display_name: group.displayName, external_id: group.externalId } };
  const emit = async (type: 'organization.directory.group_user_added' | 'organization.directory.group_user_removed', m: GroupMemberRef) => {
    const u = usersById.get(m.id);
    if (m.type !== 'User' || !u) return;
    await publish(p, { type, organizationId: directory.organizationId, directoryId: directory.id, data: { ...base, user: { id: u.id, user_name: u.userName, email: u.email, external_id: u.externalId } } });
  };
  for (const m of removed) await emit('organization.directory.group_user_removed', m);
  for (const m of added) await emit('organization.directory.group_user_added', m);
}
