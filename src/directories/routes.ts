/**
 * `/api/organizations/{id}/directories`, `/api/directories/{id}` (tokens, role mappings) and the Directory API
 * (`/api/directories/{id}/users|groups`, Scalekit's listDirectoryUsers / listDirectoryGroups). HTTP only.
 * An organization-scoped client reaches only its own organization's directories: others are 404 (ADR 0009).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { TenantScope } from '../platform/db.ts';
import type { TenantId } from '../platform/tenancy/tenant.ts';
import { actorOf, assertOrganizationVisible } from '../platform/auth.ts';
import { problemResponses } from '../platform/errors/problem-schema.ts';
import { organizationIdParams } from '../organizations/schemas.ts';
import {
  createDirectory,
  createDirectoryToken,
  deleteDirectory,
  deleteRoleMapping,
  getDirectory,
  getDirectoryGroup,
  getDirectoryUser,
  getPrimaryDirectory,
  listDirectories,
  listDirectoryGroups,
  listDirectoryTokens,
  listDirectoryUsers,
  listRoleMappings,
  organizationOfDirectory,
  putRoleMapping,
  revokeDirectoryToken,
  updateDirectory,
  type Directory,
  type DirectoryToken,
} from './service.ts';
import {
  directoryCreateBody,
  directoryGroupPageResponse,
  directoryGroupResponse,
  directoryIdParams,
  directoryListResponse,
  directoryPageQuery,
  directoryPatchBody,
  directoryResponse,
  directoryUserPageResponse,
  directoryUserResponse,
  groupParams,
  roleMappingBody,
  roleMappingListResponse,
  roleMappingResponse,
  tokenCreateBody,
  tokenCreatedResponse,
  tokenListResponse,
  tokenParams,
  userParams,
} from './schemas.ts';

export const ORGANIZATION_DIRECTORIES_PATH = '/api/organizations/:organizationId/directories';
export const DIRECTORY_PATH = '/api/directories/:directoryId';

export interface DirectoryRouteDeps {
  scopeFor(tenantId: TenantId): TenantScope;
  /** The scope of one directory's partition of users and groups (platform/db.ts forDirectory). */
  directoryScopeFor(tenantId: TenantId, directoryId: string): TenantScope;
}

const TAGS = ['Directories'];
const API_TAGS = ['Directory API'];
const READ = { permission: 'directories:read', organization: 'filters' } as const;
const WRITE = { permission: 'directories:write', organization: 'filters' } as const;
const iso = (d: Date | null) => (d ? d.toISOString() : null);

const toWire = (d: Directory) => ({ ...d, lastRequestAt: iso(d.lastRequestAt), createdAt: d.createdAt.toISOString(), updatedAt: d.updatedAt.toISOString() });
const tokenToWire = (t: DirectoryToken) => ({ id: t.id, hint: t.hint, createdAt: t.createdAt.toISOString(), expiresAt: iso(t.expiresAt), lastUsedAt: iso(t.lastUsedAt), revokedAt: iso(t.revokedAt) });

export function directoryRoutes(app: FastifyInstance, deps: DirectoryRouteDeps) {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const scope = (request: FastifyRequest) => deps.scopeFor(request.tenant.id);
  /**
   * 404 when the directory is another organization's and the caller is confined to one. Reads the row only: the
   * user and group counts of `getDirectory` would cost two counts of the partition on every Directory API page.
   */
  const visible = async (request: FastifyRequest, id: string) => {
    assertOrganizationVisible(request, await organizationOfDirectory(scope(request), id), 'No directory with this id in this tenant.');
  };

  r.post(ORGANIZATION_DIRECTORIES_PATH, {
    config: WRITE,
    schema: {
      operationId: 'directories.create',
      tags: TAGS,
      summary: 'Add a directory to an organization',
      description:
        'A directory has its own SCIM 2.0 base URL (`scimBaseUrl`): give it to the identity provider (Entra ID, Okta, Google) with a token from `POST /api/directories/{id}/tokens`. ' +
        'Its users and groups are its own records: `userName` is unique per directory, not per tenant.',
      params: organizationIdParams,
      body: directoryCreateBody,
      response: { 201: directoryResponse, ...problemResponses(400, 401, 403, 404, 413, 415) },
    },
    handler: async (request, reply) => {
      const d = await createDirectory(scope(request), actorOf(request), request.tenant.issuer, request.params.organizationId, request.body);
      return reply.status(201).header('Location', `/api/directories/${d.id}`).send(toWire(d));
    },
  });

  r.get(ORGANIZATION_DIRECTORIES_PATH, {
    config: READ,
    schema: { operationId: 'directories.list', tags: TAGS, summary: "List an organization's directories", params: organizationIdParams, response: { 200: directoryListResponse, ...problemResponses(400, 401, 403, 404) } },
    handler: async (request) => ({ items: (await listDirectories(scope(request), request.tenant.issuer, request.params.organizationId)).map(toWire) }),
  });

  r.get(`${ORGANIZATION_DIRECTORIES_PATH}/primary`, {
    config: READ,
    schema: {
      operationId: 'directories.primary',
      tags: API_TAGS,
      summary: "An organization's primary directory",
      description: "Scalekit's getPrimaryDirectoryByOrganizationId. 404 when the organization has no primary directory.",
      params: organizationIdParams,
      response: { 200: directoryResponse, ...problemResponses(400, 401, 403, 404) },
    },
    handler: async (request) => toWire(await getPrimaryDirectory(scope(request), request.tenant.issuer, request.params.organizationId)),
  });

  r.get(DIRECTORY_PATH, {
    config: READ,
    schema: { operationId: 'directories.get', tags: API_TAGS, summary: 'Get a directory', params: directoryIdParams, response: { 200: directoryResponse, ...problemResponses(400, 401, 403, 404) } },
    handler: async (request) => {
      await visible(request, request.params.directoryId);
      return toWire(await getDirectory(scope(request), request.tenant.issuer, request.params.directoryId));
    },
  });

  r.patch(DIRECTORY_PATH, {
    config: WRITE,
    schema: {
      operationId: 'directories.update',
      tags: TAGS,
      summary: 'Change a directory',
      description: '`enabled: false` makes its SCIM endpoint answer 403 (its records stay). `primary: true` moves the mark from the organization\'s other directory. Turning `provisionMembers` on links the users already there.',
      params: directoryIdParams,
      body: directoryPatchBody,
      response: { 200: directoryResponse, ...problemResponses(400, 401, 403, 404, 413, 415) },
    },
    handler: async (request) => {
      await visible(request, request.params.directoryId);
      return toWire(await updateDirectory(scope(request), actorOf(request), request.tenant.issuer, request.params.directoryId, request.body));
    },
  });

  r.delete(DIRECTORY_PATH, {
    config: WRITE,
    schema: {
      operationId: 'directories.delete',
      tags: TAGS,
      summary: 'Delete a directory',
      description: 'Deletes its tokens, role mappings, users and groups in one transaction. Organization members it provisioned lose that membership and are signed out; one left in no organization is deactivated.',
      params: directoryIdParams,
      response: { 204: z.null().describe('Deleted.'), ...problemResponses(400, 401, 403, 404) },
    },
    handler: async (request, reply) => {
      await visible(request, request.params.directoryId);
      await deleteDirectory(scope(request), actorOf(request), request.params.directoryId);
      return reply.status(204).send(null);
    },
  });

  r.post(`${DIRECTORY_PATH}/tokens`, {
    config: WRITE,
    schema: {
      operationId: 'directories.tokens.create',
      tags: TAGS,
      summary: 'Create a SCIM bearer token for the directory',
      description: 'The token (`iamdir_…`, 256 random bits) is in this answer only; it is stored hashed. At most two are active: to rotate, create the second, move the identity provider over, revoke the first. 409 when two are active.',
      params: directoryIdParams,
      body: tokenCreateBody,
      response: { 201: tokenCreatedResponse, ...problemResponses(400, 401, 403, 404, 409, 415) },
    },
    handler: async (request, reply) => {
      await visible(request, request.params.directoryId);
      const t = await createDirectoryToken(scope(request), actorOf(request), request.params.directoryId, { expiresInDays: request.body?.expiresInDays });
      return reply.status(201).header('Cache-Control', 'no-store').send({ ...tokenToWire(t), token: t.token });
    },
  });

  r.get(`${DIRECTORY_PATH}/tokens`, {
    config: READ,
    schema: { operationId: 'directories.tokens.list', tags: TAGS, summary: "List the directory's tokens (never their values)", params: directoryIdParams, response: { 200: tokenListResponse, ...problemResponses(400, 401, 403, 404) } },
    handler: async (request) => {
      await visible(request, request.params.directoryId);
      return { items: (await listDirectoryTokens(scope(request), request.params.directoryId)).map(tokenToWire) };
    },
  });

  r.delete(`${DIRECTORY_PATH}/tokens/:tokenId`, {
    config: WRITE,
    schema: { operationId: 'directories.tokens.revoke', tags: TAGS, summary: 'Revoke a token', description: 'It stops working at once.', params: tokenParams, response: { 204: z.null().describe('Revoked.'), ...problemResponses(400, 401, 403, 404) } },
    handler: async (request, reply) => {
      await visible(request, request.params.directoryId);
      await revokeDirectoryToken(scope(request), actorOf(request), request.params.directoryId, request.params.tokenId);
      return reply.status(204).send(null);
    },
  });

  r.get(`${DIRECTORY_PATH}/role-mappings`, {
    config: READ,
    schema: { operationId: 'directories.roleMappings.list', tags: TAGS, summary: 'Group → organization role mappings', params: directoryIdParams, response: { 200: roleMappingListResponse, ...problemResponses(400, 401, 403, 404) } },
    handler: async (request) => {
      await visible(request, request.params.directoryId);
      return { items: await listRoleMappings(scope(request), request.params.directoryId) };
    },
  });

  r.put(`${DIRECTORY_PATH}/role-mappings/:groupId`, {
    config: WRITE,
    schema: {
      operationId: 'directories.roleMappings.put',
      tags: TAGS,
      summary: 'Map a directory group to organization roles',
      description: 'Members of the group (with provisionMembers on) get these organization roles; recomputed at once and whenever the group\'s members change.',
      params: groupParams,
      body: roleMappingBody,
      response: { 200: roleMappingResponse, ...problemResponses(400, 401, 403, 404, 413, 415) },
    },
    handler: async (request) => {
      await visible(request, request.params.directoryId);
      return putRoleMapping(scope(request), actorOf(request), request.params.directoryId, request.params.groupId, request.body.roles);
    },
  });

  r.delete(`${DIRECTORY_PATH}/role-mappings/:groupId`, {
    config: WRITE,
    schema: { operationId: 'directories.roleMappings.delete', tags: TAGS, summary: 'Remove a role mapping', params: groupParams, response: { 204: z.null().describe('Removed.'), ...problemResponses(400, 401, 403, 404) } },
    handler: async (request, reply) => {
      await visible(request, request.params.directoryId);
      await deleteRoleMapping(scope(request), actorOf(request), request.params.directoryId, request.params.groupId);
      return reply.status(204).send(null);
    },
  });

  // The Directory API: reads of the directory's own partition.
  const records = async (request: FastifyRequest, id: string) => {
    await visible(request, id);
    return deps.directoryScopeFor(request.tenant.id, id);
  };

  r.get(`${DIRECTORY_PATH}/users`, {
    config: READ,
    schema: {
      operationId: 'directories.users.list',
      tags: API_TAGS,
      summary: "List a directory's users",
      description: 'Keyset pages in id order (a page boundary never moves under concurrent writes): pass `next_page_token` back as `page_token`. `group_id`: the direct members of one group.',
      params: directoryIdParams,
      querystring: directoryPageQuery,
      response: { 200: directoryUserPageResponse, ...problemResponses(400, 401, 403, 404) },
    },
    handler: async (request) => listDirectoryUsers(await records(request, request.params.directoryId), request.query),
  });

  r.get(`${DIRECTORY_PATH}/users/:userId`, {
    config: READ,
    schema: { operationId: 'directories.users.get', tags: API_TAGS, summary: 'Get a directory user (with raw_attributes)', params: userParams, response: { 200: directoryUserResponse, ...problemResponses(400, 401, 403, 404) } },
    handler: async (request) => getDirectoryUser(await records(request, request.params.directoryId), request.params.userId),
  });

  r.get(`${DIRECTORY_PATH}/groups`, {
    config: READ,
    schema: { operationId: 'directories.groups.list', tags: API_TAGS, summary: "List a directory's groups", params: directoryIdParams, querystring: directoryPageQuery, response: { 200: directoryGroupPageResponse, ...problemResponses(400, 401, 403, 404) } },
    handler: async (request) => listDirectoryGroups(await records(request, request.params.directoryId), request.query),
  });

  r.get(`${DIRECTORY_PATH}/groups/:groupId`, {
    config: READ,
    schema: { operationId: 'directories.groups.get', tags: API_TAGS, summary: 'Get a directory group (with raw_attributes)', params: groupParams, response: { 200: directoryGroupResponse, ...problemResponses(400, 401, 403, 404) } },
    handler: async (request) => getDirectoryGroup(await records(request, request.params.directoryId), request.params.groupId),
  });
}
