/** `/api/tenant`: the tenant this request addresses. The first endpoints guarded by scope `iam/`. */
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Tenant, TenantId } from '../platform/tenancy/tenant.ts';
import { problemResponses } from '../platform/errors/problem-schema.ts';

export const TENANT_PATH = '/api/tenant';

const tenantResponse = z.object({
  id: z.uuid(),
  slug: z.string(),
  displayName: z.string(),
  issuer: z.url(),
  hosts: z.array(z.string()),
});

const tenantPatch = z.strictObject({
  displayName: z.string().trim().min(1).max(200).describe('The name shown to users on sign-in pages.'),
});

export interface TenantRouteDeps {
  listHosts(tenantId: TenantId): Promise<string[]>;
  updateDisplayName(tenantId: TenantId, displayName: string): Promise<Tenant>;
}

export function tenantRoutes(app: FastifyInstance, deps: TenantRouteDeps) {
  const r = app.withTypeProvider<ZodTypeProvider>();
  r.get(TENANT_PATH, {
    schema: {
      operationId: 'tenant.get',
      tags: ['Tenant'],
      summary: 'Describe the current tenant',
      description: "The tenant that the request's host name resolves to: its id, issuer URL and host names. Requires scope `iam/`.",
      response: { 200: tenantResponse, ...problemResponses(401, 403) },
    },
    handler: async (request) => ({ ...request.tenant, hosts: await deps.listHosts(request.tenant.id) }),
  });
  r.patch(TENANT_PATH, {
    schema: {
      operationId: 'tenant.update',
      tags: ['Tenant'],
      summary: 'Rename the current tenant',
      description: 'Changes the display name shown to users. Unknown fields are rejected.',
      body: tenantPatch.meta({ examples: [{ displayName: 'Acme Corporation' }] }),
      response: { 200: tenantResponse, ...problemResponses(400, 401, 403, 413, 415) },
    },
    handler: async (request) => {
      const tenant = await deps.updateDisplayName(request.tenant.id, request.body.displayName);
      return { ...tenant, hosts: await deps.listHosts(tenant.id) };
    },
  });
}
