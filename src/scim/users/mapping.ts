/**
 * A SCIM User (RFC 7643 §4.1, §4.3) ⇄ the shared user store. Columns hold what every part of the service reads
 * (userName, externalId, displayName, givenName, familyName, active, the sign-in email); `attributes` holds the rest
 * of the SCIM representation as sent (emails with their types, phone numbers, the enterprise extension, …).
 * https://www.rfc-editor.org/rfc/rfc7643#section-4.1
 */
import type { User } from '../../users/service.ts';
import { ENTERPRISE_SCHEMA, NOTIFICATIONS_SCHEMA, USER_SCHEMA } from '../schema/definitions.ts';
import type { Resource } from '../schema/validate.ts';
import { weakEtag } from '../../users/etag.ts';
import { effectiveEmails, signInEmail } from '../../users/email-index.ts';

export { signInEmail };

/** The user-store fields a SCIM User representation sets. */
export interface UserFields {
  userName: string;
  externalId: string | null;
  displayName: string | null;
  givenName: string | null;
  familyName: string | null;
  active: boolean | undefined;
  email: string | null;
  attributes: Record<string, unknown>;
}

/**
 * Marks `active` as unassigned (RFC 7643 §2.5) after a PATCH removed it. The column then holds false: a user whose
 * administrative status nobody asserts cannot sign in (fail closed), and the representation leaves `active` out.
 * A `$` key cannot collide with a SCIM attribute name (RFC 7643 §2.1 ATTRNAME starts with a letter).
 */
export const ACTIVE_UNASSIGNED = '$activeUnassigned';

/** Attributes that live in columns or are never stored; everything else goes to `attributes`. */
const COLUMN_ATTRS = new Set(['userName', 'externalId', 'displayName', 'active', 'password', 'name', NOTIFICATIONS_SCHEMA]);

export function toUserFields(res: Resource): UserFields {
  const name = (res.name ?? {}) as Record<string, unknown>;
  const { givenName, familyName, ...otherName } = name;
  const attributes: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(res)) if (!COLUMN_ATTRS.has(k)) attributes[k] = v;
  if (Object.keys(otherName).length) attributes.name = otherName;
  return {
    userName: res.userName as string,
    externalId: (res.externalId as string | undefined) ?? null,
    displayName: (res.displayName as string | undefined) ?? null,
    givenName: (givenName as string | undefined) ?? null,
    familyName: (familyName as string | undefined) ?? null,
    active: res.active as boolean | undefined,
    email: signInEmail(res.emails),
    attributes,
  };
}

export interface GroupRef {
  id: string;
  displayName: string;
}

/**
 * The stored user as a SCIM resource without `meta`/`schemas` (what PATCH applies to, and what PUT replaces).
 * The sign-in email column wins over the stored list: a change made through /api/users shows here too.
 */
export function toUserResource(user: User): Resource {
  const a = user.attributes as Record<string, unknown>;
  const res: Resource = {};
  if (user.externalId !== null) res.externalId = user.externalId;
  res.userName = user.userName;
  const name = { ...((a.name as Record<string, unknown> | undefined) ?? {}) };
  if (user.givenName !== null) name.givenName = user.givenName;
  if (user.familyName !== null) name.familyName = user.familyName;
  if (Object.keys(name).length) res.name = name;
  if (user.displayName !== null) res.displayName = user.displayName;
  for (const [k, v] of Object.entries(a)) if (k !== 'name' && k !== 'emails' && k !== ENTERPRISE_SCHEMA && !k.startsWith('$')) res[k] = v;
  // Unassigned only while inactive: an activation through /api/users assigns it again.
  if (user.active || a[ACTIVE_UNASSIGNED] !== true) res.active = user.active;
  const emails = effectiveEmails(a, user.email);
  if (emails.length) res.emails = emails;
  if (a[ENTERPRISE_SCHEMA]) res[ENTERPRISE_SCHEMA] = a[ENTERPRISE_SCHEMA];
  return res;
}

/** The full representation served to clients (before attribute projection). */
export function toScimUser(user: User, groups: GroupRef[], base: string): Resource {
  const res = toUserResource(user);
  const schemas = [USER_SCHEMA, ...(res[ENTERPRISE_SCHEMA] ? [ENTERPRISE_SCHEMA] : [])];
  const { externalId, ...rest } = res;
  return {
    schemas,
    id: user.id,
    ...(externalId !== undefined ? { externalId } : {}),
    ...rest,
    ...(groups.length ? { groups: groups.map((g) => ({ value: g.id, $ref: `${base}/Groups/${g.id}`, display: g.displayName, type: 'direct' })) } : {}),
    meta: {
      resourceType: 'User',
      created: user.createdAt.toISOString(),
      lastModified: user.updatedAt.toISOString(),
      location: `${base}/Users/${user.id}`,
      version: weakEtag(user.version),
    },
  };
}
