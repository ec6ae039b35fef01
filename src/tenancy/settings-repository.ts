/** Drizzle queries for tenant_settings, through the tenant scope. One row per tenant, created on first change. */
import { eq } from 'drizzle-orm';
import type { TenantScope } from '../platform/db.ts';
import { tenantSettings } from '../db/schema/index.ts';

export function tenantSettingsRepository(scope: TenantScope) {
  return {
    async find() {
      const [row] = await scope.select(tenantSettings, eq(tenantSettings.tenantId, scope.tenantId));
      return row;
    },
    async upsert(set: { scimPasswordChange: boolean; brandLogoUrl: string | null; brandColor: string | null }) {
      const [row] = await scope
        .insert(tenantSettings, set)
        .onConflictDoUpdate({ target: tenantSettings.tenantId, set: { ...set, updatedAt: new Date() } })
        .returning();
      return row!;
    },
  };
}
