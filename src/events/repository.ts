/**
 * Drizzle queries for the event feed; every one goes through the tenant scope. Positions are (xid, seq): see
 * docs/adr/0011-event-positions.md for why the reader's horizon makes them never skip.
 */
import { asc, desc, eq, inArray, like, or, sql, type SQL } from 'drizzle-orm';
import type { TenantScope } from '../platform/db.ts';
import { eventHorizons, events } from '../db/schema/index.ts';

export type EventRow = typeof events.$inferSelect;
export type EventInsert = Pick<EventRow, 'type' | 'organizationId' | 'directoryId' | 'data' | 'previousAttributes'>;

/** A position in a tenant's feed: the writer's transaction id (decimal text of an xid8) and the insert sequence. */
export interface FeedPosition {
  xid: string;
  seq: number;
}

export interface FeedFilter {
  after?: FeedPosition | undefined;
  /** Exact type names and `prefix.` prefixes (catalog.ts parseTypeFilter); both empty: every type. */
  types?: { exact: string[]; prefixes: string[] } | undefined;
  organizationId?: string | undefined;
  limit: number;
}

/** `LIKE` pattern for names starting with `prefix`, with `%`, `_` and `\` taken literally. */
function startsWith(prefix: string): string {
  return `${prefix.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

export function eventsRepository(scope: TenantScope) {
  return {
    /** In the caller's transaction: `xid` defaults to that transaction's id, `seq` to the next sequence value. */
    async insertEvent(input: EventInsert): Promise<void> {
      await scope.insert(events, { ...input, occurredAt: new Date() });
    },

    /**
     * Events after `after`, in position order, that no running transaction can still precede: only rows whose xid is
     * below the oldest transaction in progress (`pg_snapshot_xmin` of this statement's snapshot). Every transaction
     * below that horizon has ended, so its rows are visible now or never will be; a later read cannot find a new row
     * below a position this one returned.
     */
    async listEvents(filter: FeedFilter): Promise<EventRow[]> {
      const typeConditions: SQL[] = [];
      if (filter.types?.exact.length) typeConditions.push(inArray(events.type, filter.types.exact));
      for (const p of filter.types?.prefixes ?? []) typeConditions.push(like(events.type, startsWith(p)));
      return scope
        .select(
          events,
          sql`${events.xid} < pg_snapshot_xmin(pg_current_snapshot())`,
          filter.after ? sql`(${events.xid}, ${events.seq}) > (${filter.after.xid}::xid8, ${filter.after.seq}::bigint)` : undefined,
          typeConditions.length ? or(...typeConditions) : undefined,
          filter.organizationId !== undefined ? eq(events.organizationId, filter.organizationId) : undefined,
        )
        .orderBy(asc(events.xid), asc(events.seq))
        .limit(filter.limit);
    },

    async findEvent(id: string): Promise<EventRow | undefined> {
      const [row] = await scope.select(events, eq(events.id, id));
      return row;
    },

    /** The newest readable position (below the horizon): every event that becomes readable later sorts after it. */
    async lastReadablePosition(): Promise<FeedPosition | undefined> {
      const [row] = await scope
        .selectFields({ xid: events.xid, seq: events.seq }, events, sql`${events.xid} < pg_snapshot_xmin(pg_current_snapshot())`)
        .orderBy(desc(events.xid), desc(events.seq))
        .limit(1);
      return row;
    },

    /** True when committed events exist that the horizon still holds back (an older transaction is running). */
    async hasHeldBackEvents(after: FeedPosition | undefined): Promise<boolean> {
      const [row] = await scope
        .selectFields(
          { id: events.id },
          events,
          sql`${events.xid} >= pg_snapshot_xmin(pg_current_snapshot())`,
          after ? sql`(${events.xid}, ${events.seq}) > (${after.xid}::xid8, ${after.seq}::bigint)` : undefined,
        )
        .limit(1);
      return row !== undefined;
    },

    /**
     * The oldest transaction still running (`pg_snapshot_xmin` of this statement's snapshot): every transaction below it
     * has ended, so its rows are visible to any statement that starts after this one.
     */
    async snapshotXmin(): Promise<string> {
      const result = await scope.execute(sql`SELECT pg_snapshot_xmin(pg_current_snapshot())::text AS xmin`);
      return (result as unknown as { rows: { xmin: string }[] }).rows[0]!.xmin;
    },

    /** The position the retention job has deleted through, if it has deleted anything in this tenant. */
    async findHorizon(): Promise<FeedPosition | undefined> {
      const [row] = await scope.select(eventHorizons);
      return row ? { xid: row.deletedThroughXid, seq: row.deletedThroughSeq } : undefined;
    },

  };
}

export type EventsRepository = ReturnType<typeof eventsRepository>;
