/**
 * `/api/users/{userId}/roles`: which roles a user holds. Assigning is a change of the user (their ETag moves), so
 * it lives with users; the role definitions are the roles capability's. HTTP only.
 */
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { ScopeFor } from '../platform/db.ts';
import { actorOf } from '../platform/auth.ts';
import { problemResponses } from '../platform/errors/problem-schema.ts';
import { ADMIN_ROLE, roleNameSchema } from '../platform/permissions.ts';
import { queryBoolean, userIdParams } from './schemas.ts';
import { assignRoles, listUserRoles, removeRole } from './service.ts';

export const USER_ROLES_PATH = '/api/users/:userId/roles';
export const USER_ROLE_PATH = '/api/users/:userId/roles/:role';

const roleName = roleNameSchema;
const userRolesResponse = z.object({ userId: z.uuid(), roles: z.array(z.string()) });
const assignBody = z
  .strictObject({ roles: z.array(roleName).min(1).max(50).describe('Role names to add, e.g. `["admin"]`. Each must exist.') })
  .meta({ examples: [{ roles: [ADMIN_ROLE] }] });
const userRoleParams = z.strictObject({ userId: userIdParams.shape.userId, role: roleName.describe('The role to remove.') });
const removeQuery = z.strictObject({
  confirm: queryBoolean.optional().describe('Must be `true` to remove `admin` from the last active administrator.'),
});

export function userRoleRoutes(app: FastifyInstance, deps: { scopeFor: ScopeFor }) {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const scope = deps.scopeFor;

  r.get(USER_ROLES_PATH, {
    config: { permission: 'users:read' },
    schema: {
      operationId: 'users.roles.list',
      tags: ['Users', 'Roles'],
      summary: "List a user's roles",
      description: 'The names of the roles the user holds.',
      params: userIdParams,
      response: { 200: userRolesResponse, ...problemResponses(400, 401, 403, 404) },
    },
    handler: async (request) => ({ userId: request.params.userId, roles: await listUserRoles(scope(request.tenant.id), request.params.userId) }),
  });

  r.post(USER_ROLES_PATH, {
    config: { permission: 'users:write' },
    schema: {
      operationId: 'users.roles.add',
      tags: ['Users', 'Roles'],
      summary: 'Assign roles to a user',
      description:
        'Adds the named roles to the user; roles the user already holds are left as they are, so repeating the request changes nothing. ' +
        'Every name must be an existing role (400 naming the unknown ones). To make the first administrator, send `{"roles": ["admin"]}`. ' +
        'The answer lists all of the user\'s roles.',
      params: userIdParams,
      body: assignBody,
      response: { 200: userRolesResponse, ...problemResponses(400, 401, 403, 404, 413, 415) },
    },
    handler: async (request) => ({
      userId: request.params.userId,
      roles: await assignRoles(scope(request.tenant.id), actorOf(request), request.params.userId, request.body.roles),
    }),
  });

  r.delete(USER_ROLE_PATH, {
    config: { permission: 'users:write' },
    schema: {
      operationId: 'users.roles.remove',
      tags: ['Users', 'Roles'],
      summary: 'Remove a role from a user',
      description:
        'Removes one role. 400 when the tenant has no such role, 404 when the user does not hold it. ' +
        'Removing `admin` from the last active administrator of the tenant is refused with 409 unless `?confirm=true` is given.',
      params: userRoleParams,
      querystring: removeQuery,
      response: { 200: userRolesResponse, ...problemResponses(400, 401, 403, 404, 409) },
    },
    handler: async (request) => ({
      userId: request.params.userId,
      roles: await removeRole(scope(request.tenant.id), actorOf(request), request.params.userId, request.params.role, { confirm: request.query.confirm }),
    }),
  });
}
