/**
 * Reading the event feed: one tenant's events in position order after an opaque cursor, filtered by type (with
 * `prefix.*` wildcards) and organization. A cursor the retention job has deleted past is 410 Gone rather than a
 * silent jump over the deleted events (docs/adr/0011-event-positions.md).
 */
import { z } from 'zod';
import type { TenantScope } from '../platform/db.ts';
import { Gone } from '../platform/errors/domain.ts';
import { decodeCursor, encodeCursor } from '../platform/cursor.ts';
import { parseTypeFilter } from './catalog.ts';
import { eventsRepository, type EventRow, type FeedPosition } from './repository.ts';

export type { FeedPosition };

export const DEFAULT_EVENTS_LIMIT = 100;
export const MAX_EVENTS_LIMIT = 500;

export interface FeedEventRecord {
  id: string;
  type: string;
  occurredAt: Date;
  /** Opaque cursor of this event: reading `after` it returns what follows it. */
  position: string;
  organizationId: string | null;
  directoryId: string | null;
  data: Record<string, unknown>;
  previousAttributes: Record<string, unknown> | null;
}

export interface FeedQuery {
  after?: string | undefined;
  types?: string[] | undefined;
  organizationId?: string | undefined;
  limit?: number | undefined;
}

export interface FeedPage {
  items: FeedEventRecord[];
  /** Where to continue: the last event's position, or the cursor passed in when nothing followed it. */
  nextCursor: string | null;
  /** True when more events were already readable past this page. */
  hasMore: boolean;
}

// xid8 is an unsigned 64-bit integer: at most 20 decimal digits.
const positionSchema = z.strictObject({ x: z.string().regex(/^\d{1,20}$/), s: z.number().int().min(0) });

export function encodePosition(p: FeedPosition): string {
  return encodeCursor({ x: p.xid, s: p.seq });
}

export function decodePosition(cursor: string): FeedPosition {
  const { x, s } = decodeCursor(cursor, positionSchema);
  return { xid: x, seq: s };
}

export function comparePositions(a: FeedPosition, b: FeedPosition): number {
  const ax = BigInt(a.xid);
  const bx = BigInt(b.xid);
  if (ax !== bx) return ax < bx ? -1 : 1;
  return a.seq - b.seq;
}

function toRecord(r: EventRow): FeedEventRecord {
  return {
    id: r.id,
    type: r.type,
    occurredAt: r.occurredAt,
    position: encodePosition({ xid: r.xid, seq: r.seq }),
    organizationId: r.organizationId,
    directoryId: r.directoryId,
    data: r.data,
    previousAttributes: r.previousAttributes ?? null,
  };
}

export async function findFeedEvent(scope: TenantScope, id: string): Promise<FeedEventRecord | undefined> {
  const row = await eventsRepository(scope).findEvent(id);
  return row ? toRecord(row) : undefined;
}

/** The cursor at the end of what is readable now (null for an empty feed): a new follower starts there. */
export async function feedEnd(scope: TenantScope): Promise<string | null> {
  const p = await eventsRepository(scope).lastReadablePosition();
  return p ? encodePosition(p) : null;
}

/**
 * A cursor for a snapshot about to be read (issue #13 item 4): every event after it belongs to a transaction that may
 * not be visible to reads that start after this call; every event at or before it is visible to them. Read it
 * *before* the snapshot's first query. It is (xmin, 0): `seq` starts at 1, so every event of the oldest running
 * transaction, and of every later one, sorts after it. Following the feed from it replays some changes the snapshot
 * already shows, never misses one.
 */
export async function snapshotCursor(scope: TenantScope): Promise<string> {
  return encodePosition({ xid: await eventsRepository(scope).snapshotXmin(), seq: 0 });
}

/** True when committed events after `after` are still held back by the horizon: read again shortly. */
export async function feedHeldBack(scope: TenantScope, after: string | null): Promise<boolean> {
  return eventsRepository(scope).hasHeldBackEvents(after ? decodePosition(after) : undefined);
}

export async function readFeed(scope: TenantScope, query: FeedQuery = {}): Promise<FeedPage> {
  const limit = Math.min(Math.max(query.limit ?? DEFAULT_EVENTS_LIMIT, 1), MAX_EVENTS_LIMIT);
  const after = query.after !== undefined ? decodePosition(query.after) : undefined;
  const repo = eventsRepository(scope);
  const horizon = await repo.findHorizon();
  // Events at or before the horizon were deleted; a cursor strictly before it would skip the ones between.
  if (after && horizon && comparePositions(after, horizon) < 0) {
    throw new Gone('Events after this cursor have been deleted (retention). Start again from a snapshot, without `after`.', { parameter: 'after' });
  }
  const types = query.types?.length ? parseTypeFilter(query.types) : undefined;
  const rows = await repo.listEvents({
    after,
    types: types && !types.all ? types : undefined,
    organizationId: query.organizationId,
    limit: limit + 1,
  });
  const items = rows.slice(0, limit).map(toRecord);
  return { items, nextCursor: items.at(-1)?.position ?? query.after ?? null, hasMore: rows.length > limit };
}
