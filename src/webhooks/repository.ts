/** Drizzle queries for webhook endpoints and their delivery log; every one goes through the tenant scope. */
import { and, asc, desc, eq, lt } from 'drizzle-orm';
import type { TenantScope } from '../platform/db.ts';
import { webhookDeliveries, webhookEndpoints } from '../db/schema/index.ts';

export type EndpointRow = typeof webhookEndpoints.$inferSelect;
export type EndpointInsert = Omit<typeof webhookEndpoints.$inferInsert, 'tenantId' | 'id' | 'createdAt' | 'updatedAt'>;
export type EndpointChanges = Partial<Omit<EndpointRow, 'tenantId' | 'id' | 'createdAt' | 'updatedAt'>>;
export type DeliveryRow = typeof webhookDeliveries.$inferSelect;
export type DeliveryInsert = Omit<typeof webhookDeliveries.$inferInsert, 'tenantId' | 'id' | 'attemptedAt'>;

export function webhooksRepository(scope: TenantScope) {
  return {
    async insertEndpoint(input: EndpointInsert): Promise<EndpointRow> {
      const now = new Date();
      const [row] = await scope.insert(webhookEndpoints, { ...input, createdAt: now, updatedAt: now }).returning();
      return row!;
    },

    async findEndpoint(id: string, opts: { lock?: 'update' | 'skip-locked' } = {}): Promise<EndpointRow | undefined> {
      const q = scope.select(webhookEndpoints, eq(webhookEndpoints.id, id));
      const [row] = opts.lock === 'update' ? await q.for('update') : opts.lock === 'skip-locked' ? await q.for('update', { skipLocked: true }) : await q;
      return row;
    },

    async listEndpoints(limit: number): Promise<EndpointRow[]> {
      return scope.select(webhookEndpoints).orderBy(asc(webhookEndpoints.createdAt), asc(webhookEndpoints.id)).limit(limit);
    },

    async countEndpoints(): Promise<number> {
      return scope.count(webhookEndpoints);
    },

    async enabledEndpointIds(): Promise<string[]> {
      return (await scope.selectFields({ id: webhookEndpoints.id }, webhookEndpoints, eq(webhookEndpoints.enabled, true))).map((r) => r.id);
    },

    async hasEnabledEndpoint(): Promise<boolean> {
      return (await scope.selectFields({ id: webhookEndpoints.id }, webhookEndpoints, eq(webhookEndpoints.enabled, true)).limit(1)).length > 0;
    },

    async updateEndpoint(id: string, changes: EndpointChanges): Promise<EndpointRow | undefined> {
      const [row] = await scope.update(webhookEndpoints, { ...changes, updatedAt: new Date() }, eq(webhookEndpoints.id, id)).returning();
      return row;
    },

    /** The dispatch cursor moves without touching `updated_at` (it is not a change of the endpoint). */
    async setCursor(id: string, cursor: { xid: string; seq: number }): Promise<void> {
      await scope.update(webhookEndpoints, { cursorXid: cursor.xid, cursorSeq: cursor.seq }, eq(webhookEndpoints.id, id));
    },

    async deleteEndpoint(id: string): Promise<EndpointRow | undefined> {
      const [row] = await scope.delete(webhookEndpoints, eq(webhookEndpoints.id, id)).returning();
      return row;
    },

    async insertDelivery(input: DeliveryInsert): Promise<void> {
      await scope.insert(webhookDeliveries, input);
    },

    /** Newest first, before `beforeId`. */
    async listDeliveries(endpointId: string, opts: { beforeId?: number | undefined; limit: number }): Promise<DeliveryRow[]> {
      const d = webhookDeliveries;
      return scope
        .select(d, and(eq(d.endpointId, endpointId), opts.beforeId !== undefined ? lt(d.id, opts.beforeId) : undefined))
        .orderBy(desc(d.id))
        .limit(opts.limit);
    },

  };
}
