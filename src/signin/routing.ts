/**
 * Enterprise SSO routing (Scalekit's Modular SSO): where a sign-in goes, from
 * `connection_id` > `organization_id` > `domain_hint` > `login_hint` (the email's domain), in that precedence.
 * - `connection_id`: an organization's connection (its uuid) or a tenant-wide upstream (`AzureAd:hesehus`, or its id
 *   alone when unique). Only active connections route.
 * - `organization_id`: the organization's first active connection in (created_at, id) order; an organization with
 *   none signs in on the login page (still in that organization's context). Unknown: an error.
 * - `domain_hint`, `login_hint`: a domain VERIFIED for an organization routes to that organization's first active
 *   connection; otherwise a tenant-wide upstream that lists the domain (home-realm discovery).
 */
import type { TenantScope } from '../platform/db.ts';
import { listProviders, type UpstreamProvider } from '../upstream/service.ts';
import { findActiveConnection, firstActiveConnection, type RoutableConnection } from '../connections/service.ts';
import { findOrganization, isUuid } from '../organizations/service.ts';
import { organizationForVerifiedDomain } from '../organizations/domains.ts';

export interface RoutingHints {
  connectionId?: string | undefined;
  organizationId?: string | undefined;
  domainHint?: string | undefined;
  loginHint?: string | undefined;
}

type Via = 'connection_id' | 'organization_id' | 'domain_hint' | 'login_hint';
export type Route = { provider: UpstreamProvider; via: Via } | { connection: RoutableConnection; via: Via } | { error: string } | undefined;

export async function allProviders(scope: TenantScope): Promise<UpstreamProvider[]> {
  const out: UpstreamProvider[] = [];
  let cursor: string | undefined;
  do {
    const page = await listProviders(scope, { cursor, limit: 200 });
    out.push(...page.items);
    cursor = page.nextCursor ?? undefined;
  } while (cursor && out.length < 2000);
  return out;
}

export function providerForDomain(providers: UpstreamProvider[], domain: string): UpstreamProvider | undefined {
  const d = domain.trim().toLowerCase();
  return providers.find((p) => p.domains.includes(d));
}

/** A domain or email: the verified organization's connection first, then a tenant-wide upstream listing the domain. */
async function byDomain(scope: TenantScope, domainOrEmail: string, via: Via): Promise<Route> {
  const owner = await organizationForVerifiedDomain(scope, domainOrEmail);
  if (owner) {
    const connection = await firstActiveConnection(scope, owner.organizationId);
    if (connection) return { connection, via };
  }
  const domain = domainOrEmail.slice(domainOrEmail.lastIndexOf('@') + 1);
  const provider = providerForDomain(await allProviders(scope), domain);
  return provider ? { provider, via } : undefined;
}

export async function route(scope: TenantScope, hints: RoutingHints): Promise<Route> {
  if (hints.connectionId) {
    if (isUuid(hints.connectionId)) {
      const connection = await findActiveConnection(scope, hints.connectionId);
      return connection ? { connection, via: 'connection_id' } : { error: 'Unknown connection_id.' };
    }
    const [maybeType, maybeId] = hints.connectionId.includes(':') ? hints.connectionId.split(':', 2) : [undefined, hints.connectionId];
    const matches = (await allProviders(scope)).filter((p) => p.id === maybeId && (!maybeType || p.type.toLowerCase() === maybeType.toLowerCase()));
    if (matches.length !== 1) return { error: 'Unknown connection_id.' };
    return { provider: matches[0]!, via: 'connection_id' };
  }
  if (hints.organizationId) {
    if (!isUuid(hints.organizationId) || !(await findOrganization(scope, hints.organizationId))) return { error: 'Unknown organization_id.' };
    const connection = await firstActiveConnection(scope, hints.organizationId);
    return connection ? { connection, via: 'organization_id' } : undefined;
  }
  if (hints.domainHint) return byDomain(scope, hints.domainHint.trim(), 'domain_hint');
  const at = hints.loginHint?.lastIndexOf('@') ?? -1;
  if (hints.loginHint && at > 0) return byDomain(scope, hints.loginHint.trim(), 'login_hint');
  return undefined;
}
