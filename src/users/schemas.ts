/** The wire format of `/api/users` (camelCase JSON). Types come from these schemas; nothing is declared twice. */
import { z } from 'zod';
import type { User } from './service.ts';

const name = (what: string) => z.string().trim().min(1).max(256).describe(what);

/** Not trimmed: a login identifier is stored as sent or refused (users/identifiers.ts), never silently changed. */
const userName = (what: string) => z.string().min(1).max(256).describe(what);

export const userIdParams = z.strictObject({ userId: z.uuid().describe('The user id returned when the user was created.') });

/** `true`/`false` in a query string. */
export const queryBoolean = z.enum(['true', 'false']).transform((v) => v === 'true');

export const userCreateBody = z
  .strictObject({
    email: z
      .email()
      .max(254)
      .describe(
        "The email address. Sign-in matches users by it. Because `userName` defaults to it, a second user with the same address (in any letter case) is a 409 unless it gets its own `userName`.",
      ),
    fullName: name('The full name shown in the sign-in flow and in tokens (`name`). Defaults to "givenName familyName".').optional(),
    givenName: name('Given (first) name.').optional(),
    familyName: name('Family (last) name.').optional(),
    userName: userName(
      "The unique login name (SCIM `userName`), compared case-insensitively; it may not be another user's email. Defaults to the email address. Must be canonical: no invisible or control characters, no fullwidth or other compatibility variants, NFC, no surrounding spaces (400 otherwise).",
    ).optional(),
    active: z.boolean().optional().describe('Inactive users cannot sign in. Default true.'),
    password: z
      .string()
      .min(8)
      .max(1024)
      .optional()
      .describe('Optional password for local sign-in (8 to 1024 characters). Write-only: stored as an argon2id hash, never returned.'),
  })
  .meta({ examples: [{ email: 'admin@example.com', fullName: 'Ada Admin' }] });

export const userPatchBody = z
  .strictObject({
    email: z.email().max(254).optional().describe("A new email address; it may not be another user's userName."),
    fullName: name('The full name.').nullable().optional(),
    givenName: name('Given name; null removes it.').nullable().optional(),
    familyName: name('Family name; null removes it.').nullable().optional(),
    userName: userName('The unique login name, compared case-insensitively (409 when taken or another user\'s email).').optional(),
    active: z.boolean().optional().describe('false blocks sign-in without deleting the user.'),
    password: z.string().min(8).max(1024).nullable().optional().describe('A new password; null removes local sign-in. Write-only.'),
  })
  .meta({ examples: [{ fullName: 'Ada Lovelace' }, { active: false }] });

export const userListQuery = z.strictObject({
  email: z.string().min(1).max(254).optional().describe('Users whose email contains this text (case-insensitive).'),
  name: z.string().min(1).max(256).optional().describe('Users whose full, given or family name contains this text (case-insensitive).'),
  role: z.string().min(1).max(64).optional().describe('Users that hold this role, e.g. `admin`.'),
  active: queryBoolean.optional().describe('`true` or `false`.'),
  limit: z.coerce.number().int().min(1).max(200).optional().describe('Page size, 1 to 200 (default 50).'),
  cursor: z.string().min(1).max(512).optional().describe('`nextCursor` from the previous page.'),
});

export const userDeleteQuery = z.strictObject({
  confirm: queryBoolean.optional().describe('Must be `true` to delete the last active administrator of the tenant.'),
});

export const userResponse = z.object({
  id: z.uuid(),
  userName: z.string(),
  email: z.string().nullable(),
  emailVerified: z.boolean(),
  fullName: z.string().nullable(),
  givenName: z.string().nullable(),
  familyName: z.string().nullable(),
  externalId: z.string().nullable().describe('The id in the provisioning system (SCIM `externalId`), if any.'),
  active: z.boolean(),
  roles: z.array(z.string()).describe('Role names; change them through `/api/users/{userId}/roles`.'),
  passwordSet: z.boolean().describe('Whether the user has a password for local sign-in. The password itself is never returned.'),
  version: z.number().int().describe('Incremented on every change; the ETag is W/"<version>". Send it back in If-Match to update safely.'),
  createdAt: z.iso.datetime(),
  updatedAt: z.iso.datetime(),
});

export const userPageResponse = z.object({
  items: z.array(userResponse),
  nextCursor: z.string().nullable().describe('Pass as `cursor` to get the next page; null on the last page.'),
});

export function userToWire(u: User): z.infer<typeof userResponse> {
  return {
    id: u.id,
    userName: u.userName,
    email: u.email,
    emailVerified: u.emailVerified,
    fullName: u.displayName,
    givenName: u.givenName,
    familyName: u.familyName,
    externalId: u.externalId,
    active: u.active,
    roles: u.roles,
    passwordSet: u.passwordSet,
    version: u.version,
    createdAt: u.createdAt.toISOString(),
    updatedAt: u.updatedAt.toISOString(),
  };
}
