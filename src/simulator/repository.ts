/** Drizzle queries of the IdP simulator; every one goes through the tenant scope. */
import type { TenantScope } from '../platform/db.ts';
import { idpSimulators } from '../db/schema/index.ts';

export type SimulatorRow = typeof idpSimulators.$inferSelect;

export function simulatorRepository(scope: TenantScope) {
  return {
    async find(): Promise<SimulatorRow | undefined> {
      const [row] = await scope.select(idpSimulators);
      return row;
    },

    /** The first instance to make the tenant's simulator wins; every other reads what it made. */
    async insertIfAbsent(values: Omit<typeof idpSimulators.$inferInsert, 'tenantId' | 'createdAt'>): Promise<void> {
      await scope.insert(idpSimulators, values).onConflictDoNothing();
    },

    async setClientSecretHash(clientSecretHash: Buffer): Promise<void> {
      await scope.update(idpSimulators, { clientSecretHash });
    },
  };
}
