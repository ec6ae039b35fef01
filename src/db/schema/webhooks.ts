/**
 * Webhook endpoints and their delivery log (issue #13 item 5). An endpoint follows the tenant's event feed with its
 * own cursor (`cursor_xid`, `cursor_seq`: the last event handed to delivery), so deliveries go out in feed order and
 * none is skipped. Signing secrets are sealed (they must be used to sign, so they cannot be hashed).
 */
import { sql } from 'drizzle-orm';
import { bigint, bigserial, boolean, foreignKey, index, integer, pgTable, primaryKey, text, uuid } from 'drizzle-orm/pg-core';
import { tenantId, timestamps, timestamptz } from './_columns.ts';
import { tenants } from './tenancy.ts';
import { organizations } from './organizations.ts';
import { xid8 } from './events.ts';

export const webhookEndpoints = pgTable(
  'webhook_endpoints',
  {
    tenantId: tenantId().references(() => tenants.id, { onDelete: 'cascade' }),
    id: uuid('id').notNull().defaultRandom(),
    url: text('url').notNull(),
    description: text('description'),
    /** Event types and `prefix.*` patterns, as `GET /api/events?types=` takes them; empty: every type. */
    eventTypes: text('event_types').array().notNull().default(sql`'{}'::text[]`),
    /** Only this organization's events when set. */
    organizationId: uuid('organization_id'),
    enabled: boolean('enabled').notNull().default(true),
    /** `whsec_…`, sealed with the master key (context: tenant and endpoint). */
    secretSealed: text('secret_sealed').notNull(),
    /** After a rotation, the previous secret keeps signing beside the new one until `previous_secret_expires_at`. */
    previousSecretSealed: text('previous_secret_sealed'),
    previousSecretExpiresAt: timestamptz('previous_secret_expires_at'),
    /** The last feed position handed to delivery; null: nothing yet (the feed was empty at creation). */
    cursorXid: xid8('cursor_xid'),
    cursorSeq: bigint('cursor_seq', { mode: 'number' }),
    /** Why the service disabled it (a 410 from the receiver), when it did. */
    disabledReason: text('disabled_reason'),
    /** The first failed attempt since the last success; past WEBHOOK_DISABLE_AFTER_SECONDS the endpoint is disabled. */
    failingSince: timestamptz('failing_since'),
    ...timestamps,
  },
  (t) => [
    primaryKey({ name: 'webhook_endpoints_pkey', columns: [t.tenantId, t.id] }),
    foreignKey({ name: 'webhook_endpoints_organization_fk', columns: [t.tenantId, t.organizationId], foreignColumns: [organizations.tenantId, organizations.id] }).onDelete('cascade'),
    index('webhook_endpoints_tenant_id_created_at_idx').on(t.tenantId, t.createdAt, t.id),
    // The dispatch sweep across tenants.
    index('webhook_endpoints_enabled_idx').on(t.tenantId).where(sql`${t.enabled}`),
  ],
);

export const WEBHOOK_DELIVERY_OUTCOMES = ['succeeded', 'failed'] as const;
export const WEBHOOK_DELIVERY_TRIGGERS = ['delivery', 'redelivery', 'test'] as const;

/** One attempt to deliver one event to one endpoint. */
export const webhookDeliveries = pgTable(
  'webhook_deliveries',
  {
    tenantId: tenantId().references(() => tenants.id, { onDelete: 'cascade' }),
    id: bigserial('id', { mode: 'number' }).notNull(),
    endpointId: uuid('endpoint_id').notNull(),
    eventId: uuid('event_id').notNull(),
    eventType: text('event_type').notNull(),
    /** 1 for the first attempt. */
    attempt: integer('attempt').notNull(),
    /** `delivery` (the feed, in order), `redelivery` (one event again, by hand) or `test` (POST /api/webhooks/{id}/test). */
    trigger: text('trigger', { enum: WEBHOOK_DELIVERY_TRIGGERS }).notNull().default('delivery'),
    outcome: text('outcome', { enum: WEBHOOK_DELIVERY_OUTCOMES }).notNull(),
    /** The receiver's HTTP status; null when there was no answer (refused address, timeout, network). */
    responseStatus: integer('response_status'),
    latencyMs: integer('latency_ms').notNull(),
    /** The start of the receiver's answer (capped), or what went wrong. */
    responseExcerpt: text('response_excerpt'),
    error: text('error'),
    attemptedAt: timestamptz('attempted_at').notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ name: 'webhook_deliveries_pkey', columns: [t.tenantId, t.id] }),
    foreignKey({ name: 'webhook_deliveries_endpoint_fk', columns: [t.tenantId, t.endpointId], foreignColumns: [webhookEndpoints.tenantId, webhookEndpoints.id] }).onDelete('cascade'),
    index('webhook_deliveries_tenant_id_endpoint_id_id_idx').on(t.tenantId, t.endpointId, t.id),
  ],
);
