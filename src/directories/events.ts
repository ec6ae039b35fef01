/**
 * Directories' feed events (src/events/catalog.ts).
 *
 * - A directory's records, named as Scalekit's seeds name them (`organization.directory.user_created`, …) plus the
 *   membership types Scalekit lacks (`group_user_added`, `group_user_removed`). `data` is the record as the Directory
 *   API returns it (without `raw_attributes`). They are written only in the directory's partition (src/directories/
 *   feed.ts translates the `user.*` and `group.*` events of its SCIM endpoint); each carries the directory's
 *   `organizationId` and `directoryId`.
 * - Directories themselves and their tokens: `directory.*` (tokens by metadata only, never the token).
 */
import { z } from 'zod';
import { defineFeedEvents } from '../events/catalog.ts';
import { DIRECTORY_PROVIDERS } from '../db/schema/index.ts';
import { directoryGroupResponse, directoryUserResponse } from './schemas.ts';
import type { DirectoryRow, DirectoryTokenRow } from './repository.ts';

export const directoryUserEventData = directoryUserResponse.omit({ raw_attributes: true });
export const directoryGroupEventData = directoryGroupResponse.omit({ raw_attributes: true });
export const directoryMembershipEventData = z.object({
  directory_id: z.uuid(),
  organization_id: z.uuid(),
  group: z.object({ id: z.uuid(), display_name: z.string(), external_id: z.string().nullable() }),
  user: z.object({ id: z.uuid(), user_name: z.string(), email: z.string().nullable(), external_id: z.string().nullable() }),
});
export const directoryEventData = z.object({
  id: z.uuid(),
  organizationId: z.uuid(),
  displayName: z.string(),
  provider: z.enum(DIRECTORY_PROVIDERS),
  enabled: z.boolean(),
  primary: z.boolean(),
  provisionMembers: z.boolean(),
  createdAt: z.iso.datetime(),
  updatedAt: z.iso.datetime(),
});
export const directoryTokenEventData = z.object({ directoryId: z.uuid(), tokenId: z.uuid(), hint: z.string(), expiresAt: z.iso.datetime().nullable() });

type UserData = z.infer<typeof directoryUserEventData>;
type GroupData = z.infer<typeof directoryGroupEventData>;
type MembershipData = z.infer<typeof directoryMembershipEventData>;
declare module '../events/catalog.ts' {
  interface FeedEventData {
    'organization.directory.user_created': UserData;
    'organization.directory.user_updated': UserData;
    'organization.directory.user_deleted': UserData;
    'organization.directory.group_created': GroupData;
    'organization.directory.group_updated': GroupData;
    'organization.directory.group_deleted': GroupData;
    'organization.directory.group_user_added': MembershipData;
    'organization.directory.group_user_removed': MembershipData;
    'directory.created': z.infer<typeof directoryEventData>;
    'directory.updated': z.infer<typeof directoryEventData>;
    'directory.deleted': z.infer<typeof directoryEventData>;
    'directory.token_created': z.infer<typeof directoryTokenEventData>;
    'directory.token_revoked': z.infer<typeof directoryTokenEventData>;
  }
}

defineFeedEvents({
  'organization.directory.user_created': { schema: directoryUserEventData, description: 'The directory provisioned a user (SCIM POST /Users at its endpoint).' },
  'organization.directory.user_updated': {
    schema: directoryUserEventData,
    description: 'A directory user changed (attributes or `active`); `version` orders the changes of one user. Group membership changes are `group_user_added` / `group_user_removed`.',
  },
  'organization.directory.user_deleted': { schema: directoryUserEventData, description: 'A directory user was deleted; `data` is the user as it was. Its group memberships ended with it.' },
  'organization.directory.group_created': { schema: directoryGroupEventData, description: 'The directory provisioned a group. Its initial members follow as `group_user_added`.' },
  'organization.directory.group_updated': { schema: directoryGroupEventData, description: 'A directory group changed: its name, external id or members (`member_count`, `version`).' },
  'organization.directory.group_deleted': { schema: directoryGroupEventData, description: 'A directory group was deleted; `data` is the group as it was. Its memberships ended with it.' },
  'organization.directory.group_user_added': { schema: directoryMembershipEventData, description: 'A directory user became a direct member of a directory group.' },
  'organization.directory.group_user_removed': {
    schema: directoryMembershipEventData,
    description: 'A directory user left a directory group (not written when the user or the group is deleted: those events imply it).',
  },
  'directory.created': { schema: directoryEventData, description: 'A directory was created for an organization.' },
  'directory.updated': { schema: directoryEventData, description: 'A directory\'s settings changed (name, provider, enabled, primary, provisionMembers).' },
  'directory.deleted': { schema: directoryEventData, description: 'A directory was deleted with its users, groups and tokens (no record events are written for those).' },
  'directory.token_created': { schema: directoryTokenEventData, description: 'A directory bearer token was created (its hint only).' },
  'directory.token_revoked': { schema: directoryTokenEventData, description: 'A directory bearer token was revoked.' },
});

export const directoryData = (r: DirectoryRow): z.infer<typeof directoryEventData> => ({
  id: r.id,
  organizationId: r.organizationId,
  displayName: r.displayName,
  provider: r.provider,
  enabled: r.enabled,
  primary: r.primary,
  provisionMembers: r.provisionMembers,
  createdAt: r.createdAt.toISOString(),
  updatedAt: r.updatedAt.toISOString(),
});

export const directoryTokenData = (r: DirectoryTokenRow): z.infer<typeof directoryTokenEventData> => ({
  directoryId: r.directoryId,
  tokenId: r.id,
  hint: r.hint,
  expiresAt: r.expiresAt?.toISOString() ?? null,
});
