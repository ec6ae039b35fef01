/**
 * The permission model of the management API (`/api`).
 *
 * - Machine tokens (client credentials) are authorized by scope: `iam/` grants the whole management API.
 * - User tokens additionally need a role: the built-in `admin` role grants everything, including permissions added
 *   later; a custom role grants exactly the permissions it lists.
 *
 * The list is API: values are stored in `roles.permissions` and named in requests, so review it like a contract.
 */
import { z } from 'zod';

export const PERMISSIONS = [
  'users:read',
  'users:write',
  'roles:read',
  'roles:write',
  'upstream:read',
  'upstream:write',
  'downstream:read',
  'downstream:write',
  'audit:read',
  'organizations:read',
  'organizations:write',
  'connections:read',
  'connections:write',
  'directories:read',
  'directories:write',
  'events:read',
  'webhooks:read',
  'webhooks:write',
  'portal:write',
] as const;
export type Permission = (typeof PERMISSIONS)[number];

export const PERMISSION_DESCRIPTIONS: Record<Permission, string> = {
  'users:read': 'List and read users and their roles',
  'users:write': 'Create, change and delete users; assign and remove roles',
  'roles:read': 'List and read roles',
  'roles:write': 'Create, change and delete custom roles',
  'upstream:read': 'List and read upstream identity providers',
  'upstream:write': 'Configure and delete upstream identity providers',
  'downstream:read': 'List and read downstream clients and protected APIs',
  'downstream:write': 'Configure downstream clients and their secrets',
  'audit:read': 'Read the audit trail',
  'organizations:read': 'List and read organizations, their members and their domains',
  'organizations:write': 'Create, change and delete organizations; manage their members and domains',
  'connections:read': 'List and read organizations\' SSO connections (never their secrets)',
  'connections:write': 'Configure, activate and delete organizations\' SSO connections',
  'directories:read': 'Read organizations\' directories and, through the Directory API, their users and groups',
  'directories:write': 'Configure and delete directories; create and revoke their SCIM tokens; map groups to roles',
  'events:read': 'Read the event feed and its catalog (an organization-scoped client: its organization\'s events)',
  'webhooks:read': 'List webhook endpoints and read their delivery logs (never their secrets)',
  'webhooks:write': 'Register, change, rotate and delete webhook endpoints',
  'portal:write': 'Create Admin Portal links for an organization\'s IT administrator (SSO, directory, domains, certificates)',
};

/** The built-in role that grants every permission. It cannot be changed or deleted. */
export const ADMIN_ROLE = 'admin';

/** Role names appear in paths (`/api/roles/{name}`, `/api/users/{userId}/roles/{role}`): lowercase URL-safe. */
export const ROLE_NAME_PATTERN = /^[a-z0-9][a-z0-9._-]{0,63}$/;

/** A role name on the wire (roles and role-assignment routes). */
export const roleNameSchema = z.string().regex(ROLE_NAME_PATTERN, 'lowercase letters, digits, ".", "_" and "-", at most 64 characters');

/** What a management route requires of a user token: one permission, or the admin role itself. */
export type RoutePermission = Permission | typeof ADMIN_ROLE;

/**
 * What a principal holds, and so the most it may grant. No principal can create or change a credential, role,
 * role assignment or provider setting that gives anyone more than this.
 * - `admin`: the admin role, or a machine token with scope `iam/` (authorized by scope alone, hence admin-equivalent).
 * - `permissions`: the union of the principal's roles' permissions (every permission for admins).
 */
export interface Authority {
  admin: boolean;
  permissions: ReadonlySet<Permission>;
  /** The roles held (a user's): nobody but an admin edits a role they hold. */
  roles: ReadonlySet<string>;
  /**
   * Set for an organization-scoped machine client (ADR 0009): everything it holds applies to this organization only,
   * enforced by the bearer hook (platform/auth.ts) and `confinedOrganization`.
   */
  organizationId?: string;
}

/** Admin-equivalent: machine clients with `iam/`, the service itself (upstream admission, SCIM, bootstrap). */
export const FULL_AUTHORITY: Authority = Object.freeze({ admin: true, permissions: new Set(PERMISSIONS), roles: new Set<string>() });

/** An organization-scoped machine client: organization management and the event feed, of its own organization only (ADR 0009). */
export function organizationAuthority(organizationId: string): Authority {
  return { admin: false, permissions: new Set<Permission>(['organizations:read', 'organizations:write', 'directories:read', 'directories:write', 'events:read', 'portal:write']), roles: new Set<string>(), organizationId };
}

/** The authority of a set of roles: `admin` grants everything, each custom role its permissions. */
export function authorityOf(roles: readonly { name: string; builtIn: boolean; permissions: readonly string[] }[]): Authority {
  const names = new Set(roles.map((r) => r.name));
  if (roles.some((r) => r.builtIn && r.name === ADMIN_ROLE)) return { ...FULL_AUTHORITY, roles: names };
  const held = new Set<Permission>();
  for (const r of roles) for (const p of r.permissions) if (PERMISSIONS.includes(p as Permission)) held.add(p as Permission);
  return { admin: false, permissions: held, roles: names };
}

/** True when `authority` holds what `required` names (a permission, or `admin`). */
export function satisfies(authority: Authority, required: RoutePermission): boolean {
  return required === ADMIN_ROLE ? authority.admin : authority.admin || authority.permissions.has(required);
}

/** Permissions in `wanted` that `authority` does not hold: empty when it may grant all of them. */
export function notHeld(authority: Authority, wanted: Iterable<string>): string[] {
  if (authority.admin) return [];
  return [...new Set(wanted)].filter((p) => !authority.permissions.has(p as Permission));
}
