/** Drizzle queries for organizations, memberships and domains; every one goes through the tenant scope. */
import { and, asc, eq, ne, sql } from 'drizzle-orm';
import type { TenantScope } from '../platform/db.ts';
import { organizationDomains, organizationMemberships, organizations } from '../db/schema/index.ts';

export type OrganizationRow = typeof organizations.$inferSelect;
export type OrganizationInsert = Omit<typeof organizations.$inferInsert, 'tenantId' | 'id' | 'updatedAt'>;
export type OrganizationChanges = Partial<Pick<OrganizationRow, 'displayName' | 'slug' | 'externalId' | 'metadata'>>;
export type MembershipRow = typeof organizationMemberships.$inferSelect;
export type DomainRow = typeof organizationDomains.$inferSelect;
export type DomainInsert = Omit<typeof organizationDomains.$inferInsert, 'tenantId' | 'id' | 'updatedAt'>;
export type DomainChanges = Partial<Omit<DomainRow, 'tenantId' | 'id' | 'organizationId' | 'domain' | 'verificationToken' | 'createdAt' | 'updatedAt'>>;

/** The last row of the previous page: (created_at, id) keyset pagination. */
export interface Position {
  createdAt: string;
  id: string;
}

export function organizationsRepository(scope: TenantScope) {
  return {
    async insertOrganization(input: OrganizationInsert): Promise<OrganizationRow> {
      // updated_at from the same clock as created_at (now() would be the transaction's start, before it).
      const [row] = await scope.insert(organizations, { ...input, updatedAt: input.createdAt }).returning();
      return row!;
    },

    async findOrganization(id: string): Promise<OrganizationRow | undefined> {
      const [row] = await scope.select(organizations, eq(organizations.id, id));
      return row;
    },

    /** The row, locked until the transaction ends. */
    async lockOrganization(id: string): Promise<OrganizationRow | undefined> {
      const [row] = await scope.select(organizations, eq(organizations.id, id)).for('update');
      return row;
    },

    async findOrganizationByExternalId(externalId: string): Promise<OrganizationRow | undefined> {
      const [row] = await scope.select(organizations, eq(organizations.externalId, externalId));
      return row;
    },

    async updateOrganization(id: string, changes: OrganizationChanges): Promise<OrganizationRow | undefined> {
      const [row] = await scope.update(organizations, changes, eq(organizations.id, id)).returning();
      return row;
    },

    /** Deletes the organization; its memberships and domains go with it (ON DELETE CASCADE). */
    async deleteOrganization(id: string): Promise<boolean> {
      return (await scope.delete(organizations, eq(organizations.id, id)).returning({ id: organizations.id })).length > 0;
    },

    /** Organizations in (created_at, id) order after `after`: rows added or removed meanwhile never shift later pages. */
    async listOrganizations(opts: { after?: Position | undefined; limit: number }): Promise<OrganizationRow[]> {
      const after = opts.after ? sql`(${organizations.createdAt}, ${organizations.id}) > (${opts.after.createdAt}::timestamptz, ${opts.after.id}::uuid)` : undefined;
      return scope.select(organizations, after).orderBy(asc(organizations.createdAt), asc(organizations.id)).limit(opts.limit);
    },

    async countMemberships(organizationId: string): Promise<number> {
      return scope.count(organizationMemberships, eq(organizationMemberships.organizationId, organizationId));
    },

    async countMembershipsOfUser(userId: string): Promise<number> {
      return scope.count(organizationMemberships, eq(organizationMemberships.userId, userId));
    },

    /** The user's active memberships with their organizations' names, by name. */
    async listOrganizationsOfUser(userId: string): Promise<{ organizationId: string; displayName: string; roles: string[] }[]> {
      const m = organizationMemberships;
      return scope
        .selectFields({ organizationId: organizations.id, displayName: organizations.displayName, roles: m.roles }, m, eq(m.userId, userId), eq(m.status, 'active'))
        .innerJoin(organizations, and(eq(organizations.tenantId, m.tenantId), eq(organizations.id, m.organizationId)))
        .orderBy(asc(organizations.displayName), asc(organizations.id));
    },

    async findMembership(organizationId: string, userId: string): Promise<MembershipRow | undefined> {
      const [row] = await scope.select(organizationMemberships, eq(organizationMemberships.organizationId, organizationId), eq(organizationMemberships.userId, userId));
      return row;
    },

    /** Adds the membership (active) or replaces its roles, activating a pending one. */
    async upsertMembership(organizationId: string, userId: string, roles: string[]): Promise<MembershipRow> {
      const now = new Date();
      const [row] = await scope
        .insert(organizationMemberships, { organizationId, userId, roles, status: 'active', createdAt: now, updatedAt: now })
        .onConflictDoUpdate({
          target: [organizationMemberships.tenantId, organizationMemberships.organizationId, organizationMemberships.userId],
          set: { roles, status: 'active', updatedAt: now },
        })
        .returning();
      return row!;
    },

    /** Adds a pending membership, or sets the roles of one that is still pending; an active one is left as it is. */
    async upsertPendingMembership(organizationId: string, userId: string, roles: string[]): Promise<MembershipRow | undefined> {
      const now = new Date();
      const m = organizationMemberships;
      const [row] = await scope
        .insert(m, { organizationId, userId, roles, status: 'pending', createdAt: now, updatedAt: now })
        .onConflictDoUpdate({ target: [m.tenantId, m.organizationId, m.userId], set: { roles, updatedAt: now }, setWhere: sql`${m.status} = 'pending'` })
        .returning();
      return row;
    },

    /** pending → active; undefined when there is no pending membership. */
    async activateMembership(organizationId: string, userId: string): Promise<MembershipRow | undefined> {
      const m = organizationMemberships;
      const [row] = await scope.update(m, { status: 'active', updatedAt: new Date() }, eq(m.organizationId, organizationId), eq(m.userId, userId), eq(m.status, 'pending')).returning();
      return row;
    },

    async deletePendingMembership(organizationId: string, userId: string): Promise<MembershipRow | undefined> {
      const m = organizationMemberships;
      const [row] = await scope.delete(m, eq(m.organizationId, organizationId), eq(m.userId, userId), eq(m.status, 'pending')).returning();
      return row;
    },

    async deleteMembership(organizationId: string, userId: string): Promise<MembershipRow | undefined> {
      const [row] = await scope
        .delete(organizationMemberships, eq(organizationMemberships.organizationId, organizationId), eq(organizationMemberships.userId, userId))
        .returning();
      return row;
    },

    /** Members in (created_at, user_id) order after `after`. */
    async listMemberships(organizationId: string, opts: { after?: Position | undefined; limit: number }): Promise<MembershipRow[]> {
      const m = organizationMemberships;
      const after = opts.after ? sql`(${m.createdAt}, ${m.userId}) > (${opts.after.createdAt}::timestamptz, ${opts.after.id}::uuid)` : undefined;
      return scope.select(m, eq(m.organizationId, organizationId), after).orderBy(asc(m.createdAt), asc(m.userId)).limit(opts.limit);
    },

    async insertDomain(input: DomainInsert): Promise<DomainRow> {
      const [row] = await scope.insert(organizationDomains, { ...input, updatedAt: input.createdAt }).returning();
      return row!;
    },

    /** `organizationId` undefined: the domain by id alone (the re-check job knows only the id). */
    async findDomain(organizationId: string | undefined, id: string, opts: { lock?: boolean } = {}): Promise<DomainRow | undefined> {
      const q = scope.select(organizationDomains, eq(organizationDomains.id, id), organizationId ? eq(organizationDomains.organizationId, organizationId) : undefined);
      const [row] = opts.lock ? await q.for('update') : await q;
      return row;
    },

    async listDomains(organizationId: string): Promise<DomainRow[]> {
      return scope.select(organizationDomains, eq(organizationDomains.organizationId, organizationId)).orderBy(asc(organizationDomains.domain));
    },

    async countDomains(organizationId: string): Promise<number> {
      return scope.count(organizationDomains, eq(organizationDomains.organizationId, organizationId));
    },

    /** Callers lock the row first (`findDomain(…, { lock: true })`). */
    async updateDomain(id: string, changes: DomainChanges): Promise<DomainRow | undefined> {
      const [row] = await scope.update(organizationDomains, changes, eq(organizationDomains.id, id)).returning();
      return row;
    },

    async deleteDomain(organizationId: string, id: string): Promise<DomainRow | undefined> {
      const [row] = await scope.delete(organizationDomains, eq(organizationDomains.organizationId, organizationId), eq(organizationDomains.id, id)).returning();
      return row;
    },

    /** The verified claim on `domain`, by whichever organization holds it. */
    async findVerifiedDomain(domain: string, opts: { exceptOrganization?: string } = {}): Promise<DomainRow | undefined> {
      const [row] = await scope.select(
        organizationDomains,
        and(
          eq(organizationDomains.domain, domain),
          eq(organizationDomains.status, 'verified'),
          opts.exceptOrganization ? ne(organizationDomains.organizationId, opts.exceptOrganization) : undefined,
        ),
      );
      return row;
    },
  };
}

export type OrganizationsRepository = ReturnType<typeof organizationsRepository>;
