/** `/api/tenant`: the tenant this request addresses. The first endpoint guarded by scope `iam/`. */
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { problemResponses } from '../platform/errors/problem-schema.ts';

export const TENANT_PATH = '/api/tenant';

const tenantResponse = z.object({
  id: z.uuid(),
  slug: z.string(),
  displayName: z.string(),
  issuer: z.url(),
  hosts: z.array(z.string()),
});

export function tenantRoutes(app: FastifyInstance, deps: { listHosts: (tenantId: string) => Promise<string[]> }) {
  app.withTypeProvider<ZodTypeProvider>().get(TENANT_PATH, {
    schema: {
      operationId: 'tenant.get',
      tags: ['Tenant'],
      summary: 'Describe the current tenant',
      description: 'The tenant that the request\'s host name resolves to: its id, issuer URL and host names. Requires scope `iam/`.',
      response: { 200: tenantResponse, ...problemResponses(401, 403) },
    },
    handler: async (request) => ({ ...request.tenant, hosts: await deps.listHosts(request.tenant.id) }),
  });
}
