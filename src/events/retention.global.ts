/**
 * Feed retention across tenants (hence `.global`): deletes each tenant's events older than the retention period, and
 * records the position it deleted through, so a reader whose cursor is before it gets 410 Gone instead of a feed with
 * a silent hole (docs/adr/0011-event-positions.md). Run daily by pg-boss (src/server.ts); tests call it directly.
 */
import { sql } from 'drizzle-orm';
import type { GlobalDb } from '../platform/db.ts';

export const EVENT_RETENTION_JOB = 'events-retention';

/**
 * For each tenant: the newest event older than the cutoff *and* below the read horizon (every transaction before it
 * has ended, so nothing can still appear before it) becomes the tenant's horizon, and every event at or before it
 * is deleted. Events positioned before an old one are deleted with it even when younger: the horizon is a position,
 * and a cursor is either before it (410) or has seen everything deleted.
 */
export async function deleteExpiredEvents(db: GlobalDb, retentionDays: number, now = new Date()): Promise<number> {
  const cutoff = new Date(now.getTime() - retentionDays * 86_400_000);
  const result = await db.transaction(async (tx) => {
    await tx.execute(sql`
      INSERT INTO event_horizons (tenant_id, deleted_through_xid, deleted_through_seq, updated_at)
      SELECT DISTINCT ON (tenant_id) tenant_id, xid, seq, now()
      FROM events
      WHERE occurred_at < ${cutoff.toISOString()}::timestamptz AND xid < pg_snapshot_xmin(pg_current_snapshot())
      ORDER BY tenant_id, xid DESC, seq DESC
      ON CONFLICT (tenant_id) DO UPDATE
        SET deleted_through_xid = EXCLUDED.deleted_through_xid, deleted_through_seq = EXCLUDED.deleted_through_seq, updated_at = now()
        WHERE (EXCLUDED.deleted_through_xid, EXCLUDED.deleted_through_seq) > (event_horizons.deleted_through_xid, event_horizons.deleted_through_seq)`);
    return tx.execute(sql`
      DELETE FROM events e USING event_horizons h
      WHERE e.tenant_id = h.tenant_id AND (e.xid, e.seq) <= (h.deleted_through_xid, h.deleted_through_seq)`);
  });
  return (result as unknown as { rowCount: number | null }).rowCount ?? 0;
}
