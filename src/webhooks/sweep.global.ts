/**
 * Webhook upkeep across tenants (hence `.global`): the minutely dispatch sweep (a `webhook-dispatch` job for every
 * tenant with an enabled endpoint, so an event whose commit-time trigger found it still behind the feed's horizon goes
 * out anyway), and the daily pruning of delivery logs.
 */
import { eq, lt } from 'drizzle-orm';
import { forTenant, type GlobalDb } from '../platform/db.ts';
import type { Jobs } from '../platform/jobs.ts';
import { webhookDeliveries, webhookEndpoints } from '../db/schema/index.ts';
import type { TenantId } from '../platform/tenancy/tenant.ts';
import { DISPATCH_QUEUE } from './delivery.ts';

export async function sweepWebhookDispatch(db: GlobalDb, jobs: Jobs): Promise<number> {
  const tenants = await db.selectDistinct({ tenantId: webhookEndpoints.tenantId }).from(webhookEndpoints).where(eq(webhookEndpoints.enabled, true));
  for (const t of tenants) await jobs.send(forTenant(db, t.tenantId as TenantId), DISPATCH_QUEUE, {});
  return tenants.length;
}

export const DELIVERY_LOG_RETENTION_JOB = 'webhook-delivery-log-retention';

/** Deletes delivery log rows older than `retentionDays` (the feed's EVENT_RETENTION_DAYS: an attempt outlives no event). */
export async function pruneDeliveryLogs(db: GlobalDb, retentionDays: number, now = new Date()): Promise<number> {
  const cutoff = new Date(now.getTime() - retentionDays * 86_400_000);
  return (await db.delete(webhookDeliveries).where(lt(webhookDeliveries.attemptedAt, cutoff)).returning({ id: webhookDeliveries.id })).length;
}
