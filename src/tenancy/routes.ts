/** `/api/tenant`: the tenant this request addresses. The first endpoints guarded by scope `iam/`. */
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Tenant, TenantId } from '../platform/tenancy/tenant.ts';
import { problemResponses } from '../platform/errors/problem-schema.ts';
import type { ScopeFor } from '../platform/db.ts';
import { actorOf } from '../platform/auth.ts';
import type { Actor } from '../audit/service.ts';
import { getTenantSettings, updateTenantSettings } from './settings.ts';

export const TENANT_PATH = '/api/tenant';

const tenantResponse = z.object({
  id: z.uuid(),
  slug: z.string(),
  displayName: z.string(),
  issuer: z.url(),
  hosts: z.array(z.string()),
  settings: z.object({
    scim: z.object({ passwordChange: z.boolean().describe('Provisioning (SCIM PUT/PATCH) may set passwords; a change ends the user\'s sessions and refresh tokens.') }),
    branding: z.object({
      logoUrl: z.string().nullable().describe('Logo shown in the emails the tenant sends (invitations); null: the name alone.'),
      color: z.string().nullable().describe('Accent colour of those emails, #rrggbb; null: the default.'),
    }),
  }),
});

const tenantPatch = z
  .strictObject({
    displayName: z.string().trim().min(1).max(200).optional().describe('The name shown to users on sign-in pages.'),
    scim: z.strictObject({ passwordChange: z.boolean().optional().describe('Default false. /scim/v2/ServiceProviderConfig and /Schemas follow it.') }).optional(),
    branding: z
      .strictObject({
        // https only: a mail client fetching it over http would leak who reads the message to the network.
        logoUrl: z.url({ protocol: /^https$/ }).max(2048).nullable().optional().describe('An https URL of the logo (at most 2048 characters); null removes it.'),
        color: z.string().regex(/^#[0-9a-fA-F]{6}$/, '#rrggbb').nullable().optional().describe('Accent colour, #rrggbb; null restores the default.'),
      })
      .optional(),
  })
  .refine((b) => b.displayName !== undefined || b.scim !== undefined || b.branding !== undefined, { message: 'Send displayName, scim or branding.' });

export interface TenantRouteDeps {
  listHosts(tenantId: TenantId): Promise<string[]>;
  updateDisplayName(tenantId: TenantId, displayName: string, actor: Actor): Promise<Tenant>;
  scopeFor: ScopeFor;
}

export function tenantRoutes(app: FastifyInstance, deps: TenantRouteDeps) {
  const r = app.withTypeProvider<ZodTypeProvider>();
  r.get(TENANT_PATH, {
    config: { permission: 'admin' },
    schema: {
      operationId: 'tenant.get',
      tags: ['Tenant'],
      summary: 'Describe the current tenant',
      description: "The tenant that the request's host name resolves to: its id, issuer URL and host names. Requires scope `iam/`.",
      response: { 200: tenantResponse, ...problemResponses(401, 403) },
    },
    handler: async (request) => ({ ...request.tenant, hosts: await deps.listHosts(request.tenant.id), settings: await getTenantSettings(deps.scopeFor(request.tenant.id)) }),
  });
  r.patch(TENANT_PATH, {
    config: { permission: 'admin' },
    schema: {
      operationId: 'tenant.update',
      tags: ['Tenant'],
      summary: 'Rename the current tenant or change its settings',
      description: 'Changes the display name shown to users, and/or settings (audited as tenant.settings.update; a rename as tenant.update). Unknown fields are rejected.',
      body: tenantPatch.meta({ examples: [{ displayName: 'Acme Corporation' }, { scim: { passwordChange: true } }, { branding: { logoUrl: 'https://acme.example/logo.png', color: '#0b57d0' } }] }),
      response: { 200: tenantResponse, ...problemResponses(400, 401, 403, 413, 415) },
    },
    handler: async (request) => {
      const scope = deps.scopeFor(request.tenant.id);
      const settings = request.body.scim || request.body.branding ? await updateTenantSettings(scope, actorOf(request), request.body) : await getTenantSettings(scope);
      const tenant = request.body.displayName !== undefined ? await deps.updateDisplayName(request.tenant.id, request.body.displayName, actorOf(request)) : request.tenant;
      return { ...tenant, hosts: await deps.listHosts(tenant.id), settings };
    },
  });
}
