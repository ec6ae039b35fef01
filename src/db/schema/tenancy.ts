/** Tenants and the hostnames that address them. Row-level security limits both, like every tenant-owned table, to the tenant set on the connection; the resolver reads them through the global role. */
import { boolean, index, pgTable, text, uuid } from 'drizzle-orm/pg-core';
import type { TenantId } from '../../platform/tenancy/tenant.ts';
import { tenantId, timestamps } from './_columns.ts';

export const tenants = pgTable('tenants', {
  id: uuid('id').$type<TenantId>().primaryKey().defaultRandom(),
  slug: text('slug').notNull().unique(),
  displayName: text('display_name').notNull(),
  /** The tenant's own URL; `iss` of every token it signs (RFC 8414 §2). */
  issuer: text('issuer').notNull().unique(),
  ...timestamps,
});

export const tenantHosts = pgTable(
  'tenant_hosts',
  {
    /** A Host header value, lowercased: `acme.example.com` or `127.0.0.1:4000`. */
    host: text('host').primaryKey(),
    tenantId: tenantId().references(() => tenants.id, { onDelete: 'cascade' }),
  },
  (t) => [index('tenant_hosts_tenant_id_idx').on(t.tenantId)],
);

/**
 * Settings an administrator changes with `PATCH /api/tenant`: one row per tenant, absent meaning every setting at its
 * default. Tenant-owned (read through `forTenant`, in the transaction that enforces it), unlike the two tables above.
 */
export const tenantSettings = pgTable('tenant_settings', {
  tenantId: tenantId()
    .primaryKey()
    .references(() => tenants.id, { onDelete: 'cascade' }),
  /** SCIM: provisioning may set a user's password with PUT/PATCH (and it ends their sessions). Default off. */
  scimPasswordChange: boolean('scim_password_change').notNull().default(false),
  /** Branding of the emails the tenant sends (and, later, its pages): an https logo URL and a #rrggbb colour. */
  brandLogoUrl: text('brand_logo_url'),
  brandColor: text('brand_color'),
  ...timestamps,
});
