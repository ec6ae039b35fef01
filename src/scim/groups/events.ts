/**
 * Groups' feed events (src/events/catalog.ts) for the tenant's own groups (tenant-wide SCIM). A directory's groups
 * are its organization's business and reach the feed as `organization.directory.group_*` (src/directories/events.ts).
 */
import { z } from 'zod';
import { defineFeedEvents } from '../../events/catalog.ts';
import type { GroupRow } from './repository.ts';

export const groupEventData = z.object({
  id: z.uuid(),
  displayName: z.string(),
  externalId: z.string().nullable(),
  version: z.number().int(),
  createdAt: z.iso.datetime(),
  updatedAt: z.iso.datetime(),
});
export const groupMemberEventData = z.object({
  groupId: z.uuid(),
  memberId: z.uuid(),
  memberType: z.enum(['user', 'group']),
});

declare module '../../events/catalog.ts' {
  interface FeedEventData {
    'group.created': z.infer<typeof groupEventData>;
    'group.updated': z.infer<typeof groupEventData>;
    'group.deleted': z.infer<typeof groupEventData>;
    'group.member_added': z.infer<typeof groupMemberEventData>;
    'group.member_removed': z.infer<typeof groupMemberEventData>;
  }
}

defineFeedEvents({
  'group.created': { schema: groupEventData, description: 'A group was created (SCIM). Its initial members follow as `group.member_added`.' },
  'group.updated': { schema: groupEventData, description: 'A group\'s displayName or externalId changed, or its members did (`version` moves with every change).' },
  'group.deleted': { schema: groupEventData, description: 'A group was deleted, and with it every membership in it (no `group.member_removed` is written for those).' },
  'group.member_added': { schema: groupMemberEventData, description: 'A user or group became a direct member of a group.' },
  'group.member_removed': { schema: groupMemberEventData, description: 'A direct member left a group (not written when the member or the group is deleted).' },
});

export const groupData = (g: GroupRow): z.infer<typeof groupEventData> => ({
  id: g.id,
  displayName: g.displayName,
  externalId: g.externalId,
  version: g.version,
  createdAt: g.createdAt.toISOString(),
  updatedAt: g.updatedAt.toISOString(),
});
