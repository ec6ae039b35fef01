/**
 * The server root: `GET /scim/v2?filter=…` and `POST /scim/v2/.search` across Users and Groups (RFC 7644 §3.4.2.1,
 * §3.4.3, Table 1). HTTP only; the rules are in root-query.ts. https://www.rfc-editor.org/rfc/rfc7644#section-3.4.3
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { TenantScope } from '../../platform/db.ts';
import { SCIM_READ } from '../auth.ts';
import { sendScim } from '../media.ts';
import { searchParams } from '../query.ts';
import { searchRoot } from '../root-query.ts';
import { errorResponses, listQuery, listResponseSchema, searchBody } from '../schemas.ts';
import { scimBase, type ScimScopes } from './shared.ts';

export const ROOT_PATH = '/';
export const ROOT_SEARCH_PATH = '/.search';

const TAGS = ['SCIM search'];
const DESCRIPTION =
  'Users, then Groups, that match the filter; an attribute one type lacks has no value there (RFC 7644 §3.4.2.1). ' +
  'Each result carries meta.resourceType. attributes/excludedAttributes apply per type; sortBy is refused (400): sort on /Users or /Groups.';

export function scimRootRoutes(app: FastifyInstance, deps: ScimScopes) {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const scope = (request: FastifyRequest) => deps.scopeOf(request);

  r.get(ROOT_PATH, {
    config: { scimScope: SCIM_READ },
    schema: { operationId: 'scim.root.list', tags: TAGS, summary: 'Query Users and Groups together', description: `RFC 7644 §3.4.2.1. ${DESCRIPTION}`, querystring: listQuery, response: { 200: listResponseSchema, ...errorResponses(400, 401, 403) } },
    handler: async (request, reply) => sendScim(request, reply, await searchRoot(scope(request), request.query, scimBase(request))),
  });

  r.post(ROOT_SEARCH_PATH, {
    config: { scimScope: SCIM_READ },
    schema: { operationId: 'scim.root.search', tags: TAGS, summary: 'Search Users and Groups together (POST .search)', description: `RFC 7644 §3.4.3. ${DESCRIPTION}`, body: searchBody, response: { 200: listResponseSchema, ...errorResponses(400, 401, 403, 413, 415) } },
    handler: async (request, reply) => sendScim(request, reply.status(200), await searchRoot(scope(request), searchParams(request.body), scimBase(request))),
  });
}
