/**
 * `/api/upstream/{AzureAd|Google|Auth0}/{id}` and `/api/upstream`: the identity providers users sign in with.
 * HTTP only. Each type gets its own section (tag) in the API reference, as in the Bizzkit guide.
 * None declares `config.organization`, so an organization-scoped machine token (ADR 0009) is refused with 403 here,
 * binding included: who signs in to an organization, and how, is the tenant administrator's to decide.
 */
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { ScopeFor, TenantScope } from '../platform/db.ts';
import type { Keyring } from '../platform/crypto.ts';
import { actorOf } from '../platform/auth.ts';
import { problemResponses } from '../platform/errors/problem-schema.ts';
import { UPSTREAM_TYPES, type UpstreamType } from '../db/schema/index.ts';
import { deleteProvider, getProvider, listProviders, putProvider, SIGNIN_PATH_PREFIX } from './service.ts';
import {
  auth0Body,
  auth0Response,
  azureAdBody,
  azureAdResponse,
  bodyToInput,
  googleBody,
  googleResponse,
  providerIdParams,
  providerListQuery,
  providerPageResponse,
  providerToWire,
} from './schemas.ts';

export const UPSTREAM_PATH = '/api/upstream';
export const providerPath = (type: UpstreamType) => `${UPSTREAM_PATH}/${type}/:id`;

export interface UpstreamRouteDeps {
  scopeFor: ScopeFor;
  keyring: Keyring;
}

const TYPES = {
  AzureAd: { body: azureAdBody, response: azureAdResponse, name: 'Azure AD (Microsoft Entra ID)' },
  Google: { body: googleBody, response: googleResponse, name: 'Google' },
  Auth0: { body: auth0Body, response: auth0Response, name: 'Auth0' },
} as const;

export function upstreamRoutes(app: FastifyInstance, deps: UpstreamRouteDeps) {
  const r = app.withTypeProvider<ZodTypeProvider>();

  for (const type of UPSTREAM_TYPES) {
    const { body, response, name } = TYPES[type];
    const op = type.toLowerCase();
    const signin = `${SIGNIN_PATH_PREFIX[type]}<id>`;

    r.put(providerPath(type), {
      config: { permission: 'upstream:write' },
      schema: {
        operationId: `upstream.${op}.put`,
        tags: [type],
        summary: `Create or replace a ${name} provider`,
        description:
          `Creates the provider \`{id}\`, or replaces its configuration. The id becomes the sign-in path \`${signin}\`; the response's \`redirectUri\` ` +
          'is the URL to register at the provider. `clientSecret` is write-only: omit it to keep the stored one (it is required when creating). ' +
          '`defaultUserRoles` must name existing roles; including `admin` is answered with a warning. ' +
          '`organizationId` binds it to one organization of this tenant (400 naming `organizationId` when there is no such organization here): its sign-ins then run in that ' +
          'organization and it is deleted with it; `defaultOrganizationRoles` are the roles of members it adds. 201 when created, 200 when replaced.',
        params: providerIdParams,
        body,
        response: { 200: response, 201: response, ...problemResponses(400, 401, 403, 409, 413, 415) },
      },
      handler: async (request, reply) => {
        const { provider, created } = await putProvider(
          deps.scopeFor(request.tenant.id),
          deps.keyring,
          actorOf(request),
          type,
          request.params.id,
          bodyToInput(type, request.body),
        );
        return reply.status(created ? 201 : 200).send(providerToWire(provider, request.tenant.issuer));
      },
    });

    r.get(providerPath(type), {
      config: { permission: 'upstream:read' },
      schema: {
        operationId: `upstream.${op}.get`,
        tags: [type],
        summary: `Get a ${name} provider`,
        description: 'The configuration, the redirect URI to register, and whether a client secret is set (never the secret).',
        params: providerIdParams,
        response: { 200: response, ...problemResponses(400, 401, 403, 404) },
      },
      handler: async (request) => providerToWire(await getProvider(deps.scopeFor(request.tenant.id), type, request.params.id), request.tenant.issuer),
    });

    r.delete(providerPath(type), {
      config: { permission: 'upstream:write' },
      schema: {
        operationId: `upstream.${op}.delete`,
        tags: [type],
        summary: `Delete a ${name} provider`,
        description: `Deletes the provider; \`${signin}\` stops working. Users stay, but their links to this provider are removed.`,
        params: providerIdParams,
        response: { 204: z.null().describe('Deleted.'), ...problemResponses(400, 401, 403, 404) },
      },
      handler: async (request, reply) => {
        await deleteProvider(deps.scopeFor(request.tenant.id), actorOf(request), type, request.params.id);
        return reply.status(204).send(null);
      },
    });
  }

  r.get(UPSTREAM_PATH, {
    config: { permission: 'upstream:read' },
    schema: {
      operationId: 'upstream.list',
      tags: [...UPSTREAM_TYPES],
      summary: 'List upstream providers of all types',
      description:
        'Every configured provider, ordered by type and id. `?expiringWithinDays=30` lists only those whose client secret expires within 30 days ' +
        '(or has expired), to renew them in time; a daily job also logs a warning for each.',
      querystring: providerListQuery,
      response: { 200: providerPageResponse, ...problemResponses(400, 401, 403) },
    },
    handler: async (request) => {
      const page = await listProviders(deps.scopeFor(request.tenant.id), request.query);
      return { items: page.items.map((p) => providerToWire(p, request.tenant.issuer)), nextCursor: page.nextCursor };
    },
  });
}
