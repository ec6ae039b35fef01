/** The wire format of `/api/webhooks`. Types come from these schemas; nothing is declared twice. */
import { z } from 'zod';
import { TYPE_FILTER_PATTERN } from '../events/catalog.ts';
import { WEBHOOK_DELIVERY_OUTCOMES, WEBHOOK_DELIVERY_TRIGGERS } from '../db/schema/index.ts';
import type { DeliveryRow } from './repository.ts';
import type { WebhookEndpoint } from './service.ts';

const url = z.string().min(1).max(2048).describe('Where events are POSTed: https (plain http only to a loopback host, where the service allows it for local development).');
const eventTypes = z
  .array(z.string().regex(TYPE_FILTER_PATTERN, 'a type name, `<prefix>.*` or `*`'))
  .max(50)
  .describe('Event types to deliver, with `prefix.*` wildcards (`organization.directory.*`); empty or absent: every type.');
const description = z.string().max(500);

export const webhookIdParams = z.strictObject({ webhookId: z.uuid() });

export const webhookCreateBody = z
  .strictObject({
    url,
    description: description.nullable().optional(),
    eventTypes: eventTypes.optional(),
    organizationId: z.uuid().nullable().optional().describe('Only this organization\'s events.'),
    enabled: z.boolean().optional().describe('Default true.'),
  })
  .meta({ examples: [{ url: 'https://app.example.com/hooks/iam', eventTypes: ['organization.directory.*', 'user.*'], description: 'Directory sync' }] });

export const webhookPatchBody = z.strictObject({
  url: url.optional(),
  description: description.nullable().optional(),
  eventTypes: eventTypes.optional(),
  organizationId: z.uuid().nullable().optional(),
  enabled: z.boolean().optional().describe('true again after the service disabled it resumes delivery from where it stopped.'),
});

export const webhookResponse = z.object({
  id: z.uuid(),
  url: z.string(),
  description: z.string().nullable(),
  eventTypes: z.array(z.string()),
  organizationId: z.uuid().nullable(),
  enabled: z.boolean(),
  disabledReason: z.string().nullable().describe('Why the service disabled the endpoint, when it did.'),
  failingSince: z.iso.datetime().nullable().describe('While deliveries fail: the first failure since the last success. Failing for WEBHOOK_DISABLE_AFTER_SECONDS (default 5 days) disables the endpoint.'),
  cursor: z.string().nullable().describe('The feed position of the last event handed to this endpoint (null: none yet). `POST …/replay` moves it back.'),
  previousSecretExpiresAt: z.iso.datetime().nullable().describe('After a rotation: until then deliveries carry a second signature, with the previous secret.'),
  createdAt: z.iso.datetime(),
  updatedAt: z.iso.datetime(),
});
export const webhookCreated = webhookResponse.extend({
  secret: z.string().describe('The signing secret (`whsec_…`, Standard Webhooks). Shown once: store it now.'),
});
export const webhookListResponse = z.object({ items: z.array(webhookResponse) });

export const rotateBody = z
  .strictObject({ graceSeconds: z.number().int().min(0).max(7 * 86_400).optional().describe('How long the current secret keeps signing beside the new one (default 86400; 0: stops at once).') })
  .nullish();
export const rotateResponse = z.object({ secret: z.string().describe('Shown once.'), previousSecretExpiresAt: z.iso.datetime().nullable() });

export const redeliverBody = z.strictObject({ eventId: z.uuid().describe('An event this endpoint subscribes to and has been handed already (`GET /api/events`, or its delivery log).') });
export const replayBody = z.strictObject({
  after: z.string().min(1).max(200).nullable().describe('A feed cursor (an event\'s `position`, a listing\'s `feed_cursor`): the events after it are delivered again, in order. null: from the oldest event kept.'),
});

export const deliveriesQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(200).optional(),
  cursor: z.string().min(1).max(200).optional(),
});
export const deliveryResponse = z.object({
  id: z.number().int(),
  eventId: z.uuid(),
  eventType: z.string(),
  attempt: z.number().int(),
  trigger: z.enum(WEBHOOK_DELIVERY_TRIGGERS).describe('`delivery` (the feed, in order), `redelivery` (one event again, by hand) or `test`.'),
  outcome: z.enum(WEBHOOK_DELIVERY_OUTCOMES),
  responseStatus: z.number().int().nullable(),
  latencyMs: z.number().int(),
  responseExcerpt: z.string().nullable().describe('The first 1024 characters of the answer.'),
  error: z.string().nullable(),
  attemptedAt: z.iso.datetime(),
});
export const deliveryPageResponse = z.object({ items: z.array(deliveryResponse), nextCursor: z.string().nullable() });

export function webhookToWire(e: WebhookEndpoint): z.infer<typeof webhookResponse> {
  return {
    ...e,
    failingSince: e.failingSince?.toISOString() ?? null,
    previousSecretExpiresAt: e.previousSecretExpiresAt?.toISOString() ?? null,
    createdAt: e.createdAt.toISOString(),
    updatedAt: e.updatedAt.toISOString(),
  };
}

export function deliveryToWire(d: DeliveryRow): z.infer<typeof deliveryResponse> {
  return {
    id: d.id,
    eventId: d.eventId,
    eventType: d.eventType,
    attempt: d.attempt,
    trigger: d.trigger,
    outcome: d.outcome,
    responseStatus: d.responseStatus,
    latencyMs: d.latencyMs,
    responseExcerpt: d.responseExcerpt,
    error: d.error,
    attemptedAt: d.attemptedAt.toISOString(),
  };
}
