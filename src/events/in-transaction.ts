/**
 * In-transaction events: how one capability reacts to another's change without importing it (STYLE.md §9). The
 * capability that changes something publishes an event inside the transaction of the change; subscribers run in
 * that same transaction, so the change and every reaction to it commit together or not at all (a user deactivated
 * and their tokens revoked is one commit). The event feed (outbox) will be written from the same `publish` call.
 *
 * Subscribers are registered once, at import time of each capability's `subscriptions.ts`, which `src/app.ts`
 * imports; `publish` refuses an event that has no subscriber when the event is one security depends on, so a
 * process that forgot the wiring fails loudly instead of leaving tokens alive.
 */
import type { TenantScope } from '../platform/db.ts';
import type { AuditActor } from '../audit/service.ts';

export type DomainEvent =
  /** A user can no longer sign in: deactivated (`active` false) or deleted. */
  | { type: 'user.deactivated'; userId: string }
  | { type: 'user.deleted'; userId: string }
  /** Created or changed (any attribute, `active` included); in a directory's partition when `tx.directoryId` is set. */
  | { type: 'user.changed'; userId: string }
  /** Members were added to or removed from a group (or the group was deleted): the user or group ids concerned. */
  | { type: 'group.members_changed'; groupId: string; memberIds: string[] }
  /** The password was set, changed or removed by an administrator or SCIM: whoever knew the old one keeps nothing. */
  | { type: 'user.password_changed'; userId: string }
  /** Signed out everywhere by an administrator. */
  | { type: 'user.sessions_revoked'; userId: string }
  | { type: 'client.deleted'; clientId: string }
  /** An organization is about to be deleted by `actor`: what is bound to it goes in the same commit (ADR 0009). */
  | { type: 'organization.deleted'; organizationId: string; actor: AuditActor }
  /** A role is about to be deleted; a subscriber throws a domain error to refuse it. */
  | { type: 'role.deleting'; role: string };

export type DomainEventType = DomainEvent['type'];
type Handler<T extends DomainEventType> = (tx: TenantScope, event: Extract<DomainEvent, { type: T }>) => Promise<void>;

/** Events whose reactions security depends on: publishing one with no subscriber is a wiring bug. */
const MUST_BE_HANDLED: ReadonlySet<DomainEventType> = new Set(['user.deactivated', 'user.deleted', 'user.password_changed', 'user.sessions_revoked', 'client.deleted', 'organization.deleted']);

const handlers = new Map<DomainEventType, Handler<never>[]>();

export function subscribe<T extends DomainEventType>(type: T, handler: Handler<T>): void {
  handlers.set(type, [...(handlers.get(type) ?? []), handler as unknown as Handler<never>]);
}

/** Runs every subscriber of `event.type` in `tx`, in registration order; a subscriber's error aborts the change. */
export async function publish(tx: TenantScope, event: DomainEvent): Promise<void> {
  if (!tx.inTransaction) throw new Error(`event ${event.type} published outside a transaction`);
  const list = handlers.get(event.type) ?? [];
  if (!list.length && MUST_BE_HANDLED.has(event.type)) throw new Error(`event ${event.type} has no subscriber: import the capability subscriptions (src/app.ts)`);
  for (const handler of list) await (handler as unknown as Handler<typeof event.type>)(tx, event as never);
}
