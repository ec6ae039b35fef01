/** The audit trail: append-only, one row per administrative change, secrets removed before they get here. */
import { bigserial, index, inet, jsonb, pgTable, primaryKey, text } from 'drizzle-orm/pg-core';
import { tenantId, timestamptz } from './_columns.ts';
import { tenants } from './tenancy.ts';

export const ACTOR_TYPES = ['client', 'user', 'system', 'directory'] as const;

export const auditEvents = pgTable(
  'audit_events',
  {
    tenantId: tenantId().references(() => tenants.id, { onDelete: 'cascade' }),
    id: bigserial('id', { mode: 'number' }).notNull(),
    at: timestamptz('at').notNull().defaultNow(),
    actorType: text('actor_type', { enum: ACTOR_TYPES }).notNull(),
    actorId: text('actor_id').notNull(),
    /** `<resource>.<verb>`, e.g. `user.create`, `client.secret.delete`. */
    action: text('action').notNull(),
    targetType: text('target_type').notNull(),
    targetId: text('target_id').notNull(),
    sourceIp: inet('source_ip'),
    before: jsonb('before').$type<Record<string, unknown> | null>(),
    after: jsonb('after').$type<Record<string, unknown> | null>(),
  },
  (t) => [
    primaryKey({ name: 'audit_events_pkey', columns: [t.tenantId, t.id] }),
    index('audit_events_tenant_id_at_idx').on(t.tenantId, t.at, t.id),
    index('audit_events_tenant_id_target_idx').on(t.tenantId, t.targetType, t.targetId),
    index('audit_events_tenant_id_actor_idx').on(t.tenantId, t.actorId),
  ],
);
