/**
 * The minutely dispatch sweep across tenants (hence `.global`): a `webhook-dispatch` job for every tenant with an
 * enabled endpoint, so an event whose commit-time trigger found it still behind the feed's horizon goes out anyway.
 */
import { eq } from 'drizzle-orm';
import { forTenant, type GlobalDb } from '../platform/db.ts';
import type { Jobs } from '../platform/jobs.ts';
import { webhookEndpoints } from '../db/schema/index.ts';
import type { TenantId } from '../platform/tenancy/tenant.ts';
import { DISPATCH_QUEUE } from './delivery.ts';

export async function sweepWebhookDispatch(db: GlobalDb, jobs: Jobs): Promise<number> {
  const tenants = await db.selectDistinct({ tenantId: webhookEndpoints.tenantId }).from(webhookEndpoints).where(eq(webhookEndpoints.enabled, true));
  for (const t of tenants) await jobs.send(forTenant(db, t.tenantId as TenantId), DISPATCH_QUEUE, {});
  return tenants.length;
}
