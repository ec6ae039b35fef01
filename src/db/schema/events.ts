/**
 * The event feed (transactional outbox, issue #13): one row per change, written in the transaction of the change.
 *
 * Position = (`xid`, `seq`): the writer's transaction id (xid8, `pg_current_xact_id()`) and a per-insert sequence.
 * Readers only see rows whose `xid` is below the oldest transaction still running, so a position, once passed, is
 * never followed by an event below it (docs/adr/0011-event-positions.md).
 */
import { sql } from 'drizzle-orm';
import { bigint, bigserial, customType, index, jsonb, pgTable, primaryKey, text, uuid } from 'drizzle-orm/pg-core';
import { tenantId, timestamptz } from './_columns.ts';
import { tenants } from './tenancy.ts';

/** PostgreSQL's 64-bit transaction id; read and written as its decimal text. */
export const xid8 = customType<{ data: string; driverData: string }>({ dataType: () => 'xid8' });

export const events = pgTable(
  'events',
  {
    tenantId: tenantId().references(() => tenants.id, { onDelete: 'cascade' }),
    id: uuid('id').notNull().defaultRandom(),
    /** The writer's top-level transaction id: the first half of the position. */
    xid: xid8('xid').notNull().default(sql`pg_current_xact_id()`),
    /** Order within a transaction (and a tie-breaker nobody else needs): the second half of the position. */
    seq: bigserial('seq', { mode: 'number' }).notNull(),
    /** Catalog name, e.g. `user.updated` (src/events/catalog.ts). */
    type: text('type').notNull(),
    occurredAt: timestamptz('occurred_at').notNull().defaultNow(),
    organizationId: uuid('organization_id'),
    directoryId: uuid('directory_id'),
    /** The resource as it is after the change (as it was, for deletions). */
    data: jsonb('data').$type<Record<string, unknown>>().notNull(),
    /** On updates: the changed fields' values before the change. */
    previousAttributes: jsonb('previous_attributes').$type<Record<string, unknown> | null>(),
  },
  (t) => [
    primaryKey({ name: 'events_pkey', columns: [t.tenantId, t.id] }),
    index('events_tenant_id_xid_seq_idx').on(t.tenantId, t.xid, t.seq),
    index('events_tenant_id_organization_id_xid_seq_idx').on(t.tenantId, t.organizationId, t.xid, t.seq),
    // The retention job's sweep across tenants.
    index('events_occurred_at_idx').on(t.occurredAt),
  ],
);

/**
 * Per tenant, the last position the retention job deleted through: a cursor below it may have lost events, and is
 * answered 410 Gone instead of silently skipping them.
 */
export const eventHorizons = pgTable(
  'event_horizons',
  {
    tenantId: tenantId().references(() => tenants.id, { onDelete: 'cascade' }),
    deletedThroughXid: xid8('deleted_through_xid').notNull(),
    deletedThroughSeq: bigint('deleted_through_seq', { mode: 'number' }).notNull(),
    updatedAt: timestamptz('updated_at').notNull().defaultNow(),
  },
  (t) => [primaryKey({ name: 'event_horizons_pkey', columns: [t.tenantId] })],
);
