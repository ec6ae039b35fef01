/**
 * The re-check job for pending organization domains, across all tenants (hence `.global`): it finds the domains
 * whose next check is due and runs each one's check through its own tenant scope (domains.ts `recheckDomain`).
 * Run every minute by pg-boss (src/platform/jobs.ts); each domain's own backoff decides when it is due.
 */
import { and, asc, eq, lte } from 'drizzle-orm';
import { forTenant, type GlobalDb } from '../platform/db.ts';
import { organizationDomains } from '../db/schema/index.ts';
import type { TxtResolver } from './dns.ts';
import { recheckDomain } from './domains.ts';

export const DOMAIN_VERIFICATION_JOB = 'organization-domain-verification';
const BATCH = 200;
const PARALLEL_LOOKUPS = 8;

export interface RecheckSummary {
  checked: number;
  verified: number;
  failed: number;
}

export async function recheckDueDomains(deps: { db: GlobalDb; resolver: TxtResolver; now?: Date }): Promise<RecheckSummary> {
  const now = deps.now ?? new Date();
  const due = await deps.db
    .select({ tenantId: organizationDomains.tenantId, id: organizationDomains.id })
    .from(organizationDomains)
    .where(and(eq(organizationDomains.status, 'pending'), lte(organizationDomains.nextCheckAt, now)))
    .orderBy(asc(organizationDomains.nextCheckAt))
    .limit(BATCH);
  const summary: RecheckSummary = { checked: 0, verified: 0, failed: 0 };
  for (let i = 0; i < due.length; i += PARALLEL_LOOKUPS) {
    const statuses = await Promise.all(
      due.slice(i, i + PARALLEL_LOOKUPS).map((d) => recheckDomain(forTenant(deps.db, d.tenantId), d.id, { resolver: deps.resolver, now: () => now })),
    );
    for (const s of statuses) {
      if (s === undefined) continue;
      summary.checked++;
      if (s === 'verified') summary.verified++;
      if (s === 'failed') summary.failed++;
    }
  }
  return summary;
}
