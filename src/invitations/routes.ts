/**
 * `/api/organizations/{id}/invitations`: invite by email, list with status, resend, revoke. HTTP only; the rules are
 * in service.ts. Permissions are the organization's members permissions (organizations:read / organizations:write),
 * and an organization-scoped client (ADR 0009) manages its own organization's invitations like its members.
 */
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { ScopeFor } from '../platform/db.ts';
import { actorOf } from '../platform/auth.ts';
import { problemResponses } from '../platform/errors/problem-schema.ts';
import { organizationIdParams } from '../organizations/schemas.ts';
import { createInvitation, getInvitation, INVITATIONS_PER_DAY, listInvitations, MAX_SENDS, resendInvitation, revokeInvitation, type InvitationDeps } from './service.ts';
import { invitationCreateBody, invitationCreatedResponse, invitationListQuery, invitationPageResponse, invitationParams, invitationResponse, invitationToWire } from './schemas.ts';

export const INVITATIONS_PATH = '/api/organizations/:organizationId/invitations';
export const INVITATION_PATH = '/api/organizations/:organizationId/invitations/:invitationId';
export const INVITATION_RESEND_PATH = '/api/organizations/:organizationId/invitations/:invitationId/resend';
export const INVITATION_REVOKE_PATH = '/api/organizations/:organizationId/invitations/:invitationId/revoke';

export interface InvitationRouteDeps extends InvitationDeps {
  scopeFor: ScopeFor;
}

const TAGS = ['Organizations'];
const READ = { permission: 'organizations:read' } as const;
const WRITE = { permission: 'organizations:write' } as const;

export function invitationRoutes(app: FastifyInstance, deps: InvitationRouteDeps) {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const scopeOf = (tenantId: Parameters<ScopeFor>[0]) => deps.scopeFor(tenantId);

  r.post(INVITATIONS_PATH, {
    config: WRITE,
    schema: {
      operationId: 'organizations.invitations.create',
      tags: TAGS,
      summary: 'Invite someone by email',
      description:
        'Invites the address into the organization with organization roles: the user with this address (or a new one) gets a `pending` membership, and an email with a single-use link that expires after `expiresInDays`. ' +
        'Accepting it activates the membership and continues with the organization\'s SSO connection when the address\'s domain has one, or lets a new user choose a password. ' +
        `409 when the user is already a member or already has a pending invitation; 429 beyond ${INVITATIONS_PER_DAY} invitations per organization in 24 hours.`,
      params: organizationIdParams,
      body: invitationCreateBody,
      response: { 201: invitationCreatedResponse, ...problemResponses(400, 401, 403, 404, 409, 413, 415, 429) },
    },
    handler: async (request, reply) => {
      const { organizationId } = request.params;
      const { invitation, acceptUrl } = await createInvitation(scopeOf(request.tenant.id), deps, request.tenant, actorOf(request), organizationId, request.body);
      return reply
        .status(201)
        .header('Location', `/api/organizations/${organizationId}/invitations/${invitation.id}`)
        // The link is a credential when it is in the body.
        .header('Cache-Control', 'no-store')
        .send({ ...invitationToWire(invitation), ...(acceptUrl ? { acceptUrl } : {}) });
    },
  });

  r.get(INVITATIONS_PATH, {
    config: READ,
    schema: {
      operationId: 'organizations.invitations.list',
      tags: TAGS,
      summary: 'List the invitations of an organization',
      description: 'Invitations in creation order, one page at a time, each with its status; `status` filters.',
      params: organizationIdParams,
      querystring: invitationListQuery,
      response: { 200: invitationPageResponse, ...problemResponses(400, 401, 403, 404) },
    },
    handler: async (request) => {
      const page = await listInvitations(scopeOf(request.tenant.id), request.params.organizationId, request.query);
      return { items: page.items.map(invitationToWire), nextCursor: page.nextCursor };
    },
  });

  r.get(INVITATION_PATH, {
    config: READ,
    schema: {
      operationId: 'organizations.invitations.get',
      tags: TAGS,
      summary: 'Get an invitation',
      params: invitationParams,
      response: { 200: invitationResponse, ...problemResponses(400, 401, 403, 404) },
    },
    handler: async (request) => invitationToWire(await getInvitation(scopeOf(request.tenant.id), request.params.organizationId, request.params.invitationId)),
  });

  r.post(INVITATION_RESEND_PATH, {
    config: WRITE,
    schema: {
      operationId: 'organizations.invitations.resend',
      tags: TAGS,
      summary: 'Send an invitation again',
      description:
        'Emails a new link (every earlier link stops working) valid for the invitation\'s `expiresInDays` from now; an expired invitation becomes pending again. ' +
        `409 for an accepted or revoked invitation; 429 after ${MAX_SENDS} emails.`,
      params: invitationParams,
      response: { 200: invitationResponse, ...problemResponses(400, 401, 403, 404, 409, 429) },
    },
    handler: async (request) =>
      invitationToWire(await resendInvitation(scopeOf(request.tenant.id), deps, request.tenant, actorOf(request), request.params.organizationId, request.params.invitationId)),
  });

  r.post(INVITATION_REVOKE_PATH, {
    config: WRITE,
    schema: {
      operationId: 'organizations.invitations.revoke',
      tags: TAGS,
      summary: 'Revoke an invitation',
      description: 'The link stops working and the pending membership is removed (the user stays in the tenant). 409 for an accepted or already revoked invitation.',
      params: invitationParams,
      response: { 200: invitationResponse, ...problemResponses(400, 401, 403, 404, 409) },
    },
    handler: async (request) => invitationToWire(await revokeInvitation(scopeOf(request.tenant.id), actorOf(request), request.params.organizationId, request.params.invitationId)),
  });
}
