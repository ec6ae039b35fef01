/** `/api/keys`: the tenant's signing keys (metadata only) and rotation. Guarded by scope `iam/` like all of `/api`. */
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { ScopeFor, TenantScope } from '../../platform/db.ts';
import { actorOf } from '../../platform/auth.ts';
import { problemResponses } from '../../platform/errors/problem-schema.ts';
import { NotFound } from '../../platform/errors/domain.ts';
import { recordAudit } from '../../audit/service.ts';
import { SIGNING_ALGS, KEY_STATUSES } from '../../db/schema/index.ts';
import type { KeyStore } from '../keys.ts';

export const KEYS_PATH = '/api/keys';

const keyMetadata = z.object({
  kid: z.string(),
  alg: z.enum(SIGNING_ALGS),
  status: z.enum(KEY_STATUSES),
  createdAt: z.date(),
  activatedAt: z.date().nullable(),
  retireAfter: z.date().nullable(),
});

export function keysApiRoutes(app: FastifyInstance, deps: { keys: KeyStore; scopeFor: ScopeFor; maxTokenLifetimeSeconds: number }) {
  const r = app.withTypeProvider<ZodTypeProvider>();
  r.get(KEYS_PATH, {
    config: { permission: 'admin' },
    schema: {
      operationId: 'keys.list',
      tags: ['Keys'],
      summary: 'List signing keys',
      description: '`active` signs; `next` is published in the JWKS and signs after the next rotation; `retired` still verifies until `retireAfter`.',
      response: { 200: z.array(keyMetadata), ...problemResponses(401, 403) },
    },
    handler: async (request) => deps.keys.list(deps.scopeFor(request.tenant.id)),
  });
  r.post(`${KEYS_PATH}/rotate`, {
    config: { permission: 'admin' },
    schema: {
      operationId: 'keys.rotate',
      tags: ['Keys'],
      summary: 'Rotate the signing key',
      description:
        'The `next` key — already in the JWKS, so resource servers that cache the JWKS have it — starts signing; the active key is retired but stays in the JWKS until every token it signed has expired; a new `next` key is published.',
      body: z.strictObject({ alg: z.enum(SIGNING_ALGS).default('ES256') }).nullish(),
      response: { 200: z.object({ active: z.string(), next: z.string(), retired: z.string().nullable() }), ...problemResponses(400, 401, 403) },
    },
    handler: async (request) => {
      const scope = deps.scopeFor(request.tenant.id);
      const alg = request.body?.alg ?? 'ES256';
      const actor = actorOf(request);
      return deps.keys.rotate(scope, alg, deps.maxTokenLifetimeSeconds, (tx, result) =>
        recordAudit(tx, actor, { action: 'keys.rotate', targetType: 'signing-key', targetId: alg, after: result }),
      );
    },
  });
  r.post(`${KEYS_PATH}/:kid/revoke`, {
    config: { permission: 'admin' },
    schema: {
      operationId: 'keys.revoke',
      tags: ['Keys'],
      summary: 'Revoke a compromised signing key',
      description:
        'The key leaves the JWKS and every token it signed stops being accepted at once, on every instance. If it was the signing key, the published `next` key takes over and a new `next` is published. Users holding tokens it signed must sign in again; machine clients fetch new tokens.',
      params: z.strictObject({ kid: z.string().min(1).max(128).describe('The key id (`kid`), as `GET /api/keys` lists it.') }),
      response: { 200: z.object({ revoked: z.string(), active: z.string().nullable() }), ...problemResponses(401, 403, 404) },
    },
    handler: async (request) => {
      const actor = actorOf(request);
      const result = await deps.keys.revoke(deps.scopeFor(request.tenant.id), request.params.kid, (tx, revoked) =>
        recordAudit(tx, actor, { action: 'keys.revoke', targetType: 'signing-key', targetId: revoked.revoked, after: revoked }),
      );
      if (!result) throw new NotFound(`No usable key "${request.params.kid}" in this tenant.`);
      return result;
    },
  });
}
