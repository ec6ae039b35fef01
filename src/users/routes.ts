/**
 * `/api/users`: the tenant's users, the same store SCIM provisions and sign-in reads. HTTP only: schemas, the
 * ETag/If-Match headers, and calls into users/service.ts.
 */
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { ScopeFor, TenantScope } from '../platform/db.ts';
import { actorOf } from '../platform/auth.ts';
import { problemResponses } from '../platform/errors/problem-schema.ts';
import { createUser, deleteUser, getUser, listUsers, signOutEverywhere, updateUser } from './service.ts';
import { identitiesRepository } from './identities.ts';
import { identitySchema, toIdentity } from './identities-routes.ts';
import { userCreateBody, userDeleteQuery, userIdParams, userListQuery, userPageResponse, userPatchBody, userResponse, userToWire } from './schemas.ts';
import { expectedVersion, weakEtag } from './etag.ts';

export const USERS_PATH = '/api/users';
export const USER_PATH = '/api/users/:userId';
export const USER_SESSIONS_REVOKE_PATH = '/api/users/:userId/sessions/revoke';

export interface UserRouteDeps {
  scopeFor: ScopeFor;
}

const TAGS = ['Users'];
const ifMatchHeader = z.looseObject({
  'if-match': z.string().optional().describe('W/"<version>" from a previous response: the change is made only if the user is still at that version (412 otherwise).'),
});

export function userRoutes(app: FastifyInstance, deps: UserRouteDeps) {
  const r = app.withTypeProvider<ZodTypeProvider>();

  r.post(USERS_PATH, {
    config: { permission: 'users:write' },
    schema: {
      operationId: 'users.create',
      tags: TAGS,
      summary: 'Create a user',
      description:
        'Creates a user in this tenant. The email address is unique per tenant regardless of case (409 otherwise), and `userName` defaults to it. ' +
        'After creating the first administrator, assign the `admin` role with `POST /api/users/{userId}/roles`. ' +
        'The response has the new `id`, a `Location` header and the ETag.',
      body: userCreateBody,
      response: { 201: userResponse, ...problemResponses(400, 401, 403, 409, 413, 415) },
    },
    handler: async (request, reply) => {
      const b = request.body;
      const user = await createUser(deps.scopeFor(request.tenant.id), actorOf(request), {
        email: b.email,
        userName: b.userName,
        displayName: b.fullName,
        givenName: b.givenName,
        familyName: b.familyName,
        active: b.active,
        password: b.password,
      });
      return reply.status(201).header('Location', `${USERS_PATH}/${user.id}`).header('ETag', weakEtag(user.version)).send(userToWire(user));
    },
  });

  r.get(USERS_PATH, {
    config: { permission: 'users:read' },
    schema: {
      operationId: 'users.list',
      tags: TAGS,
      summary: 'List and search users',
      description:
        'Users in a stable order (creation time, then id), one page at a time: pass `nextCursor` as `cursor` for the next page. ' +
        'Users created or deleted meanwhile never shift later pages. Filters combine with AND.',
      querystring: userListQuery,
      response: { 200: userPageResponse, ...problemResponses(400, 401, 403) },
    },
    handler: async (request) => {
      const page = await listUsers(deps.scopeFor(request.tenant.id), request.query);
      return { items: page.items.map(userToWire), nextCursor: page.nextCursor };
    },
  });

  r.get(USER_PATH, {
    config: { permission: 'users:read' },
    schema: {
      operationId: 'users.get',
      tags: TAGS,
      summary: 'Get a user',
      description:
        'One user with their roles and linked upstream identities. The `ETag` header (W/"<version>") can be sent back as `If-Match` with a PATCH or DELETE.',
      params: userIdParams,
      response: { 200: userResponse.extend({ identities: z.array(identitySchema) }), ...problemResponses(400, 401, 403, 404) },
    },
    handler: async (request, reply) => {
      const scope = deps.scopeFor(request.tenant.id);
      const user = await getUser(scope, request.params.userId);
      const identities = (await identitiesRepository(scope).listForUser(user.id)).map(toIdentity);
      return reply.header('ETag', weakEtag(user.version)).send({ ...userToWire(user), identities });
    },
  });

  r.patch(USER_PATH, {
    config: { permission: 'users:write' },
    schema: {
      operationId: 'users.update',
      tags: TAGS,
      summary: 'Change a user',
      description:
        'Changes the fields present in the body; absent fields stay as they are and `null` removes an optional one. ' +
        'With `If-Match: W/"<version>"` the change applies only to that version (412 Precondition Failed otherwise). ' +
        'Without it, concurrent changes are applied one after the other, so none is lost.',
      headers: ifMatchHeader,
      params: userIdParams,
      body: userPatchBody,
      response: { 200: userResponse, ...problemResponses(400, 401, 403, 404, 409, 412, 413, 415) },
    },
    handler: async (request, reply) => {
      const b = request.body;
      const user = await updateUser(
        deps.scopeFor(request.tenant.id),
        actorOf(request),
        request.params.userId,
        { email: b.email, userName: b.userName, displayName: b.fullName, givenName: b.givenName, familyName: b.familyName, active: b.active, password: b.password },
        { expectedVersion: expectedVersion(request.headers['if-match']) },
      );
      return reply.header('ETag', weakEtag(user.version)).send(userToWire(user));
    },
  });

  r.delete(USER_PATH, {
    config: { permission: 'users:write' },
    schema: {
      operationId: 'users.delete',
      tags: TAGS,
      summary: 'Delete a user',
      description:
        'Deletes the user, their role assignments and their links to upstream identities. ' +
        'Deleting the last active administrator of the tenant is refused with 409 unless `?confirm=true` is given. Honours `If-Match`.',
      headers: ifMatchHeader,
      params: userIdParams,
      querystring: userDeleteQuery,
      response: { 204: z.null().describe('Deleted.'), ...problemResponses(400, 401, 403, 404, 409, 412) },
    },
    handler: async (request, reply) => {
      await deleteUser(deps.scopeFor(request.tenant.id), actorOf(request), request.params.userId, {
        expectedVersion: expectedVersion(request.headers['if-match']),
        confirm: request.query.confirm,
      });
      return reply.status(204).send(null);
    },
  });

  r.post(USER_SESSIONS_REVOKE_PATH, {
    config: { permission: 'users:write' },
    schema: {
      operationId: 'users.sessions.revoke',
      tags: TAGS,
      summary: 'Sign a user out everywhere',
      description:
        'Ends every session of the user at this service, revokes every refresh token, and makes every access token issued so far fail (introspection answers `active: false`). The user stays active and can sign in again. Changing a password (here or by SCIM) and deactivating a user do the same.',
      params: userIdParams,
      response: { 200: userResponse, ...problemResponses(400, 401, 403, 404) },
    },
    handler: async (request, reply) => {
      const user = await signOutEverywhere(deps.scopeFor(request.tenant.id), actorOf(request), request.params.userId);
      return reply.header('ETag', weakEtag(user.version)).send(userToWire(user));
    },
  });
}
