/** The wire format of `/api/events`. Types come from these schemas; nothing is declared twice. */
import { z } from 'zod';
import { TYPE_FILTER_PATTERN } from './catalog.ts';
import { MAX_EVENTS_LIMIT, type FeedEventRecord } from './service.ts';

const MAX_TYPE_FILTERS = 50;

export const eventsQuery = z.strictObject({
  after: z.string().min(1).max(200).optional().describe('`nextCursor` of the previous answer (or any event\'s `position`): the events that follow it. Without it, the feed from its oldest retained event.'),
  types: z
    .string()
    .min(1)
    .max(2000)
    .transform((v) => v.split(',').map((t) => t.trim()))
    .pipe(z.array(z.string().regex(TYPE_FILTER_PATTERN, 'a type name, `<prefix>.*` or `*`')).max(MAX_TYPE_FILTERS))
    .optional()
    .describe(`Comma-separated event types; \`organization.directory.*\` matches every type under that prefix (at most ${MAX_TYPE_FILTERS}).`),
  organization_id: z.uuid().optional().describe('Only the events of this organization.'),
  limit: z.coerce.number().int().min(1).max(MAX_EVENTS_LIMIT).optional().describe(`Page size, 1 to ${MAX_EVENTS_LIMIT} (default 100).`),
});

export const eventResponse = z.object({
  id: z.uuid().describe('Unique per event; the same id on every delivery of it.'),
  type: z.string().describe('Catalog name (`GET /api/events/types`, and the `webhooks` section of this document).'),
  occurredAt: z.iso.datetime(),
  position: z.string().describe('Opaque: pass as `after` to read the events that follow this one.'),
  organizationId: z.uuid().nullable(),
  directoryId: z.uuid().nullable(),
  data: z.record(z.string(), z.unknown()).describe('The resource as it is after the change (as it was, for deletions).'),
  previousAttributes: z.record(z.string(), z.unknown()).nullable().describe('On updates: the changed fields as they were before the change.'),
});

export const eventPageResponse = z.object({
  items: z.array(eventResponse),
  nextCursor: z.string().nullable().describe('Pass as `after` to continue. When no events followed, it is the cursor you sent: poll again with it.'),
  hasMore: z.boolean().describe('More events are readable now: ask again at once.'),
});

export const eventTypesResponse = z.object({
  items: z.array(z.object({ type: z.string(), description: z.string(), schema: z.record(z.string(), z.unknown()).describe('JSON Schema of `data`.') })),
});

export function eventToWire(e: FeedEventRecord): z.infer<typeof eventResponse> {
  return { ...e, occurredAt: e.occurredAt.toISOString() };
}
