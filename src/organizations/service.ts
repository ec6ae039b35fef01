/**
 * Organizations and their memberships: the rules. Every write is one transaction that also records the audit event.
 *
 * - `externalId` and `slug` are unique per tenant when set (409 naming the field).
 * - `metadata` is a bounded string map; a PATCH merges it and `null` removes a key.
 * - Deleting an organization deletes, in the same transaction, its memberships, domains, SSO connections, directories
 *   and portal links (ON DELETE CASCADE), releasing its verified domains for other organizations; the capabilities
 *   that hold other things of it delete them on `organization.deleted` in the same transaction (machine clients,
 *   bound upstream providers).
 * - Organization roles are free-form names per membership (lowercase URL-safe, at most 20). There is no catalog to
 *   keep in step: the application that reads the roles (in tokens, later) defines what they mean.
 */
import { z } from 'zod';
import type { TenantScope } from '../platform/db.ts';
import { Conflict, Invalid, NotFound } from '../platform/errors/domain.ts';
import { uniqueViolation, foreignKeyViolation } from '../platform/db-errors.ts';
import { decodeCursor, pageOf, type Page } from '../platform/cursor.ts';
import { recordAudit, type Actor } from '../audit/service.ts';
import { findUserById } from '../users/service.ts';
import { previousAttributes, publish } from '../events/in-transaction.ts';
import type { MembershipStatus } from '../db/schema/index.ts';
import { organizationsRepository, type MembershipRow, type OrganizationChanges, type OrganizationRow } from './repository.ts';

import { MAX_MEMBERSHIP_ROLES, METADATA_MAX_KEYS } from './limits.ts';
import { membershipData, organizationData } from './events.ts';

export { MAX_MEMBERSHIP_ROLES, METADATA_MAX_KEY_LENGTH, METADATA_MAX_KEYS, METADATA_MAX_VALUE_LENGTH } from './limits.ts';
export const DEFAULT_PAGE_SIZE = 50;
export const MAX_PAGE_SIZE = 200;

export interface Organization {
  id: string;
  displayName: string;
  slug: string | null;
  externalId: string | null;
  metadata: Record<string, string>;
  createdAt: Date;
  updatedAt: Date;
}

export interface NewOrganization {
  displayName: string;
  slug?: string | null | undefined;
  externalId?: string | null | undefined;
  metadata?: Record<string, string> | undefined;
}

/** `undefined` leaves a field as it is, `null` clears it; metadata keys set to `null` are removed. */
export interface OrganizationPatch {
  displayName?: string | undefined;
  slug?: string | null | undefined;
  externalId?: string | null | undefined;
  metadata?: Record<string, string | null> | undefined;
}

export interface Membership {
  organizationId: string;
  userId: string;
  roles: string[];
  /** `pending`: invited, not yet accepted (src/invitations); it grants nothing until `active`. */
  status: MembershipStatus;
  createdAt: Date;
  updatedAt: Date;
}

export interface PageQuery {
  cursor?: string | undefined;
  limit?: number | undefined;
}

const positionCursor = z.object({ createdAt: z.iso.datetime(), id: z.uuid() });
const uuid = z.uuid();
/** Ids from outside a validated route (e.g. a token request) are checked before they reach a uuid column. */
export const isUuid = (v: string) => uuid.safeParse(v).success;

function toOrganization(r: OrganizationRow): Organization {
  return { id: r.id, displayName: r.displayName, slug: r.slug, externalId: r.externalId, metadata: r.metadata, createdAt: r.createdAt, updatedAt: r.updatedAt };
}

function toMembership(r: MembershipRow): Membership {
  return { organizationId: r.organizationId, userId: r.userId, roles: r.roles, status: r.status, createdAt: r.createdAt, updatedAt: r.updatedAt };
}

function auditView(o: Organization): Record<string, unknown> {
  const { createdAt, updatedAt, ...rest } = o;
  return rest;
}

/** Maps a unique violation on the organization indexes to a 409 naming the field; rethrows anything else. */
function conflictOn(e: unknown): never {
  const constraint = uniqueViolation(e);
  if (constraint === 'organizations_tenant_id_external_id_idx') throw new Conflict('An organization with this externalId already exists in this tenant.', { field: 'externalId' });
  if (constraint === 'organizations_tenant_id_slug_idx') throw new Conflict('An organization with this slug already exists in this tenant.', { field: 'slug' });
  throw e;
}

/** The zod schemas bound each key and value; the key count after a merge is checked here. */
function assertMetadataBounds(metadata: Record<string, string>): void {
  const n = Object.keys(metadata).length;
  if (n > METADATA_MAX_KEYS) throw new Invalid(`metadata has ${n} keys; at most ${METADATA_MAX_KEYS} are allowed.`, { field: 'metadata' });
}

function sameMap(a: Record<string, string>, b: Record<string, string>): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((k) => Object.hasOwn(b, k) && a[k] === b[k]);
}

function limitOf(query: PageQuery): number {
  return Math.min(Math.max(query.limit ?? DEFAULT_PAGE_SIZE, 1), MAX_PAGE_SIZE);
}

export async function createOrganization(scope: TenantScope, actor: Actor, input: NewOrganization): Promise<Organization> {
  const metadata = input.metadata ?? {};
  assertMetadataBounds(metadata);
  return scope.transaction(async (tx) => {
    let row: OrganizationRow;
    try {
      row = await organizationsRepository(tx).insertOrganization({
        displayName: input.displayName,
        slug: input.slug ?? null,
        externalId: input.externalId ?? null,
        metadata,
        // Millisecond precision, so the pagination cursor holds it exactly.
        createdAt: new Date(),
      });
    } catch (e) {
      conflictOn(e);
    }
    const org = toOrganization(row);
    await recordAudit(tx, actor, { action: 'organization.create', targetType: 'organization', targetId: org.id, after: auditView(org) });
    await publish(tx, { type: 'organization.created', organizationId: org.id, data: organizationData(org) });
    return org;
  });
}

export async function findOrganization(scope: TenantScope, id: string): Promise<Organization | undefined> {
  const row = await organizationsRepository(scope).findOrganization(id);
  return row ? toOrganization(row) : undefined;
}

export async function getOrganization(scope: TenantScope, id: string): Promise<Organization> {
  const org = await findOrganization(scope, id);
  if (!org) throw new NotFound('No organization with this id in this tenant.');
  return org;
}

export async function getOrganizationByExternalId(scope: TenantScope, externalId: string): Promise<Organization> {
  const row = await organizationsRepository(scope).findOrganizationByExternalId(externalId);
  if (!row) throw new NotFound('No organization with this externalId in this tenant.');
  return toOrganization(row);
}

export async function listOrganizations(scope: TenantScope, query: PageQuery = {}): Promise<Page<Organization>> {
  const limit = limitOf(query);
  const after = query.cursor !== undefined ? decodeCursor(query.cursor, positionCursor) : undefined;
  const rows = await organizationsRepository(scope).listOrganizations({ after, limit: limit + 1 });
  return pageOf(rows, limit, toOrganization, (r) => ({ createdAt: r.createdAt.toISOString(), id: r.id }));
}

export async function updateOrganization(scope: TenantScope, actor: Actor, id: string, patch: OrganizationPatch): Promise<Organization> {
  return scope.transaction(async (tx) => {
    const repo = organizationsRepository(tx);
    const current = await repo.lockOrganization(id);
    if (!current) throw new NotFound('No organization with this id in this tenant.');
    const changes: OrganizationChanges = {};
    if (patch.displayName !== undefined && patch.displayName !== current.displayName) changes.displayName = patch.displayName;
    if (patch.slug !== undefined && patch.slug !== current.slug) changes.slug = patch.slug;
    if (patch.externalId !== undefined && patch.externalId !== current.externalId) changes.externalId = patch.externalId;
    if (patch.metadata !== undefined) {
      // A Map, so that a key such as `__proto__` is data and never an object's prototype.
      const map = new Map(Object.entries(current.metadata));
      for (const [k, v] of Object.entries(patch.metadata)) {
        if (v === null) map.delete(k);
        else map.set(k, v);
      }
      const merged = Object.fromEntries(map);
      assertMetadataBounds(merged);
      if (!sameMap(merged, current.metadata)) changes.metadata = merged;
    }
    const before = toOrganization(current);
    if (!Object.keys(changes).length) return before;
    let row: OrganizationRow | undefined;
    try {
      row = await repo.updateOrganization(id, changes);
    } catch (e) {
      conflictOn(e);
    }
    const after = toOrganization(row!);
    await recordAudit(tx, actor, { action: 'organization.update', targetType: 'organization', targetId: id, before: auditView(before), after: auditView(after) });
    await publish(tx, { type: 'organization.updated', organizationId: id, data: organizationData(after), previousAttributes: previousAttributes(organizationData(before), organizationData(after)) });
    return after;
  });
}

/**
 * Deletes the organization with its memberships and domains, in one transaction; the audit entry records how many of
 * each went with it. Its subscribers (`organization.deleted`) delete, in the same transaction, what other
 * capabilities bound to it: organization-scoped machine clients and upstream providers bound to it (each audited).
 */
export async function deleteOrganization(scope: TenantScope, actor: Actor, id: string): Promise<{ memberships: number; domains: number }> {
  return scope.transaction(async (tx) => {
    const repo = organizationsRepository(tx);
    const current = await repo.lockOrganization(id);
    if (!current) throw new NotFound('No organization with this id in this tenant.');
    const removed = { memberships: await repo.countMemberships(id), domains: await repo.countDomains(id) };
    // Organization-scoped machine clients and bound upstream providers are deleted by their own capabilities, in this
    // transaction (ADR 0009); the providers' foreign key refuses the deletion if that wiring is missing.
    await publish(tx, { type: 'organization.deleted', organizationId: id, data: organizationData(toOrganization(current)), actor });
    await repo.deleteOrganization(id);
    await recordAudit(tx, actor, {
      action: 'organization.delete',
      targetType: 'organization',
      targetId: id,
      before: { ...auditView(toOrganization(current)), removed },
    });
    return removed;
  });
}

/**
 * Adds `userId` to the organization or replaces the roles of its membership. `created` tells which happened. A
 * pending (invited) membership becomes active: an administrator adding the member directly needs no acceptance.
 */
export async function setMembership(
  scope: TenantScope,
  actor: Actor,
  organizationId: string,
  userId: string,
  roles: string[],
): Promise<{ membership: Membership; created: boolean }> {
  const wanted = [...new Set(roles)].toSorted();
  if (wanted.length > MAX_MEMBERSHIP_ROLES) throw new Invalid(`A membership has at most ${MAX_MEMBERSHIP_ROLES} roles.`, { field: 'roles' });
  return scope.transaction(async (tx) => {
    const repo = organizationsRepository(tx);
    // No lock on the organization: members of one organization are added concurrently; the foreign keys catch a
    // user or organization deleted meanwhile.
    if (!(await repo.findOrganization(organizationId))) throw new NotFound('No organization with this id in this tenant.');
    if (!(await findUserById(tx, userId))) throw new NotFound('No user with this id in this tenant.', { field: 'userId' });
    const before = await repo.findMembership(organizationId, userId);
    if (before && before.status === 'active' && before.roles.join('\n') === wanted.join('\n')) return { membership: toMembership(before), created: false };
    let row: MembershipRow;
    try {
      row = await repo.upsertMembership(organizationId, userId, wanted);
    } catch (e) {
      const fk = foreignKeyViolation(e);
      if (fk === 'organization_memberships_user_fk') throw new NotFound('No user with this id in this tenant.', { field: 'userId' });
      if (fk === 'organization_memberships_organization_fk') throw new NotFound('No organization with this id in this tenant.');
      throw e;
    }
    const membership = toMembership(row);
    if (before) {
      const was = toMembership(before);
      await publish(tx, { type: 'membership.updated', organizationId, data: membershipData(membership), previousAttributes: previousAttributes(membershipData(was), membershipData(membership)) });
    } else await publish(tx, { type: 'membership.created', organizationId, data: membershipData(membership) });
    await recordAudit(tx, actor, {
      action: before ? 'organization.membership.update' : 'organization.membership.add',
      targetType: 'organization',
      targetId: organizationId,
      before: before ? { userId, roles: before.roles, ...(before.status !== 'active' ? { status: before.status } : {}) } : null,
      after: { userId, roles: membership.roles },
    });
    return { membership, created: !before };
  });
}

export async function removeMembership(scope: TenantScope, actor: Actor, organizationId: string, userId: string): Promise<void> {
  await scope.transaction(async (tx) => {
    const removed = await organizationsRepository(tx).deleteMembership(organizationId, userId);
    if (!removed) throw new NotFound('This user is not a member of this organization.');
    await publish(tx, { type: 'membership.deleted', organizationId, data: membershipData(toMembership(removed)) });
    await recordAudit(tx, actor, {
      action: 'organization.membership.remove',
      targetType: 'organization',
      targetId: organizationId,
      before: { userId, roles: removed.roles },
    });
  });
}

export async function getMembership(scope: TenantScope, organizationId: string, userId: string): Promise<Membership> {
  const row = await organizationsRepository(scope).findMembership(organizationId, userId);
  if (!row) throw new NotFound('This user is not a member of this organization.');
  return toMembership(row);
}

export async function listMemberships(scope: TenantScope, organizationId: string, query: PageQuery = {}): Promise<Page<Membership>> {
  await getOrganization(scope, organizationId);
  const limit = limitOf(query);
  const after = query.cursor !== undefined ? decodeCursor(query.cursor, positionCursor) : undefined;
  const rows = await organizationsRepository(scope).listMemberships(organizationId, { after, limit: limit + 1 });
  return pageOf(rows, limit, toMembership, (r) => ({ createdAt: r.createdAt.toISOString(), id: r.userId }));
}

/**
 * For token issuance (oauth): the user's membership of the organization as it stands now, or undefined. Callers
 * read it at each use rather than replaying a stored copy (STYLE §9).
 */
/** The organizations the user is an active member of, with their roles there (the account page). */
export async function organizationsOfUser(scope: TenantScope, userId: string): Promise<{ organizationId: string; displayName: string; roles: string[] }[]> {
  return organizationsRepository(scope).listOrganizationsOfUser(userId);
}

/** In how many organizations the user is a member. */
export async function membershipCountOfUser(scope: TenantScope, userId: string): Promise<number> {
  return organizationsRepository(scope).countMembershipsOfUser(userId);
}

export async function membershipOf(scope: TenantScope, organizationId: string, userId: string): Promise<{ organizationId: string; roles: string[] } | undefined> {
  if (!isUuid(organizationId) || !isUuid(userId)) return undefined;
  const row = await organizationsRepository(scope).findMembership(organizationId, userId);
  // A pending (invited, not accepted) membership grants nothing.
  return row?.status === 'active' ? { organizationId: row.organizationId, roles: row.roles } : undefined;
}

/** A membership that is still pending (invited), or undefined. */
export async function pendingMembershipOf(scope: TenantScope, organizationId: string, userId: string): Promise<{ roles: string[] } | undefined> {
  const row = await organizationsRepository(scope).findMembership(organizationId, userId);
  return row?.status === 'pending' ? { roles: row.roles } : undefined;
}

/**
 * For invitations (inside their transaction): a pending membership with `roles`, or new roles for one still pending.
 * 409 when the user is already an active member. The invitation's own audit entry records it.
 */
export async function addPendingMembership(tx: TenantScope, organizationId: string, userId: string, roles: string[]): Promise<Membership> {
  const wanted = [...new Set(roles)].toSorted();
  if (wanted.length > MAX_MEMBERSHIP_ROLES) throw new Invalid(`A membership has at most ${MAX_MEMBERSHIP_ROLES} roles.`, { field: 'roles' });
  const row = await organizationsRepository(tx).upsertPendingMembership(organizationId, userId, wanted);
  if (!row) throw new Conflict('This user is already a member of this organization.', { field: 'email', userId });
  return toMembership(row);
}

/** For invitations: the pending membership becomes active (undefined when it is not pending: removed, or active already). */
export async function activatePendingMembership(tx: TenantScope, organizationId: string, userId: string): Promise<Membership | undefined> {
  const row = await organizationsRepository(tx).activateMembership(organizationId, userId);
  return row ? toMembership(row) : undefined;
}

/** For invitations: a revoked invitation takes its pending membership with it (an active one stays). */
export async function removePendingMembership(tx: TenantScope, organizationId: string, userId: string): Promise<boolean> {
  return (await organizationsRepository(tx).deletePendingMembership(organizationId, userId)) !== undefined;
}
