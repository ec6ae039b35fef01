/**
 * Daily upkeep of SAML connections across tenants (hence `.global`): each connection with an `idpMetadataUrl` reads
 * its IdP's metadata again through its own tenant scope (service.ts `importSamlMetadata`, audited as the system when
 * something changed), so a certificate rollover the IdP publishes there is picked up before the old certificate
 * expires; and every signing certificate expiring within 30 days, or expired, is reported, one warning line each.
 */
import { asc, eq } from 'drizzle-orm';
import { forTenant, type GlobalDb } from '../platform/db.ts';
import type { Outbound } from '../platform/outbound.ts';
import { systemActor } from '../audit/service.ts';
import { connections, tenants } from '../db/schema/index.ts';
import { certificatesOf, importSamlMetadata } from './service.ts';

export const SAML_UPKEEP_JOB = 'saml-connection-upkeep';
export const CERTIFICATE_WARNING_DAYS = 30;
const BATCH = 1000;

interface UpkeepLogger {
  warn(obj: Record<string, unknown>, msg: string): void;
}

export interface SamlUpkeepSummary {
  refreshed: number;
  changed: number;
  failed: number;
  expiring: { tenant: string; connectionId: string; fingerprint: string; notAfter: string; daysLeft: number }[];
}

export async function samlConnectionUpkeep(deps: { db: GlobalDb; outbound: Outbound; log: UpkeepLogger; now?: Date }): Promise<SamlUpkeepSummary> {
  const now = deps.now ?? new Date();
  const rows = await deps.db
    .select({ tenantId: connections.tenantId, tenant: tenants.slug, issuer: tenants.issuer, id: connections.id, settings: connections.settings })
    .from(connections)
    .innerJoin(tenants, eq(tenants.id, connections.tenantId))
    .where(eq(connections.type, 'saml'))
    .orderBy(asc(connections.tenantId), asc(connections.id))
    .limit(BATCH);
  const summary: SamlUpkeepSummary = { refreshed: 0, changed: 0, failed: 0, expiring: [] };
  for (const row of rows) {
    let settings = row.settings;
    const url = typeof settings.idpMetadataUrl === 'string' ? settings.idpMetadataUrl : undefined;
    if (url) {
      try {
        const r = await importSamlMetadata(forTenant(deps.db, row.tenantId), systemActor(SAML_UPKEEP_JOB), deps.outbound, row.issuer, row.id, { url });
        summary.refreshed++;
        if (r.changed) summary.changed++;
        settings = r.connection.settings;
      } catch (error) {
        summary.failed++;
        deps.log.warn({ job: SAML_UPKEEP_JOB, tenant: row.tenant, connectionId: row.id, url, error: (error as Error).message }, 'SAML metadata refresh failed; the connection keeps its settings');
      }
    }
    for (const c of certificatesOf(settings)) {
      const daysLeft = Math.floor((Date.parse(c.notAfter) - now.getTime()) / 86_400_000);
      if (daysLeft >= CERTIFICATE_WARNING_DAYS) continue;
      summary.expiring.push({ tenant: row.tenant, connectionId: row.id, fingerprint: c.fingerprint, notAfter: c.notAfter, daysLeft });
      deps.log.warn(
        { job: SAML_UPKEEP_JOB, tenant: row.tenant, connectionId: row.id, subject: c.subject, fingerprint: c.fingerprint, notAfter: c.notAfter, daysLeft },
        daysLeft < 0 ? 'SAML signing certificate has expired' : 'SAML signing certificate expires soon',
      );
    }
  }
  return summary;
}
