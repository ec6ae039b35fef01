/**
 * Discovery, without authentication: /ServiceProviderConfig (RFC 7644 §4, RFC 7643 §5), /ResourceTypes (RFC 7643 §6)
 * and /Schemas (RFC 7643 §7), built from the same definitions and limits the other routes enforce.
 * https://www.rfc-editor.org/rfc/rfc7644#section-4
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { ScimError } from '../errors.ts';
import { sendScim } from '../media.ts';
import { listResponse, MAX_RESULTS } from '../query.ts';
import { BULK_MAX_OPERATIONS, BULK_MAX_PAYLOAD_BYTES } from '../limits.ts';
import { findSchema, RESOURCE_TYPE_SCHEMA, RESOURCE_TYPES, SCHEMA_SCHEMA, SCHEMAS, SPC_SCHEMA, USER_SCHEMA, type AttributeDef, type SchemaDef } from '../schema/definitions.ts';
import type { TenantScope } from '../../platform/db.ts';
import { getTenantSettings } from '../../tenancy/settings.ts';
import { errorResponses, resourceResponse, listResponseSchema } from '../schemas.ts';
import { scimBase, type ScimScopes } from './shared.ts';

export const SPC_PATH = '/ServiceProviderConfig';
export const RESOURCE_TYPES_PATH = '/ResourceTypes';
export const RESOURCE_TYPE_PATH = '/ResourceTypes/:name';
export const SCHEMAS_PATH = '/Schemas';
export const SCHEMA_PATH = '/Schemas/:urn';

const TAGS = ['SCIM discovery'];

/**
 * The PATCH response rule (RFC 7644 §3.5.2: "either HTTP status code 200 and the entire resource … or HTTP status
 * code 204"), one rule for both resource types: a body where it is small, none where it could be large.
 */
export const PATCH_RESPONSE_RULE =
  'PATCH responses: /Users/{id} answers 200 with the user (a user is small, and Okta and Entra ID read the result). ' +
  '/Groups/{id} answers 204 No Content, because the full group would list every member (up to 50,000 and more) after a change that named a few, ' +
  'as Entra ID expects ("should yield an HTTP 204 No Content"); send attributes or excludedAttributes (e.g. excludedAttributes=members) to get 200 with the group as projected. ' +
  'Both set ETag to the new version.';

/** What discovery says about passwords follows the tenant setting (PATCH /api/tenant {"scim":{"passwordChange":…}}). */
export interface DiscoveryOptions {
  passwordChange: boolean;
}

export function serviceProviderConfig(base: string, issuer: string, opts: DiscoveryOptions) {
  return {
    schemas: [SPC_SCHEMA],
    documentationUri: `${issuer}/scalar`,
    patch: { supported: true },
    bulk: { supported: true, maxOperations: BULK_MAX_OPERATIONS, maxPayloadSize: BULK_MAX_PAYLOAD_BYTES },
    filter: { supported: true, maxResults: MAX_RESULTS },
    changePassword: { supported: opts.passwordChange },
    sort: { supported: true },
    etag: { supported: true },
    authenticationSchemes: [
      {
        type: 'oauthbearertoken',
        name: 'OAuth Bearer Token',
        description: `An access token from ${issuer}/oauth2/token (e.g. client_credentials with HTTP Basic) for audience "scim": scope scim.read to read, scim.write to change.`,
        specUri: 'https://www.rfc-editor.org/rfc/rfc6750',
        documentationUri: `${issuer}/scalar`,
        primary: true,
      },
    ],
    meta: { resourceType: 'ServiceProviderConfig', location: `${base}${SPC_PATH}` },
  };
}

/**
 * `password` as this tenant treats it. RFC 7643 §7: writeOnly "may be updated at any time", which is only true when
 * changing passwords is allowed; otherwise it is immutable ("SHALL NOT be updated"): set on create, changes refused
 * with 400 mutability.
 */
function passwordAttribute(a: AttributeDef, opts: DiscoveryOptions): AttributeDef {
  return opts.passwordChange
    ? { ...a, mutability: 'writeOnly', description: 'Stored as an argon2id hash, never returned. May be set on create and changed with PUT/PATCH; a change ends the user\'s sessions and refresh tokens.' }
    : { ...a, mutability: 'immutable', description: 'Set on create only, stored as an argon2id hash, never returned. Changes are refused (400 mutability): changePassword is not supported in this tenant.' };
}

function attributeJson(a: AttributeDef): Record<string, unknown> {
  return {
    name: a.name,
    type: a.type,
    multiValued: a.multiValued,
    description: a.description,
    required: a.required,
    caseExact: a.caseExact,
    mutability: a.mutability,
    returned: a.returned,
    uniqueness: a.uniqueness,
    ...(a.canonicalValues ? { canonicalValues: a.canonicalValues } : {}),
    ...(a.referenceTypes ? { referenceTypes: a.referenceTypes } : {}),
    ...(a.subAttributes ? { subAttributes: a.subAttributes.map(attributeJson) } : {}),
  };
}

export function schemaJson(s: SchemaDef, base: string, opts: DiscoveryOptions) {
  return {
    schemas: [SCHEMA_SCHEMA],
    id: s.id,
    name: s.name,
    description: s.description,
    attributes: s.attributes.map((a) => attributeJson(s.id === USER_SCHEMA && a.name === 'password' ? passwordAttribute(a, opts) : a)),
    meta: { resourceType: 'Schema', location: `${base}/Schemas/${s.id}` },
  };
}

export function resourceTypesJson(base: string) {
  return RESOURCE_TYPES.map((t) => ({
    schemas: [RESOURCE_TYPE_SCHEMA],
    id: t.name,
    name: t.name,
    endpoint: t.endpoint,
    description: t.description,
    schema: t.schema.id,
    ...(t.extensions.length ? { schemaExtensions: t.extensions.map((e) => ({ schema: e.schema.id, required: e.required })) } : {}),
    meta: { resourceType: 'ResourceType', location: `${base}/ResourceTypes/${t.name}` },
  }));
}

export function scimDiscoveryRoutes(app: FastifyInstance, deps: ScimScopes) {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const base = (request: FastifyRequest) => scimBase(request);
  const options = async (request: FastifyRequest): Promise<DiscoveryOptions> => ({ passwordChange: (await getTenantSettings(deps.scopeOf(request))).scim.passwordChange });

  r.get(SPC_PATH, {
    schema: {
      operationId: 'scim.serviceProviderConfig',
      tags: TAGS,
      summary: 'Service provider configuration',
      description: `RFC 7644 §4. No authentication. changePassword follows the tenant setting (PATCH /api/tenant {"scim":{"passwordChange":true}}). ${PATCH_RESPONSE_RULE}`,
      response: { 200: resourceResponse },
    },
    handler: async (request, reply) => sendScim(request, reply, serviceProviderConfig(base(request), request.tenant.issuer.replace(/\/$/, ''), await options(request))),
  });

  r.get(RESOURCE_TYPES_PATH, {
    schema: { operationId: 'scim.resourceTypes.list', tags: TAGS, summary: 'Resource types', description: 'RFC 7643 §6. No authentication.', response: { 200: listResponseSchema } },
    handler: async (request, reply) => {
      const all = resourceTypesJson(base(request));
      return sendScim(request, reply, listResponse(all.length, 1, all));
    },
  });

  r.get(RESOURCE_TYPE_PATH, {
    schema: {
      operationId: 'scim.resourceTypes.get',
      tags: TAGS,
      summary: 'One resource type',
      params: z.object({ name: z.string().max(64) }),
      response: { 200: resourceResponse, ...errorResponses(404) },
    },
    handler: async (request, reply) => {
      const found = resourceTypesJson(base(request)).find((t) => t.id.toLowerCase() === request.params.name.toLowerCase());
      if (!found) throw new ScimError(404, undefined, `No resource type "${request.params.name}".`);
      return sendScim(request, reply, found);
    },
  });

  r.get(SCHEMAS_PATH, {
    schema: { operationId: 'scim.schemas.list', tags: TAGS, summary: 'Schemas', description: 'RFC 7643 §7: User, Group, the enterprise extension and the notifications extension. No authentication.', response: { 200: listResponseSchema } },
    handler: async (request, reply) => {
      const opts = await options(request);
      const all = SCHEMAS.map((s) => schemaJson(s, base(request), opts));
      return sendScim(request, reply, listResponse(all.length, 1, all));
    },
  });

  r.get(SCHEMA_PATH, {
    schema: {
      operationId: 'scim.schemas.get',
      tags: TAGS,
      summary: 'One schema by URN',
      params: z.object({ urn: z.string().max(256) }),
      response: { 200: resourceResponse, ...errorResponses(404) },
    },
    handler: async (request, reply) => {
      const s = findSchema(request.params.urn);
      if (!s) throw new ScimError(404, undefined, `No schema "${request.params.urn.slice(0, 100)}".`);
      return sendScim(request, reply, schemaJson(s, base(request), await options(request)));
    },
  });
}
