/** Drizzle queries for invitations; every one goes through the tenant scope. */
import { and, asc, eq, gt, gte, isNotNull, isNull, lte, sql, type SQL } from 'drizzle-orm';
import type { TenantScope } from '../platform/db.ts';
import { invitations } from '../db/schema/index.ts';

export type InvitationRow = typeof invitations.$inferSelect;
export type InvitationInsert = Omit<typeof invitations.$inferInsert, 'tenantId' | 'id' | 'updatedAt'>;
export const INVITATION_STATUSES = ['pending', 'accepted', 'expired', 'revoked'] as const;
export type InvitationStatus = (typeof INVITATION_STATUSES)[number];

/** The last row of the previous page: (created_at, id) keyset pagination. */
export interface Position {
  createdAt: string;
  id: string;
}

const i = invitations;

/** The SQL for a derived status, as `statusOf` in service.ts computes it. */
function statusIs(status: InvitationStatus, now: Date): SQL {
  switch (status) {
    case 'revoked':
      return isNotNull(i.revokedAt);
    case 'accepted':
      return and(isNull(i.revokedAt), isNotNull(i.acceptedAt))!;
    case 'expired':
      return and(isNull(i.revokedAt), isNull(i.acceptedAt), lte(i.expiresAt, now))!;
    case 'pending':
      return and(isNull(i.revokedAt), isNull(i.acceptedAt), gt(i.expiresAt, now))!;
  }
}

export function invitationsRepository(scope: TenantScope) {
  return {
    async insertInvitation(input: InvitationInsert): Promise<InvitationRow> {
      const [row] = await scope.insert(i, { ...input, updatedAt: input.createdAt }).returning();
      return row!;
    },

    /** `organizationId` null: a tenant-level invitation. */
    async findInvitation(organizationId: string | null, id: string, opts: { lock?: boolean } = {}): Promise<InvitationRow | undefined> {
      const q = scope.select(i, eq(i.id, id), organizationId === null ? isNull(i.organizationId) : eq(i.organizationId, organizationId));
      const [row] = opts.lock ? await q.for('update') : await q;
      return row;
    },

    async findByTokenHash(tokenHash: Buffer, opts: { lock?: boolean } = {}): Promise<InvitationRow | undefined> {
      const q = scope.select(i, eq(i.tokenHash, tokenHash));
      const [row] = opts.lock ? await q.for('update') : await q;
      return row;
    },

    /** A pending (unaccepted, unrevoked, unexpired) invitation of this user to this organization. */
    async findPendingFor(organizationId: string, userId: string, now: Date): Promise<InvitationRow | undefined> {
      const [row] = await scope.select(i, eq(i.organizationId, organizationId), eq(i.userId, userId), statusIs('pending', now));
      return row;
    },

    async listInvitations(organizationId: string, opts: { status?: InvitationStatus | undefined; now: Date; after?: Position | undefined; limit: number }): Promise<InvitationRow[]> {
      const after = opts.after ? sql`(${i.createdAt}, ${i.id}) > (${opts.after.createdAt}::timestamptz, ${opts.after.id}::uuid)` : undefined;
      return scope
        .select(i, eq(i.organizationId, organizationId), opts.status ? statusIs(opts.status, opts.now) : undefined, after)
        .orderBy(asc(i.createdAt), asc(i.id))
        .limit(opts.limit);
    },

    /** Invitations of the organization created since `since` (the abuse limit). */
    async countCreatedSince(organizationId: string, since: Date): Promise<number> {
      return scope.count(i, eq(i.organizationId, organizationId), gte(i.createdAt, since));
    },

    /** A new link: the old token stops working at once. */
    async replaceToken(id: string, tokenHash: Buffer, expiresAt: Date, sentAt: Date | null): Promise<InvitationRow | undefined> {
      const [row] = await scope
        .update(i, { tokenHash, expiresAt, updatedAt: new Date(), ...(sentAt ? { lastSentAt: sentAt, sendCount: sql`${i.sendCount} + 1` } : {}) }, eq(i.id, id))
        .returning();
      return row;
    },

    async markSent(id: string, at: Date): Promise<void> {
      await scope.update(i, { lastSentAt: at, sendCount: sql`${i.sendCount} + 1`, updatedAt: at }, eq(i.id, id));
    },

    async markRevoked(id: string, at: Date): Promise<InvitationRow | undefined> {
      const [row] = await scope.update(i, { revokedAt: at, updatedAt: at }, eq(i.id, id), isNull(i.revokedAt), isNull(i.acceptedAt)).returning();
      return row;
    },

    /**
     * Single use, atomically: only a pending invitation whose token is still `tokenHash` is accepted, by exactly one
     * of any concurrent attempts (conditional UPDATE … RETURNING, STYLE §9).
     */
    async consume(tokenHash: Buffer, at: Date): Promise<InvitationRow | undefined> {
      const [row] = await scope
        .update(i, { acceptedAt: at, updatedAt: at }, eq(i.tokenHash, tokenHash), isNull(i.acceptedAt), isNull(i.revokedAt), gt(i.expiresAt, at))
        .returning();
      return row;
    },
  };
}
