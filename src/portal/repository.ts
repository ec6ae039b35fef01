/** Drizzle queries of the Admin Portal; every one goes through the tenant scope. */
import { and, eq, gt, isNull } from 'drizzle-orm';
import type { TenantScope } from '../platform/db.ts';
import { portalLinks, portalSessions, portalSettings } from '../db/schema/index.ts';

export type PortalLinkRow = typeof portalLinks.$inferSelect;
export type PortalSessionRow = typeof portalSessions.$inferSelect;

export function portalRepository(scope: TenantScope) {
  return {
    async insertLink(input: Omit<typeof portalLinks.$inferInsert, 'tenantId'>): Promise<PortalLinkRow> {
      const [row] = await scope.insert(portalLinks, input).returning();
      return row!;
    },

    async linkByHash(tokenHash: Buffer): Promise<PortalLinkRow | undefined> {
      const [row] = await scope.select(portalLinks, eq(portalLinks.tokenHash, tokenHash));
      return row;
    },

    /** Marks the link used, if it still is unused and unexpired: one caller wins a race. */
    async useLink(id: string, now: Date): Promise<PortalLinkRow | undefined> {
      const [row] = await scope.update(portalLinks, { usedAt: now }, eq(portalLinks.id, id), isNull(portalLinks.usedAt), gt(portalLinks.expiresAt, now)).returning();
      return row;
    },

    async insertSession(input: Omit<typeof portalSessions.$inferInsert, 'tenantId'>): Promise<void> {
      await scope.insert(portalSessions, input);
    },

    async liveSession(idHash: Buffer): Promise<PortalSessionRow | undefined> {
      const [row] = await scope.select(portalSessions, eq(portalSessions.idHash, idHash), isNull(portalSessions.endedAt));
      return row;
    },

    async touchSession(idHash: Buffer, now: Date): Promise<void> {
      await scope.update(portalSessions, { lastSeenAt: now }, eq(portalSessions.idHash, idHash));
    },

    async setDraftConnectionId(idHash: Buffer, draftConnectionId: string): Promise<void> {
      await scope.update(portalSessions, { draftConnectionId }, eq(portalSessions.idHash, idHash));
    },

    async endSession(idHash: Buffer, now: Date): Promise<boolean> {
      const rows = await scope.update(portalSessions, { endedAt: now }, and(eq(portalSessions.idHash, idHash), isNull(portalSessions.endedAt))).returning({ linkId: portalSessions.linkId });
      return rows.length > 0;
    },

    async settings(): Promise<{ frameAncestors: string[] } | undefined> {
      const [row] = await scope.select(portalSettings, eq(portalSettings.tenantId, scope.tenantId));
      return row ? { frameAncestors: row.frameAncestors } : undefined;
    },

    async upsertSettings(frameAncestors: string[]): Promise<{ frameAncestors: string[] }> {
      const [row] = await scope
        .insert(portalSettings, { frameAncestors })
        .onConflictDoUpdate({ target: portalSettings.tenantId, set: { frameAncestors, updatedAt: new Date() } })
        .returning();
      return { frameAncestors: row!.frameAncestors };
    },
  };
}
