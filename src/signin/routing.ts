/**
 * Enterprise SSO routing (Scalekit's Modular SSO): which upstream provider a sign-in goes to, from
 * `connection_id` > `organization_id` > `domain_hint` > `login_hint` (the email's domain), in that precedence.
 * Until organizations exist, a connection is an upstream provider, named `<type>:<id>` (e.g. `AzureAd:hesehus`)
 * or by its id alone when that is unique. `organization_id` of an existing organization routes nowhere yet (the
 * normal login page); the authorization endpoint validates it and carries it into the tokens (ADR 0009).
 */
import type { TenantScope } from '../platform/db.ts';
import { listProviders, type UpstreamProvider } from '../upstream/service.ts';
import { findOrganization, isUuid } from '../organizations/service.ts';

export interface RoutingHints {
  connectionId?: string | undefined;
  organizationId?: string | undefined;
  domainHint?: string | undefined;
  loginHint?: string | undefined;
}

export type Route = { provider: UpstreamProvider; via: 'connection_id' | 'domain_hint' | 'login_hint' } | { error: string } | undefined;

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

export async function route(scope: TenantScope, hints: RoutingHints): Promise<Route> {
  if (!hints.connectionId && !hints.organizationId && !hints.domainHint && !hints.loginHint) return undefined;
  const providers = await allProviders(scope);
  if (hints.connectionId) {
    const [maybeType, maybeId] = hints.connectionId.includes(':') ? hints.connectionId.split(':', 2) : [undefined, hints.connectionId];
    const matches = providers.filter((p) => p.id === maybeId && (!maybeType || p.type.toLowerCase() === maybeType.toLowerCase()));
    if (matches.length !== 1) return { error: 'Unknown connection_id.' };
    return { provider: matches[0]!, via: 'connection_id' };
  }
  if (hints.organizationId) {
    const known = isUuid(hints.organizationId) && (await findOrganization(scope, hints.organizationId));
    return known ? undefined : { error: 'Unknown organization_id.' };
  }
  if (hints.domainHint) {
    const p = providerForDomain(providers, hints.domainHint);
    return p ? { provider: p, via: 'domain_hint' } : undefined;
  }
  const at = hints.loginHint?.lastIndexOf('@') ?? -1;
  if (hints.loginHint && at > 0) {
    const p = providerForDomain(providers, hints.loginHint.slice(at + 1));
    if (p) return { provider: p, via: 'login_hint' };
  }
  return undefined;
}
