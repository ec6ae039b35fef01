/**
 * The daily check for upstream client secrets about to expire, across all tenants. Unscoped by nature (it reads
 * every tenant), hence `.global`: it only reads, and it reads no secret.
 */
import { and, asc, eq, isNotNull, lte } from 'drizzle-orm';
import type { GlobalDb } from '../platform/db.ts';
import { tenants, upstreamProviders, type UpstreamType } from '../db/schema/index.ts';

export const UPSTREAM_SECRET_EXPIRY_JOB = 'upstream-secret-expiry';
export const EXPIRY_WARNING_DAYS = 30;

export interface ExpiringSecret {
  tenantId: string;
  tenant: string;
  type: UpstreamType;
  id: string;
  displayName: string;
  clientSecretExpiresAt: Date;
  /** Whole days left; negative when already expired. */
  daysLeft: number;
}

interface WarnLogger {
  warn(obj: Record<string, unknown>, msg: string): void;
}

export async function findExpiringSecrets(db: GlobalDb, by: Date): Promise<Omit<ExpiringSecret, 'daysLeft'>[]> {
  const rows = await db
    .select({
      tenantId: upstreamProviders.tenantId,
      tenant: tenants.slug,
      type: upstreamProviders.type,
      id: upstreamProviders.id,
      displayName: upstreamProviders.displayName,
      clientSecretExpiresAt: upstreamProviders.clientSecretExpiresAt,
    })
    .from(upstreamProviders)
    .innerJoin(tenants, eq(tenants.id, upstreamProviders.tenantId))
    .where(and(isNotNull(upstreamProviders.clientSecretExpiresAt), isNotNull(upstreamProviders.clientSecretSealed), lte(upstreamProviders.clientSecretExpiresAt, by)))
    .orderBy(asc(upstreamProviders.clientSecretExpiresAt));
  return rows.map((r) => ({ ...r, clientSecretExpiresAt: r.clientSecretExpiresAt! }));
}

/** The job's handler: one warning line per provider whose secret expires within `withinDays`. */
export async function checkUpstreamSecretExpiry(deps: { db: GlobalDb; log: WarnLogger; now?: Date; withinDays?: number }): Promise<ExpiringSecret[]> {
  const now = deps.now ?? new Date();
  const withinDays = deps.withinDays ?? EXPIRY_WARNING_DAYS;
  const rows = await findExpiringSecrets(deps.db, new Date(now.getTime() + withinDays * 86_400_000));
  const found = rows.map((r) => ({ ...r, daysLeft: Math.floor((r.clientSecretExpiresAt.getTime() - now.getTime()) / 86_400_000) }));
  for (const s of found) {
    deps.log.warn(
      { job: UPSTREAM_SECRET_EXPIRY_JOB, tenant: s.tenant, providerType: s.type, providerId: s.id, expiresAt: s.clientSecretExpiresAt.toISOString(), daysLeft: s.daysLeft },
      s.daysLeft < 0 ? 'upstream client secret has expired' : 'upstream client secret expires soon',
    );
  }
  return found;
}
