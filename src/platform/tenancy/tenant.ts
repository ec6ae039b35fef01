/**
 * A tenant's id as the database vouches for it: read from `tenants.id` or a `tenant_id` column (both typed so in
 * src/db/schema), which the tenancy resolver, tenant creation and the CLI hand on. `forTenant` takes nothing else, so a
 * string from a request, a token or a log line cannot become a tenant scope without a lookup.
 */
export type TenantId = string & { readonly __brand: 'TenantId' };

export interface Tenant {
  id: TenantId;
  slug: string;
  displayName: string;
  /** RFC 8414 §2: the issuer identifier, an https (or, locally, http) URL with no query or fragment. */
  issuer: string;
}

/** Host header values are compared lowercased; a trailing dot is the same host. */
export function normalizeHost(host: string): string {
  return host.trim().toLowerCase().replace(/\.(?=:|$)/, '');
}

/** `acme.example.com:8443` → `acme.example.com`; `[::1]:80` → `[::1]`. */
export function stripPort(host: string): string {
  return host.startsWith('[') ? host.slice(0, host.indexOf(']') + 1) : host.replace(/:\d+$/, '');
}
