/**
 * `/api/organizations`: organizations, their members (with organization roles) and their verified domains.
 * HTTP only: schemas, status codes and calls into service.ts and domains.ts.
 */
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { TenantScope } from '../platform/db.ts';
import { actorOf, assertOrganizationVisible, confinedOrganization } from '../platform/auth.ts';
import { problemResponses } from '../platform/errors/problem-schema.ts';
import {
  createOrganization,
  deleteOrganization,
  findOrganization,
  getMembership,
  getOrganization,
  getOrganizationByExternalId,
  listMemberships,
  listOrganizations,
  removeMembership,
  setMembership,
  updateOrganization,
} from './service.ts';
import { addDomain, deleteDomain, DOMAIN_VERIFICATION_WINDOW_MS, getDomain, listDomains, markDomainVerified, verifyDomainNow } from './domains.ts';
import type { TxtResolver } from './dns.ts';
import {
  domainCreateBody,
  domainListResponse,
  domainParams,
  domainResponse,
  domainToWire,
  externalIdParams,
  memberParams,
  membershipBody,
  membershipPageResponse,
  membershipResponse,
  membershipToWire,
  organizationCreateBody,
  organizationIdParams,
  organizationPageResponse,
  organizationPatchBody,
  organizationResponse,
  organizationToWire,
  pageQuery,
} from './schemas.ts';

export const ORGANIZATIONS_PATH = '/api/organizations';
export const ORGANIZATION_PATH = '/api/organizations/:organizationId';
export const ORGANIZATION_BY_EXTERNAL_ID_PATH = '/api/organizations/external/:externalId';
export const MEMBERS_PATH = '/api/organizations/:organizationId/members';
export const MEMBER_PATH = '/api/organizations/:organizationId/members/:userId';
export const DOMAINS_PATH = '/api/organizations/:organizationId/domains';
export const DOMAIN_PATH = '/api/organizations/:organizationId/domains/:domainId';
export const DOMAIN_VERIFY_PATH = '/api/organizations/:organizationId/domains/:domainId/verify';
export const DOMAIN_MARK_VERIFIED_PATH = '/api/organizations/:organizationId/domains/:domainId/mark-verified';

export interface OrganizationRouteDeps {
  scopeFor(tenantId: string): TenantScope;
  resolver: TxtResolver;
}


const TAGS = ['Organizations'];
const READ = { permission: 'organizations:read' } as const;
const WRITE = { permission: 'organizations:write' } as const;
// ADR 0009: organization-scoped clients see their own organization through `:organizationId` routes (the bearer hook
// checks the parameter); these declare what they do for such a client instead.
const FILTERS = { organization: 'filters' } as const;
/** The organization itself (create, change, delete) and hand verification stay with the tenant's administrators. */
const DENY = { organization: 'deny' } as const;
const confinedNote = ' An organization-scoped client (ADR 0009) cannot call this (403).';
const windowDays = DOMAIN_VERIFICATION_WINDOW_MS / 86_400_000;

export function organizationRoutes(app: FastifyInstance, deps: OrganizationRouteDeps) {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const scopeOf = (tenantId: string) => deps.scopeFor(tenantId);

  r.post(ORGANIZATIONS_PATH, {
    config: { ...WRITE, ...DENY },
    schema: {
      operationId: 'organizations.create',
      tags: TAGS,
      summary: 'Create an organization',
      description:
        'An organization is one of your B2B customers: its members, verified domains and (later) SSO connections and directories hang off it. ' +
        '`slug` and `externalId` are unique in the tenant when given (409 otherwise).' + confinedNote,
      body: organizationCreateBody,
      response: { 201: organizationResponse, ...problemResponses(400, 401, 403, 409, 413, 415) },
    },
    handler: async (request, reply) => {
      const org = await createOrganization(scopeOf(request.tenant.id), actorOf(request), request.body);
      return reply.status(201).header('Location', `${ORGANIZATIONS_PATH}/${org.id}`).send(organizationToWire(org));
    },
  });

  r.get(ORGANIZATIONS_PATH, {
    config: { ...READ, ...FILTERS },
    schema: {
      operationId: 'organizations.list',
      tags: TAGS,
      summary: 'List organizations',
      description:
        'Organizations in creation order, one page at a time: pass `nextCursor` as `cursor` for the next page. ' +
        'For an organization-scoped client (ADR 0009), only its own organization.',
      querystring: pageQuery,
      response: { 200: organizationPageResponse, ...problemResponses(400, 401, 403) },
    },
    handler: async (request) => {
      const own = confinedOrganization(request);
      if (own !== undefined) {
        // One page of at most one: nothing follows it.
        const org = request.query.cursor === undefined ? await findOrganization(scopeOf(request.tenant.id), own) : undefined;
        return { items: org ? [organizationToWire(org)] : [], nextCursor: null };
      }
      const page = await listOrganizations(scopeOf(request.tenant.id), request.query);
      return { items: page.items.map(organizationToWire), nextCursor: page.nextCursor };
    },
  });

  r.get(ORGANIZATION_BY_EXTERNAL_ID_PATH, {
    config: { ...READ, ...FILTERS },
    schema: {
      operationId: 'organizations.getByExternalId',
      tags: TAGS,
      summary: 'Find an organization by its externalId',
      description: 'The organization whose `externalId` (your own system\'s id for it) is exactly this value; 404 when there is none.',
      params: externalIdParams,
      response: { 200: organizationResponse, ...problemResponses(400, 401, 403, 404) },
    },
    handler: async (request) => {
      const org = await getOrganizationByExternalId(scopeOf(request.tenant.id), request.params.externalId);
      // Someone else's organization is as unknown as a missing one (ADR 0009).
      assertOrganizationVisible(request, org.id, 'No organization with this externalId in this tenant.');
      return organizationToWire(org);
    },
  });

  r.get(ORGANIZATION_PATH, {
    config: READ,
    schema: {
      operationId: 'organizations.get',
      tags: TAGS,
      summary: 'Get an organization',
      description: 'One organization with its metadata. Members and domains are listed under it (`/members`, `/domains`).',
      params: organizationIdParams,
      response: { 200: organizationResponse, ...problemResponses(400, 401, 403, 404) },
    },
    handler: async (request) => organizationToWire(await getOrganization(scopeOf(request.tenant.id), request.params.organizationId)),
  });

  r.patch(ORGANIZATION_PATH, {
    config: { ...WRITE, ...DENY },
    schema: {
      operationId: 'organizations.update',
      tags: TAGS,
      summary: 'Change an organization',
      description: 'Changes the fields present; `null` removes `slug` or `externalId`. `metadata` is merged: a key set to null is removed.' + confinedNote,
      params: organizationIdParams,
      body: organizationPatchBody,
      response: { 200: organizationResponse, ...problemResponses(400, 401, 403, 404, 409, 413, 415) },
    },
    handler: async (request) =>
      organizationToWire(await updateOrganization(scopeOf(request.tenant.id), actorOf(request), request.params.organizationId, request.body)),
  });

  r.delete(ORGANIZATION_PATH, {
    config: { ...WRITE, ...DENY },
    schema: {
      operationId: 'organizations.delete',
      tags: TAGS,
      summary: 'Delete an organization',
      description:
        'Deletes the organization together with its memberships and domains, in one transaction; its verified domains become free for other organizations. ' +
        'Its organization-scoped machine clients are deleted with it (their tokens stop at once). ' +
        'The users themselves are not deleted. (SSO connections and directories, when they exist, are deleted with it too.)' +
        confinedNote,
      params: organizationIdParams,
      response: { 204: z.null().describe('Deleted.'), ...problemResponses(400, 401, 403, 404) },
    },
    handler: async (request, reply) => {
      await deleteOrganization(scopeOf(request.tenant.id), actorOf(request), request.params.organizationId);
      return reply.status(204).send(null);
    },
  });

  r.get(MEMBERS_PATH, {
    config: READ,
    schema: {
      operationId: 'organizations.members.list',
      tags: TAGS,
      summary: 'List the members of an organization',
      description: 'Members in the order they were added, one page at a time, each with their organization roles.',
      params: organizationIdParams,
      querystring: pageQuery,
      response: { 200: membershipPageResponse, ...problemResponses(400, 401, 403, 404) },
    },
    handler: async (request) => {
      const page = await listMemberships(scopeOf(request.tenant.id), request.params.organizationId, request.query);
      return { items: page.items.map(membershipToWire), nextCursor: page.nextCursor };
    },
  });

  r.get(MEMBER_PATH, {
    config: READ,
    schema: {
      operationId: 'organizations.members.get',
      tags: TAGS,
      summary: 'Get a membership',
      description: 'The membership of one user in this organization, with its organization roles; 404 when the user is not a member.',
      params: memberParams,
      response: { 200: membershipResponse, ...problemResponses(400, 401, 403, 404) },
    },
    handler: async (request) => membershipToWire(await getMembership(scopeOf(request.tenant.id), request.params.organizationId, request.params.userId)),
  });

  r.put(MEMBER_PATH, {
    config: WRITE,
    schema: {
      operationId: 'organizations.members.put',
      tags: TAGS,
      summary: 'Add a member or set their roles',
      description:
        'Adds the user (from `/api/users`) to the organization (201) or replaces the roles of their membership (200). ' +
        'Organization roles are free-form names (lowercase, at most 20 per member) that your application interprets; a user may belong to several organizations.',
      params: memberParams,
      body: membershipBody,
      response: { 200: membershipResponse, 201: membershipResponse, ...problemResponses(400, 401, 403, 404, 413, 415) },
    },
    handler: async (request, reply) => {
      const { organizationId, userId } = request.params;
      const { membership, created } = await setMembership(scopeOf(request.tenant.id), actorOf(request), organizationId, userId, request.body.roles);
      return reply.status(created ? 201 : 200).send(membershipToWire(membership));
    },
  });

  r.delete(MEMBER_PATH, {
    config: WRITE,
    schema: {
      operationId: 'organizations.members.remove',
      tags: TAGS,
      summary: 'Remove a member',
      description: 'Ends the membership; the user stays in the tenant.',
      params: memberParams,
      response: { 204: z.null().describe('Removed.'), ...problemResponses(400, 401, 403, 404) },
    },
    handler: async (request, reply) => {
      await removeMembership(scopeOf(request.tenant.id), actorOf(request), request.params.organizationId, request.params.userId);
      return reply.status(204).send(null);
    },
  });

  r.post(DOMAINS_PATH, {
    config: WRITE,
    schema: {
      operationId: 'organizations.domains.add',
      tags: TAGS,
      summary: 'Add a domain',
      description:
        'Adds a domain as `pending` and returns the TXT record that proves ownership (`txtRecord.name` = `txtRecord.value`). ' +
        `The service looks for it with backoff (after 1, 2, 4 … minutes, at most hourly) for ${windowDays} days, then marks the domain \`failed\`. ` +
        'A domain verified by another organization of this tenant cannot be added (409). Only verified domains route sign-ins or admit users.',
      params: organizationIdParams,
      body: domainCreateBody,
      response: { 201: domainResponse, ...problemResponses(400, 401, 403, 404, 409, 413, 415) },
    },
    handler: async (request, reply) => {
      const { organizationId } = request.params;
      const domain = await addDomain(scopeOf(request.tenant.id), actorOf(request), organizationId, request.body.domain);
      return reply.status(201).header('Location', `${ORGANIZATIONS_PATH}/${organizationId}/domains/${domain.id}`).send(domainToWire(domain));
    },
  });

  r.get(DOMAINS_PATH, {
    config: READ,
    schema: {
      operationId: 'organizations.domains.list',
      tags: TAGS,
      summary: 'List the domains of an organization',
      description: 'All of them (an organization has at most 100), sorted by name.',
      params: organizationIdParams,
      response: { 200: domainListResponse, ...problemResponses(400, 401, 403, 404) },
    },
    handler: async (request) => ({ items: (await listDomains(scopeOf(request.tenant.id), request.params.organizationId)).map(domainToWire) }),
  });

  r.get(DOMAIN_PATH, {
    config: READ,
    schema: {
      operationId: 'organizations.domains.get',
      tags: TAGS,
      summary: 'Get a domain and its verification state',
      description: 'The domain, the TXT record to publish, and where verification stands: attempts so far, the last error, the next check and the end of the window.',
      params: domainParams,
      response: { 200: domainResponse, ...problemResponses(400, 401, 403, 404) },
    },
    handler: async (request) => domainToWire(await getDomain(scopeOf(request.tenant.id), request.params.organizationId, request.params.domainId)),
  });

  r.delete(DOMAIN_PATH, {
    config: WRITE,
    schema: {
      operationId: 'organizations.domains.delete',
      tags: TAGS,
      summary: 'Delete a domain',
      description: 'Removes the claim; a verified domain becomes free for other organizations.',
      params: domainParams,
      response: { 204: z.null().describe('Deleted.'), ...problemResponses(400, 401, 403, 404) },
    },
    handler: async (request, reply) => {
      await deleteDomain(scopeOf(request.tenant.id), actorOf(request), request.params.organizationId, request.params.domainId);
      return reply.status(204).send(null);
    },
  });

  r.post(DOMAIN_VERIFY_PATH, {
    config: WRITE,
    schema: {
      operationId: 'organizations.domains.verify',
      tags: TAGS,
      summary: 'Check the TXT record now',
      description:
        'Looks up the TXT record at once instead of waiting for the next scheduled check. The answer is the domain: `verified`, or still `pending` with `lastError` saying why. ' +
        '409 when the window has ended (`failed`: delete and add the domain again) or another organization has verified the domain.',
      params: domainParams,
      response: { 200: domainResponse, ...problemResponses(400, 401, 403, 404, 409) },
    },
    handler: async (request) =>
      domainToWire(
        await verifyDomainNow(scopeOf(request.tenant.id), actorOf(request), request.params.organizationId, request.params.domainId, { resolver: deps.resolver }),
      ),
  });

  r.post(DOMAIN_MARK_VERIFIED_PATH, {
    config: { ...WRITE, ...DENY },
    schema: {
      operationId: 'organizations.domains.markVerified',
      tags: TAGS,
      summary: 'Mark a domain verified by hand',
      description:
        'For an administrator who has established ownership another way: the domain becomes `verified` with `verificationMethod: manual`, recorded in the audit trail. ' +
        '409 when another organization has verified it.' + confinedNote,
      params: domainParams,
      response: { 200: domainResponse, ...problemResponses(400, 401, 403, 404, 409) },
    },
    handler: async (request) =>
      domainToWire(await markDomainVerified(scopeOf(request.tenant.id), actorOf(request), request.params.organizationId, request.params.domainId)),
  });
}
