/**
 * `/api/downstream`: the clients this service issues tokens to (Bizzkit seed: MachineClient,
 * InteractiveApplication, ClientSideApplication), their secrets, and the protected APIs whose scopes they get.
 */
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { ScopeFor, TenantScope } from '../platform/db.ts';
import type { Keyring } from '../platform/crypto.ts';
import type { Invalidation } from '../platform/invalidation.ts';
import { actorOf } from '../platform/auth.ts';
import { problemResponses } from '../platform/errors/problem-schema.ts';
import type { FastifyRequest } from 'fastify';
import {
  audienceParam,
  bodyForType,
  clientIdParam,
  clientResponse,

  protectedApiBody,
  protectedApiResponse,
  secretCreateBody,
  secretCreated,
  secretMetadata,
} from './schemas.ts';
import * as service from './service.ts';
import { CLIENT_TYPES, type ClientType } from '../db/schema/index.ts';

export const DOWNSTREAM_PATH = '/api/downstream';
const TAG = 'Downstream';

export interface DownstreamRouteDeps {
  scopeFor: ScopeFor;
  keyring: Keyring;
  invalidation: Invalidation;
}

const typeDescriptions: Record<ClientType, string> = {
  MachineClient: 'A confidential client for system-to-system access: client_credentials only. Authenticates with a secret or, when `jwks` is set, with private_key_jwt (RFC 7523).',
  InteractiveApplication: 'A confidential server-side web application: authorization_code (PKCE accepted) and refresh_token.',
  ClientSideApplication: 'A public browser application (SPA): authorization_code with PKCE S256 required, no secret, refresh tokens rotated on every use, CORS for its origins only.',
};

export function downstreamRoutes(app: FastifyInstance, deps: DownstreamRouteDeps) {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const ctx = (request: FastifyRequest) => ({ scope: deps.scopeFor(request.tenant.id), actor: actorOf(request), keyring: deps.keyring, invalidation: deps.invalidation });

  // Registered before `/:type` routes so that the literal path wins.
  r.get(`${DOWNSTREAM_PATH}/ProtectedApis`, {
    config: { permission: 'downstream:read' },
    schema: {
      operationId: 'downstream.protectedApis.list',
      tags: [TAG],
      summary: 'List protected APIs and their scopes',
      description: 'The built-in APIs (`aiapi/`, `damapi/`, `eventtrackingapi/`, `iam/`, `mailapi/`, `pimapi/`, `searchapi/`, and `scim.read`/`scim.write`) and the tenant\'s own. Copy scope values exactly: the trailing `/` is part of them.',
      response: { 200: z.array(protectedApiResponse), ...problemResponses(401, 403) },
    },
    handler: async (request) => service.listProtectedApis(deps.scopeFor(request.tenant.id)),
  });
  r.put(`${DOWNSTREAM_PATH}/ProtectedApis/:audience`, {
    config: { permission: 'downstream:write' },
    schema: {
      operationId: 'downstream.protectedApis.put',
      tags: [TAG],
      summary: 'Register or replace one of the tenant\'s own protected APIs',
      description: 'The `audience` becomes the `aud` of tokens carrying these scopes. Scopes must not belong to another API.',
      params: z.object({ audience: audienceParam }),
      body: protectedApiBody,
      response: { 200: protectedApiResponse, 201: protectedApiResponse, ...problemResponses(400, 401, 403, 409) },
    },
    handler: async (request, reply) => {
      const { created, api } = await service.putProtectedApi(ctx(request), request.params.audience, request.body);
      return reply.status(created ? 201 : 200).send(api);
    },
  });
  r.delete(`${DOWNSTREAM_PATH}/ProtectedApis/:audience`, {
    config: { permission: 'downstream:write' },
    schema: {
      operationId: 'downstream.protectedApis.delete',
      tags: [TAG],
      summary: 'Delete one of the tenant\'s own protected APIs',
      params: z.object({ audience: audienceParam }),
      response: { 204: z.null().describe('Deleted'), ...problemResponses(401, 403, 404) },
    },
    handler: async (request, reply) => {
      await service.deleteProtectedApi(ctx(request), request.params.audience);
      return reply.status(204).send(null);
    },
  });

  r.get(DOWNSTREAM_PATH, {
    config: { permission: 'downstream:read' },
    schema: {
      operationId: 'downstream.list',
      tags: [TAG],
      summary: 'List all downstream clients',
      response: { 200: z.array(clientResponse), ...problemResponses(401, 403) },
    },
    handler: async (request) => service.listClients(deps.scopeFor(request.tenant.id)),
  });

  for (const type of CLIENT_TYPES) {
    const base = `${DOWNSTREAM_PATH}/${type}`;
    const idParams = z.object({ id: clientIdParam.describe('The OAuth `client_id`') });
    r.get(base, {
      config: { permission: 'downstream:read' },
      schema: { operationId: `downstream.${type}.list`, tags: [TAG], summary: `List ${type} clients`, response: { 200: z.array(clientResponse), ...problemResponses(401, 403) } },
      handler: async (request) => service.listClients(deps.scopeFor(request.tenant.id), type),
    });
    r.put(`${base}/:id`, {
      config: { permission: 'downstream:write' },
      schema: {
        operationId: `downstream.${type}.put`,
        tags: [TAG],
        summary: `Create or replace a ${type}`,
        description: `${typeDescriptions[type]} Idempotent: the same body twice gives the same client. \`{id}\` is the client_id. ` + (type === 'ClientSideApplication' ? '' : 'Without `clientSecret`, create one afterwards with POST …/secrets.'),
        params: idParams,
        body: bodyForType[type],
        response: { 200: clientResponse, 201: clientResponse, ...problemResponses(400, 401, 403, 409) },
      },
      handler: async (request, reply) => {
        const { created, client } = await service.putClient(ctx(request), type, request.params.id, request.body);
        return reply.status(created ? 201 : 200).send(client);
      },
    });
    r.get(`${base}/:id`, {
      config: { permission: 'downstream:read' },
      schema: { operationId: `downstream.${type}.get`, tags: [TAG], summary: `Get a ${type}`, params: idParams, response: { 200: clientResponse, ...problemResponses(401, 403, 404) } },
      handler: async (request) => service.getClient(deps.scopeFor(request.tenant.id), type, request.params.id),
    });
    r.delete(`${base}/:id`, {
      config: { permission: 'downstream:write' },
      schema: {
        operationId: `downstream.${type}.delete`,
        tags: [TAG],
        summary: `Delete a ${type}`,
        description: 'Its secrets go with it, and its tokens stop being accepted at once (introspection answers active:false).',
        params: idParams,
        response: { 204: z.null().describe('Deleted'), ...problemResponses(401, 403, 404) },
      },
      handler: async (request, reply) => {
        await service.deleteClient(ctx(request), type, request.params.id);
        return reply.status(204).send(null);
      },
    });
    if (type === 'ClientSideApplication') continue;
    r.post(`${base}/:id/secrets`, {
      config: { permission: 'downstream:write' },
      schema: {
        operationId: `downstream.${type}.secrets.create`,
        tags: [TAG],
        summary: `Create a secret for a ${type}`,
        description: 'A new 256-bit secret, returned once in `secret`. Several secrets can be live at once: add the new one, deploy it, then delete the old one.',
        params: idParams,
        body: secretCreateBody,
        response: { 201: secretCreated, ...problemResponses(400, 401, 403, 404, 409) },
      },
      handler: async (request, reply) => reply.status(201).send(await service.createSecret(ctx(request), type, request.params.id, request.body)),
    });
    r.get(`${base}/:id/secrets`, {
      config: { permission: 'downstream:read' },
      schema: { operationId: `downstream.${type}.secrets.list`, tags: [TAG], summary: `List a ${type}'s secrets (metadata only)`, params: idParams, response: { 200: z.array(secretMetadata), ...problemResponses(401, 403, 404) } },
      handler: async (request) => service.listSecrets(deps.scopeFor(request.tenant.id), type, request.params.id),
    });
    r.delete(`${base}/:id/secrets/:secretId`, {
      config: { permission: 'downstream:write' },
      schema: {
        operationId: `downstream.${type}.secrets.delete`,
        tags: [TAG],
        summary: `Delete a ${type}'s secret`,
        description: 'The secret stops authenticating at once, on every instance.',
        params: idParams.extend({ secretId: z.uuid() }),
        response: { 204: z.null().describe('Deleted'), ...problemResponses(401, 403, 404) },
      },
      handler: async (request, reply) => {
        await service.deleteSecret(ctx(request), type, request.params.id, request.params.secretId);
        return reply.status(204).send(null);
      },
    });
  }
}
