/** Drizzle queries that read the audit trail; every one goes through the tenant scope. Rows are never changed. */
import { desc, eq, gte, lt, lte, type SQL } from 'drizzle-orm';
import type { TenantScope } from '../platform/db.ts';
import { auditEvents, type ACTOR_TYPES } from '../db/schema/index.ts';

export type AuditRow = typeof auditEvents.$inferSelect;

export interface AuditFilter {
  actorId?: string | undefined;
  actorType?: (typeof ACTOR_TYPES)[number] | undefined;
  action?: string | undefined;
  targetType?: string | undefined;
  targetId?: string | undefined;
  from?: Date | undefined;
  to?: Date | undefined;
}

export function auditRepository(scope: TenantScope) {
  return {
    /** Newest first by id (the insertion sequence), starting below `beforeId`. */
    async listEvents(filter: AuditFilter, opts: { beforeId?: number | undefined; limit: number }): Promise<AuditRow[]> {
      const conditions: (SQL | undefined)[] = [
        filter.actorId !== undefined ? eq(auditEvents.actorId, filter.actorId) : undefined,
        filter.actorType !== undefined ? eq(auditEvents.actorType, filter.actorType) : undefined,
        filter.action !== undefined ? eq(auditEvents.action, filter.action) : undefined,
        filter.targetType !== undefined ? eq(auditEvents.targetType, filter.targetType) : undefined,
        filter.targetId !== undefined ? eq(auditEvents.targetId, filter.targetId) : undefined,
        filter.from !== undefined ? gte(auditEvents.at, filter.from) : undefined,
        filter.to !== undefined ? lte(auditEvents.at, filter.to) : undefined,
        opts.beforeId !== undefined ? lt(auditEvents.id, opts.beforeId) : undefined,
      ];
      return scope
        .select(auditEvents, ...conditions)
        .orderBy(desc(auditEvents.id))
        .limit(opts.limit);
    },
  };
}
