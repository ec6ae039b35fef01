/** Drizzle queries for downstream clients and their secrets; every one goes through the tenant scope. */
import { eq, gt, isNull, or } from 'drizzle-orm';
import type { TenantScope } from '../platform/db.ts';
import { clients, clientSecrets, type ClientType } from '../db/schema/index.ts';

export type ClientRow = typeof clients.$inferSelect;

export function clientsRepository(scope: TenantScope) {
  return {
    async findClient(clientId: string): Promise<ClientRow | undefined> {
      const [row] = await scope.select(clients, eq(clients.clientId, clientId));
      return row;
    },

    /** Hashes of the secrets that are live now, for client authentication. */
    async findLiveSecretHashes(clientId: string, now = new Date()): Promise<Buffer[]> {
      const rows = await scope
        .select(clientSecrets, eq(clientSecrets.clientId, clientId), or(isNull(clientSecrets.expiresAt), gt(clientSecrets.expiresAt, now)))
        .limit(50);
      return rows.map((r) => r.secretHash);
    },

    async insertClient(input: {
      clientId: string;
      clientType: ClientType;
      displayName: string;
      allowedScopes: string[];
    }): Promise<ClientRow> {
      const [row] = await scope.insert(clients, input).returning();
      return row!;
    },

    async insertSecret(input: { clientId: string; secretHash: Buffer; description?: string; expiresAt?: Date }) {
      const [row] = await scope.insert(clientSecrets, input).returning({ id: clientSecrets.id, createdAt: clientSecrets.createdAt });
      return row!;
    },
  };
}

export type ClientsRepository = ReturnType<typeof clientsRepository>;
