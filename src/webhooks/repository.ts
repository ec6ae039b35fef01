/** Drizzle queries for webhook endpoints and their delivery log; every one goes through the tenant scope. */
import { and, asc, desc, eq, isNull, lt, sql } from 'drizzle-orm';
import type { TenantScope } from '../platform/db.ts';
import { webhookDeliveries, webhookEndpoints } from '../db/schema/index.ts';

export type EndpointRow = typeof webhookEndpoints.$inferSelect;
export type EndpointInsert = Omit<typeof webhookEndpoints.$inferInsert, 'tenantId' | 'id' | 'createdAt' | 'updatedAt'>;
export type EndpointChanges = Partial<Omit<EndpointRow, 'tenantId' | 'id' | 'createdAt' | 'updatedAt'>>;
export type DeliveryRow = typeof webhookDeliveries.$inferSelect;
export type DeliveryInsert = Omit<typeof webhookDeliveries.$inferInsert, 'tenantId' | 'id'>;

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

    /**
     * Moves the dispatch cursor from `from` to `to` after a delivery, and ends a failing streak; false when the cursor
     * is no longer at `from` (a replay moved it). Leaves `updated_at` alone: it is not a change of the endpoint.
     */
    async advanceCursor(id: string, from: { xid: string; seq: number } | null, to: { xid: string; seq: number }): Promise<boolean> {
      const e = webhookEndpoints;
      const at = from ? and(eq(e.cursorXid, from.xid), eq(e.cursorSeq, from.seq)) : and(isNull(e.cursorXid), isNull(e.cursorSeq));
      const rows = await scope.update(e, { cursorXid: to.xid, cursorSeq: to.seq, failingSince: null }, and(eq(e.id, id), at)).returning({ id: e.id });
      return rows.length > 0;
    },

    /** Sets the cursor (a replay); null: before every event. */
    async setCursor(id: string, cursor: { xid: string; seq: number } | null): Promise<void> {
      await scope.update(webhookEndpoints, { cursorXid: cursor?.xid ?? null, cursorSeq: cursor?.seq ?? null }, eq(webhookEndpoints.id, id));
    },

    /** Starts a failing streak at `at` unless one is running; the streak's start. */
    async markFailing(id: string, at: Date): Promise<Date> {
      const e = webhookEndpoints;
      const [row] = await scope.update(e, { failingSince: sql`coalesce(${e.failingSince}, ${at.toISOString()}::timestamptz)` }, eq(e.id, id)).returning({ since: e.failingSince });
      return row?.since ?? at;
    },

    async deleteEndpoint(id: string): Promise<EndpointRow | undefined> {
      const [row] = await scope.delete(webhookEndpoints, eq(webhookEndpoints.id, id)).returning();
      return row;
    },

    async insertDeliveries(rows: DeliveryInsert[]): Promise<void> {
      if (rows.length) await scope.insert(webhookDeliveries, rows);
    },

    async insertDelivery(input: DeliveryInsert): Promise<DeliveryRow> {
      const [row] = await scope.insert(webhookDeliveries, input).returning();
      return row!;
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
