/** Drizzle queries for SSO connections; every one goes through the tenant scope. */
import { and, asc, eq, inArray } from 'drizzle-orm';
import type { TenantScope } from '../platform/db.ts';
import { connections, samlAssertions } from '../db/schema/index.ts';

export type ConnectionRow = typeof connections.$inferSelect;
export type ConnectionInsert = Omit<typeof connections.$inferInsert, 'tenantId' | 'updatedAt'>;
export type ConnectionChanges = Partial<Pick<ConnectionRow, 'displayName' | 'status' | 'settings' | 'secretSealed' | 'spSigningKeySealed' | 'spSigningCert' | 'jitPolicy' | 'defaultOrganizationRoles'>>;

export function connectionsRepository(scope: TenantScope) {
  return {
    async insert(input: ConnectionInsert): Promise<ConnectionRow> {
      const [row] = await scope.insert(connections, { ...input, updatedAt: input.createdAt }).returning();
      return row!;
    },

    async find(id: string): Promise<ConnectionRow | undefined> {
      const [row] = await scope.select(connections, eq(connections.id, id));
      return row;
    },

    async lock(id: string): Promise<ConnectionRow | undefined> {
      const [row] = await scope.select(connections, eq(connections.id, id)).for('update');
      return row;
    },

    async update(id: string, changes: ConnectionChanges): Promise<ConnectionRow | undefined> {
      const [row] = await scope.update(connections, changes, eq(connections.id, id)).returning();
      return row;
    },

    /** True when the assertion ID was new (and is now remembered); false for a replay. */
    async rememberSamlAssertion(connectionId: string, assertionId: string, expiresAt: Date): Promise<boolean> {
      const rows = await scope.insert(samlAssertions, { connectionId, assertionId, expiresAt }).onConflictDoNothing().returning({ id: samlAssertions.assertionId });
      return rows.length === 1;
    },

    async delete(id: string): Promise<boolean> {
      return (await scope.delete(connections, eq(connections.id, id)).returning({ id: connections.id })).length > 0;
    },

    /** An organization's connections in (created_at, id) order: the order `organization_id` routing takes the first of. */
    async listOfOrganization(organizationId: string, opts: { activeOnly?: boolean; limit: number }): Promise<ConnectionRow[]> {
      return scope
        .select(connections, eq(connections.organizationId, organizationId), opts.activeOnly ? eq(connections.status, 'active') : undefined)
        .orderBy(asc(connections.createdAt), asc(connections.id))
        .limit(opts.limit);
    },

    async countOfOrganization(organizationId: string): Promise<number> {
      return scope.count(connections, eq(connections.organizationId, organizationId));
    },

    /** The tenant's SAML connections, any status, in (created_at, id) order (certificate expiry). */
    async listSaml(limit: number): Promise<ConnectionRow[]> {
      return scope.select(connections, eq(connections.type, 'saml')).orderBy(asc(connections.createdAt), asc(connections.id)).limit(limit);
    },

    /** Active connections of several organizations at once (home-realm discovery). */
    async activeOf(organizationIds: string[]): Promise<ConnectionRow[]> {
      if (!organizationIds.length) return [];
      return scope
        .select(connections, and(inArray(connections.organizationId, organizationIds), eq(connections.status, 'active')))
        .orderBy(asc(connections.createdAt), asc(connections.id));
    },
  };
}
