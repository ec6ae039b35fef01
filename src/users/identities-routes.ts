/** `/api/users/{userId}/identities`: the upstream identities linked to a user, and unlinking one. */
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { ScopeFor, TenantScope } from '../platform/db.ts';
import { actorOf } from '../platform/auth.ts';
import { problemResponses } from '../platform/errors/problem-schema.ts';
import { UPSTREAM_TYPES } from '../db/schema/index.ts';
import { getUser } from './service.ts';
import type { IdentityRow } from './identities.ts';
import { listIdentities, unlinkIdentity } from './identities-service.ts';

/** Where an identity comes from: a tenant-wide upstream type, or `connection` (an organization's SSO connection, `providerId` its id). */
export const IDENTITY_PROVIDER_TYPES = [...UPSTREAM_TYPES, 'connection'] as const;

export const identitySchema = z.object({
  providerType: z.enum(IDENTITY_PROVIDER_TYPES),
  providerId: z.string(),
  subject: z.string(),
  email: z.string().nullable(),
  createdAt: z.iso.datetime(),
  lastSignInAt: z.iso.datetime().nullable(),
});

export function toIdentity(r: IdentityRow): z.infer<typeof identitySchema> {
  return {
    providerType: r.providerType as (typeof IDENTITY_PROVIDER_TYPES)[number],
    providerId: r.providerId,
    subject: r.subject,
    email: r.email,
    createdAt: r.createdAt.toISOString(),
    lastSignInAt: r.lastSignInAt?.toISOString() ?? null,
  };
}

export function identitiesRoutes(app: FastifyInstance, deps: { scopeFor: ScopeFor }) {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const userId = z.object({ userId: z.uuid() });
  r.get('/api/users/:userId/identities', {
    config: { permission: 'users:read' },
    schema: {
      operationId: 'users.identities.list',
      tags: ['Users'],
      summary: "List a user's linked upstream identities",
      description: 'Each is a (provider, subject) pair that signs this user in; linked on first sign-in through that provider.',
      params: userId,
      response: { 200: z.array(identitySchema), ...problemResponses(401, 403, 404) },
    },
    handler: async (request) => {
      const scope = deps.scopeFor(request.tenant.id);
      await getUser(scope, request.params.userId);
      return (await listIdentities(scope, request.params.userId)).map(toIdentity);
    },
  });
  r.delete('/api/users/:userId/identities/:providerType/:providerId/:subject', {
    config: { permission: 'users:write' },
    schema: {
      operationId: 'users.identities.delete',
      tags: ['Users'],
      summary: 'Unlink an upstream identity',
      description: 'The user stays; the next sign-in through that provider is admitted by the provider rules again (verified email or trustAllUsers).',
      params: userId.extend({ providerType: z.enum(IDENTITY_PROVIDER_TYPES), providerId: z.string().max(64), subject: z.string().max(512) }),
      response: { 204: z.null().describe('Unlinked'), ...problemResponses(401, 403, 404) },
    },
    handler: async (request, reply) => {
      const { userId: id, providerType, providerId, subject } = request.params;
      // An administrator may remove the last way in (the account is then reached by invitation or a new password).
      await unlinkIdentity(deps.scopeFor(request.tenant.id), actorOf(request), id, { providerType, providerId, subject });
      return reply.status(204).send(null);
    },
  });
}
