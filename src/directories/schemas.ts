/** Wire shapes of directories, their tokens and role mappings, and the Directory API (zod; OpenAPI comes from these). */
import { z } from 'zod';
import { DIRECTORY_PROVIDERS } from '../db/schema/index.ts';
import { organizationRole } from '../organizations/schemas.ts';

export const directoryIdParams = z.strictObject({ directoryId: z.uuid().describe('The directory id returned when it was created.') });
export const tokenParams = directoryIdParams.extend({ tokenId: z.uuid() });
export const groupParams = directoryIdParams.extend({ groupId: z.uuid().describe('A directory group id.') });
export const userParams = directoryIdParams.extend({ userId: z.uuid().describe('A directory user id.') });

const displayName = z.string().trim().min(1).max(256);

export const directoryCreateBody = z.strictObject({
  displayName,
  provider: z.enum(DIRECTORY_PROVIDERS).optional().describe('Which directory provisions into it (a hint for instructions); default `generic`.'),
  enabled: z.boolean().optional(),
  primary: z.boolean().optional().describe("The organization's primary directory (at most one; setting it moves the mark)."),
  provisionMembers: z
    .boolean()
    .optional()
    .describe('Directory users also become members of the organization: linked to tenant users by an email in a verified domain of the organization, or created.'),
});
export type DirectoryCreateBody = z.infer<typeof directoryCreateBody>;

export const directoryPatchBody = directoryCreateBody.partial().refine((b) => Object.keys(b).length > 0, 'Name at least one field to change.');
export type DirectoryPatchBody = z.infer<typeof directoryPatchBody>;

export const directoryResponse = z.object({
  id: z.uuid(),
  organizationId: z.uuid(),
  displayName: z.string(),
  provider: z.enum(DIRECTORY_PROVIDERS),
  enabled: z.boolean(),
  primary: z.boolean(),
  provisionMembers: z.boolean(),
  scimBaseUrl: z.string().describe("This directory's own SCIM 2.0 base URL: give it to the identity provider with a directory token."),
  userCount: z.number().int(),
  groupCount: z.number().int(),
  lastRequestAt: z.string().nullable(),
  createdAt: z.string(),
  updatedAt: z.string(),
});
export const directoryListResponse = z.object({ items: z.array(directoryResponse) });

export const tokenCreateBody = z
  .strictObject({
    expiresInDays: z.number().int().min(1).max(3650).optional().describe('Default: no expiry.'),
  })
  .optional();

export const tokenResponse = z.object({
  id: z.uuid(),
  hint: z.string().describe('The last four characters of the token.'),
  createdAt: z.string(),
  expiresAt: z.string().nullable(),
  lastUsedAt: z.string().nullable(),
  revokedAt: z.string().nullable(),
});
export const tokenCreatedResponse = tokenResponse.extend({ token: z.string().describe('Shown once: store it in the identity provider now.') });
export const tokenListResponse = z.object({ items: z.array(tokenResponse) });

export const roleMappingBody = z.strictObject({ roles: z.array(organizationRole).max(20) });
export const roleMappingResponse = z.object({ groupId: z.uuid(), groupDisplayName: z.string(), roles: z.array(z.string()) });
export const roleMappingListResponse = z.object({ items: z.array(roleMappingResponse) });

/** Directory API list parameters (Scalekit's `listDirectoryUsers`): keyset pages. */
export const directoryPageQuery = z.strictObject({
  page_size: z.coerce.number().int().min(1).max(500).optional().describe('Default 100, at most 500.'),
  page_token: z.string().max(512).optional().describe('`next_page_token` from the previous page, unchanged.'),
  updated_after: z.iso.datetime({ offset: true }).optional().describe('Only records changed after this instant.'),
  include_detail: z
    .enum(['true', 'false'])
    .optional()
    .describe('`true` adds `raw_attributes`: the SCIM resource as the directory last sent it.'),
  group_id: z.uuid().optional().describe('Users: only the direct members of this group.'),
});
export type DirectoryPageQuery = z.infer<typeof directoryPageQuery>;

const email = z.object({ value: z.string(), type: z.string().nullable(), primary: z.boolean() });
export const directoryUserResponse = z.object({
  id: z.uuid(),
  directory_id: z.uuid(),
  organization_id: z.uuid(),
  user_name: z.string(),
  external_id: z.string().nullable(),
  email: z.string().nullable(),
  emails: z.array(email),
  given_name: z.string().nullable(),
  family_name: z.string().nullable(),
  display_name: z.string().nullable(),
  active: z.boolean(),
  groups: z.array(z.object({ id: z.uuid(), display_name: z.string() })),
  roles: z.array(z.string()).describe('SCIM `roles` values the directory sent.'),
  custom_attributes: z.record(z.string(), z.unknown()).describe('Extension attributes (enterprise and custom schemas), by schema URN.'),
  linked_user_id: z.uuid().nullable().describe('The tenant user who is the organization member for this record, when provisionMembers is on.'),
  version: z.number().int(),
  created_at: z.string(),
  updated_at: z.string(),
  raw_attributes: z.record(z.string(), z.unknown()).optional(),
});
export const directoryGroupResponse = z.object({
  id: z.uuid(),
  directory_id: z.uuid(),
  organization_id: z.uuid(),
  display_name: z.string(),
  external_id: z.string().nullable(),
  member_count: z.number().int(),
  version: z.number().int(),
  created_at: z.string(),
  updated_at: z.string(),
  raw_attributes: z.record(z.string(), z.unknown()).optional(),
});
const feedCursor = z
  .string()
  .describe('The event feed cursor at which the first page of this listing was read (the same on every page): list every page, then follow `GET /api/events?after=<feed_cursor>&organization_id=…&types=organization.directory.*`, applying each record by `version`, and you hold the directory\'s state.');
export const directoryUserPageResponse = z.object({ users: z.array(directoryUserResponse), next_page_token: z.string().nullable(), feed_cursor: feedCursor });
export const directoryGroupPageResponse = z.object({ groups: z.array(directoryGroupResponse), next_page_token: z.string().nullable(), feed_cursor: feedCursor });
