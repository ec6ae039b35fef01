/**
 * /Groups: RFC 7644 §3.3–§3.6 and §3.14 for groups. PATCH answers 204 (Entra ID: "Update to the group PATCH request
 * should yield an HTTP 204 No Content"), or 200 with the group when `attributes`/`excludedAttributes` ask for a body.
 * https://www.rfc-editor.org/rfc/rfc7644#section-3.5.2
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { TenantScope } from '../../platform/db.ts';
import { expectedVersion, weakEtag } from '../../users/etag.ts';
import { scimActor, SCIM_READ, SCIM_WRITE } from '../auth.ts';
import { sendScim } from '../media.ts';
import { parseProjection } from '../projection.ts';
import { parseListQuery, searchParams } from '../query.ts';
import { GROUP_TYPE } from '../schema/definitions.ts';
import { conditionalHeaders, errorResponses, getHeaders, getQuery, groupBody, idParams, listQuery, listResponseSchema, noContent, patchBody, resourceResponse, searchBody } from '../schemas.ts';
import { createGroup, deleteGroup, getGroup, listGroups, patchGroup, replaceGroup, representGroup } from '../groups/service.ts';
import { notModified, scimBase, type ScimScopes } from './shared.ts';

export const GROUPS_PATH = '/Groups';
export const GROUP_PATH = '/Groups/:id';
export const GROUPS_SEARCH_PATH = '/Groups/.search';

const TAGS = ['SCIM Groups'];

export function scimGroupRoutes(app: FastifyInstance, deps: ScimScopes) {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const scope = (request: FastifyRequest) => deps.scopeOf(request);
  const projectionOf = (q: { attributes?: unknown; excludedAttributes?: unknown }) => parseProjection(GROUP_TYPE, q.attributes as string | undefined, q.excludedAttributes as string | undefined);

  r.get(GROUPS_PATH, {
    config: { scimScope: SCIM_READ },
    schema: {
      operationId: 'scim.groups.list',
      tags: TAGS,
      summary: 'List or filter groups',
      description: 'RFC 7644 §3.4.2, e.g. `filter=displayName eq "Sales"&excludedAttributes=members` (what Entra ID sends).',
      querystring: listQuery,
      response: { 200: listResponseSchema, ...errorResponses(400, 401, 403) },
    },
    handler: async (request, reply) => sendScim(request, reply, await listGroups(scope(request), parseListQuery(GROUP_TYPE, request.query), scimBase(request))),
  });

  r.post(GROUPS_SEARCH_PATH, {
    config: { scimScope: SCIM_READ },
    schema: { operationId: 'scim.groups.search', tags: TAGS, summary: 'Search groups (POST .search)', body: searchBody, response: { 200: listResponseSchema, ...errorResponses(400, 401, 403, 413, 415) } },
    handler: async (request, reply) => sendScim(request, reply.status(200), await listGroups(scope(request), parseListQuery(GROUP_TYPE, searchParams(request.body)), scimBase(request))),
  });

  r.post(GROUPS_PATH, {
    config: { scimScope: SCIM_WRITE },
    schema: {
      operationId: 'scim.groups.create',
      tags: TAGS,
      summary: 'Create a group',
      description: 'RFC 7644 §3.3. displayName is unique per tenant regardless of case (409 uniqueness). Members must be users or groups of this tenant.',
      querystring: getQuery,
      body: groupBody,
      response: { 201: resourceResponse, ...errorResponses(400, 401, 403, 409, 413, 415) },
    },
    handler: async (request, reply) => {
      const row = await createGroup(scope(request), scimActor(request), request.body);
      const res = await representGroup(scope(request), row, scimBase(request), projectionOf(request.query));
      return sendScim(request, reply.status(201).header('Location', `${scimBase(request)}/Groups/${row.id}`).header('ETag', weakEtag(row.version)), res);
    },
  });

  r.get(GROUP_PATH, {
    config: { scimScope: SCIM_READ },
    schema: {
      operationId: 'scim.groups.get',
      tags: TAGS,
      summary: 'Get a group',
      description: 'RFC 7644 §3.4.1. `excludedAttributes=members` skips reading the members at all. If-None-Match → 304.',
      params: idParams,
      headers: getHeaders,
      querystring: getQuery,
      response: { 200: resourceResponse, 304: noContent, ...errorResponses(400, 401, 403, 404) },
    },
    handler: async (request, reply) => {
      const row = await getGroup(scope(request), request.params.id);
      reply.header('ETag', weakEtag(row.version));
      if (notModified(request, row.version)) return reply.status(304).send(null);
      return sendScim(request, reply, await representGroup(scope(request), row, scimBase(request), projectionOf(request.query)));
    },
  });

  r.put(GROUP_PATH, {
    config: { scimScope: SCIM_WRITE },
    schema: {
      operationId: 'scim.groups.replace',
      tags: TAGS,
      summary: 'Replace a group',
      description: 'RFC 7644 §3.5.1: displayName, externalId and the complete member list; only the differences are written. If-Match → 412 on mismatch.',
      params: idParams,
      headers: conditionalHeaders,
      querystring: getQuery,
      body: groupBody,
      response: { 200: resourceResponse, ...errorResponses(400, 401, 403, 404, 409, 412, 413, 415) },
    },
    handler: async (request, reply) => {
      const row = await replaceGroup(scope(request), scimActor(request), request.params.id, request.body, expectedVersion(request.headers['if-match']));
      return sendScim(request, reply.header('ETag', weakEtag(row.version)), await representGroup(scope(request), row, scimBase(request), projectionOf(request.query)));
    },
  });

  r.patch(GROUP_PATH, {
    config: { scimScope: SCIM_WRITE },
    schema: {
      operationId: 'scim.groups.patch',
      tags: TAGS,
      summary: 'Change a group (PATCH), e.g. add or remove members',
      description:
        'RFC 7644 §3.5.2. Add or remove many members in one request; remove one with `members[value eq "<id>"]`. Only the named members are written, however large the group. ' +
        'Answers 204, or 200 with the group when `attributes` or `excludedAttributes` is given. If-Match → 412 on mismatch.',
      params: idParams,
      headers: conditionalHeaders,
      querystring: getQuery,
      body: patchBody,
      response: { 200: resourceResponse, 204: noContent, ...errorResponses(400, 401, 403, 404, 409, 412, 413, 415) },
    },
    handler: async (request, reply) => {
      const row = await patchGroup(scope(request), scimActor(request), request.params.id, request.body, expectedVersion(request.headers['if-match']));
      reply.header('ETag', weakEtag(row.version));
      if (request.query.attributes === undefined && request.query.excludedAttributes === undefined) return reply.status(204).send(null);
      return sendScim(request, reply, await representGroup(scope(request), row, scimBase(request), projectionOf(request.query)));
    },
  });

  r.delete(GROUP_PATH, {
    config: { scimScope: SCIM_WRITE },
    schema: {
      operationId: 'scim.groups.delete',
      tags: TAGS,
      summary: 'Delete a group',
      description: 'RFC 7644 §3.6. Its memberships go with it. If-Match → 412 on mismatch.',
      params: idParams,
      headers: conditionalHeaders,
      response: { 204: noContent, ...errorResponses(401, 403, 404, 412) },
    },
    handler: async (request, reply) => {
      await deleteGroup(scope(request), scimActor(request), request.params.id, expectedVersion(request.headers['if-match']));
      return reply.status(204).send(null);
    },
  });
}
