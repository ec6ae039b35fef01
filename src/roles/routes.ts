/**
 * `/api/roles`: roles and their permissions. HTTP only. Who holds a role is the users capability's (users/role-routes.ts).
 */
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { ScopeFor, TenantScope } from '../platform/db.ts';
import { actorOf } from '../platform/auth.ts';
import { problemResponses } from '../platform/errors/problem-schema.ts';
import { createRole, deleteRole, getRole, listRoles, updateRole, type Role } from './service.ts';
import { ADMIN_ROLE, PERMISSION_DESCRIPTIONS, PERMISSIONS, roleNameSchema } from '../platform/permissions.ts';

export const ROLES_PATH = '/api/roles';
export const ROLE_PATH = '/api/roles/:name';

export interface RoleRouteDeps {
  scopeFor: ScopeFor;
}

const roleName = roleNameSchema;
const permission = z.enum(PERMISSIONS);
const permissionList = Object.entries(PERMISSION_DESCRIPTIONS)
  .map(([p, d]) => `- \`${p}\`: ${d}`)
  .join('\n');
const MODEL =
  '**Permission model.** Machine tokens (client credentials) are authorized by scope: `iam/` grants the whole management API. ' +
  'Tokens of signed-in users additionally need a role: the built-in `admin` role grants everything; a custom role grants the permissions it lists:\n\n' +
  permissionList;

const roleResponse = z.object({
  name: z.string(),
  description: z.string().nullable(),
  permissions: z.array(z.string()),
  builtIn: z.boolean().describe('Built-in roles (`admin`) cannot be changed or deleted.'),
  createdAt: z.iso.datetime(),
  updatedAt: z.iso.datetime(),
});
const rolePageResponse = z.object({ items: z.array(roleResponse), nextCursor: z.string().nullable() });
const roleParams = z.strictObject({ name: roleName.describe('The role name.') });
const roleCreateBody = z
  .strictObject({
    name: roleName.describe('Unique in the tenant; part of URLs, so lowercase URL-safe.'),
    description: z.string().trim().max(500).nullable().optional(),
    permissions: z.array(permission).max(PERMISSIONS.length * 2).describe('Permissions this role grants.'),
  })
  .meta({ examples: [{ name: 'user-manager', description: 'Manages users and their roles', permissions: ['users:read', 'users:write', 'roles:read'] }] });
const rolePatchBody = z
  .strictObject({
    description: z.string().trim().max(500).nullable().optional(),
    permissions: z.array(permission).max(PERMISSIONS.length * 2).optional().describe('Replaces the list.'),
  })
  .meta({ examples: [{ permissions: ['users:read', 'audit:read'] }] });
const listQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(200).optional().describe('Page size, 1 to 200 (default 100).'),
  cursor: z.string().min(1).max(512).optional().describe('`nextCursor` from the previous page.'),
});


function roleToWire(r: Role): z.infer<typeof roleResponse> {
  return { ...r, createdAt: r.createdAt.toISOString(), updatedAt: r.updatedAt.toISOString() };
}

export function roleRoutes(app: FastifyInstance, deps: RoleRouteDeps) {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const scope = deps.scopeFor;

  r.get(ROLES_PATH, {
    config: { permission: 'roles:read' },
    schema: {
      operationId: 'roles.list',
      tags: ['Roles'],
      summary: 'List roles',
      description: `The tenant's roles by name, the built-in \`admin\` included.\n\n${MODEL}`,
      querystring: listQuery,
      response: { 200: rolePageResponse, ...problemResponses(400, 401, 403) },
    },
    handler: async (request) => {
      const page = await listRoles(scope(request.tenant.id), request.query);
      return { items: page.items.map(roleToWire), nextCursor: page.nextCursor };
    },
  });

  r.post(ROLES_PATH, {
    config: { permission: 'roles:write' },
    schema: {
      operationId: 'roles.create',
      tags: ['Roles'],
      summary: 'Create a custom role',
      description: `A role that grants the listed permissions. 409 when the name is taken.\n\n${MODEL}`,
      body: roleCreateBody,
      response: { 201: roleResponse, ...problemResponses(400, 401, 403, 409, 413, 415) },
    },
    handler: async (request, reply) => {
      const role = await createRole(scope(request.tenant.id), actorOf(request), request.body);
      return reply.status(201).header('Location', `${ROLES_PATH}/${role.name}`).send(roleToWire(role));
    },
  });

  r.get(ROLE_PATH, {
    config: { permission: 'roles:read' },
    schema: {
      operationId: 'roles.get',
      tags: ['Roles'],
      summary: 'Get a role',
      description: 'One role and its permissions.',
      params: roleParams,
      response: { 200: roleResponse, ...problemResponses(400, 401, 403, 404) },
    },
    handler: async (request) => roleToWire(await getRole(scope(request.tenant.id), request.params.name)),
  });

  r.patch(ROLE_PATH, {
    config: { permission: 'roles:write' },
    schema: {
      operationId: 'roles.update',
      tags: ['Roles'],
      summary: 'Change a custom role',
      description: 'Changes the description or replaces the permissions. Built-in roles cannot be changed (409).',
      params: roleParams,
      body: rolePatchBody,
      response: { 200: roleResponse, ...problemResponses(400, 401, 403, 404, 409, 413, 415) },
    },
    handler: async (request) => roleToWire(await updateRole(scope(request.tenant.id), actorOf(request), request.params.name, request.body)),
  });

  r.delete(ROLE_PATH, {
    config: { permission: 'roles:write' },
    schema: {
      operationId: 'roles.delete',
      tags: ['Roles'],
      summary: 'Delete a custom role',
      description:
        'Deletes the role and removes it from every user who holds it. Built-in roles cannot be deleted, nor a role that an upstream provider assigns through `defaultUserRoles` (409 naming the providers).',
      params: roleParams,
      response: { 204: z.null().describe('Deleted.'), ...problemResponses(400, 401, 403, 404, 409) },
    },
    handler: async (request, reply) => {
      await deleteRole(scope(request.tenant.id), actorOf(request), request.params.name);
      return reply.status(204).send(null);
    },
  });
}
