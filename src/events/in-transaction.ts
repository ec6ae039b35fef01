/**
 * In-transaction events: how one capability reacts to another's change without importing it (STYLE.md §9), and how
 * every change reaches the event feed (the transactional outbox, issue #13). The capability that changes something
 * publishes an event inside the transaction of the change; subscribers run in that same transaction, and a feed
 * event's row is written in it, so the change, every reaction to it and its feed entry commit together or not at all.
 *
 * ## API (for every capability)
 *
 *   await publish(tx, {
 *     type: 'organization.directory.user_created', // defined in the catalog (catalog.ts: defineFeedEvents)
 *     organizationId,                              // when the change belongs to an organization (filters, org tokens)
 *     directoryId,                                 // when it came from a directory
 *     data,                                        // the resource as it is after the change (as it was, on deletes)
 *     previousAttributes,                          // updates: changed fields before the change (catalog.ts helper)
 *     actor,                                       // optional: who did it, for subscribers' audit entries (not fed)
 *   });
 *
 * `tx` must be a transaction scope (`scope.transaction(tx => …)`). A feed event is validated against its catalog
 * schema (a mismatch is a bug and throws), written to `events` with its position, then handed to the subscribers of
 * its type. Internal events (`DomainEvent` below: no `data`) are not written to the feed; they exist for reactions
 * the feed has no business showing (a password changed, a role about to be deleted).
 *
 * Subscribers are registered once, at import time of each capability's `subscriptions.ts`, which `src/app.ts`
 * imports; `publish` refuses an event that has no subscriber when the event is one security depends on, so a
 * process that forgot the wiring fails loudly instead of leaving tokens alive.
 */
import type { TenantScope } from '../platform/db.ts';
import type { AuditActor } from '../audit/service.ts';
import { feedEventDefinition, type FeedEventData, type FeedEventType } from './catalog.ts';
import { eventsRepository } from './repository.ts';

export type { FeedEventData, FeedEventType } from './catalog.ts';
export { defineFeedEvents, previousAttributes } from './catalog.ts';

/** A direct member of a group (SCIM `members[].type`). */
export type GroupMemberRef = { id: string; type: 'User' | 'Group' };

/** Events for reactions only: never written to the feed. */
export type DomainEvent =
  /** A user can no longer sign in: deactivated (`active` false) or deleted (the feed's `user.deleted` also runs these). */
  | { type: 'user.deactivated'; userId: string }
  /** Created or changed (any attribute, `active` included); in a directory's partition when `tx.directoryId` is set. */
  | { type: 'user.changed'; userId: string }
  /** Direct members were added to or removed from a group, or the group was deleted with them (`groupDeleted`). */
  | { type: 'group.members_changed'; groupId: string; added: GroupMemberRef[]; removed: GroupMemberRef[]; groupDeleted?: boolean }
  /** The password was set, changed or removed by an administrator or SCIM: whoever knew the old one keeps nothing. */
  | { type: 'user.password_changed'; userId: string }
  /** A role is about to be deleted; a subscriber throws a domain error to refuse it. */
  | { type: 'role.deleting'; role: string };

/** A feed event of type `T`: written to the feed, then handed to subscribers. */
export type FeedEventOf<T extends FeedEventType> = {
  type: T;
  organizationId?: string | null | undefined;
  directoryId?: string | null | undefined;
  data: FeedEventData[T];
  previousAttributes?: Partial<FeedEventData[T]> | null | undefined;
  /** Who made the change, for subscribers that record audit entries of their own; not part of the feed. */
  actor?: AuditActor | undefined;
};
export type FeedEvent = { [T in FeedEventType]: FeedEventOf<T> }[FeedEventType];

export type PublishedEvent = DomainEvent | FeedEvent;
export type PublishedEventType = PublishedEvent['type'];
type Handler<T extends PublishedEventType> = (tx: TenantScope, event: Extract<PublishedEvent, { type: T }>) => Promise<void>;

/** Events whose reactions security depends on: publishing one with no subscriber is a wiring bug. */
const MUST_BE_HANDLED: ReadonlySet<string> = new Set(['user.deactivated', 'user.deleted', 'user.password_changed', 'session.revoked', 'client.deleted', 'organization.deleted']);

const handlers = new Map<string, Handler<never>[]>();
const feedConsumers: ((tx: TenantScope, event: FeedEvent) => Promise<void>)[] = [];

export function subscribe<T extends PublishedEventType>(type: T, handler: Handler<T>): void {
  handlers.set(type, [...(handlers.get(type) ?? []), handler as unknown as Handler<never>]);
}

/**
 * Runs `handler` in the transaction of every feed event, after the event's row is written: for consumers of the
 * whole feed (webhooks schedule their dispatch in the same commit). It must be cheap and must not publish.
 */
export function subscribeFeed(handler: (tx: TenantScope, event: FeedEvent) => Promise<void>): void {
  feedConsumers.push(handler);
}

function isFeedEvent(event: PublishedEvent): event is FeedEvent {
  return Object.hasOwn(event, 'data');
}

/**
 * Writes a feed event (when it is one), then runs every subscriber of `event.type` in `tx`, in registration order; a
 * subscriber's error aborts the change.
 */
export async function publish(tx: TenantScope, event: PublishedEvent): Promise<void> {
  if (!tx.inTransaction) throw new Error(`event ${event.type} published outside a transaction`);
  const list = handlers.get(event.type) ?? [];
  if (!list.length && MUST_BE_HANDLED.has(event.type)) throw new Error(`event ${event.type} has no subscriber: import the capability subscriptions (src/app.ts)`);
  if (isFeedEvent(event) && writtenInScope(tx, event.type)) {
    await appendToFeed(tx, event);
    for (const consumer of feedConsumers) await consumer(tx, event);
  }
  for (const handler of list) await (handler as unknown as Handler<typeof event.type>)(tx, event as never);
}

/** The feed's namespace for a directory's records (the seeds' `organization.directory.user_created`, …). */
const DIRECTORY_RECORD_EVENTS = 'organization.directory.';

/**
 * A directory's records (ADR 0010) are not the tenant's users and groups: in a directory's partition only the
 * `organization.directory.*` types reach the feed (src/directories/record-events.ts translates `user.*` and `group.*` there);
 * outside one, only the others. The untranslated events still reach their in-transaction subscribers.
 */
function writtenInScope(tx: TenantScope, type: string): boolean {
  return Boolean(tx.directoryId) === type.startsWith(DIRECTORY_RECORD_EVENTS);
}

async function appendToFeed(tx: TenantScope, event: FeedEvent): Promise<void> {
  const def = feedEventDefinition(event.type);
  if (!def) throw new Error(`feed event type ${event.type} is not in the catalog (defineFeedEvents)`);
  const parsed = def.schema.safeParse(event.data);
  if (!parsed.success) throw new Error(`feed event ${event.type}: data does not match its catalog schema: ${parsed.error.message}`);
  await eventsRepository(tx).insertEvent({
    type: event.type,
    organizationId: event.organizationId ?? null,
    directoryId: event.directoryId ?? null,
    // What the schema describes, and nothing more: a field the catalog does not name never reaches the feed.
    data: parsed.data as Record<string, unknown>,
    previousAttributes: (event.previousAttributes as Record<string, unknown> | null | undefined) ?? null,
  });
}
