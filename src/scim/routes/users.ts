/**
 * /Users: RFC 7644 §3.3 (create), §3.4.1 (get), §3.4.2 (list/filter), §3.4.3 (.search), §3.5.1 (PUT), §3.5.2 (PATCH),
 * §3.6 (DELETE), §3.14 (ETags). HTTP only: headers, status codes and calls into users/service.ts.
 * https://www.rfc-editor.org/rfc/rfc7644#section-3
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { TenantScope } from '../../platform/db.ts';
import { expectedVersion, weakEtag } from '../../users/etag.ts';
import { scimActor, SCIM_READ, SCIM_WRITE } from '../auth.ts';
import { sendScim } from '../media.ts';
import { parseProjection } from '../projection.ts';
import { parseListQuery, searchParams } from '../query.ts';
import { USER_TYPE } from '../schema/definitions.ts';
import { conditionalHeaders, errorResponses, getHeaders, getQuery, idParams, listQuery, listResponseSchema, noContent, patchBody, resourceResponse, searchBody, userBody } from '../schemas.ts';
import { createScimUser, deleteScimUser, getScimUser, listScimUsers, patchScimUser, replaceScimUser, representUser } from '../users/service.ts';
import { inviterFor, type ScimInviter } from '../invitations.ts';
import { notModified, scimBase, type ScimScopes } from './shared.ts';

export const USERS_PATH = '/Users';
export const USER_PATH = '/Users/:id';
export const USERS_SEARCH_PATH = '/Users/.search';

const TAGS = ['SCIM Users'];

export function scimUserRoutes(app: FastifyInstance, deps: ScimScopes & { invite?: ScimInviter | undefined }) {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const scope = (request: FastifyRequest) => deps.scopeOf(request);
  const projectionOf = (q: { attributes?: unknown; excludedAttributes?: unknown }) => parseProjection(USER_TYPE, q.attributes as string | undefined, q.excludedAttributes as string | undefined);

  r.get(USERS_PATH, {
    config: { scimScope: SCIM_READ },
    schema: {
      operationId: 'scim.users.list',
      tags: TAGS,
      summary: 'List or filter users',
      description: 'RFC 7644 §3.4.2. Filters run in PostgreSQL. `count=0` returns totalResults only.',
      querystring: listQuery,
      response: { 200: listResponseSchema, ...errorResponses(400, 401, 403) },
    },
    handler: async (request, reply) => sendScim(request, reply, await listScimUsers(scope(request), parseListQuery(USER_TYPE, request.query), scimBase(request))),
  });

  r.post(USERS_SEARCH_PATH, {
    config: { scimScope: SCIM_READ },
    schema: {
      operationId: 'scim.users.search',
      tags: TAGS,
      summary: 'Search users (POST .search)',
      description: 'RFC 7644 §3.4.3: the list parameters in a body, so filters stay out of URLs and logs.',
      body: searchBody,
      response: { 200: listResponseSchema, ...errorResponses(400, 401, 403, 413, 415) },
    },
    handler: async (request, reply) =>
      sendScim(request, reply.status(200), await listScimUsers(scope(request), parseListQuery(USER_TYPE, searchParams(request.body)), scimBase(request))),
  });

  r.post(USERS_PATH, {
    config: { scimScope: SCIM_WRITE },
    schema: {
      operationId: 'scim.users.create',
      tags: TAGS,
      summary: 'Create a user',
      description:
        'RFC 7644 §3.3. userName is unique per tenant regardless of case: 409 uniqueness otherwise (also when two creates race). ' +
        'password is hashed with argon2id and never returned. sendInvitation (notifications extension) emails the new user an invitation (a link to choose a password or continue with SSO).',
      querystring: getQuery,
      body: userBody,
      response: { 201: resourceResponse, ...errorResponses(400, 401, 403, 409, 413, 415) },
    },
    handler: async (request, reply) => {
      const user = await createScimUser(scope(request), scimActor(request), request.body, { sendInvitation: inviterFor(deps.invite, request.tenant) });
      const res = await representUser(scope(request), user, scimBase(request), projectionOf(request.query), { fresh: true });
      return sendScim(request, reply.status(201).header('Location', `${scimBase(request)}/Users/${user.id}`).header('ETag', weakEtag(user.version)), res);
    },
  });

  r.get(USER_PATH, {
    config: { scimScope: SCIM_READ },
    schema: {
      operationId: 'scim.users.get',
      tags: TAGS,
      summary: 'Get a user (by id, or by userName)',
      description: 'RFC 7644 §3.4.1. Bizagi addresses users by userName: when no id matches, a case-insensitive userName match is served. If-None-Match → 304.',
      params: idParams,
      headers: getHeaders,
      querystring: getQuery,
      response: { 200: resourceResponse, 304: noContent, ...errorResponses(400, 401, 403, 404) },
    },
    handler: async (request, reply) => {
      const user = await getScimUser(scope(request), request.params.id);
      reply.header('ETag', weakEtag(user.version));
      if (notModified(request, user.version)) return reply.status(304).send(null);
      const projection = projectionOf(request.query);
      return sendScim(request, reply, await representUser(scope(request), user, scimBase(request), projection));
    },
  });

  r.put(USER_PATH, {
    config: { scimScope: SCIM_WRITE },
    schema: {
      operationId: 'scim.users.replace',
      tags: TAGS,
      summary: 'Replace a user',
      description: 'RFC 7644 §3.5.1 (Okta updates users this way). Read-only attributes sent (id, meta, groups) are ignored. A password is refused (400 mutability) unless the tenant allows password changes (changePassword in /ServiceProviderConfig); a new one ends the user\'s sessions and refresh tokens. If-Match → 412 on mismatch.',
      params: idParams,
      headers: conditionalHeaders,
      querystring: getQuery,
      body: userBody,
      response: { 200: resourceResponse, ...errorResponses(400, 401, 403, 404, 409, 412, 413, 415) },
    },
    handler: async (request, reply) => {
      const user = await replaceScimUser(scope(request), scimActor(request), request.params.id, request.body, expectedVersion(request.headers['if-match']));
      const projection = projectionOf(request.query);
      return sendScim(request, reply.header('ETag', weakEtag(user.version)), await representUser(scope(request), user, scimBase(request), projection));
    },
  });

  r.patch(USER_PATH, {
    config: { scimScope: SCIM_WRITE },
    schema: {
      operationId: 'scim.users.patch',
      tags: TAGS,
      summary: 'Change a user (PATCH)',
      description:
        'RFC 7644 §3.5.2, plus the Entra ID and Okta dialects. `active: false` ends the user\'s sessions and revokes their refresh tokens; their access tokens introspect inactive. Answers 200 with the user (Groups answer 204: see /ServiceProviderConfig). If-Match → 412 on mismatch.',
      params: idParams,
      headers: conditionalHeaders,
      querystring: getQuery,
      body: patchBody,
      response: { 200: resourceResponse, ...errorResponses(400, 401, 403, 404, 409, 412, 413, 415) },
    },
    handler: async (request, reply) => {
      const user = await patchScimUser(scope(request), scimActor(request), request.params.id, request.body, expectedVersion(request.headers['if-match']));
      const projection = projectionOf(request.query);
      return sendScim(request, reply.header('ETag', weakEtag(user.version)), await representUser(scope(request), user, scimBase(request), projection));
    },
  });

  r.delete(USER_PATH, {
    config: { scimScope: SCIM_WRITE },
    schema: {
      operationId: 'scim.users.delete',
      tags: TAGS,
      summary: 'Delete a user',
      description: 'RFC 7644 §3.6. Removes the user from every group too. If-Match → 412 on mismatch.',
      params: idParams,
      headers: conditionalHeaders,
      response: { 204: noContent, ...errorResponses(401, 403, 404, 409, 412) },
    },
    handler: async (request, reply) => {
      await deleteScimUser(scope(request), scimActor(request), request.params.id, expectedVersion(request.headers['if-match']));
      return reply.status(204).send(null);
    },
  });
}
