/** Links between users and upstream identities: (provider type, provider id, subject) → user. */
import { and, eq } from 'drizzle-orm';
import type { TenantScope } from '../platform/db.ts';
import { userIdentities } from '../db/schema/index.ts';

export type IdentityRow = typeof userIdentities.$inferSelect;

export function identitiesRepository(scope: TenantScope) {
  const key = (type: string, providerId: string, subject: string) =>
    and(eq(userIdentities.providerType, type), eq(userIdentities.providerId, providerId), eq(userIdentities.subject, subject));
  return {
    async find(type: string, providerId: string, subject: string): Promise<IdentityRow | undefined> {
      const [row] = await scope.select(userIdentities, key(type, providerId, subject));
      return row;
    },
    async listForUser(userId: string): Promise<IdentityRow[]> {
      return scope.select(userIdentities, eq(userIdentities.userId, userId)).orderBy(userIdentities.createdAt);
    },
    async link(input: { userId: string; providerType: string; providerId: string; subject: string; email: string | null }): Promise<void> {
      await scope.insert(userIdentities, { ...input, lastSignInAt: new Date() }).onConflictDoNothing();
    },
    async touch(type: string, providerId: string, subject: string): Promise<void> {
      await scope.update(userIdentities, { lastSignInAt: new Date() }, key(type, providerId, subject));
    },
    async unlink(userId: string, type: string, providerId: string, subject: string): Promise<IdentityRow | undefined> {
      const [row] = await scope.delete(userIdentities, eq(userIdentities.userId, userId), key(type, providerId, subject)).returning();
      return row;
    },
  };
}
