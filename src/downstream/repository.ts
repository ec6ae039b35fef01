/** Drizzle queries for downstream clients, their secrets and the tenant's protected APIs; all through the tenant scope. */
import { and, asc, eq, inArray } from 'drizzle-orm';
import type { TenantScope } from '../platform/db.ts';
import { clients, clientSecrets, protectedApis, type ClientType } from '../db/schema/index.ts';

export type ClientRow = typeof clients.$inferSelect;
export type ClientInsert = Omit<typeof clients.$inferInsert, 'tenantId'>;
export type SecretRow = typeof clientSecrets.$inferSelect;

export function clientsRepository(scope: TenantScope) {
  return {
    async findClient(clientId: string): Promise<ClientRow | undefined> {
      const [row] = await scope.select(clients, eq(clients.clientId, clientId));
      return row;
    },

    async listClients(type?: ClientType): Promise<ClientRow[]> {
      return scope.select(clients, type ? eq(clients.clientType, type) : undefined).orderBy(asc(clients.clientId)).limit(1000);
    },

    /** Row lock for create-or-replace: concurrent PUTs of one client serialize here. */
    async lockClient(clientId: string): Promise<ClientRow | undefined> {
      const [row] = await scope.select(clients, eq(clients.clientId, clientId)).for('update');
      return row;
    },

    async insertClient(input: ClientInsert): Promise<ClientRow> {
      const [row] = await scope.insert(clients, input).returning();
      return row!;
    },

    async updateClient(clientId: string, set: Partial<ClientInsert>): Promise<ClientRow> {
      const [row] = await scope.update(clients, set, eq(clients.clientId, clientId)).returning();
      return row!;
    },

    /** The organization-scoped clients of one organization, locked: they are deleted with it (ADR 0009). */
    async lockClientsOfOrganization(organizationId: string): Promise<ClientRow[]> {
      return scope.select(clients, eq(clients.organizationId, organizationId)).orderBy(asc(clients.clientId)).for('update');
    },

    async deleteClient(clientId: string): Promise<boolean> {
      const rows = await scope.delete(clients, eq(clients.clientId, clientId)).returning({ clientId: clients.clientId });
      return rows.length > 0;
    },

    async listSecrets(clientId: string): Promise<SecretRow[]> {
      return scope.select(clientSecrets, eq(clientSecrets.clientId, clientId)).orderBy(asc(clientSecrets.createdAt)).limit(100);
    },

    async countSecrets(clientIds: string[]): Promise<Map<string, number>> {
      if (!clientIds.length) return new Map();
      const rows = await scope.select(clientSecrets, inArray(clientSecrets.clientId, clientIds)).then((r) => r.map((x) => x.clientId));
      const counts = new Map<string, number>();
      for (const id of rows) counts.set(id, (counts.get(id) ?? 0) + 1);
      return counts;
    },

    async insertSecret(input: { clientId: string; secretHash: Buffer; description?: string | null; expiresAt?: Date | null }): Promise<SecretRow> {
      const [row] = await scope.insert(clientSecrets, input).returning();
      return row!;
    },

    async deleteSecret(clientId: string, secretId: string): Promise<SecretRow | undefined> {
      const [row] = await scope.delete(clientSecrets, and(eq(clientSecrets.clientId, clientId), eq(clientSecrets.id, secretId))).returning();
      return row;
    },

    async listProtectedApis() {
      return scope.select(protectedApis).orderBy(asc(protectedApis.audience));
    },

    async upsertProtectedApi(input: { audience: string; displayName: string; scopes: string[] }) {
      const [row] = await scope
        .insert(protectedApis, input)
        .onConflictDoUpdate({ target: [protectedApis.tenantId, protectedApis.audience], set: { displayName: input.displayName, scopes: input.scopes, updatedAt: new Date() } })
        .returning();
      return row!;
    },

    async deleteProtectedApi(audience: string) {
      const [row] = await scope.delete(protectedApis, eq(protectedApis.audience, audience)).returning();
      return row;
    },
  };
}

export type ClientsRepository = ReturnType<typeof clientsRepository>;
