/**
 * The permission model of the management API (`/api`).
 *
 * - Machine tokens (client credentials) are authorized by scope: `iam/` grants the whole management API.
 * - User tokens additionally need a role: the built-in `admin` role grants everything, including permissions added
 *   later; a custom role grants exactly the permissions it lists.
 *
 * The list is API: values are stored in `roles.permissions` and named in requests, so review it like a contract.
 */
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
};

/** The built-in role that grants every permission. It cannot be changed or deleted. */
export const ADMIN_ROLE = 'admin';

/** Role names appear in paths (`/api/roles/{name}`, `/api/users/{userId}/roles/{role}`): lowercase URL-safe. */
export const ROLE_NAME_PATTERN = /^[a-z0-9][a-z0-9._-]{0,63}$/;

const AREA_BY_PREFIX: [string, 'users' | 'roles' | 'upstream' | 'downstream' | 'audit' | 'organizations'][] = [
  ['/api/users', 'users'],
  ['/api/roles', 'roles'],
  ['/api/upstream', 'upstream'],
  ['/api/downstream', 'downstream'],
  ['/api/audit', 'audit'],
  ['/api/organizations', 'organizations'],
];

/**
 * The permission a user token needs for a management route: `<area>:read` for GET/HEAD, `<area>:write` otherwise.
 * `undefined` for routes outside these areas (the tenant itself, signing keys): those need the admin role.
 */
export function permissionForRoute(method: string, routeUrl: string | undefined): Permission | undefined {
  const area = AREA_BY_PREFIX.find(([prefix]) => routeUrl === prefix || routeUrl?.startsWith(`${prefix}/`))?.[1];
  if (!area) return undefined;
  const read = method === 'GET' || method === 'HEAD';
  if (area === 'audit') return read ? 'audit:read' : undefined;
  return `${area}:${read ? 'read' : 'write'}` as Permission;
}
