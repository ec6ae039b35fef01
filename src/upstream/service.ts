/**
 * Upstream identity providers (the IdPs users sign in with): the rules.
 *
 * - The id is part of the sign-in path (`/signin-azuread<id>`), so it is lowercase URL-safe and at most 64 characters.
 * - The client secret is write-only: sealed (AES-256-GCM) with the context `<tenant>/upstream/<type>/<id>`, so a
 *   sealed value copied to another row or tenant does not open. A PUT without a secret keeps the stored one.
 * - `defaultUserRoles` must name existing roles; including `admin` is allowed but answered with a warning, as the
 *   Bizzkit getting-started guide advises against it.
 * - A provider may be bound to one organization of the tenant (`organizationId`, issue #11 item 4): its sign-ins then
 *   run in that organization's context (src/signin/upstream-routes.ts), `organization_id` routes to it when the
 *   organization has no active connection (src/signin/routing.ts), and it is deleted with the organization
 *   (subscriptions.ts). An unknown organization, or another tenant's, is a 400 on `organizationId` (never a 404: the
 *   provider is the resource here, and another tenant's organization is simply not found in this one).
 *   `defaultOrganizationRoles` are the organization roles of members it adds; a tenant-wide provider has none.
 */
import { z } from 'zod';
import { isIP } from 'node:net';
import type { TenantScope } from '../platform/db.ts';
import type { Keyring } from '../platform/crypto.ts';
import { Conflict, Forbidden, Invalid, NotFound } from '../platform/errors/domain.ts';
import { recordAudit, type Actor, type AuditActor } from '../audit/service.ts';
import type { UpstreamType } from '../db/schema/index.ts';
import { assertMayGrant, assertRolesExist } from '../users/service.ts';
import { foreignKeyViolation, uniqueViolation } from '../platform/db-errors.ts';
import { addressClass, urlProblem } from '../platform/outbound.ts';
import { decodeCursor, pageOf, type Page } from '../platform/cursor.ts';
import { ADMIN_ROLE } from '../platform/permissions.ts';
import { findOrganization, isUuid, MAX_MEMBERSHIP_ROLES } from '../organizations/service.ts';
import { upstreamRepository, type ProviderRow } from './repository.ts';

export const UPSTREAM_ID_PATTERN = /^[a-z0-9][a-z0-9-]{0,63}$/;

/** The sign-in path of each provider type; the provider id is appended: `/signin-azuread<id>`. */
export const SIGNIN_PATH_PREFIX: Record<UpstreamType, string> = {
  AzureAd: '/signin-azuread',
  Google: '/signin-google',
  Auth0: '/signin-auth0',
};

/** Type-specific settings, kept in the `settings` column. */
export interface ProviderSettings {
  /** AzureAd: the directory (tenant) id, or a verified domain, `organizations`, `common`. */
  tenantId?: string;
  /** Google: restricts sign-in to one Google Workspace domain (`hd`). */
  hostedDomain?: string;
  /** Auth0: the tenant's domain, e.g. `example.eu.auth0.com`. */
  domain?: string;
  /** OpenID Provider metadata URL replacing the type's default (sovereign clouds, tests). */
  discoveryUrl?: string;
}

export interface UpstreamProvider {
  type: UpstreamType;
  id: string;
  displayName: string;
  clientId: string;
  settings: ProviderSettings;
  clientSecretSet: boolean;
  clientSecretExpiresAt: Date | null;
  trustAllUsers: boolean;
  defaultUserRoles: string[];
  domains: string[];
  /** The organization it is bound to, or null: tenant-wide. */
  organizationId: string | null;
  /** Organization roles of members it adds (bound providers only; empty for tenant-wide ones). */
  defaultOrganizationRoles: string[];
  createdAt: Date;
  updatedAt: Date;
}

export interface ProviderInput {
  displayName: string;
  clientId: string;
  /** Omitted: keep the stored secret (required when the provider is new). */
  clientSecret?: string | undefined;
  /** Omitted: a new secret has no known expiry, a kept secret keeps its expiry. `null` clears it. */
  clientSecretExpiresAt?: Date | null | undefined;
  settings: ProviderSettings;
  trustAllUsers: boolean;
  defaultUserRoles: string[];
  domains: string[];
  /** Omitted: unchanged (tenant-wide for a new provider). `null`: tenant-wide. */
  organizationId?: string | null | undefined;
  /** Omitted: unchanged, or none when the provider is (or becomes) tenant-wide. */
  defaultOrganizationRoles?: string[] | undefined;
}

const providerCursor = z.object({ type: z.string(), id: z.string() });

export function sealContext(tenantId: string, type: UpstreamType, id: string): string {
  return `${tenantId}/upstream/${type}/${id}`;
}

/** The redirect URI to register at the IdP: the tenant's URL plus the sign-in path. */
export function redirectUri(issuer: string, type: UpstreamType, id: string): string {
  return `${issuer.replace(/\/+$/, '')}${SIGNIN_PATH_PREFIX[type]}${id}`;
}

/**
 * The write-time rule for a discovery URL: the outbound https rule (plain http only to loopback), and no literal
 * address that outbound requests never reach (link-local, metadata such as 169.254.169.254, private, reserved).
 * Whether loopback may be reached is the fetch-time setting (OUTBOUND_ALLOW_LOOPBACK); names are checked after DNS.
 */
export function isAllowedDiscoveryUrl(value: string): boolean {
  if (urlProblem(value, true)) return false;
  const host = new URL(value).hostname.replace(/^\[|\]$/g, '');
  if (!isIP(host)) return true;
  const cls = addressClass(host);
  return cls === 'public' || cls === 'loopback';
}

/** The OpenID Provider metadata URL to use for sign-in: the override, or the type's well-known default. */
export function discoveryUrlOf(provider: Pick<UpstreamProvider, 'type' | 'settings'>): string {
  const s = provider.settings;
  if (s.discoveryUrl) return s.discoveryUrl;
  switch (provider.type) {
    case 'AzureAd':
      return `https://login.microsoftonline.com/${encodeURIComponent(s.tenantId ?? 'organizations')}/v2.0/.well-known/openid-configuration`;
    case 'Google':
      return 'https://accounts.google.com/.well-known/openid-configuration';
    case 'Auth0':
      return `https://${s.domain}/.well-known/openid-configuration`;
  }
}

/** Advice about a configuration that is valid but risky; shown with every response about the provider. */
export function warningsFor(provider: Pick<UpstreamProvider, 'defaultUserRoles' | 'trustAllUsers'>): string[] {
  const warnings: string[] = [];
  if (provider.defaultUserRoles.includes(ADMIN_ROLE)) {
    warnings.push(
      provider.trustAllUsers
        ? 'defaultUserRoles includes "admin" and trustAllUsers is true: everyone who can sign in at this provider becomes an administrator.'
        : 'defaultUserRoles includes "admin": every user created through this provider becomes an administrator. Prefer assigning admin to named users.',
    );
  }
  return warnings;
}

function toProvider(row: ProviderRow): UpstreamProvider {
  return {
    type: row.type,
    id: row.id,
    displayName: row.displayName,
    clientId: row.clientId,
    settings: row.settings as ProviderSettings,
    clientSecretSet: row.clientSecretSealed !== null,
    clientSecretExpiresAt: row.clientSecretExpiresAt,
    trustAllUsers: row.trustAllUsers,
    defaultUserRoles: row.defaultUserRoles,
    domains: row.domains,
    organizationId: row.organizationId,
    defaultOrganizationRoles: row.defaultOrganizationRoles,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
  };
}

/** What the audit trail keeps: the representation, which has `clientSecretSet` and never the secret. */
function auditView(p: UpstreamProvider): Record<string, unknown> {
  const { createdAt, updatedAt, ...rest } = p;
  return rest;
}

/**
 * Who a provider lets in, and as whom: the settings that decide it need an administrator, because a provider that
 * trusts an IdP someone else runs signs them in as anyone (issue #9). Type-specific settings all decide the IdP; the
 * organization binding and its roles decide which organization's members it makes, and with which roles.
 */
function trustSettingsChanged(
  current: ProviderRow | undefined,
  next: { settings: Record<string, string>; trustAllUsers: boolean; domains: string[]; organizationId: string | null; defaultOrganizationRoles: string[] },
): string[] {
  if (!current) return ['a new provider'];
  const changed: string[] = [];
  const before = current.settings as Record<string, string>;
  for (const key of new Set([...Object.keys(before), ...Object.keys(next.settings)])) if (before[key] !== next.settings[key]) changed.push(key);
  if (current.trustAllUsers !== next.trustAllUsers) changed.push('trustAllUsers');
  if (current.domains.toSorted().join() !== next.domains.toSorted().join()) changed.push('domains');
  if (current.organizationId !== next.organizationId) changed.push('organizationId');
  if (current.defaultOrganizationRoles.toSorted().join() !== next.defaultOrganizationRoles.toSorted().join()) changed.push('defaultOrganizationRoles');
  return changed;
}

/**
 * The binding a PUT asks for, given the stored provider: omitted fields keep what is stored; a tenant-wide provider
 * has no organization roles (asking for some is a 400; unbinding drops the stored ones).
 */
async function bindingOf(tx: TenantScope, current: ProviderRow | undefined, input: ProviderInput): Promise<{ organizationId: string | null; defaultOrganizationRoles: string[] }> {
  const organizationId = input.organizationId !== undefined ? input.organizationId : (current?.organizationId ?? null);
  if (organizationId === null) {
    if (input.defaultOrganizationRoles?.length) {
      throw new Invalid('defaultOrganizationRoles needs a provider bound to an organization (organizationId).', { field: 'defaultOrganizationRoles' });
    }
    return { organizationId, defaultOrganizationRoles: [] };
  }
  // Another tenant's organization is not found in this tenant's scope: the same answer as an unknown one.
  if (organizationId !== current?.organizationId && !(isUuid(organizationId) && (await findOrganization(tx, organizationId)))) {
    throw new Invalid('organizationId names no organization of this tenant.', { field: 'organizationId' });
  }
  const roles = input.defaultOrganizationRoles !== undefined ? [...new Set(input.defaultOrganizationRoles)].toSorted() : (current?.defaultOrganizationRoles ?? []);
  if (roles.length > MAX_MEMBERSHIP_ROLES) throw new Invalid(`defaultOrganizationRoles has at most ${MAX_MEMBERSHIP_ROLES} roles.`, { field: 'defaultOrganizationRoles' });
  return { organizationId, defaultOrganizationRoles: roles };
}

function compactSettings(settings: ProviderSettings): Record<string, string> {
  return Object.fromEntries(Object.entries(settings).filter(([, v]) => typeof v === 'string' && v !== '')) as Record<string, string>;
}

/**
 * Creates or replaces a provider (PUT). Returns the provider and whether it was created. Concurrent PUTs of one
 * new id: the one that loses the insert race retries once and replaces the winner's configuration.
 */
export async function putProvider(
  scope: TenantScope,
  keyring: Keyring,
  actor: Actor,
  type: UpstreamType,
  id: string,
  input: ProviderInput,
): Promise<{ provider: UpstreamProvider; created: boolean }> {
  if (!UPSTREAM_ID_PATTERN.test(id)) throw new Invalid('The provider id must be lowercase letters, digits and dashes, at most 64 characters.', { field: 'id' });
  if (input.settings.discoveryUrl !== undefined && !isAllowedDiscoveryUrl(input.settings.discoveryUrl)) {
    throw new Invalid('discoveryUrl must be an https URL (http only for localhost), not a link-local, private or reserved address.', { field: 'discoveryUrl' });
  }
  const defaultUserRoles = [...new Set(input.defaultUserRoles)];
  const domains = [...new Set(input.domains.map((d) => d.toLowerCase()))];
  for (let attempt = 0; ; attempt++) {
    try {
      return await scope.transaction(async (tx) => {
        const repo = upstreamRepository(tx);
        const roles = await assertRolesExist(tx, defaultUserRoles);
        const claimed = await repo.providersClaimingDomains(domains, { type, id });
        if (claimed.length) {
          const taken = domains.filter((d) => claimed.some((p) => p.domains.includes(d)));
          throw new Conflict(`Domain(s) ${taken.join(', ')} already route to ${claimed.map((p) => `${p.type}/${p.id}`).join(', ')}.`, { field: 'domains', domains: taken });
        }
        const current = await repo.lockProvider(type, id);
        if (!current && input.clientSecret === undefined) throw new Invalid('clientSecret is required when creating a provider.', { field: 'clientSecret' });
        const binding = await bindingOf(tx, current, input);
        if (!actor.authority.admin) {
          const changed = trustSettingsChanged(current, { settings: compactSettings(input.settings), trustAllUsers: input.trustAllUsers, domains, ...binding });
          if (changed.length) throw new Forbidden(`Only an administrator may set who a provider trusts (${changed.join(', ')}).`, { reason: 'trust-settings', changed });
          // Roles given to every new user are granted by whoever sets them.
          assertMayGrant(actor, roles.filter((r) => !current!.defaultUserRoles.includes(r.name)));
        }
        const newSecret = input.clientSecret !== undefined;
        const values = {
          displayName: input.displayName,
          clientId: input.clientId,
          clientSecretSealed: newSecret ? keyring.seal(input.clientSecret!, sealContext(tx.tenantId, type, id)) : current!.clientSecretSealed,
          clientSecretExpiresAt: input.clientSecretExpiresAt !== undefined ? input.clientSecretExpiresAt : newSecret ? null : current!.clientSecretExpiresAt,
          settings: compactSettings(input.settings),
          trustAllUsers: input.trustAllUsers,
          defaultUserRoles,
          domains,
          ...binding,
        };
        const row = current ? await repo.updateProvider(type, id, values) : await repo.insertProvider(type, id, values);
        const provider = toProvider(row);
        await recordAudit(tx, actor, {
          action: current ? 'upstream.update' : 'upstream.create',
          targetType: 'upstream',
          targetId: `${type}/${id}`,
          before: current ? auditView(toProvider(current)) : null,
          after: { ...auditView(provider), ...(newSecret ? { clientSecretChanged: true } : {}) },
        });
        return { provider, created: !current };
      });
    } catch (e) {
      if (attempt === 0 && uniqueViolation(e) === 'upstream_providers_pkey') continue;
      // The organization was deleted after it was looked up (its deletion holds the row until it commits).
      if (foreignKeyViolation(e) === 'upstream_providers_organization_fk') throw new Invalid('organizationId names no organization of this tenant.', { field: 'organizationId' });
      throw e;
    }
  }
}

export async function findProvider(scope: TenantScope, type: UpstreamType, id: string): Promise<UpstreamProvider | undefined> {
  const row = await upstreamRepository(scope).findProvider(type, id);
  return row ? toProvider(row) : undefined;
}

export async function getProvider(scope: TenantScope, type: UpstreamType, id: string): Promise<UpstreamProvider> {
  const provider = await findProvider(scope, type, id);
  if (!provider) throw new NotFound(`No ${type} provider "${id}" in this tenant.`);
  return provider;
}

/** For sign-in: the provider with its client secret opened. Never for API responses. */
export async function findProviderWithSecret(
  scope: TenantScope,
  keyring: Keyring,
  type: UpstreamType,
  id: string,
): Promise<(UpstreamProvider & { clientSecret: string | null }) | undefined> {
  const row = await upstreamRepository(scope).findProvider(type, id);
  if (!row) return undefined;
  const clientSecret = row.clientSecretSealed ? keyring.unseal(row.clientSecretSealed, sealContext(scope.tenantId, type, id)) : null;
  return { ...toProvider(row), clientSecret };
}

export async function listProviders(
  scope: TenantScope,
  query: { expiringWithinDays?: number | undefined; cursor?: string | undefined; limit?: number | undefined; now?: Date } = {},
): Promise<Page<UpstreamProvider>> {
  const limit = Math.min(Math.max(query.limit ?? 100, 1), 200);
  const after = query.cursor !== undefined ? decodeCursor(query.cursor, providerCursor) : undefined;
  const expiringBy = query.expiringWithinDays !== undefined ? new Date((query.now ?? new Date()).getTime() + query.expiringWithinDays * 86_400_000) : undefined;
  const rows = await upstreamRepository(scope).listProviders({ expiringBy, after, limit: limit + 1 });
  return pageOf(rows, limit, toProvider, (r) => ({ type: r.type, id: r.id }));
}

/** Deletes a provider and the users' links to it (the users stay). */
export async function deleteProvider(scope: TenantScope, actor: Actor, type: UpstreamType, id: string): Promise<void> {
  await scope.transaction(async (tx) => {
    const repo = upstreamRepository(tx);
    const current = await repo.lockProvider(type, id);
    if (!current) throw new NotFound(`No ${type} provider "${id}" in this tenant.`);
    const unlinkedIdentities = await repo.deleteIdentitiesOf(type, id);
    await repo.deleteProvider(type, id);
    await recordAudit(tx, actor, {
      action: 'upstream.delete',
      targetType: 'upstream',
      targetId: `${type}/${id}`,
      before: { ...auditView(toProvider(current)), unlinkedIdentities },
    });
  });
}

/**
 * The providers bound to an organization, in (created_at, type, id) order: the first is where `organization_id`
 * routes when the organization has no active connection (src/signin/routing.ts).
 */
export async function providersOfOrganization(scope: TenantScope, organizationId: string): Promise<UpstreamProvider[]> {
  if (!isUuid(organizationId)) return [];
  return (await upstreamRepository(scope).providersOfOrganization(organizationId)).map(toProvider);
}

/**
 * For the organization's deletion (subscriptions.ts, in its transaction): deletes the providers bound to it and the
 * users' links to them (the users stay), each audited as `upstream.delete` by whoever deleted the organization.
 */
export async function deleteProvidersOfOrganization(tx: TenantScope, actor: AuditActor, organizationId: string): Promise<void> {
  const repo = upstreamRepository(tx);
  for (const row of await repo.lockProvidersOfOrganization(organizationId)) {
    const unlinkedIdentities = await repo.deleteIdentitiesOf(row.type, row.id);
    await repo.deleteProvider(row.type, row.id);
    await recordAudit(tx, actor, {
      action: 'upstream.delete',
      targetType: 'upstream',
      targetId: `${row.type}/${row.id}`,
      before: { ...auditView(toProvider(row)), unlinkedIdentities },
      after: { reason: 'organization deleted', organizationId },
    });
  }
}
