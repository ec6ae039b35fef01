/** Drizzle queries for upstream identity providers; every one goes through the tenant scope. */
import { and, arrayContains, arrayOverlaps, asc, eq, isNotNull, lte, not, sql, type SQL } from 'drizzle-orm';
import type { TenantScope } from '../platform/db.ts';
import { upstreamProviders, userIdentities, type UpstreamType } from '../db/schema/index.ts';

export type ProviderRow = typeof upstreamProviders.$inferSelect;
export type ProviderValues = Omit<typeof upstreamProviders.$inferInsert, 'tenantId' | 'type' | 'id' | 'createdAt' | 'updatedAt'>;

const bindingOrder = [asc(upstreamProviders.createdAt), asc(upstreamProviders.type), asc(upstreamProviders.id)];

export function upstreamRepository(scope: TenantScope) {
  const key = (type: UpstreamType, id: string) => [eq(upstreamProviders.type, type), eq(upstreamProviders.id, id)];
  return {
    async findProvider(type: UpstreamType, id: string): Promise<ProviderRow | undefined> {
      const [row] = await scope.select(upstreamProviders, ...key(type, id));
      return row;
    },

    async lockProvider(type: UpstreamType, id: string): Promise<ProviderRow | undefined> {
      const [row] = await scope.select(upstreamProviders, ...key(type, id)).for('update');
      return row;
    },

    /** All types, ordered by (type, id), after `after`; optionally only secrets expiring by `expiringBy`. */
    async listProviders(opts: { expiringBy?: Date | undefined; after?: { type: string; id: string } | undefined; limit: number }): Promise<ProviderRow[]> {
      const conditions: (SQL | undefined)[] = [];
      if (opts.expiringBy) conditions.push(isNotNull(upstreamProviders.clientSecretExpiresAt), lte(upstreamProviders.clientSecretExpiresAt, opts.expiringBy));
      if (opts.after) conditions.push(sql`(${upstreamProviders.type}, ${upstreamProviders.id}) > (${opts.after.type}, ${opts.after.id})`);
      return scope
        .select(upstreamProviders, ...conditions)
        .orderBy(asc(upstreamProviders.type), asc(upstreamProviders.id))
        .limit(opts.limit);
    },

    async insertProvider(type: UpstreamType, id: string, values: ProviderValues): Promise<ProviderRow> {
      const [row] = await scope.insert(upstreamProviders, { ...values, type, id }).returning();
      return row!;
    },

    async updateProvider(type: UpstreamType, id: string, values: ProviderValues): Promise<ProviderRow> {
      const [row] = await scope.update(upstreamProviders, values, ...key(type, id)).returning();
      return row!;
    },

    async deleteProvider(type: UpstreamType, id: string): Promise<boolean> {
      const rows = await scope.delete(upstreamProviders, ...key(type, id)).returning({ id: upstreamProviders.id });
      return rows.length > 0;
    },

    /** Users' links to this provider; the users themselves stay. */
    async deleteIdentitiesOf(type: UpstreamType, id: string): Promise<number> {
      const rows = await scope
        .delete(userIdentities, eq(userIdentities.providerType, type), eq(userIdentities.providerId, id))
        .returning({ userId: userIdentities.userId });
      return rows.length;
    },

    /** The providers bound to an organization, in (created_at, type, id) order. */
    async providersOfOrganization(organizationId: string): Promise<ProviderRow[]> {
      return scope.select(upstreamProviders, eq(upstreamProviders.organizationId, organizationId)).orderBy(...bindingOrder);
    },

    async lockProvidersOfOrganization(organizationId: string): Promise<ProviderRow[]> {
      return scope.select(upstreamProviders, eq(upstreamProviders.organizationId, organizationId)).orderBy(...bindingOrder).for('update');
    },

    /** Providers whose `defaultUserRoles` name `role`. */
    async providersAssigningRole(role: string): Promise<ProviderRow[]> {
      return scope.select(upstreamProviders, arrayContains(upstreamProviders.defaultUserRoles, [role]));
    },

    /** Other providers that already route one of `domains`. */
    async providersClaimingDomains(domains: string[], except: { type: UpstreamType; id: string }): Promise<ProviderRow[]> {
      if (!domains.length) return [];
      return scope.select(
        upstreamProviders,
        arrayOverlaps(upstreamProviders.domains, domains),
        not(and(eq(upstreamProviders.type, except.type), eq(upstreamProviders.id, except.id))!),
      );
    },
  };
}

export type UpstreamRepository = ReturnType<typeof upstreamRepository>;
