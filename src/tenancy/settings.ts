/**
 * Tenant settings: what an administrator switches per tenant with `PATCH /api/tenant`. Read through the tenant scope
 * in the transaction that enforces them (never from a per-instance cache, so a change holds on every instance at
 * once); every change is audited. No Fastify types here.
 */
import type { TenantScope } from '../platform/db.ts';
import { recordAudit, type Actor } from '../audit/service.ts';
import { tenantSettingsRepository } from './settings-repository.ts';

export interface TenantBranding {
  /** An https URL of the logo shown in emails; null: the tenant's name alone. */
  logoUrl: string | null;
  /** The accent colour, `#rrggbb`; null: the default. */
  color: string | null;
}

export interface TenantSettings {
  scim: {
    /** Provisioning may set passwords (PUT/PATCH `password`); off by default (STACKIT's documented behaviour). */
    passwordChange: boolean;
  };
  branding: TenantBranding;
}

export const DEFAULT_SETTINGS: TenantSettings = { scim: { passwordChange: false }, branding: { logoUrl: null, color: null } };

export interface TenantSettingsPatch {
  scim?: { passwordChange?: boolean | undefined } | undefined;
  /** `undefined` keeps a field, `null` clears it. */
  branding?: { logoUrl?: string | null | undefined; color?: string | null | undefined } | undefined;
}

type Row = { scimPasswordChange: boolean; brandLogoUrl: string | null; brandColor: string | null };
const toSettings = (row: Row | undefined): TenantSettings =>
  row ? { scim: { passwordChange: row.scimPasswordChange }, branding: { logoUrl: row.brandLogoUrl, color: row.brandColor } } : DEFAULT_SETTINGS;

export async function getTenantSettings(scope: TenantScope): Promise<TenantSettings> {
  return toSettings(await tenantSettingsRepository(scope).find());
}

export async function updateTenantSettings(scope: TenantScope, actor: Actor, patch: TenantSettingsPatch): Promise<TenantSettings> {
  return scope.transaction(async (tx) => {
    const repo = tenantSettingsRepository(tx);
    const before = toSettings(await repo.find());
    const after = toSettings(
      await repo.upsert({
        scimPasswordChange: patch.scim?.passwordChange ?? before.scim.passwordChange,
        brandLogoUrl: patch.branding?.logoUrl !== undefined ? patch.branding.logoUrl : before.branding.logoUrl,
        brandColor: patch.branding?.color !== undefined ? patch.branding.color : before.branding.color,
      }),
    );
    if (JSON.stringify(before) !== JSON.stringify(after)) {
      await recordAudit(tx, actor, { action: 'tenant.settings.update', targetType: 'tenant', targetId: scope.tenantId, before: { ...before }, after: { ...after } });
    }
    return after;
  });
}
