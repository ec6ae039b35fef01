/**
 * Enterprise SSO routing (Scalekit's Modular SSO): where a sign-in goes, from
 * `connection_id` > `organization_id` > `domain_hint` > `login_hint` (the email's domain), in that precedence.
 * - `connection_id`: an organization's connection (its uuid) or an upstream provider (`AzureAd:hesehus`, or its id
 *   alone when unique), tenant-wide or bound to an organization. Only active connections route. With
 *   `organization_id` as well, a connection or provider of another organization is an error, never a route.
 * - `organization_id`: the organization's sign-in method, in this order: its first active connection in
 *   (created_at, id) order, else its first bound upstream provider in (created_at, type, id) order; an organization
 *   with neither signs in on the login page (still in that organization's context). Unknown: an error.
 * - `domain_hint`, `login_hint`: a domain VERIFIED for an organization routes to that organization's sign-in method
 *   (the same order); otherwise an upstream provider that lists the domain in `domains`, except one bound to another
 *   organization than the one that verified the domain (a verified domain never leads to another organization).
 * A bound provider signs in within its organization (upstream-routes.ts), whichever hint led to it.
 */
import type { TenantScope } from '../platform/db.ts';
import { listProviders, providersOfOrganization, type UpstreamProvider } from '../upstream/service.ts';
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

/** The provider listing `domain`; one bound to an organization only when it is `organizationId` (when given). */
export function providerForDomain(providers: UpstreamProvider[], domain: string, organizationId?: string): UpstreamProvider | undefined {
  const d = domain.trim().toLowerCase();
  return providers.find((p) => p.domains.includes(d) && (organizationId === undefined || p.organizationId === null || p.organizationId === organizationId));
}

/** An organization's sign-in method: its first active connection, else its first bound upstream provider. */
async function organizationRoute(scope: TenantScope, organizationId: string, via: Via): Promise<Route> {
  const connection = await firstActiveConnection(scope, organizationId);
  if (connection) return { connection, via };
  const [provider] = await providersOfOrganization(scope, organizationId);
  return provider ? { provider, via } : undefined;
}

/** A domain or email: the verified organization's sign-in method first, then an upstream listing the domain. */
async function byDomain(scope: TenantScope, domainOrEmail: string, via: Via): Promise<Route> {
  const owner = await organizationForVerifiedDomain(scope, domainOrEmail);
  if (owner) {
    const routed = await organizationRoute(scope, owner.organizationId, via);
    if (routed) return routed;
  }
  const domain = domainOrEmail.slice(domainOrEmail.lastIndexOf('@') + 1);
  const provider = providerForDomain(await allProviders(scope), domain, owner?.organizationId);
  return provider ? { provider, via } : undefined;
}

/** `connection_id`: a connection by uuid, else an upstream provider by `Type:id` or a unique id. */
async function byConnectionId(scope: TenantScope, connectionId: string): Promise<Route> {
  if (isUuid(connectionId)) {
    const connection = await findActiveConnection(scope, connectionId);
    return connection ? { connection, via: 'connection_id' } : { error: 'Unknown connection_id.' };
  }
  const [maybeType, maybeId] = connectionId.includes(':') ? connectionId.split(':', 2) : [undefined, connectionId];
  const matches = (await allProviders(scope)).filter((p) => p.id === maybeId && (!maybeType || p.type.toLowerCase() === maybeType.toLowerCase()));
  if (matches.length !== 1) return { error: 'Unknown connection_id.' };
  return { provider: matches[0]!, via: 'connection_id' };
}

/** The organization a routed connection or provider signs in within; null for a tenant-wide provider. */
function organizationOf(routed: { connection: RoutableConnection } | { provider: UpstreamProvider }): string | null {
  return 'connection' in routed ? routed.connection.organizationId : routed.provider.organizationId;
}

export async function route(scope: TenantScope, hints: RoutingHints): Promise<Route> {
  if (hints.connectionId) {
    const routed = await byConnectionId(scope, hints.connectionId);
    // organization_id=A never leads to organization B's IdP (the membership check at the end would refuse it anyway,
    // after a sign-in, and a join, at B).
    if (routed && !('error' in routed) && hints.organizationId !== undefined) {
      const bound = organizationOf(routed);
      if (bound !== null && bound !== hints.organizationId) return { error: 'connection_id belongs to another organization than organization_id.' };
    }
    return routed;
  }
  if (hints.organizationId) {
    if (!isUuid(hints.organizationId) || !(await findOrganization(scope, hints.organizationId))) return { error: 'Unknown organization_id.' };
    return organizationRoute(scope, hints.organizationId, 'organization_id');
  }
  if (hints.domainHint) return byDomain(scope, hints.domainHint.trim(), 'domain_hint');
  const at = hints.loginHint?.lastIndexOf('@') ?? -1;
  if (hints.loginHint && at > 0) return byDomain(scope, hints.loginHint.trim(), 'login_hint');
  return undefined;
}
